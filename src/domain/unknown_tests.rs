//! A site is OK only when every fact its verdict rests on was read and
//! understood: the record (unreadable, stale, not read yet) and the
//! schedule rows and switches.

use std::time::Duration;

use super::tests::{daily_site, judged, policy_fleet, record, utc};
use super::*;
use crate::gridpane::history::Unreadable;

#[test]
fn statuses_sort_worst_first_with_unknown_between_problem_and_warning() {
    let mut all = Health::ALL.to_vec();
    all.sort();
    assert_eq!(
        all,
        [
            Health::Problem,
            Health::Unknown,
            Health::Warning,
            Health::Pending,
            Health::Ok
        ]
    );
    assert_eq!(
        Health::of([Problem::ShortRetention, Problem::RecordStale]),
        Health::Unknown,
        "unknown outweighs a warning"
    );
    assert_eq!(
        Health::of([Problem::RecordStale, Problem::BackupOverdue]),
        Health::Problem,
        "a critical problem outweighs unknown"
    );
    for p in [
        Problem::RecordUnreadable,
        Problem::RecordStale,
        Problem::ScheduleUnreadable,
    ] {
        assert_eq!(p.severity().as_str(), "unknown");
        assert_eq!(Problem::parse(p.as_str()), Some(p));
    }
}

#[test]
fn a_record_whose_newest_read_failed_is_unknown_not_its_last_good_read_judged_ok() {
    let now = utc("2026-11-22T12:00:00Z");
    let mut snap = daily_site(Some(record(now, Some(now), Some(now))));
    assert_eq!(
        judged(&snap, &Policy::default(), now)[0],
        (vec![], Health::Ok)
    );
    snap.sites[0].record_failure = Some(RecordFailure {
        at: now.timestamp() as f64,
        reason: Unreadable::Unsuccessful,
    });
    assert_eq!(
        judged(&snap, &Policy::default(), now)[0],
        (vec![Problem::RecordUnreadable], Health::Unknown)
    );
    snap.sites[0].history = None;
    assert_eq!(
        judged(&snap, &Policy::default(), now)[0],
        (vec![Problem::RecordUnreadable], Health::Unknown),
        "never read well"
    );
}

#[test]
fn a_record_last_read_longer_ago_than_record_max_age_is_stale() {
    let read = utc("2026-11-22T12:00:00Z");
    let snap = daily_site(Some(record(read, Some(read), Some(read))));
    let week = chrono::Duration::days(7);
    let a = Assessment::of(
        &snap,
        &Policy::default(),
        read + week - chrono::Duration::seconds(1),
    );
    assert_eq!(a.sites()[0].health, Health::Ok);
    assert_eq!(
        a.next_change(),
        Some(read + week),
        "judged again when it goes stale"
    );
    assert_eq!(
        judged(&snap, &Policy::default(), read + week)[0],
        (vec![Problem::RecordStale], Health::Unknown)
    );
    let patient = Policy {
        rules: policy::Rules {
            record_max_age: Duration::from_secs(30 * 86_400),
            ..policy::Rules::default()
        },
        ..Policy::default()
    };
    assert_eq!(judged(&snap, &patient, read + week)[0].1, Health::Ok);
}

#[test]
fn a_record_read_in_1970_or_ahead_of_the_clock_is_stale() {
    let now = utc("2026-11-22T12:00:00Z");
    let mut snap = daily_site(Some(record(now, Some(now), Some(now))));
    for read_at in [0.0, f64::NAN, now.timestamp() as f64 + 86_400.0] {
        if let Some(h) = snap.sites[0].history.as_mut() {
            h.read_at = read_at;
        }
        assert_eq!(
            judged(&snap, &Policy::default(), now)[0],
            (vec![Problem::RecordStale], Health::Unknown),
            "read at {read_at}"
        );
    }
}

#[test]
fn with_records_read_a_site_whose_record_has_not_been_read_is_pending_never_ok() {
    let now = utc("2026-11-22T12:00:00Z");
    let snap = policy_fleet();
    let reading = Policy {
        records_read: true,
        ..Policy::default()
    };
    let got = judged(&snap, &reading, now);
    assert_eq!(got[0], (vec![], Health::Pending));
    assert_eq!(got[1].1, Health::Problem, "a proven problem still shows");
    assert_eq!(judged(&snap, &Policy::default(), now)[0].1, Health::Ok);
    let read = daily_site(Some(record(now, Some(now), Some(now))));
    assert_eq!(judged(&read, &reading, now)[0], (vec![], Health::Ok));
}

