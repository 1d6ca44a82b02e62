//! What the probe read, in the text exposition format, written with the
//! exporter's own writer (labels escaped there). When any input could not
//! be read, only the probe's own series are written: no per-site value that
//! could be stale or partial.

use std::collections::BTreeMap;

use crate::render::text::{Family, write_families};

use super::Reading;
use super::site_url::SiteUrls;

/// The exposition of `reading`.
pub fn render(reading: &Reading) -> Vec<u8> {
    let success = reading.success();
    let probe_success = single(
        "gridpane_probe_success",
        "1 if the probe read every input (snapshots folder, monitoring log, server UUID), else 0; with 0 no per-site series are written.",
        if success { 1.0 } else { 0.0 },
    );
    let last_run = single(
        "gridpane_probe_last_run_timestamp_seconds",
        "When the probe ran, unix seconds.",
        reading.now as f64,
    );
    let mut info = Family::gauge(
        "gridpane_probe_info",
        "1, with the UUID of the GridPane server the probe runs on.",
    );
    if let Some(uuid) = &reading.uuid {
        info.push(&[("server_uuid", uuid)], 1.0);
    }
    let mut families = vec![probe_success, last_run, info];
    if let (true, Some(uuid), Some(snapshots), Some(log)) =
        (success, &reading.uuid, &reading.snapshots, &reading.log)
    {
        let urls = SiteUrls::new(log.sites.keys().map(String::as_str));
        let mut newest = Family::gauge(
            "gridpane_local_backup_newest_timestamp_seconds",
            "Modification time of the newest revision in the server's local Duplicacy storage, unix seconds; absent for a snapshot without revisions.",
        );
        let mut revisions = Family::gauge(
            "gridpane_local_backup_revisions",
            "Revisions in the server's local Duplicacy storage.",
        );
        // Every site the server knows of, from either input.
        let mut failures_by_site: BTreeMap<&str, (u64, Option<i64>)> = log
            .sites
            .iter()
            .map(|(site, f)| (site.as_str(), (f.failures, f.last)))
            .collect();
        let mut site_urls = Vec::with_capacity(snapshots.len());
        for s in snapshots {
            let url = urls.of(&s.id, uuid);
            let labels = [("site_url", url.as_str()), ("snapshot_id", s.id.as_str())];
            if let Some(t) = s.newest {
                newest.push(&labels, t as f64);
            }
            revisions.push(&labels, s.revisions as f64);
            site_urls.push(url);
        }
        for url in &site_urls {
            failures_by_site.entry(url.as_str()).or_insert((0, None));
        }
        let mut failures = Family::gauge(
            "gridpane_backup_failures",
            "Backup failures ({1} lines) the server's backups.monitoring.log holds for the site; 0 for a site with local snapshots and none.",
        );
        let mut last_failure = Family::gauge(
            "gridpane_backup_last_failure_timestamp_seconds",
            "Time of the newest failure in the server's backups.monitoring.log whose date was read, unix seconds.",
        );
        for (site, (count, last)) in &failures_by_site {
            failures.push(&[("site_url", site)], *count as f64);
            if let Some(t) = last {
                last_failure.push(&[("site_url", site)], *t as f64);
            }
        }
        let unknown = single(
            "gridpane_backup_log_unknown_date_lines",
            "Backup status lines of backups.monitoring.log whose date the probe could not read (format or time zone); their failures are still counted.",
            log.unknown_date_lines as f64,
        );
        let mut skipped = Family::gauge(
            "gridpane_probe_skipped_entries",
            "Entries the probe did not read, by reason: link (never followed), not_a_revision, too_many_sites, not_a_site, line_too_long.",
        );
        for (reason, n) in reading.skipped.by_reason() {
            skipped.push(&[("reason", reason)], n as f64);
        }
        families.extend([newest, revisions, failures, last_failure, unknown, skipped]);
    }
    let mut out = Vec::new();
    write_families(&families, &mut out);
    out
}

/// A gauge of one unlabelled sample.
fn single(name: &'static str, help: &'static str, value: f64) -> Family {
    let mut f = Family::gauge(name, help);
    f.push(&[], value);
    f
}
