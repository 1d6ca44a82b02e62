//! Tests of the snapshot, the calendar and the assessment.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::*;

/// Every active problem of one site under the default policy, most
/// serious first.
fn site_problems(site: &Site, integration_ids: &HashSet<u64>) -> Vec<Problem> {
    let at = super::policy::SiteContext {
        account: "",
        site,
        server_label: None,
    };
    SiteVerdict::judge(&at, integration_ids, &Policy::default(), Utc::now())
        .problems()
        .collect()
}

pub(super) fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn schedule(
    frequency: Frequency,
    hour: Option<u32>,
    minute: Option<u32>,
    day: Option<u32>,
) -> Schedule {
    Schedule {
        id: 1,
        frequency,
        hour,
        minute,
        day,
        service_id: None,
        service_name: None,
        integration_id: None,
        flaw: None,
    }
}

fn site(local: StorageSettings, remote: StorageSettings) -> Site {
    Site {
        id: 7,
        url: "example.com".into(),
        server_id: Some(1),
        site_type: None,
        local,
        remote,
        pending: false,
        history: None,
        record_failure: None,
    }
}

fn settings(automatic: Option<bool>, schedule: Option<Schedule>) -> StorageSettings {
    StorageSettings {
        automatic,
        schedule,
        retain_days: Some(30),
        prune_schedule: Some(0),
    }
}

fn remote_to(integration: u64) -> Schedule {
    Schedule {
        integration_id: Some(integration),
        ..schedule(Frequency::Daily, Some(3), Some(15), None)
    }
}

#[test]
fn hourly_runs_at_the_next_matching_minute() {
    let s = schedule(Frequency::Hourly, None, Some(30), None);
    assert_eq!(
        next_run(&s, utc("2026-11-22T10:10:00Z")),
        Some(utc("2026-11-22T10:30:00Z"))
    );
    assert_eq!(
        next_run(&s, utc("2026-11-22T10:30:00Z")),
        Some(utc("2026-11-22T11:30:00Z"))
    );
    assert_eq!(
        next_run(&s, utc("2026-11-22T23:45:00Z")),
        Some(utc("2026-11-23T00:30:00Z"))
    );
}

#[test]
fn daily_runs_today_if_still_ahead_else_tomorrow() {
    let s = schedule(Frequency::Daily, Some(5), Some(0), None);
    assert_eq!(
        next_run(&s, utc("2026-11-22T04:59:59Z")),
        Some(utc("2026-11-22T05:00:00Z"))
    );
    assert_eq!(
        next_run(&s, utc("2026-11-22T05:00:00Z")),
        Some(utc("2026-11-23T05:00:00Z"))
    );
}

#[test]
fn weekly_day_zero_is_sunday() {
    // 2026-11-22 is a Sunday.
    let s = schedule(Frequency::Weekly, Some(5), Some(0), Some(0));
    assert_eq!(
        next_run(&s, utc("2026-11-22T01:00:00Z")),
        Some(utc("2026-11-22T05:00:00Z"))
    );
    assert_eq!(
        next_run(&s, utc("2026-11-22T06:00:00Z")),
        Some(utc("2026-11-29T05:00:00Z"))
    );
    let wednesday = schedule(Frequency::Weekly, Some(0), Some(0), Some(3));
    assert_eq!(
        next_run(&wednesday, utc("2026-11-22T06:00:00Z")),
        Some(utc("2026-11-25T00:00:00Z"))
    );
}

#[test]
fn monthly_rolls_over_the_year_and_skips_short_months() {
    let s = schedule(Frequency::Monthly, Some(2), Some(30), Some(15));
    assert_eq!(
        next_run(&s, utc("2026-12-20T00:00:00Z")),
        Some(utc("2027-01-15T02:30:00Z"))
    );
    let thirty_first = schedule(Frequency::Monthly, Some(0), Some(0), Some(31));
    assert_eq!(
        next_run(&thirty_first, utc("2026-11-01T00:00:00Z")),
        Some(utc("2026-12-31T00:00:00Z"))
    );
}

