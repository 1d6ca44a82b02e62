//! Tests of the snapshot builder: the join of sites and schedules, the
//! snapshots of a first sweep, the summary of a backup record.

use serde_json::json;

use super::*;
use crate::domain::{StorageBackups, pending::pending_sites};
use crate::gridpane::history::{Backup, Source};

#[test]
fn sites_meet_their_schedules_whatever_order_either_list_comes_in() {
    fn wire<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }
    let row = |id: u64, kind: &str, every: &str| serde_json::json!({"id": id, "type": kind, "bup_schedule": every});
    let entry = |site: u64, rows: Vec<serde_json::Value>| {
        wire(serde_json::json!({"site_id": site, "schedule_backups": rows}))
    };
    let fetched = Fetched {
        sites: [(5, "five"), (1, "one"), (3, "three"), (1, "one again")]
            .into_iter()
            .map(|(id, url)| wire(serde_json::json!({"id": id, "url": url})))
            .collect(),
        servers: Vec::new(),
        schedules: vec![
            entry(3, vec![row(30, "remote", "daily")]),
            entry(1, vec![row(10, "local", "hourly")]),
            entry(9, vec![row(90, "local", "daily")]),
            entry(
                1,
                vec![row(11, "local", "weekly"), row(12, "remote", "monthly")],
            ),
            entry(
                5,
                vec![row(50, "cloud", "daily"), row(51, " Remote ", "WEEKLY")],
            ),
        ],
        integrations: Vec::new(),
    };
    let snap = build_snapshot("a", 0.0, fetched);
    type Row<'a> = (
        u64,
        &'a str,
        Option<(u64, Frequency)>,
        Option<(u64, Frequency)>,
    );
    let got: Vec<Row> = snap
        .sites
        .iter()
        .map(|s| {
            let pick = |st: &StorageSettings| st.schedule.as_ref().map(|x| (x.id, x.frequency));
            (s.id, s.url.as_str(), pick(&s.local), pick(&s.remote))
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                1,
                "one",
                Some((10, Frequency::Hourly)),
                Some((12, Frequency::Monthly))
            ),
            (3, "three", None, Some((30, Frequency::Daily))),
            (5, "five", None, Some((51, Frequency::Weekly))),
        ],
        "the first row of each storage wins, unlisted sites' schedules are dropped"
    );
}

#[test]
fn the_site_type_is_read_from_the_site_list_trimmed_and_lowercased() {
    let wire: wire::Site =
        serde_json::from_value(serde_json::json!({"id": 1, "url": "a", "type": " Staging "}))
            .unwrap();
    let fetched = Fetched {
        sites: vec![wire],
        servers: Vec::new(),
        schedules: Vec::new(),
        integrations: Vec::new(),
    };
    let snap = build_snapshot("a", 0.0, fetched);
    assert_eq!(snap.sites[0].site_type.as_deref(), Some("staging"));
}

fn fetched(sites: serde_json::Value, schedules: serde_json::Value) -> Fetched {
    Fetched {
        sites: serde_json::from_value(sites).unwrap(),
        servers: Vec::new(),
        schedules: serde_json::from_value(schedules).unwrap(),
        integrations: Vec::new(),
    }
}

fn row(id: u64, storage: &str) -> serde_json::Value {
    json!({"id": id, "type": storage, "bup_schedule": "daily", "hour": "01", "minute": "00"})
}

#[test]
fn a_site_known_only_from_its_schedule_rows_is_pending_with_their_url_and_server() {
    let snap = build_partial(
        "a",
        0.0,
        fetched(
            json!([{"id": 1, "url": "read.example", "local_bup": true}]),
            json!([
                {"site_id": 1, "url": "read.example", "server_id": 5, "schedule_backups": [row(10, "local")]},
                {"site_id": 2, "url": "unread.example", "server_id": 5, "schedule_backups": [row(20, "remote")]}
            ]),
        ),
        None,
    );
    let got: Vec<(u64, &str, Option<u64>, bool)> = snap
        .sites
        .iter()
        .map(|s| (s.id, s.url.as_str(), s.server_id, s.pending))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "read.example", None, false),
            (2, "unread.example", Some(5), true)
        ]
    );
    assert_eq!(
        snap.sites[1].remote.schedule.as_ref().map(|s| s.id),
        Some(20)
    );
    assert_eq!(snap.sites[1].remote.automatic, None);
    assert_eq!(pending_sites(&snap), 1);
}

