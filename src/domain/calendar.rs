//! The schedule calendar: when a schedule runs next.

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, TimeZone, Timelike, Utc};

use super::snapshot::{Frequency, Schedule};

/// The next time the schedule runs strictly after `now`, in UTC (GridPane
/// servers run on UTC). `None` when the schedule lacks a field its frequency
/// needs or holds an impossible value.
pub fn next_run(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let minute = schedule.minute.unwrap_or(0);
    if minute > 59 {
        return None;
    }
    let at = |date: NaiveDate, hour: u32| {
        date.and_hms_opt(hour, minute, 0)
            .map(|naive| Utc.from_utc_datetime(&naive))
    };
    let today = now.date_naive();
    match schedule.frequency {
        Frequency::Hourly => {
            let this_hour = at(today, now.hour())?;
            Some(if this_hour > now {
                this_hour
            } else {
                this_hour + ChronoDuration::hours(1)
            })
        }
        Frequency::Daily => {
            let hour = schedule.hour.filter(|h| *h < 24)?;
            let candidate = at(today, hour)?;
            Some(if candidate > now {
                candidate
            } else {
                candidate + ChronoDuration::days(1)
            })
        }
        Frequency::Weekly => {
            let hour = schedule.hour.filter(|h| *h < 24)?;
            let day = schedule.day.filter(|d| *d < 7)?;
            let today_dow = now.weekday().num_days_from_sunday();
            let ahead = (day + 7 - today_dow) % 7;
            let candidate = at(today, hour)? + ChronoDuration::days(i64::from(ahead));
            Some(if candidate > now {
                candidate
            } else {
                candidate + ChronoDuration::days(7)
            })
        }
        Frequency::Monthly => {
            let hour = schedule.hour.filter(|h| *h < 24)?;
            let day = schedule.day.filter(|d| (1..=31).contains(d))?;
            let (mut year, mut month) = (now.year(), now.month());
            // A day past the end of a month skips that month.
            for _ in 0..13 {
                if let Some(candidate) =
                    NaiveDate::from_ymd_opt(year, month, day).and_then(|d| at(d, hour))
                {
                    if candidate > now {
                        return Some(candidate);
                    }
                }
                (year, month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
            }
            None
        }
        Frequency::Unknown => None,
    }
}
