//! A GridPane server's folder built in a temporary directory, as the
//! `probe` subcommand reads it: `backups/duplications/snapshots/<snapshot
//! id>/<revision>` with modification times in the past, a
//! `backups.monitoring.log`, and the UUID file beside it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

pub const UUID: &str = "3f2b1c9e-aaaa-4bbb-8ccc-0123456789ab";
pub const BIN: &str = env!("CARGO_BIN_EXE_gridpane-backup-exporter");

pub struct GridPaneDir {
    pub root: tempfile::TempDir,
}

impl GridPaneDir {
    /// An empty snapshots folder, no log, the UUID file written.
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let d = GridPaneDir { root };
        std::fs::create_dir_all(d.snapshots()).unwrap();
        std::fs::create_dir_all(d.uuid_file().parent().unwrap()).unwrap();
        std::fs::write(d.uuid_file(), format!("{UUID}\n")).unwrap();
        std::fs::create_dir_all(d.textfile_dir()).unwrap();
        d
    }

    /// `--gridpane.dir`
    pub fn gridpane(&self) -> PathBuf {
        self.root.path().join("opt/gridpane")
    }

    pub fn snapshots(&self) -> PathBuf {
        self.gridpane().join("backups/duplications/snapshots")
    }

    /// `--gridpane.uuid-file`
    pub fn uuid_file(&self) -> PathBuf {
        self.root.path().join("root/gridcreds/gridpane.uuid")
    }

    /// `--textfile.directory`, outside the GridPane folder.
    pub fn textfile_dir(&self) -> PathBuf {
        self.root.path().join("textfile")
    }

    pub fn log_path(&self) -> PathBuf {
        self.gridpane().join("backups.monitoring.log")
    }

    /// The snapshot id of `site_url` on this server.
    pub fn snapshot_id(site_url: &str) -> String {
        format!("gridpane-{UUID}-{site_url}")
    }

    /// A revision file of snapshot folder `id` (any name), modified `age`
    /// ago.
    pub fn revision_in(&self, id: impl AsRef<OsStr>, revision: u32, age: Duration) -> PathBuf {
        let folder = self.snapshots().join(id.as_ref());
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(revision.to_string());
        std::fs::write(&path, [0u8; 550]).unwrap();
        set_age(&path, age);
        path
    }

    /// A revision of `site_url`'s snapshot, modified `age` ago.
    pub fn revision(&self, site_url: &str, revision: u32, age: Duration) -> PathBuf {
        self.revision_in(Self::snapshot_id(site_url), revision, age)
    }

    pub fn write_log(&self, text: impl AsRef<[u8]>) {
        std::fs::write(self.log_path(), text).unwrap();
    }

    /// The probe's arguments for this folder, before the output flag.
    pub fn args(&self) -> Vec<String> {
        vec![
            "probe".into(),
            format!("--gridpane.dir={}", self.gridpane().display()),
            format!("--gridpane.uuid-file={}", self.uuid_file().display()),
        ]
    }

    /// Runs the real binary once into [`Self::textfile_dir`].
    pub fn run(&self) -> Output {
        Command::new(BIN)
            .args(self.args())
            .arg(format!(
                "--textfile.directory={}",
                self.textfile_dir().display()
            ))
            .arg("--log.level=warn")
            .output()
            .unwrap()
    }

    /// Runs the probe, which must exit 0, and returns the textfile.
    pub fn textfile(&self) -> String {
        let out = self.run();
        assert!(
            out.status.success(),
            "probe exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(self.textfile_dir().join("gridpane_backups.prom")).unwrap()
    }
}

/// Sets the modification time of `path` to `age` ago.
pub fn set_age(path: &Path, age: Duration) {
    let when = SystemTime::now() - age;
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .unwrap();
}

/// A log line with a date as GridPane writes it, in UTC, `age` ago.
pub fn log_date(age: Duration) -> String {
    let t = chrono::Utc::now() - chrono::Duration::from_std(age).unwrap();
    // `%e` pads the day with a space, which GridPane turns into a dash.
    t.format("%a-%b-%e-%H:%M:%S-UTC-%Y")
        .to_string()
        .replace(' ', "-")
}
