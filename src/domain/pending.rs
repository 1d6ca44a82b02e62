//! Snapshots published while the first `/site` sweep of an account runs.
//!
//! `/backups/schedules` lists every site that has a schedule (its id, URL,
//! server and schedule rows) in one request, long before a large fleet's
//! `/site` pages are all read. A site of that list whose `/site` record has
//! not been read yet is *pending*: what the schedule rows prove on their own
//! (no local row, no remote row, a remote row pointing at a deleted
//! integration) is judged at once, and everything that needs the record
//! (the on/off flags, retention) is held back, so that no surface calls a
//! pending site OK or its schedule on. A site without any schedule row
//! appears when its page is read.
//!
//! On a warm start the previous snapshot (the state file's) is the base:
//! its sites are fully known and keep their `/site` data, with the fresh
//! schedules, until their page is read again.

use std::collections::HashSet;

use crate::gridpane::wire;

use super::snapshot::{AccountSnapshot, Fetched, Site, build_snapshot};

/// The snapshot to publish in the middle of a first sweep: the `/site`
/// records read so far (`fetched.sites`), the fully known sites of
/// `previous` not read again yet, and every other site the schedules list,
/// pending.
pub fn build_partial(
    account: &str,
    fetched_at: f64,
    mut fetched: Fetched,
    previous: Option<&AccountSnapshot>,
) -> AccountSnapshot {
    let mut have: HashSet<u64> = fetched.sites.iter().map(|s| s.id).collect();
    if let Some(previous) = previous {
        for site in previous.sites.iter().filter(|s| !s.pending) {
            if have.insert(site.id) {
                fetched.sites.push(known_record(site));
            }
        }
    }
    let mut pending = HashSet::new();
    for entry in &fetched.schedules {
        if have.insert(entry.site_id) {
            pending.insert(entry.site_id);
            fetched.sites.push(wire::Site {
                id: entry.site_id,
                url: entry
                    .url
                    .clone()
                    .unwrap_or_else(|| entry.site_id.to_string()),
                server_id: entry.server_id,
                site_type: None,
                local_bup: None,
                remote_bup: None,
                server: None,
                site_customizer: None,
            });
        }
    }
    let mut snapshot = build_snapshot(account, fetched_at, fetched);
    if !pending.is_empty() {
        for site in &mut snapshot.sites {
            site.pending = pending.contains(&site.id);
        }
    }
    snapshot
}

/// The `/site` record a fully known site was built from (its schedules come
/// from the fresh schedule list).
fn known_record(site: &Site) -> wire::Site {
    wire::Site {
        id: site.id,
        url: site.url.clone(),
        server_id: site.server_id,
        site_type: site.site_type.clone(),
        local_bup: site.local.automatic,
        remote_bup: site.remote.automatic,
        server: None,
        site_customizer: Some(wire::SiteCustomizer {
            local_prune_schedule: site.local.prune_schedule,
            local_retain_days: site.local.retain_days,
            remote_prune_schedule: site.remote.prune_schedule,
            remote_retain_days: site.remote.retain_days,
        }),
    }
}

/// How many sites of a snapshot are pending.
pub(crate) fn pending_sites(snapshot: &AccountSnapshot) -> usize {
    snapshot.sites.iter().filter(|s| s.pending).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
