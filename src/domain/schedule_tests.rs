//! Schedule rows and switches the exporter does not understand: a fact
//! about their site (`schedule_unreadable`), never a pass and never the
//! account's poll failing.

use serde_json::{Value, json};

use super::tests::utc;
use super::*;
use crate::gridpane::{Endpoint, decode, wire};

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
