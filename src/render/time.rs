//! Times as the JSON API and the status page write them.

use chrono::{DateTime, SecondsFormat, Utc};

/// Unix seconds (as the store keeps them) to a time; `None` if not finite.
pub(crate) fn from_unix(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whole seconds from `then` to `now`, never negative.
pub(crate) fn age_seconds(then: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - then).num_seconds().max(0)
}
