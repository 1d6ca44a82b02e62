//! The fake's backup record: `GET /backups/original/{id}` and
//! `GET /backups/refresh/{id}`. No public source shows GridPane's bodies;
//! the two shapes served here are inferred (see docs/operations.md, "Backup
//! history"), so that the reader is exercised on both:
//!
//! - [`HistoryShape::BySource`]: a map keyed by source, then by type,
//!   holding lists of names:
//!   `{"success": true, "backups": {"local": {"automatic": ["2026-11-30 03:15"], "manual": [...]}, "aws-s3": {...}}}`
//! - [`HistoryShape::List`]: a list of objects, each with a name, a source
//!   and a type; automatic names carry the tag `gp-automated`:
//!   `{"success": true, "data": [{"name": "2026-11-30 03:15 gp-automated", "source": "local", "backup_type": "automatic"}]}`
//!
//! Backups follow each site's schedules back from the record's time (the
//! wall clock unless [`super::Fleet::history_now`] is set), for the storages
//! that are on; [`FakeHistory`] stops them days ago or leaves a site never
//! backed up. Names are in UTC.

use chrono::DateTime;
use serde_json::{Map, Value, json};

use super::fleet::{FakeHistory, FakeSchedule, FakeSite, Frequency, HistoryShape};

/// One backup of the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeBackup {
    /// Unix seconds (a whole minute).
    pub at: i64,
    /// `local`, `aws-s3`, `backblaze`, `dropbox` or `wasabi`.
    pub source: String,
    pub automatic: bool,
}

/// Automatic backups kept per storage in the record.
const KEPT: usize = 8;
const DAY: i64 = 86_400;

/// Every backup of `site`'s record at `now` (unix seconds), newest first
/// per storage.
pub fn backups(site: &FakeSite, now: i64) -> Vec<FakeBackup> {
    let end = match site.history {
        FakeHistory::Never => return Vec::new(),
        FakeHistory::Regular => now,
        FakeHistory::Stopped { days } => now - i64::from(days) * DAY,
    };
    let mut out = Vec::new();
    let storages = [
        (site.local_bup, site.local_schedule.as_ref(), true),
        (site.remote_bup, site.remote_schedule.as_ref(), false),
    ];
    for (on, schedule, local) in storages {
        let Some(schedule) = schedule.filter(|_| on) else {
            continue;
        };
        let source = if local {
            "local".to_string()
        } else {
            schedule
                .service_name
                .clone()
                .unwrap_or_else(|| "aws-s3".to_string())
        };
        out.extend(runs(schedule, end).map(|at| FakeBackup {
            at,
            source: source.clone(),
            automatic: true,
        }));
        if local && site.id % 3 == 0 {
            // One manual backup, taken before an update.
            out.push(FakeBackup {
                at: (end - 2 * DAY) / 60 * 60,
                source,
                automatic: false,
            });
        }
    }
    out
}

/// The last [`KEPT`] runs of a schedule at or before `end`.
fn runs(s: &FakeSchedule, end: i64) -> impl Iterator<Item = i64> {
    let (period, offset) = match s.frequency {
        Frequency::Hourly => (3_600, i64::from(s.minute) * 60),
        Frequency::Daily => (DAY, i64::from(s.hour) * 3_600 + i64::from(s.minute) * 60),
        Frequency::Weekly => (
            7 * DAY,
            i64::from(s.hour) * 3_600 + i64::from(s.minute) * 60,
        ),
        Frequency::Monthly => (
            30 * DAY,
            i64::from(s.hour) * 3_600 + i64::from(s.minute) * 60,
        ),
    };
    let latest = (end - offset).div_euclid(period) * period + offset;
    (0..KEPT as i64).map(move |k| latest - k * period)
}

fn name(b: &FakeBackup, tagged: bool) -> String {
    let time = DateTime::from_timestamp(b.at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    match (tagged, b.automatic) {
        (true, true) => format!("{time} gp-automated"),
        (_, false) => format!("{time} before-update"),
        (false, true) => time,
    }
}

/// The body of `GET /backups/original/{id}`.
pub(crate) fn history_json(site: &FakeSite, shape: HistoryShape, now: i64) -> Value {
    let backups = backups(site, now);
    match shape {
        HistoryShape::BySource => {
            let mut by_source = Map::new();
            for b in &backups {
                let kind = if b.automatic { "automatic" } else { "manual" };
                let source = by_source
                    .entry(b.source.clone())
                    .or_insert_with(|| json!({ "automatic": [], "manual": [] }));
                if let Some(list) = source.get_mut(kind).and_then(Value::as_array_mut) {
                    list.push(Value::from(name(b, false)));
                }
            }
            json!({ "success": true, "backups": by_source })
        }
        HistoryShape::List => {
            let data: Vec<Value> = backups
                .iter()
                .map(|b| {
                    json!({
                        "name": name(b, true),
                        "source": b.source,
                        "backup_type": if b.automatic { "automatic" } else { "manual" },
                    })
                })
                .collect();
            json!({ "success": true, "data": data })
        }
    }
}

/// The body of `GET /backups/refresh/{id}`.
pub(crate) fn refresh_json() -> Value {
    json!({ "success": true, "message": "Backups refreshed." })
}
