//! A site is OK only when every fact its verdict rests on was read and
//! understood: the record (unreadable, stale, not read yet) and the
//! schedule rows and switches.

use std::time::Duration;

use super::tests::{daily_site, judged, policy_fleet, record, utc};
use super::*;

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
