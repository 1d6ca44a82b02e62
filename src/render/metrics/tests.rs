//! The exposition reads what the verdict says; it counts nothing itself.

use chrono::{DateTime, Utc};

use super::snapshot_text;
use crate::domain::{
    AccountSnapshot, Assessed, Assessment, Frequency, Integration, Schedule, Site, StorageSettings,
};

/// Remote backups scheduled daily to `integration`.
fn to(integration: u64) -> StorageSettings {
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
        prune_schedule: None,
    }
}

/// Two sites uploading to integration 1, one to integration 9, which the
/// account no longer has.
fn snapshot() -> AccountSnapshot {
    AccountSnapshot {
        account: "acme".into(),
        fetched_at: 1_700_000_000.0,
        servers: Vec::new(),
        sites: [1, 1, 9]
            .into_iter()
            .zip(1..)
            .map(|(integration, id)| Site {
                id,
                url: format!("site{id}.example"),
                server_id: None,
                site_type: None,
                local: to(integration),
                remote: to(integration),
                pending: false,
                history: None,
                record_failure: None,
            })
            .collect(),
        integrations: vec![Integration {
            id: 1,
            name: "s3".into(),
            provider: "aws-s3".into(),
            region: None,
        }],
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-22T00:00:00Z".parse().unwrap()
}

#[test]
fn the_sites_of_an_integration_are_the_count_its_verdict_gives() {
    let snapshot = snapshot();
    let own = Assessment::of(&snapshot, &Default::default(), now());
    let assessed = Assessed::with_verdicts(snapshot, own.sites().to_vec());
    let as_judged = String::from_utf8(snapshot_text(&[&assessed], now()).to_vec()).unwrap();
    assert!(
        as_judged.contains(
            "\ngridpane_backup_integration_sites{account=\"acme\",integration_id=\"1\"} 2\n"
        ),
        "{as_judged}"
    );
    // The missing integration is the verdict's, but has no info to show.
    assert!(!as_judged.contains("integration_id=\"9\""), "{as_judged}");

    // A verdict that counts otherwise than the snapshot's schedules say.
    let counted = assessed.with_integration_sites(|id| id as usize + 6);
    let text = String::from_utf8(snapshot_text(&[&counted], now()).to_vec()).unwrap();
    assert!(
        text.contains(
            "\ngridpane_backup_integration_sites{account=\"acme\",integration_id=\"1\"} 7\n"
        ),
        "{text}"
    );
}

#[test]
fn the_snapshot_part_shows_the_verdict_of_the_policy_it_was_judged_under() {
    let policy = crate::domain::Policy {
        rules: crate::domain::policy::Rules {
            min_retention_days: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    let assessed = Assessed::new(snapshot(), &policy, now());
    let text = String::from_utf8(snapshot_text(&[&assessed], now()).to_vec()).unwrap();
    // Kept 30 days: short under this policy, not under the default one.
    assert!(
        text.contains("\ngridpane_site_problems{account=\"acme\",problem=\"short_retention\"} 3\n"),
        "{text}"
    );
}
