//! Times, durations, schedules, retention and counts in the page's words,
//! and a moment in the three forms a `<time>` element shows it in.
//! Plain text: the templates escape it where they write it.

use chrono::{DateTime, Utc};

use crate::domain::policy::Rules;
use crate::domain::{BackupsVersion, Frequency, Retention, Schedule};
use crate::render::api;

/// `2026-11-23 05:00 UTC`
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// When a mute ends, in words: a mute ending at midnight UTC (a date
/// `until: 2027-01-31`, which mutes through that day) ends at `the end of
/// 2027-01-31`, not at `2027-02-01 00:00 UTC`; any other instant as
/// [`fmt_time`] writes it.
pub(crate) fn fmt_end(t: DateTime<Utc>) -> String {
    match t.time() == chrono::NaiveTime::MIN {
        true => match t.date_naive().pred_opt() {
            Some(day) => format!("the end of {}", day.format("%Y-%m-%d")),
            None => fmt_time(t),
        },
        false => fmt_time(t),
    }
}

/// A duration in the largest two units: `45 s`, `3 min`, `2 h 5 min`, `3 d 4 h`.
pub fn fmt_duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `in 3 h`, `5 min ago`, `just now`.
pub fn fmt_relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    if secs.abs() < 5 {
        "just now".to_string()
    } else if secs > 0 {
        format!("in {}", fmt_duration(secs.unsigned_abs()))
    } else {
        format!("{} ago", fmt_duration(secs.unsigned_abs()))
    }
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// When in its period a schedule runs: `at 05:00`, `on Sunday at 05:00`,
/// `at :30`.
pub(super) fn schedule_when(s: &Schedule) -> String {
    let minute = s.minute.unwrap_or(0);
    let at = match s.hour {
        Some(h) => format!("at {h:02}:{minute:02}"),
        None => "at an unknown hour".to_string(),
    };
    match s.frequency {
        Frequency::Hourly => format!("at :{minute:02}"),
        Frequency::Daily => at,
        Frequency::Weekly => match s.day.and_then(|d| WEEKDAYS.get(d as usize)) {
            Some(day) => format!("on {day} {at}"),
            None => format!("{at}, on an unknown day"),
        },
        Frequency::Monthly => match s.day {
            Some(d) => format!("on day {d} {at}"),
            None => format!("{at}, on an unknown day"),
        },
        Frequency::Unknown => String::new(),
    }
}

/// What a prune schedule keeps, as docs/metrics.md words it.
pub(super) fn prune_words(prune: u32) -> Option<&'static str> {
    match prune {
        0 => Some("keeps daily"),
        1 => Some("daily, then weekly"),
        2 => Some("daily, then monthly"),
        3 => Some("daily, weekly, then monthly"),
        _ => None,
    }
}

/// The server's backup engine: `v2 Duplicacy`, `v1 Borg`.
pub(super) fn engine_words(v: BackupsVersion) -> Option<&'static str> {
    match v {
        BackupsVersion::V2 => Some("v2 Duplicacy"),
        BackupsVersion::V1 => Some("v1 Borg"),
        BackupsVersion::Unknown => None,
    }
}

pub(super) fn retention_words(retention: Retention) -> String {
    match retention {
        Retention::Unknown => "unknown".to_string(),
        Retention::KeepAll => "keep all".to_string(),
        Retention::Days(1) => "1 day".to_string(),
        Retention::Days(d) => format!("{d} days"),
    }
}

/// At most `max` characters, an ellipsis marking a cut: for quoting input back.
pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// A count with thousands separated by commas: 7,800.
pub(super) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A policy's rules: `retention at least 7 days, a backup at least every
/// 7 d, remote backups required, GridPane's record read within 7 d`.
pub(super) fn rules_words(r: &Rules) -> String {
    format!(
        "retention at least {} day{}, a backup at least every {}, remote backups {}, GridPane's record read within {}",
        r.min_retention_days,
        if r.min_retention_days == 1 { "" } else { "s" },
        fmt_duration(r.max_interval.as_secs()),
        if r.require_remote {
            "required"
        } else {
            "not required"
        },
        fmt_duration(r.record_max_age.as_secs())
    )
}

/// A moment as the page shows it.
pub(super) struct Time {
    /// RFC 3339, for `<time datetime>`.
    pub machine: String,
    /// `2026-11-23 05:00 UTC`
    pub text: String,
    /// `in 3 h`, `5 min ago`
    pub relative: String,
}

impl Time {
    pub(super) fn new(t: DateTime<Utc>, now: DateTime<Utc>) -> Time {
        Time {
            machine: api::rfc3339(t),
            text: fmt_time(t),
            relative: fmt_relative(t, now),
        }
    }

    /// [`Time::new`], its text to the second: `2026-11-23 05:00:10 UTC`.
    pub(super) fn to_the_second(t: DateTime<Utc>, now: DateTime<Utc>) -> Time {
        Time {
            text: t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            ..Time::new(t, now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_their_two_largest_units() {
        assert_eq!(fmt_duration(45), "45 s");
        assert_eq!(fmt_duration(180), "3 min");
        assert_eq!(fmt_duration(7_500), "2 h 5 min");
        assert_eq!(fmt_duration(7_200), "2 h");
        assert_eq!(fmt_duration(273_600), "3 d 4 h");
        assert_eq!(fmt_duration(7 * 86_400 + 59), "7 d");
    }

    #[test]
    fn relative_times_say_which_way() {
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        let at = |s: i64| now + chrono::Duration::seconds(s);
        assert_eq!(fmt_relative(at(3), now), "just now");
        assert_eq!(fmt_relative(at(10_800), now), "in 3 h");
        assert_eq!(fmt_relative(at(-300), now), "5 min ago");
    }

    #[test]
    fn counts_group_by_thousands_and_cuts_are_marked() {
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(7_800), "7,800");
        assert_eq!(grouped(12_345_678), "12,345,678");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("ünïcode", 3), "ünï…");
    }

    #[test]
    fn a_mute_until_a_date_ends_at_the_end_of_that_day_and_one_until_an_instant_at_it() {
        let at = |raw: &str| raw.parse::<DateTime<Utc>>().unwrap_or_default();
        assert_eq!(fmt_end(at("2027-02-01T00:00:00Z")), "the end of 2027-01-31");
        assert_eq!(fmt_end(at("2027-02-01T05:30:00Z")), "2027-02-01 05:30 UTC");
        assert_eq!(fmt_end(at("2027-02-01T00:00:01Z")), "2027-02-01 00:00 UTC");
    }
}
