//! From GridPane's answers all the way to a verdict. Schedule rows and
//! switches the exporter does not understand: a fact about their site
//! (`schedule_unreadable`), never a pass and never the account's poll
//! failing. And the rule as a property: a site is OK only when its record
//! and its schedule rows are well-formed and the record recent.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::domain::{Assessment, Health, Policy, Problem};
use crate::gridpane::{Endpoint, decode};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The one site 1, its switches and its rows (a daily remote row is added
/// unless `rows` holds one).
fn site_with(switches: Value, rows: Vec<Value>) -> (Vec<Problem>, Health) {
    let mut site = json!({"id": 1, "url": "one.example"});
    if let (Some(site), Some(extra)) = (site.as_object_mut(), switches.as_object()) {
        site.extend(extra.clone());
    }
    let page = json!({"data": [{"site_id": 1, "schedule_backups": rows}]});
    let schedules: wire::SchedulesResponse =
        decode(Endpoint::Schedules, page.to_string().as_bytes()).unwrap();
    let fetched = Fetched {
        sites: vec![serde_json::from_value(site).unwrap()],
        servers: Vec::new(),
        schedules: schedules.data,
        integrations: Vec::new(),
    };
    let snap = build_snapshot("a", 0.0, fetched);
    let a = Assessment::of(&snap, &Policy::default(), utc("2026-11-22T00:00:00Z"));
    let v = &a.sites()[0];
    (v.problems().collect(), v.health)
}

fn local(fields: Value) -> Value {
    let mut row =
        json!({"id": 10, "type": "local", "bup_schedule": "daily", "hour": "03", "minute": "00"});
    if let (Some(row), Some(extra)) = (row.as_object_mut(), fields.as_object()) {
        row.extend(extra.clone());
    }
    row
}

fn remote() -> Value {
    json!({"id": 11, "type": "remote", "bup_schedule": "daily", "hour": "04", "minute": "15"})
}

fn on() -> Value {
    json!({"local_bup": true, "remote_bup": true})
}

#[test]
fn a_well_formed_site_is_ok_with_the_drift_gridpane_sends() {
    assert_eq!(
        site_with(on(), vec![local(json!({})), remote()]),
        (vec![], Health::Ok)
    );
    for (local_bup, remote_bup) in [(json!(1), json!("1")), (json!("true"), json!(true))] {
        let switches = json!({"local_bup": local_bup, "remote_bup": remote_bup});
        assert_eq!(
            site_with(
                switches,
                vec![local(json!({"hour": 5, "minute": "05"})), remote()]
            )
            .1,
            Health::Ok
        );
    }
    let off = json!({"local_bup": "0", "remote_bup": 0});
    assert_eq!(
        site_with(off, vec![local(json!({})), remote()]).0,
        [Problem::LocalDisabled, Problem::RemoteDisabled]
    );
}

#[test]
fn a_frequency_gridpane_never_documented_is_not_understood_never_a_pass() {
    for every in [json!("fortnightly"), json!(12), json!(""), Value::Null] {
        let got = site_with(on(), vec![local(json!({"bup_schedule": every})), remote()]);
        assert_eq!(
            got,
            (vec![Problem::ScheduleUnreadable], Health::Unknown),
            "{every}"
        );
    }
}

#[test]
fn an_impossible_hour_minute_or_day_is_not_understood() {
    for fields in [
        json!({"hour": 99}),
        json!({"hour": "-1"}),
        json!({"minute": 75}),
        json!({"minute": "x5"}),
        json!({"bup_schedule": "weekly", "day": 9}),
        json!({"bup_schedule": "weekly", "day": -1}),
        json!({"bup_schedule": "monthly", "day": 0}),
        json!({"bup_schedule": "monthly", "day": 31}),
        json!({"bup_schedule": "monthly", "day": [1]}),
    ] {
        let (problems, health) = site_with(on(), vec![local(fields.clone()), remote()]);
        assert_eq!(health, Health::Unknown, "{fields}");
        // A monthly schedule is also too rare for the default policy.
        assert_eq!(
            problems.first(),
            Some(&Problem::ScheduleUnreadable),
            "{fields}"
        );
    }
    for fields in [
        json!({"bup_schedule": "weekly", "day": "0"}),
        json!({"bup_schedule": "hourly", "hour": null, "minute": 59}),
    ] {
        assert_eq!(
            site_with(on(), vec![local(fields.clone()), remote()]).1,
            Health::Ok,
            "{fields}"
        );
    }
    assert_eq!(
        site_with(
            on(),
            vec![
                local(json!({"bup_schedule": "monthly", "day": 28})),
                remote()
            ]
        )
        .0,
        [Problem::IntervalTooLong],
        "a monthly day 28 is understood"
    );
}

#[test]
fn a_switch_that_is_empty_null_absent_or_neither_is_not_read_as_on() {
    for local_bup in [json!(""), Value::Null, json!("maybe"), json!(2)] {
        let switches = json!({"local_bup": local_bup, "remote_bup": true});
        let got = site_with(switches, vec![local(json!({})), remote()]);
        assert_eq!(
            got,
            (vec![Problem::ScheduleUnreadable], Health::Unknown),
            "{local_bup}"
        );
    }
    let absent = json!({"remote_bup": true});
    assert_eq!(
        site_with(absent, vec![local(json!({})), remote()]),
        (vec![Problem::ScheduleUnreadable], Health::Unknown)
    );
}

#[test]
fn one_bad_row_fails_its_site_only_never_the_accounts_schedule_list() {
    let page = json!({"data": [
        {"site_id": 1, "schedule_backups": [local(json!({"bup_schedule": "weekly", "day": -1})), remote()]},
        {"site_id": 2, "schedule_backups": [{"type": "local", "bup_schedule": "daily", "hour": "x"}, "junk", 7]},
        {"site_id": 3, "schedule_backups": [local(json!({})), remote()]},
    ]});
    let decoded =
        decode::<wire::SchedulesResponse>(Endpoint::Schedules, page.to_string().as_bytes());
    let rows: Vec<usize> = decoded
        .unwrap()
        .data
        .iter()
        .map(|s| s.schedule_backups.len())
        .collect();
    assert_eq!(
        rows,
        [2, 1, 2],
        "rows that are not objects are dropped, the rest read"
    );
}

// ---------------------------------------------------------------------------
// The rule as a property: whatever GridPane answers, a site is OK only when
// its record and its schedule rows are well-formed and the record recent.

mod property {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::{RecordFailure, Unreadable};

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
                    snap.sites[0].history = Some(history_of(found, read_at as f64));
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