#[test]
fn a_schedule_missing_what_its_frequency_needs_has_no_next_run() {
    let now = utc("2026-11-22T00:00:00Z");
    assert_eq!(
        next_run(&schedule(Frequency::Daily, None, Some(0), None), now),
        None
    );
    assert_eq!(
        next_run(&schedule(Frequency::Weekly, Some(1), Some(0), None), now),
        None
    );
    assert_eq!(
        next_run(&schedule(Frequency::Weekly, Some(1), Some(0), Some(7)), now),
        None
    );
    assert_eq!(
        next_run(&schedule(Frequency::Daily, Some(24), Some(0), None), now),
        None
    );
    assert_eq!(
        next_run(&schedule(Frequency::Unknown, Some(1), Some(0), None), now),
        None
    );
}

#[test]
fn intervals_are_the_nominal_periods() {
    assert_eq!(Frequency::Hourly.interval_seconds(), Some(3600));
    assert_eq!(Frequency::Monthly.interval_seconds(), Some(2_592_000));
    assert_eq!(Frequency::Unknown.interval_seconds(), None);
}

#[test]
fn keep_all_retention_is_infinite() {
    assert_eq!(Retention::of(Some(0)).seconds(), Some(f64::INFINITY));
    assert_eq!(Retention::of(Some(30)).seconds(), Some(2_592_000.0));
    assert_eq!(Retention::of(None).seconds(), None);
}

#[test]
fn a_schedule_row_with_its_flag_off_is_disabled() {
    let s = schedule(Frequency::Daily, Some(1), Some(0), None);
    assert!(!schedule_enabled(&settings(Some(false), Some(s.clone()))));
    assert!(schedule_enabled(&settings(Some(true), Some(s.clone()))));
    assert!(!schedule_enabled(&settings(Some(true), None)));
    assert!(!schedule_not_understood(&settings(None, None)));
}

#[test]
fn a_switch_that_is_neither_on_nor_off_is_not_read_as_on() {
    let s = schedule(Frequency::Daily, Some(1), Some(0), None);
    let unread = settings(None, Some(s));
    assert!(!schedule_enabled(&unread));
    assert!(schedule_not_understood(&unread));
    let v = site(unread.clone(), settings(Some(true), Some(remote_to(1))));
    let ids: HashSet<u64> = [1].into();
    assert_eq!(site_problems(&v, &ids), vec![Problem::ScheduleUnreadable]);
}

#[test]
fn remote_backups_to_a_deleted_integration_are_not_configured() {
    let ids: HashSet<u64> = [2783].into();
    let ok = site(
        settings(Some(true), None),
        settings(Some(true), Some(remote_to(2783))),
    );
    let gone = site(
        settings(Some(true), None),
        settings(Some(true), Some(remote_to(9999))),
    );
    assert!(remote_configured(&ok, &ids));
    assert_eq!(integration_missing(&ok, &ids), Some(false));
    assert!(!remote_configured(&gone, &ids));
    assert_eq!(integration_missing(&gone, &ids), Some(true));
    assert!(site_problems(&gone, &ids).contains(&Problem::IntegrationMissing));
}

#[test]
fn a_remote_schedule_naming_no_integration_counts_when_on() {
    let unnamed = Schedule {
        integration_id: None,
        ..remote_to(1)
    };
    let s = site(
        settings(Some(true), None),
        settings(Some(true), Some(unnamed)),
    );
    assert!(remote_configured(&s, &HashSet::new()));
    assert_eq!(integration_missing(&s, &HashSet::new()), None);
}

#[test]
fn problems_name_each_way_a_site_is_unprotected() {
    let ids: HashSet<u64> = [1].into();
    let daily = schedule(Frequency::Daily, Some(1), Some(0), None);
    let healthy = site(
        settings(Some(true), Some(daily.clone())),
        settings(Some(true), Some(remote_to(1))),
    );
    assert!(site_problems(&healthy, &ids).is_empty());

    let off = site(
        settings(Some(false), Some(daily.clone())),
        settings(Some(false), Some(remote_to(1))),
    );
    assert_eq!(
        site_problems(&off, &ids),
        vec![Problem::LocalDisabled, Problem::RemoteDisabled]
    );

    let bare = site(settings(Some(true), None), settings(Some(false), None));
    assert_eq!(
        site_problems(&bare, &ids),
        vec![Problem::LocalNotScheduled, Problem::RemoteNotSetUp]
    );

    let mut short = healthy.clone();
    short.local.retain_days = Some(2);
    assert_eq!(site_problems(&short, &ids), vec![Problem::ShortRetention]);
    short.local.retain_days = Some(0);
    assert!(
        site_problems(&short, &ids).is_empty(),
        "keep-all is not short"
    );
}

