//! The fake's backup record: `GET /backups/original/{id}` and
//! `GET /backups/refresh/{id}`, in the shape MainWP's production reader
//! shows (`shared/gridpane-api.md`, "Backup history") by default:
//!
//! - [`HistoryShape::Production`]: by source, then by type, one string of
//!   names separated by commas:
//!   `{"success": true, "backups": {"local": {"automatic": "2026-11-29 03:15,2026-11-30 03:15", "manual": ""}, "aws-s3": {...}}}`
//! - [`HistoryShape::BySource`]: the same with lists of names;
//! - [`HistoryShape::Objects`]: the same with lists of objects naming their
//!   backup in `name`; automatic names carry the tag `gp-automated`.
//!
//! A site whose history is [`FakeHistory::Hostile`] gets one of the answers
//! the exporter must never read as OK ([`hostile_response`]).
//!
//! Backups follow each site's schedules back from the record's time (the
//! wall clock unless [`super::Fleet::history_now`] is set), for the storages
//! that are on; [`FakeHistory`] stops them days ago or leaves a site never
//! backed up. Names are in UTC.

use chrono::DateTime;
use serde_json::{Map, Value, json};

use super::faults;
use super::fleet::{
    FakeFrequency, FakeHistory, FakeSchedule, FakeSite, HistoryShape, HostileRecord,
};

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
        FakeHistory::Stopped { days }
        | FakeHistory::Hostile(HostileRecord::DateElsewhere { days }) => {
            now - i64::from(days) * DAY
        }
        FakeHistory::Regular | FakeHistory::Hostile(_) => now,
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
        FakeFrequency::Hourly => (3_600, i64::from(s.minute) * 60),
        FakeFrequency::Daily => (DAY, i64::from(s.hour) * 3_600 + i64::from(s.minute) * 60),
        FakeFrequency::Weekly => (
            7 * DAY,
            i64::from(s.hour) * 3_600 + i64::from(s.minute) * 60,
        ),
        FakeFrequency::Monthly => (
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
    let mut by_source = Map::new();
    for b in &backups(site, now) {
        let kind = if b.automatic { "automatic" } else { "manual" };
        let source = by_source
            .entry(b.source.clone())
            .or_insert_with(|| json!({ "automatic": [], "manual": [] }));
        if let Some(list) = source.get_mut(kind).and_then(Value::as_array_mut) {
            list.push(match shape {
                HistoryShape::Objects => json!({ "name": name(b, true), "size_mb": 512 }),
                _ => Value::from(name(b, false)),
            });
        }
    }
    if shape == HistoryShape::Production {
        for lists in by_source.values_mut().filter_map(Value::as_object_mut) {
            for list in lists.values_mut() {
                let names: Vec<&str> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                *list = Value::from(names.join(","));
            }
        }
    }
    json!({ "success": true, "backups": by_source })
}

/// The answer for a site whose record is hostile, `None` for the others.
pub(crate) fn hostile_response(
    site: &FakeSite,
    shape: HistoryShape,
    now: i64,
) -> Option<axum::response::Response> {
    let FakeHistory::Hostile(hostile) = site.history else {
        return None;
    };
    let real = || history_json(site, shape, now);
    let with = |key: &str, value: Value| {
        let mut body = real();
        if let Some(map) = body.as_object_mut() {
            map.insert(key.to_string(), value);
        }
        body
    };
    let names = |of: fn(i64) -> Value| {
        let list: Vec<Value> = backups(site, now).iter().map(|b| of(b.at)).collect();
        json!({ "success": true, "backups": { "local": { "automatic": list, "manual": "" } } })
    };
    let json = |body: Value| faults::json_response(200, &body);
    Some(match hostile {
        HostileRecord::DateElsewhere { .. } => {
            let at = DateTime::from_timestamp(now, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            json(with("generated_at", Value::from(at)))
        }
        HostileRecord::FutureName => {
            let mut body = real();
            let local = &mut body["backups"]["local"]["automatic"];
            *local = match local.take() {
                Value::String(s) if !s.is_empty() => Value::from(format!("{s},2099-01-01 00:00")),
                _ => Value::from("2099-01-01 00:00"),
            };
            json(body)
        }
        HostileRecord::SuccessFalse => json(faults::success_false()),
        HostileRecord::SuccessFalseString => json(with("success", Value::from("false"))),
        HostileRecord::Html => faults::bytes_response(
            200,
            b"<!DOCTYPE html><html><body>Maintenance</body></html>".to_vec(),
            "text/html",
        ),
        HostileRecord::NoContent => faults::bytes_response(204, Vec::new(), "application/json"),
        HostileRecord::Truncated => {
            let mut bytes = faults::json_bytes(&real());
            bytes.truncate(bytes.len() / 2);
            faults::bytes_response(200, bytes, "application/json")
        }
        HostileRecord::Deep => {
            let mut deep = json!([]);
            for _ in 0..40 {
                deep = json!([deep]);
            }
            json(with("meta", deep))
        }
        HostileRecord::Epoch => json(names(|at| Value::from(at.to_string()))),
        HostileRecord::Iso => json(names(|at| {
            Value::from(
                DateTime::from_timestamp(at, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
            )
        })),
        HostileRecord::EmptyObject => json(json!({})),
        HostileRecord::Null => json(Value::Null),
        HostileRecord::EmptyList => json(json!([])),
        HostileRecord::Zeros(bytes) => faults::zeros_response(bytes),
    })
}

/// The time the fleet's backup records are rendered at.
pub(crate) fn history_now(fleet: &super::Fleet) -> i64 {
    fleet.history_now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    })
}

/// The body of `GET /backups/refresh/{id}`.
pub(crate) fn refresh_json() -> Value {
    json!({ "success": true, "message": "Backups refreshed." })
}
