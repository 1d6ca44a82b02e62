//! The date at the start of a monitoring log line, as GridPane writes it:
//! `date +%a-%b-%e-%T-%Z-%Y`, so `Thu-Jul--1-01:00:11-EDT-2021` (the day
//! is space-padded, and the space became a dash too).
//!
//! The zone is an abbreviation, which only maps to an offset where it is
//! unambiguous: UTC/GMT and the US zones. Any other zone, a weekday that
//! does not match the date, or any other shape is not guessed: the caller
//! counts the line as a date it does not know.

use chrono::{NaiveDate, NaiveTime, Weekday};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The zones read, with their offset from UTC in hours.
const ZONES: &[(&str, i64)] = &[
    ("UTC", 0),
    ("GMT", 0),
    ("Z", 0),
    ("EST", -5),
    ("EDT", -4),
    ("CST", -6),
    ("CDT", -5),
    ("MST", -7),
    ("MDT", -6),
    ("PST", -8),
    ("PDT", -7),
    ("AKST", -9),
    ("AKDT", -8),
    ("HST", -10),
];

/// Unix seconds of `raw`, or `None` when it is not a date of that format
/// with a known zone.
pub fn parse(raw: &str) -> Option<i64> {
    let mut parts = raw.trim().split('-').filter(|p| !p.is_empty());
    let weekday: Weekday = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month)?;
    let day: u32 = parts.next()?.parse().ok()?;
    let time = NaiveTime::parse_from_str(parts.next()?, "%H:%M:%S").ok()?;
    let zone = parts.next()?;
    let offset_hours = ZONES.iter().find(|(z, _)| *z == zone)?.1;
    let year: i32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let month = u32::try_from(month).ok()? + 1;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    if chrono::Datelike::weekday(&date) != weekday {
        return None;
    }
    let local = date.and_time(time).and_utc().timestamp();
    Some(local - offset_hours * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_knowledge_base_example_is_read_in_its_zone() {
        // 2021-07-01 01:00:11 EDT is 05:00:11 UTC.
        assert_eq!(parse("Thu-Jul--1-01:00:11-EDT-2021"), Some(1_625_115_611));
        assert_eq!(parse("Thu-Jul--1-05:00:11-UTC-2021"), Some(1_625_115_611));
        assert_eq!(parse("Sat-Jul-10-05:00:11-GMT-2021"), Some(1_625_893_211));
    }

    #[test]
    fn unknown_zones_weekdays_that_disagree_and_other_shapes_are_not_guessed() {
        for raw in [
            "Thu-Jul--1-01:00:11-CEST-2021",
            "Thu-Jul--1-01:00:11-IST-2021",
            "Fri-Jul--1-01:00:11-EDT-2021",
            "2021-07-01T01:00:11Z",
            "Thu-Jul--1-01:00:11-EDT",
            "Thu-Jul--1-01:00:11-EDT-2021-x",
            "Thu-Jul-32-01:00:11-EDT-2021",
            "Thu-Jux--1-01:00:11-EDT-2021",
            "Thu-Jul--1-25:00:11-EDT-2021",
            "",
        ] {
            assert_eq!(parse(raw), None, "{raw}");
        }
    }
}