#[test]
fn on_a_warm_start_saved_sites_keep_their_site_record_with_the_fresh_schedules() {
    let saved = build_snapshot(
        "a",
        0.0,
        fetched(
            json!([{"id": 7, "url": "saved.example", "local_bup": false,
                    "site_customizer": {"local_retain_days": 30}}]),
            json!([{"site_id": 7, "schedule_backups": [row(70, "local")]}]),
        ),
    );
    let snap = build_partial(
        "a",
        1.0,
        fetched(
            json!([]),
            json!([{"site_id": 7, "url": "saved.example", "schedule_backups": [row(71, "local")]}]),
        ),
        Some(&saved),
    );
    let site = &snap.sites[0];
    assert!(!site.pending, "a saved site is fully known");
    assert_eq!(site.local.automatic, Some(false));
    assert_eq!(site.local.retain_days, Some(30));
    assert_eq!(site.local.schedule.as_ref().map(|s| s.id), Some(71));
}

#[test]
fn a_pending_site_of_the_previous_publication_stays_pending() {
    let unread = || {
        fetched(
            json!([]),
            json!([{"site_id": 3, "schedule_backups": [row(30, "local")]}]),
        )
    };
    let first = build_partial("a", 0.0, unread(), None);
    let next = build_partial("a", 1.0, unread(), Some(&first));
    assert!(next.sites[0].pending);
}

#[test]
fn on_a_warm_start_a_saved_site_is_rebuilt_without_the_detail_laid_over_it() {
    let mut saved = build_snapshot(
        "a",
        0.0,
        fetched(
            json!([{"id": 7, "url": "saved.example", "type": "staging", "remote_bup": true,
                    "site_customizer": {"remote_retain_days": 0, "remote_prune_schedule": 2}}]),
            json!([{"site_id": 7, "schedule_backups": [row(70, "remote")]}]),
        ),
    );
    saved.sites[0].history = Some(BackupHistory::default());
    saved.sites[0].record_failure = Some(crate::domain::RecordFailure {
        at: 0.0,
        reason: crate::domain::Unreadable::Html,
    });
    let snap = build_partial("a", 1.0, fetched(json!([]), json!([])), Some(&saved));
    let mut expected = saved.sites[0].clone();
    expected.remote.schedule = None;
    expected.history = None;
    expected.record_failure = None;
    assert_eq!(snap.sites, [expected]);
}

#[test]
fn backups_are_summed_per_storage_with_the_newest_automatic_apart() {
    let b = |at, source, kind| Backup {
        at,
        tag: None,
        source,
        kind,
    };
    let found = Found {
        backups: vec![
            b(100, Some(Source::Local), Some(BackupType::Automatic)),
            b(300, Some(Source::Local), Some(BackupType::Manual)),
            b(200, Some(Source::Wasabi), None),
            b(250, Some(Source::AwsS3), Some(BackupType::Automatic)),
            b(50, None, None),
        ],
    };
    let h = history_of(&found, 400.0);
    assert_eq!(
        h.local,
        StorageBackups {
            count: 2,
            last: Some(300.0),
            last_automatic: Some(100.0)
        }
    );
    assert_eq!(
        h.remote,
        StorageBackups {
            count: 2,
            last: Some(250.0),
            last_automatic: Some(250.0)
        }
    );
    assert_eq!(h.unattributed.count, 1);
    assert_eq!(
        h.storages().map(|(n, _)| n).collect::<Vec<_>>(),
        ["local", "remote", "unknown"]
    );
}

#[test]
fn the_domain_allows_a_read_as_far_ahead_of_the_clock_as_the_reader_allows_a_name() {
    assert_eq!(
        crate::domain::assessment::READ_CLOCK_ALLOWANCE,
        crate::gridpane::history::CLOCK_ALLOWANCE
    );
}