#[test]
fn detail_overrides_bulk_retention_only_where_it_says_something() {
    let daily = schedule(Frequency::Daily, Some(1), Some(0), None);
    let mut snap = AccountSnapshot {
        account: "a".into(),
        fetched_at: 0.0,
        servers: Vec::new(),
        sites: vec![
            site(
                settings(Some(true), Some(daily.clone())),
                settings(Some(true), None),
            ),
            Site {
                id: 8,
                ..site(
                    settings(Some(true), Some(daily)),
                    settings(Some(true), None),
                )
            },
        ],
        integrations: Vec::new(),
    };
    let detail = BTreeMap::from([(
        7,
        SiteDetail {
            fetched_at: 1.0,
            local: RetentionDetail {
                prune_schedule: Some(3),
                retain_days: None,
            },
            remote: RetentionDetail {
                prune_schedule: None,
                retain_days: Some(2),
            },
            integration_ids: vec![1],
            history: None,
            record_failure: None,
        },
    )]);
    apply_detail(&mut snap, &detail);
    assert_eq!(snap.sites[0].local.prune_schedule, Some(3));
    assert_eq!(
        snap.sites[0].local.retain_days,
        Some(30),
        "not in the detail"
    );
    assert_eq!(snap.sites[0].remote.retain_days, Some(2));
    assert_eq!(snap.sites[1].local.prune_schedule, Some(0), "no detail yet");
}

// ---------------------------------------------------------------------------
// The policy.

use std::sync::Arc;
use std::time::Duration;

use policy::{Group, Match, Mute, Rules, SiteRef};

/// Sites 1..: a healthy one (daily, 30 days), a staging copy without remote
/// backups, one with monthly local backups kept 10 days, one on server 2
/// ("web-2") without remote backups.
pub(super) fn policy_fleet() -> AccountSnapshot {
    let daily = schedule(Frequency::Daily, Some(1), Some(0), None);
    let healthy = site(
        settings(Some(true), Some(daily.clone())),
        settings(Some(true), Some(remote_to(1))),
    );
    let mut staging = Site {
        id: 2,
        url: "staging.shop.example".into(),
        site_type: Some("staging".into()),
        ..healthy.clone()
    };
    staging.remote = settings(None, None);
    let mut monthly = Site {
        id: 3,
        url: "monthly.example".into(),
        ..healthy.clone()
    };
    monthly.local.schedule = Some(schedule(Frequency::Monthly, Some(1), Some(0), Some(1)));
    monthly.local.retain_days = Some(10);
    let mut web2 = Site {
        id: 4,
        url: "blog.example".into(),
        server_id: Some(2),
        ..healthy.clone()
    };
    web2.remote = settings(None, None);
    AccountSnapshot {
        account: "acme".into(),
        fetched_at: 0.0,
        servers: vec![Server {
            id: 2,
            label: "web-2".into(),
            region: None,
            backups_version: BackupsVersion::V2,
        }],
        sites: vec![Site { id: 1, ..healthy }, staging, monthly, web2],
        integrations: vec![Integration {
            id: 1,
            name: "s3".into(),
            provider: "aws-s3".into(),
            region: None,
        }],
    }
}

fn group(name: &str, matcher: Match, rules: Rules) -> Group {
    Group {
        name: Arc::from(name),
        matcher,
        rules,
    }
}