#[test]
fn a_schedule_row_the_exporter_does_not_understand_makes_its_site_unknown() {
    let now = utc("2026-11-22T12:00:00Z");
    let mut snap = daily_site(Some(record(now, Some(now), Some(now))));
    if let Some(s) = snap.sites[0].local.schedule.as_mut() {
        s.flaw = Some(ScheduleFlaw::Day);
    }
    assert_eq!(
        judged(&snap, &Policy::default(), now)[0],
        (vec![Problem::ScheduleUnreadable], Health::Unknown)
    );
}

#[test]
fn a_remote_schedule_not_understood_is_waived_where_remote_backups_are_not_required() {
    let now = utc("2026-11-22T12:00:00Z");
    let mut snap = daily_site(Some(record(now, Some(now), Some(now))));
    snap.sites[0].remote.automatic = None;
    assert_eq!(
        judged(&snap, &Policy::default(), now)[0].0,
        [Problem::ScheduleUnreadable]
    );
    let local_only = Policy {
        rules: policy::Rules {
            require_remote: false,
            ..policy::Rules::default()
        },
        ..Policy::default()
    };
    assert_eq!(judged(&snap, &local_only, now)[0], (vec![], Health::Ok));
}

#[test]
fn unknown_problems_can_be_muted_like_every_problem() {
    let now = utc("2026-11-22T12:00:00Z");
    let snap = daily_site(Some(record(now - chrono::Duration::days(9), None, None)));
    let policy = Policy {
        mutes: vec![policy::Mute {
            sites: vec![policy::SiteRef::parse("example.com")],
            problems: Some(vec![Problem::RecordStale]),
            until: utc("2027-01-01T00:00:00Z"),
            reason: std::sync::Arc::from("server rebuilt"),
            ..policy::Mute::default()
        }],
        ..Policy::default()
    };
    let got = judged(&snap, &policy, now);
    assert_eq!(
        got[0].0,
        [Problem::NeverBackedUp],
        "stale is muted, the rest shows"
    );
}

// ---------------------------------------------------------------------------
// The rule as a property: whatever GridPane answers, a site is OK only when
// its record and its schedule rows are well-formed and the record recent.

mod property {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::super::*;
    use crate::gridpane::history::Unreadable;

    /// A part of the answer, and whether it is well-formed.
    type Part = (Value, bool);

    fn pick(valid: Vec<Value>, invalid: Vec<Value>) -> impl Strategy<Value = Part> {
        let valid = prop::sample::select(valid).prop_map(|v| (v, true));
        let invalid = prop::sample::select(invalid).prop_map(|v| (v, false));
        prop_oneof![3 => valid, 1 => invalid]
    }

    fn success() -> impl Strategy<Value = Part> {
        pick(
            vec![
                json!(true),
                json!(1),
                json!("1"),
                json!("true"),
                Value::Null,
            ],
            vec![
                json!(false),
                json!("false"),
                json!(0),
                json!("yes"),
                json!([]),
            ],
        )
    }

    /// An extra name beside the good ones, if any.
    fn extra_name() -> impl Strategy<Value = Part> {
        pick(
            vec![Value::Null],
            vec![
                json!("1796526000"),
                json!("2026-12-06T03:00:00Z"),
                json!("2099-01-01 00:00"),
                json!("yesterday"),
            ],
        )
    }

