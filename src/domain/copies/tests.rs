//! The verdict of the proof from the bucket, in the assessment.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::*;
use crate::bucket::{BucketListing, ListOutcome, StorageEvidence};
use crate::domain::policy::{Mute, Policy, SiteRef};
use crate::domain::snapshot::{Frequency, Integration, Schedule, Site, StorageSettings};
use crate::domain::{Assessment, Health, Problem};

const LISTED_AT: f64 = 1_795_000_000.0;
const HOUR: f64 = 3_600.0;

fn daily_to(integration: u64) -> StorageSettings {
    StorageSettings {
        automatic: Some(true),
        schedule: Some(Schedule {
            id: 1,
            frequency: Frequency::Daily,
            hour: Some(3),
            minute: Some(0),
            day: None,
            service_id: None,
            service_name: None,
            integration_id: Some(integration),
            flaw: None,
        }),
        retain_days: Some(30),
        prune_schedule: Some(0),
    }
}

fn site(id: u64, url: &str, integration: u64) -> Site {
    Site {
        id,
        url: url.into(),
        server_id: None,
        site_type: None,
        local: daily_to(0),
        remote: daily_to(integration),
        pending: false,
        history: None,
        record_failure: None,
    }
}

fn snapshot(sites: Vec<Site>) -> AccountSnapshot {
    AccountSnapshot {
        account: "acme".into(),
        fetched_at: LISTED_AT,
        servers: Vec::new(),
        sites,
        integrations: [
            (2700, "Wasabi main"),
            (2701, "Offsite B2"),
            (9, "Elsewhere"),
        ]
        .into_iter()
        .map(|(id, name)| Integration {
            id,
            name: name.into(),
            provider: "wasabi".into(),
            region: None,
        })
        .collect(),
    }
}

