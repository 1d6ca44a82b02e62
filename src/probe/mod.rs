//! `probe`: runs on a GridPane server and reports what the server itself
//! holds, for node_exporter's textfile collector (or on its own
//! `/metrics`): per site the local Duplicacy revisions (how many, the
//! newest's time) and the failures in GridPane's `backups.monitoring.log`,
//! plus the server's UUID. Prometheus joins these with the exporter's
//! `gridpane_site_info` on `site_url`.
//!
//! It only ever reads under the GridPane folder: it opens folders and files
//! there, never follows a link, and writes nowhere but its textfile
//! directory, which may not be inside that folder. Each input has its room:
//! [`snapshots`], [`monitor_log`] (with [`log_date`]), [`uuid`]; then
//! [`site_url`] names the sites, [`exposition`] formats, [`textfile`]
//! writes, [`serve`] answers scrapes. Apart from the exporter's text writer
//! ([`crate::render::text`]) nothing here uses the exporter's rooms.

pub mod command;
pub mod exposition;
pub mod log_date;
pub mod monitor_log;
pub mod serve;
pub mod site_url;
pub mod snapshots;
pub mod textfile;
pub mod uuid;

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use monitor_log::LogSummary;
use snapshots::Snapshot;

/// Where the probe reads.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// `--gridpane.dir`
    pub gridpane_dir: PathBuf,
    /// `--gridpane.uuid-file`
    pub uuid_file: PathBuf,
}

/// Entries not read, by reason (exported as `gridpane_probe_skipped_entries`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// A link in the snapshots folder: never followed.
    pub link: u64,
    /// A file or folder in the snapshots folder that is not a snapshot
    /// folder or a revision file.
    pub not_a_revision: u64,
    /// Snapshot folders or log sites beyond the caps.
    pub too_many_sites: u64,
    /// A failure line of the log with an empty or overlong site name.
    pub not_a_site: u64,
    /// Log lines longer than [`monitor_log::MAX_LINE`].
    pub line_too_long: u64,
}

impl Skipped {
    pub fn by_reason(&self) -> [(&'static str, u64); 5] {
        [
            ("link", self.link),
            ("not_a_revision", self.not_a_revision),
            ("too_many_sites", self.too_many_sites),
            ("not_a_site", self.not_a_site),
            ("line_too_long", self.line_too_long),
        ]
    }
}

/// Everything one run read; `None` for an input that could not be read.
#[derive(Debug, Default)]
pub struct Reading {
    /// When the run started, unix seconds.
    pub now: i64,
    pub uuid: Option<String>,
    pub snapshots: Option<Vec<Snapshot>>,
    pub log: Option<LogSummary>,
    pub skipped: Skipped,
}

impl Reading {
    /// Every input was read.
    pub fn success(&self) -> bool {
        self.uuid.is_some() && self.snapshots.is_some() && self.log.is_some()
    }
}

/// Reads every input once. What cannot be read is logged and left `None`.
pub fn collect(inputs: &Inputs) -> Reading {
    let mut reading = Reading {
        now: chrono::Utc::now().timestamp(),
        ..Reading::default()
    };
    match uuid::read(&inputs.uuid_file) {
        Ok(u) => reading.uuid = Some(u),
        Err(e) => tracing::error!(error = %e, "server UUID not read"),
    }
    match snapshots::scan(&inputs.gridpane_dir, &mut reading.skipped) {
        Ok(s) => reading.snapshots = Some(s),
        Err(e) => tracing::error!(error = %e, "local snapshots not read"),
    }
    let log = inputs.gridpane_dir.join(monitor_log::FILE);
    match read_log(&log, &mut reading.skipped) {
        Ok(summary) => {
            log_reasons(&summary);
            reading.log = Some(summary);
        }
        Err(e) => tracing::error!(path = %log.display(), error = %e, "monitoring log not read"),
    }
    reading
}

/// Opens `path` for reading if it is a regular file: a folder, a FIFO
/// (which would block the run) or a device is refused. A link to a regular
/// file is read: these paths are GridPane's own, outside the snapshots.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    File::open(path)
}

/// The monitoring log; a log that does not exist (GridPane has not written
/// one yet) holds no failure.
fn read_log(path: &Path, skipped: &mut Skipped) -> io::Result<LogSummary> {
    match open_regular(path) {
        Ok(f) => monitor_log::read(BufReader::with_capacity(64 * 1024, f), skipped),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::debug!(path = %path.display(), "no monitoring log");
            Ok(LogSummary::default())
        }
        Err(e) => Err(e),
    }
}

/// One line per failing site: its newest failure's first reason line.
fn log_reasons(summary: &LogSummary) {
    let mut sites: Vec<_> = summary.sites.iter().collect();
    sites.sort_by(|a, b| a.0.cmp(b.0));
    for (site, f) in sites {
        tracing::warn!(
            site_url = %site,
            failures = f.failures,
            last_failure = f.last,
            reason = f.reason.as_deref().unwrap_or(""),
            "backup failures in the monitoring log"
        );
    }
}

/// Reads every input and replaces the textfile in `dir`; returns the
/// reading's success.
pub fn run_textfile(inputs: &Inputs, dir: &Path) -> Result<bool, textfile::WriteError> {
    textfile::check_outside(dir, &inputs.gridpane_dir)?;
    let reading = collect(inputs);
    let path = textfile::write(dir, &exposition::render(&reading))?;
    tracing::info!(path = %path.display(), success = reading.success(), "textfile written");
    Ok(reading.success())
}