/// Each site's active problems and status.
pub(super) fn judged(
    snap: &AccountSnapshot,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<(Vec<Problem>, Health)> {
    Assessment::of(snap, policy, now)
        .sites()
        .iter()
        .map(|v| (v.problems().collect(), v.health))
        .collect()
}

#[test]
fn the_default_policy_warns_of_a_period_over_seven_days_and_retention_under_seven() {
    let snap = policy_fleet();
    let got = judged(&snap, &Policy::default(), utc("2026-11-22T00:00:00Z"));
    assert_eq!(got[0], (vec![], Health::Ok));
    assert_eq!(got[1], (vec![Problem::RemoteNotSetUp], Health::Problem));
    assert_eq!(
        got[2],
        (vec![Problem::IntervalTooLong], Health::Warning),
        "monthly local backups run less often than every 7 days"
    );
    assert_eq!(got[3], (vec![Problem::RemoteNotSetUp], Health::Problem));
}

#[test]
fn a_switched_off_monthly_schedule_is_not_an_interval_problem() {
    let mut snap = policy_fleet();
    snap.sites[2].local.automatic = Some(false);
    let got = judged(&snap, &Policy::default(), utc("2026-11-22T00:00:00Z"));
    assert_eq!(got[2].0, vec![Problem::LocalDisabled]);
}

#[test]
fn the_first_matching_group_sets_the_rules_and_is_named_in_the_verdict() {
    let snap = policy_fleet();
    let relaxed = Rules {
        require_remote: false,
        ..Rules::default()
    };
    let strict = Rules {
        min_retention_days: 14,
        max_interval: Duration::from_secs(31 * 86_400),
        require_remote: true,
        ..Rules::default()
    };
    let policy = Policy {
        rules: Rules::default(),
        groups: vec![
            group(
                "staging",
                Match {
                    site_type: Some("staging".into()),
                    ..Match::default()
                },
                relaxed,
            ),
            group(
                "web-2",
                Match {
                    server: Some("web-2".into()),
                    ..Match::default()
                },
                relaxed,
            ),
            group(
                "all-of-acme",
                Match {
                    account: Some("acme".into()),
                    url: Some(wildmatch::WildMatch::new("*example*")),
                    ..Match::default()
                },
                strict,
            ),
        ],
        mutes: Vec::new(),
        records_read: false,
    };
    let now = utc("2026-11-22T00:00:00Z");
    let a = Assessment::of(&snap, &policy, now);
    let groups: Vec<Option<&str>> = a.sites().iter().map(|v| v.group.as_deref()).collect();
    assert_eq!(
        groups,
        [
            Some("all-of-acme"),
            Some("staging"),
            Some("all-of-acme"),
            Some("web-2")
        ]
    );
    let got = judged(&snap, &policy, now);
    assert_eq!(
        got[1],
        (vec![], Health::Ok),
        "staging needs no remote backups"
    );
    assert_eq!(got[3], (vec![], Health::Ok), "nor does server web-2");
    assert_eq!(
        got[2],
        (vec![Problem::ShortRetention], Health::Warning),
        "10 days is short under a 14-day minimum; monthly is within 31 days"
    );
    let by_id = Policy {
        groups: vec![group(
            "server two",
            Match {
                server: Some("2".into()),
                ..Match::default()
            },
            relaxed,
        )],
        ..Policy::default()
    };
    assert_eq!(
        judged(&snap, &by_id, now)[3].1,
        Health::Ok,
        "a server by its id"
    );
}

#[test]
fn a_mute_keeps_its_problems_out_of_the_status_until_it_ends() {
    let snap = policy_fleet();
    let until = utc("2026-11-25T00:00:00Z");
    let policy = Policy {
        mutes: vec![
            Mute {
                sites: vec![SiteRef::parse("STAGING.shop.example")],
                problems: Some(vec![Problem::RemoteNotSetUp]),
                until,
                reason: Arc::from("migrating"),
                ..Mute::default()
            },
            Mute {
                sites: vec![SiteRef::parse("3")],
                problems: None,
                until: utc("2026-11-30T00:00:00Z"),
                reason: Arc::from(""),
                ..Mute::default()
            },
            Mute {
                sites: vec![SiteRef::parse("blog.example")],
                problems: Some(vec![Problem::ShortRetention]),
                until,
                reason: Arc::from("a problem the site does not have"),
                ..Mute::default()
            },
        ],
        ..Policy::default()
    };
    let before = Assessment::of(&snap, &policy, utc("2026-11-22T00:00:00Z"));
    let staging = &before.sites()[1];
    assert_eq!(staging.health, Health::Ok);
    assert!(staging.active.is_empty());
    assert_eq!(
        staging.muted,
        vec![MutedProblem {
            problem: Problem::RemoteNotSetUp,
            reason: Arc::from("migrating"),
            until,
        }]
    );
    assert_eq!(before.sites()[2].health, Health::Ok, "every problem muted");
    assert_eq!(
        before.sites()[3].health,
        Health::Problem,
        "other problems count"
    );
    assert_eq!(
        before.next_change(),
        Some(until),
        "the first end of a mute that mutes something"
    );

    let after = Assessment::of(&snap, &policy, until);
    assert_eq!(after.sites()[1].health, Health::Problem);
    assert!(after.sites()[1].muted.is_empty());
    assert_eq!(after.sites()[2].health, Health::Ok, "still muted");
    assert_eq!(after.next_change(), Some(utc("2026-11-30T00:00:00Z")));
}

#[test]
fn a_site_from_a_state_file_written_before_site_types_has_none() {
    let old: Site = serde_json::from_value(serde_json::json!({
        "id": 1, "url": "a", "server_id": null,
        "local": {"automatic": null, "schedule": null, "retain_days": null, "prune_schedule": null},
        "remote": {"automatic": null, "schedule": null, "retain_days": null, "prune_schedule": null}
    }))
    .unwrap();
    assert_eq!(old.site_type, None);
}

/// The policy fleet's sites as a first sweep shows them before their
/// `/site` records are read: schedule rows only, no flags, no type.
fn pending_fleet() -> AccountSnapshot {
    let mut snap = policy_fleet();
    for site in &mut snap.sites {
        site.pending = true;
        site.site_type = None;
        for storage in [&mut site.local, &mut site.remote] {
            storage.automatic = None;
            storage.retain_days = None;
        }
    }
    snap
}

#[test]
fn a_pending_site_is_never_ok_and_shows_only_what_its_schedule_rows_prove() {
    let got = judged(
        &pending_fleet(),
        &Policy::default(),
        utc("2026-11-22T00:00:00Z"),
    );
    assert_eq!(got[0], (vec![], Health::Pending), "healthy, not read yet");
    assert_eq!(got[1], (vec![Problem::RemoteNotSetUp], Health::Problem));
    assert_eq!(
        got[2],
        (vec![Problem::IntervalTooLong], Health::Warning),
        "a monthly schedule row is too rare whatever its flag says"
    );
    let a = Assessment::of(
        &pending_fleet(),
        &Policy::default(),
        utc("2026-11-22T00:00:00Z"),
    );
    for v in a.sites() {
        assert!(!v.local.enabled && !v.remote.enabled && !v.remote_configured);
    }
}

#[test]
fn a_pending_site_of_unknown_type_gets_only_the_problems_every_group_it_could_fall_in_finds() {
    let relaxed = Rules {
        require_remote: false,
        max_interval: Duration::from_secs(31 * 86_400),
        ..Rules::default()
    };
    let by_type = group(
        "staging",
        Match {
            site_type: Some("staging".into()),
            ..Match::default()
        },
        relaxed,
    );
    let policy = Policy {
        rules: Rules::default(),
        groups: vec![by_type.clone()],
        mutes: Vec::new(),
        records_read: false,
    };
    let now = utc("2026-11-22T00:00:00Z");
    let a = Assessment::of(&pending_fleet(), &policy, now);
    let got: Vec<_> = a
        .sites()
        .iter()
        .map(|v| (v.problems().collect::<Vec<_>>(), v.health, v.group.clone()))
        .collect();
    assert_eq!(got[1], (vec![], Health::Pending, None), "may be staging");
    assert_eq!(got[2], (vec![], Health::Pending, None), "may be staging");

    // A group without a type that matches first settles it.
    let policy = Policy {
        groups: vec![
            group(
                "web-2",
                Match {
                    server: Some("web-2".into()),
                    ..Match::default()
                },
                Rules::default(),
            ),
            by_type,
        ],
        ..policy
    };
    let a = Assessment::of(&pending_fleet(), &policy, now);
    let web2 = &a.sites()[3];
    assert_eq!(web2.group.as_deref(), Some("web-2"));
    assert_eq!(
        web2.problems().collect::<Vec<_>>(),
        vec![Problem::RemoteNotSetUp]
    );

    // Once read, its type decides.
    let mut read = pending_fleet();
    read.sites[1].pending = false;
    read.sites[1].site_type = Some("primary".into());
    read.sites[1].local.automatic = Some(true);
    let a = Assessment::of(&read, &policy, now);
    assert_eq!(
        a.sites()[1].problems().collect::<Vec<_>>(),
        vec![Problem::RemoteNotSetUp]
    );
}

// ---------------------------------------------------------------------------
// Overdue and missing backups, from GridPane's record.

/// A record read at `now` whose newest local and remote backups are the
/// given instants (`None`: no backup of that storage).
pub(super) fn record(
    now: DateTime<Utc>,
    local: Option<DateTime<Utc>>,
    remote: Option<DateTime<Utc>>,
) -> BackupHistory {
    let of = |at: Option<DateTime<Utc>>| StorageBackups {
        count: u64::from(at.is_some()),
        last: at.map(|t| t.timestamp() as f64),
        last_automatic: at.map(|t| t.timestamp() as f64),
    };
    BackupHistory {
        read_at: now.timestamp() as f64,
        local: of(local),
        remote: of(remote),
        ..BackupHistory::default()
    }
}

/// The healthy site of [`policy_fleet`] (daily local and remote backups).
pub(super) fn daily_site(history: Option<BackupHistory>) -> AccountSnapshot {
    let mut snap = policy_fleet();
    snap.sites.truncate(1);
    snap.sites[0].history = history;
    snap
}

#[test]
fn a_backup_older_than_twice_its_daily_period_plus_an_hour_is_overdue() {
    let now = utc("2026-11-22T12:00:00Z");
    let hours = |h: i64| chrono::Duration::hours(h);
    let seconds = chrono::Duration::seconds;
    let just_in_time = daily_site(Some(record(
        now,
        Some(now - hours(49) + seconds(1)),
        Some(now - hours(1)),
    )));
    assert_eq!(
        judged(&just_in_time, &Policy::default(), now)[0],
        (vec![], Health::Ok)
    );
    let late = daily_site(Some(record(now, Some(now - hours(49)), Some(now))));
    let a = Assessment::of(&late, &Policy::default(), now);
    let v = &a.sites()[0];
    assert_eq!(v.problems().collect::<Vec<_>>(), [Problem::BackupOverdue]);
    assert_eq!(v.health, Health::Problem, "overdue is critical");
    assert!(v.local.overdue && !v.remote.overdue);
    assert_eq!(
        v.local.overdue_at,
        Some(now),
        "read from the newest local backup, 49 hours ago"
    );
    assert_eq!(
        v.storage_problems(Storage::Local).collect::<Vec<_>>(),
        [Problem::BackupOverdue]
    );
    assert_eq!(v.storage_problems(Storage::Remote).count(), 0);
}

#[test]
fn a_storage_that_is_on_without_any_backup_is_never_backed_up_once_the_record_is_read() {
    let now = utc("2026-11-22T12:00:00Z");
    assert_eq!(
        judged(&daily_site(None), &Policy::default(), now)[0],
        (vec![], Health::Ok),
        "no record read: neither problem"
    );
    let empty = daily_site(Some(record(now, None, Some(now))));
    let a = Assessment::of(&empty, &Policy::default(), now);
    let v = &a.sites()[0];
    assert_eq!(v.problems().collect::<Vec<_>>(), [Problem::NeverBackedUp]);
    assert_eq!(v.health, Health::Problem);
    assert!(v.local.never_backed_up && !v.remote.never_backed_up);

    let mut off = empty.clone();
    off.sites[0].local.automatic = Some(false);
    assert_eq!(
        judged(&off, &Policy::default(), now)[0].0,
        [Problem::LocalDisabled],
        "a storage that is off is not expected to have backups"
    );

    let mut unattributed = empty;
    if let Some(h) = unattributed.sites[0].history.as_mut() {
        h.unattributed = StorageBackups {
            count: 1,
            last: Some(now.timestamp() as f64),
            last_automatic: None,
        };
    }
    assert_eq!(
        judged(&unattributed, &Policy::default(), now)[0].0,
        [],
        "a backup of no known storage may be of either"
    );
}

#[test]
fn a_group_sets_its_own_overdue_multiple_and_grace() {
    let now = utc("2026-11-22T12:00:00Z");
    let snap = daily_site(Some(record(
        now,
        Some(now - chrono::Duration::hours(60)),
        Some(now),
    )));
    let lenient = Rules {
        overdue_after: 3.0,
        overdue_grace: Duration::from_secs(0),
        ..Rules::default()
    };
    let policy = Policy {
        groups: vec![group("all", Match::default(), lenient)],
        ..Policy::default()
    };
    assert_eq!(
        judged(&snap, &Policy::default(), now)[0].0,
        [Problem::BackupOverdue]
    );
    assert_eq!(
        judged(&snap, &policy, now)[0].0,
        [],
        "60 hours is under 3 days"
    );
}

#[test]
fn a_backup_is_overdue_only_as_the_record_read_shows_it_and_a_mute_covers_it() {
    let read = utc("2026-11-22T12:00:00Z");
    let last = read - chrono::Duration::hours(20);
    let snap = daily_site(Some(record(read, Some(last), Some(read))));
    let due = last + chrono::Duration::hours(49);
    let days_later = due + chrono::Duration::days(3);
    let a = Assessment::of(&snap, &Policy::default(), days_later);
    let v = &a.sites()[0];
    assert_eq!(v.local.overdue_at, Some(due));
    assert_eq!(
        v.problems().count(),
        0,
        "a backup may have been taken since the record was read"
    );
    assert_eq!(
        a.next_change(),
        Some(read + chrono::Duration::days(7)),
        "only a new read changes it, or the record growing stale"
    );

    let read_again = daily_site(Some(record(due, Some(last), Some(due))));
    assert_eq!(
        judged(&read_again, &Policy::default(), days_later)[0].0,
        [Problem::BackupOverdue],
        "the record read at the due instant shows no newer backup"
    );

    let muted = Policy {
        mutes: vec![Mute {
            sites: vec![SiteRef::parse("example.com")],
            problems: Some(vec![Problem::BackupOverdue]),
            until: utc("2027-01-01T00:00:00Z"),
            reason: Arc::from("server moved"),
            ..Mute::default()
        }],
        ..Policy::default()
    };
    let a = Assessment::of(&read_again, &muted, days_later);
    assert_eq!(a.sites()[0].health, Health::Ok);
    assert_eq!(a.sites()[0].muted[0].problem, Problem::BackupOverdue);
}

#[test]
fn the_backup_record_is_laid_over_the_site_from_its_detail() {
    let now = utc("2026-11-22T12:00:00Z");
    let mut snap = daily_site(None);
    let history = record(now, None, Some(now));
    let detail = BTreeMap::from([(
        snap.sites[0].id,
        SiteDetail {
            history: Some(history.clone()),
            ..SiteDetail::default()
        },
    )]);
    apply_detail(&mut snap, &detail);
    assert_eq!(snap.sites[0].history, Some(history));
    assert_eq!(
        judged(&snap, &Policy::default(), now)[0].0,
        [Problem::NeverBackedUp]
    );
}

#[test]
fn a_pending_site_keeps_the_retention_its_listing_gives_and_hides_its_switches() {
    let mut s = site(
        settings(
            Some(true),
            Some(schedule(Frequency::Daily, Some(3), Some(0), None)),
        ),
        settings(None, None),
    );
    s.pending = true;
    s.local.retain_days = Some(0);
    let at = super::policy::SiteContext {
        account: "",
        site: &s,
        server_label: None,
    };
    let v = SiteVerdict::judge(&at, &HashSet::new(), &Policy::default(), Utc::now());
    assert_eq!(v.local.retention, Retention::KeepAll);
    assert_eq!(v.remote.retention, Retention::Days(30));
    assert!(v.switches_unknown);
    s.pending = false;
    let at = super::policy::SiteContext {
        account: "",
        site: &s,
        server_label: None,
    };
    let v = SiteVerdict::judge(&at, &HashSet::new(), &Policy::default(), Utc::now());
    assert!(!v.switches_unknown);
}

#[test]
fn integrations_are_judged_in_use_unused_or_missing_in_the_assessment() {
    let mut snap = policy_fleet();
    snap.integrations.push(Integration {
        id: 9,
        name: "idle".into(),
        provider: "wasabi".into(),
        region: None,
    });
    if let Some(s) = snap.sites.get_mut(1) {
        s.remote = settings(Some(false), Some(remote_to(5)));
    }
    let got: Vec<_> = Assessment::of(&snap, &Policy::default(), utc("2026-11-22T00:00:00Z"))
        .integrations()
        .iter()
        .map(|v| (v.id, v.known, v.sites, v.status))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some(0), 2, IntegrationStatus::InUse),
            (9, Some(1), 0, IntegrationStatus::Unused),
            (5, None, 1, IntegrationStatus::Missing),
        ]
    );
}