/// One entry holding integration 2700 and the one named "offsite b2",
/// with buckets listed as given: (outcome, [(id, age in hours)]).
fn evidence(buckets: &[(ListOutcome, &[(&str, f64)])]) -> BucketEvidence {
    let mut storage = StorageEvidence::new(
        "wasabi-main",
        vec![
            IntegrationRef::Id(2700),
            IntegrationRef::Name("OFFSITE b2".into()),
        ],
        &[],
    );
    storage.listed_at = Some(LISTED_AT);
    storage.buckets = buckets
        .iter()
        .enumerate()
        .map(|(i, (outcome, ids))| BucketListing {
            name: format!("b{i}"),
            outcome: outcome.clone(),
            keys: ids.len() as u64,
            ids: Arc::new(
                ids.iter()
                    .map(|(id, age)| {
                        (
                            id.to_string(),
                            Revisions {
                                newest: LISTED_AT - age * HOUR,
                                count: 3,
                            },
                        )
                    })
                    .collect::<BTreeMap<_, _>>(),
            ),
        })
        .collect();
    BucketEvidence {
        storages: vec![storage],
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(LISTED_AT as i64 + 60, 0).unwrap()
}

fn judged(snap: &AccountSnapshot, ev: &BucketEvidence, policy: &Policy) -> Assessment {
    Assessment::with_evidence(snap, ev, policy, now())
}

fn copy_problems(a: &Assessment, i: usize) -> Vec<Problem> {
    a.sites()[i]
        .problems()
        .filter(|p| {
            matches!(
                p,
                Problem::RemoteCopyMissing | Problem::RemoteCopyStale | Problem::RemoteCopyUnknown
            )
        })
        .collect()
}

const UUID: &str = "876ac0ab-690f-4067-bdb6-9b2eec41b5d1";

#[test]
fn a_revision_within_its_schedule_verifies_the_copy_in_either_id_form() {
    let snap = snapshot(vec![
        site(1, "fresh.example", 2700),
        site(2, "dashed.example", 2701),
    ]);
    let dotted = format!("gridpane-{UUID}-fresh.example");
    let ev = evidence(&[(
        ListOutcome::Listed,
        &[(dotted.as_str(), 5.0), ("DASHED-example", 20.0)],
    )]);
    let a = judged(&snap, &ev, &Policy::default());
    for i in 0..2 {
        let copy = a.sites()[i].remote.copy.unwrap();
        assert_eq!(copy.state, CopyState::Verified);
        assert_eq!(copy.revisions, 3);
        assert_eq!(a.sites()[i].health, Health::Ok);
    }
    assert_eq!(a.copies()[0].verified, 2);
}

#[test]
fn a_newest_revision_older_than_its_schedule_allows_is_a_stale_copy() {
    // Daily: the default two periods plus an hour's grace; 50 hours is late.
    let snap = snapshot(vec![
        site(1, "late.example", 2700),
        site(2, "ontime.example", 2700),
    ]);
    let ev = evidence(&[(
        ListOutcome::Listed,
        &[("late-example", 50.0), ("ontime-example", 47.0)],
    )]);
    let a = judged(&snap, &ev, &Policy::default());
    assert_eq!(copy_problems(&a, 0), [Problem::RemoteCopyStale]);
    assert_eq!(a.sites()[0].health, Health::Problem);
    assert_eq!(copy_problems(&a, 1), []);
    assert_eq!(Problem::RemoteCopyStale.severity().as_str(), "critical");
}

#[test]
fn no_revision_in_buckets_listed_in_full_is_a_missing_copy_and_orphans_are_counted() {
    let snap = snapshot(vec![site(1, "gone.example", 2700)]);
    let ev = evidence(&[(ListOutcome::Listed, &[("deleted-example", 1.0)])]);
    let a = judged(&snap, &ev, &Policy::default());
    assert_eq!(copy_problems(&a, 0), [Problem::RemoteCopyMissing]);
    assert_eq!(a.sites()[0].remote.copy.unwrap().state, CopyState::Missing);
    assert_eq!(a.copies()[0].orphans, 1);
}

#[test]
fn while_a_bucket_cannot_be_listed_a_site_without_a_revision_is_unknown_never_ok_nor_missing() {
    let snap = snapshot(vec![
        site(1, "gone.example", 2700),
        site(2, "late.example", 2700),
        site(3, "fresh.example", 2700),
    ]);
    let failed = ListOutcome::Failed {
        reason: "forbidden",
    };
    let ev = evidence(&[
        (
            ListOutcome::Listed,
            &[("late-example", 60.0), ("fresh-example", 1.0)],
        ),
        (failed, &[]),
    ]);
    let a = judged(&snap, &ev, &Policy::default());
    for i in 0..2 {
        assert_eq!(a.sites()[i].remote.copy.unwrap().state, CopyState::Unknown);
        assert_eq!(copy_problems(&a, i), [Problem::RemoteCopyUnknown]);
        assert_eq!(a.sites()[i].health, Health::Unknown);
    }
    assert_eq!(Problem::RemoteCopyUnknown.severity().as_str(), "unknown");
    // What was found fresh is proof enough.
    assert_eq!(a.sites()[2].remote.copy.unwrap().state, CopyState::Verified);
    assert_eq!(a.sites()[2].health, Health::Ok);
}

#[test]
fn before_the_first_listing_a_site_without_a_revision_is_pending_never_ok_nor_unknown() {
    let snap = snapshot(vec![site(1, "gone.example", 2700)]);
    let ev = evidence(&[(ListOutcome::Listed, &[]), (ListOutcome::NotYet, &[])]);
    let a = judged(&snap, &ev, &Policy::default());
    assert_eq!(a.sites()[0].remote.copy.unwrap().state, CopyState::Pending);
    assert_eq!(copy_problems(&a, 0), []);
    assert_eq!(a.sites()[0].health, Health::Pending);
}

#[test]
fn only_sites_whose_remote_schedule_points_at_the_entrys_integrations_are_judged() {
    let snap = snapshot(vec![site(1, "a.example", 9), site(2, "b.example", 2701)]);
    let ev = evidence(&[(ListOutcome::Listed, &[])]);
    let a = judged(&snap, &ev, &Policy::default());
    assert_eq!(a.sites()[0].remote.copy, None);
    assert_eq!(copy_problems(&a, 0), []);
    // 2701 is held by its name, ignoring case.
    assert_eq!(copy_problems(&a, 1), [Problem::RemoteCopyMissing]);
    assert_eq!(a.copies()[0].judged, 1);
}

#[test]
fn a_site_with_remote_backups_off_has_no_copy_problem() {
    let mut off = site(1, "off.example", 2700);
    off.remote.automatic = Some(false);
    let snap = snapshot(vec![off]);
    let a = judged(
        &snap,
        &evidence(&[(ListOutcome::Listed, &[])]),
        &Policy::default(),
    );
    assert_eq!(copy_problems(&a, 0), []);
}

#[test]
fn a_missing_copy_can_be_muted() {
    let snap = snapshot(vec![site(1, "gone.example", 2700)]);
    let policy = Policy {
        mutes: vec![Mute {
            sites: vec![SiteRef::parse("gone.example")],
            problems: Some(vec![Problem::RemoteCopyMissing]),
            until: now() + chrono::Duration::days(1),
            reason: Arc::from("moving buckets"),
            ..Mute::default()
        }],
        ..Policy::default()
    };
    let a = judged(&snap, &evidence(&[(ListOutcome::Listed, &[])]), &policy);
    assert_eq!(copy_problems(&a, 0), []);
    assert_eq!(a.sites()[0].muted[0].problem, Problem::RemoteCopyMissing);
}