    /// The whole body, when it is not a record at all.
    fn replaced() -> impl Strategy<Value = Option<&'static str>> {
        prop_oneof![
            6 => Just(None),
            1 => prop::sample::select(vec!["", "{}", "null", "[]", "<html></html>", "{\"success\": true, \"backups\": {\"local\": {\"automatic\": \"2026"]).prop_map(Some),
        ]
    }

    fn switch() -> impl Strategy<Value = Part> {
        pick(
            vec![json!(true), json!(1), json!("1"), json!("true")],
            vec![json!(""), Value::Null, json!("maybe"), json!(2)],
        )
    }

    fn frequency() -> impl Strategy<Value = Part> {
        pick(
            vec![json!("daily"), json!("DAILY")],
            vec![json!("fortnightly"), json!(12), json!("")],
        )
    }

    fn hour() -> impl Strategy<Value = Part> {
        prop_oneof![
            3 => (0u32..24).prop_map(|h| (json!(format!("{h:02}")), true)),
            1 => prop::sample::select(vec![json!(24), json!(99), json!(-1), json!("x")]).prop_map(|v| (v, false)),
        ]
    }

    fn minute() -> impl Strategy<Value = Part> {
        prop_oneof![
            3 => (0u32..60).prop_map(|m| (json!(m), true)),
            1 => prop::sample::select(vec![json!(60), json!(75), json!(-5)]).prop_map(|v| (v, false)),
        ]
    }

    /// Days between the last read of the record and now.
    fn read_age() -> impl Strategy<Value = (f64, bool)> {
        prop_oneof![
            3 => (0.0f64..6.9).prop_map(|d| (d, true)),
            1 => prop::sample::select(vec![7.5, 30.0, 20_000.0]).prop_map(|d| (d, false)),
        ]
    }

    fn names(read_at: i64, extra: &Value, form: u8) -> Value {
        let mut names: Vec<String> = (0..3)
            .map(|k| {
                chrono::DateTime::from_timestamp(read_at - k * 3_600, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default()
            })
            .collect();
        if let Some(extra) = extra.as_str() {
            names.push(extra.to_string());
        }
        match form {
            0 => json!(names.join(",")),
            1 => json!(names.join(", ")),
            2 => json!(names),
            _ => json!(
                names
                    .iter()
                    .map(|n| json!({ "name": n }))
                    .collect::<Vec<_>>()
            ),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_records_and_schedule_rows_are_ok_only_when_well_formed_and_recent(
            success in success(),
            extra in extra_name(),
            replaced in replaced(),
            form in 0u8..4,
            switches in (switch(), switch()),
            row in (frequency(), hour(), minute()),
            age in read_age(),
        ) {
            let now = super::utc("2026-11-22T12:00:00Z");
            let read_at = now.timestamp() - (age.0 * 86_400.0) as i64;
            let mut body = json!({
                "backups": {
                    "local": {"automatic": names(read_at, &extra.0, form), "manual": ""},
                    "aws-s3": {"automatic": names(read_at, &Value::Null, form), "manual": ""},
                }
            });
            if !success.0.is_null() {
                body["success"] = success.0.clone();
            }
            let bytes = match replaced {
                Some(text) => text.as_bytes().to_vec(),
                None => serde_json::to_vec(&body).unwrap(),
            };
            let utc = chrono::FixedOffset::east_opt(0).unwrap();
            let read = crate::gridpane::record::read(&bytes, utc, read_at);

            let (frequency, hour, minute) = row;
            let site = json!({"id": 1, "url": "one.example",
                "local_bup": switches.0.0, "remote_bup": switches.1.0});
            let rows = json!([{"site_id": 1, "schedule_backups": [
                {"id": 10, "type": "local", "bup_schedule": frequency.0, "hour": hour.0, "minute": minute.0},
                {"id": 11, "type": "remote", "bup_schedule": "daily", "hour": "04", "minute": "15"},
            ]}]);
            let mut snap = build_snapshot("a", 0.0, Fetched {
                sites: vec![serde_json::from_value(site).unwrap()],
                servers: Vec::new(),
                schedules: serde_json::from_value(rows).unwrap(),
                integrations: Vec::new(),
            });
            match &read {
                Ok(found) => {
                    snap.sites[0].history = Some(BackupHistory::from_found(found, read_at as f64));
                }
                Err(reason) => {
                    snap.sites[0].record_failure = Some(RecordFailure { at: read_at as f64, reason: *reason });
                }
            }
            let policy = Policy { records_read: true, ..Policy::default() };
            let health = Assessment::of(&snap, &policy, now).sites()[0].health;

            let well_formed = success.1 && extra.1 && replaced.is_none()
                && switches.0.1 && switches.1.1
                && frequency.1 && hour.1 && minute.1 && age.1;
            prop_assert_eq!(
                health == Health::Ok,
                well_formed,
                "health {:?}, read {:?}", health, read.as_ref().map(|f| f.backups.len()).map_err(|r: &Unreadable| r.as_str())
            );
        }
    }
}
