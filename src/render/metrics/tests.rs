//! The exposition reads what the verdict says; it counts nothing itself.

use chrono::{DateTime, Utc};

use super::snapshot_text;
use crate::domain::{AccountSnapshot, Assessed, Assessment};

/// Two sites uploading daily to integration 1, one to integration 9,
/// which the account no longer has; every storage kept 30 days. Written
/// as the state file holds a snapshot.
fn snapshot() -> AccountSnapshot {
    let site = |id: u64, integration: u64| {
        let storage = serde_json::json!({
            "automatic": true,
            "schedule": {
                "id": 1, "frequency": "daily", "hour": 3, "minute": 0, "day": null,
                "service_id": null, "service_name": null, "integration_id": integration
            },
            "retain_days": 30,
            "prune_schedule": null
        });
        serde_json::json!({
            "id": id, "url": format!("site{id}.example"), "server_id": null,
            "local": storage, "remote": storage
        })
    };
    serde_json::from_value(serde_json::json!({
        "account": "acme",
        "fetched_at": 1_700_000_000.0,
        "servers": [],
        "sites": [site(1, 1), site(2, 1), site(3, 9)],
        "integrations": [{"id": 1, "name": "s3", "provider": "aws-s3", "region": null}]
    }))
    .unwrap()
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
