//! Per-site detail (`poll.detail.enabled`, off by default): for one site at a
//! time, `GET /backups/prune-schedule/{id}` and `GET /backups/integrations/{id}`,
//! in a rolling order (the site whose detail is oldest first, sites never
//! detailed before all others).
//!
//! It runs beside the poller with a budget of its own
//! (`poll.detail.requests_per_minute`), inside the account's budget that the
//! client enforces: a 1000-site account is covered over many polls, never
//! faster than the budget. Results are collected and laid over the current
//! snapshot together, at most once per `poll.detail.publish_every`: one
//! snapshot copy, one store generation (so one state file write and one
//! re-render) for the whole batch. Sites not yet detailed keep what the bulk
//! endpoints say. A failed request is counted, and the task pauses for ten of
//! its slots (a minute at the default budget) before trying the next site.
//!
//! On shutdown, results not yet published are dropped: the state file writer
//! stops at the same signal and the process is ending, so nothing would read
//! them; those sites are simply detailed first on the next start.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::TokenSource;
use crate::domain::{self, AccountSnapshot, RetentionDetail, SiteDetail};
use crate::gridpane::budget::WINDOW;
use crate::gridpane::{ApiError, Client};
use crate::store::{AccountSlot, Store};

use super::unix_now;

/// After a failed site, the task pauses for this many of its slots.
const ERROR_BACKOFF_SLOTS: u32 = 10;

/// Requests per site: prune schedule and integrations.
const REQUESTS_PER_SITE: u32 = 2;

/// The site to detail next: never detailed (or attempted) first, then the
/// oldest; ties by id.
pub fn next_site(
    snapshot: &AccountSnapshot,
    detail: &BTreeMap<u64, SiteDetail>,
    attempted: &HashMap<u64, f64>,
) -> Option<u64> {
    snapshot
        .sites
        .iter()
        .map(|site| {
            let fetched = detail.get(&site.id).map(|d| d.fetched_at);
            let tried = attempted.get(&site.id).copied();
            let last = match (fetched, tried) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            (last, site.id)
        })
        .min_by(|a, b| {
            let key = |x: &(Option<f64>, u64)| (x.0.unwrap_or(f64::NEG_INFINITY), x.1);
            let (ka, kb) = (key(a), key(b));
            ka.0.total_cmp(&kb.0).then(ka.1.cmp(&kb.1))
        })
        .map(|(_, id)| id)
}

/// Detail results not yet laid over the snapshot, and when they will be.
struct Batch {
    pending: BTreeMap<u64, SiteDetail>,
    due: Option<Instant>,
    every: Duration,
}

impl Batch {
    fn add(&mut self, site_id: u64, detail: SiteDetail) {
        self.pending.insert(site_id, detail);
        self.due.get_or_insert_with(|| Instant::now() + self.every);
    }

    /// Lays every pending result over the current snapshot in one swap: one
    /// copy of the snapshot and one generation for the whole batch. Results
    /// for sites the snapshot no longer lists are dropped. Published sites
    /// leave `attempted`: their detail's age orders them from now on.
    fn publish(&mut self, store: &Store, slot: &AccountSlot, attempted: &mut HashMap<u64, f64>) {
        self.due = None;
        let mut pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return;
        }
        attempted.retain(|id, _| !pending.contains_key(id));
        store.replace_with(slot, |s| {
            let Some(snap) = &s.snapshot else { return };
            let listed: HashSet<u64> = snap.sites.iter().map(|site| site.id).collect();
            pending.retain(|id, _| listed.contains(id));
            if pending.is_empty() {
                return;
            }
            let mut next_snap = AccountSnapshot::clone(snap.snapshot());
            domain::apply_detail(&mut next_snap, &pending);
            let mut map = BTreeMap::clone(&s.detail);
            map.append(&mut pending);
            s.snapshot = Some(Arc::new(domain::Assessed::new(next_snap)));
            s.detail = Arc::new(map);
        });
    }
}

/// Completes at `due`, never when there is nothing to publish.
async fn until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Refreshes per-site detail until `shutdown`, publishing results at most
/// once per `publish_every`.
pub async fn run(
    client: Arc<Client>,
    token: TokenSource,
    store: Arc<Store>,
    slot: Arc<AccountSlot>,
    requests_per_minute: u32,
    publish_every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let spacing = WINDOW / requests_per_minute.max(1);
    let mut next = Instant::now();
    // Sites tried and not yet published, so the rolling order moves on.
    let mut attempted: HashMap<u64, f64> = HashMap::new();
    let mut batch = Batch {
        pending: BTreeMap::new(),
        due: None,
        every: publish_every,
    };
    let mut changes = store.subscribe();
    loop {
        let state = slot.load();
        let pick = state
            .snapshot
            .as_deref()
            .and_then(|snap| next_site(snap, &state.detail, &attempted));
        drop(state);
        let Some(site_id) = pick else {
            // No sites yet: wait for a snapshot.
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep(WINDOW) => {}
                _ = until(batch.due) => batch.publish(&store, &slot, &mut attempted),
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            continue;
        };
        attempted.insert(site_id, unix_now());

        let fetched = {
            let fetching = fetch(&client, &token, site_id, spacing, &mut next);
            tokio::pin!(fetching);
            loop {
                tokio::select! {
                    r = &mut fetching => break r,
                    _ = until(batch.due) => batch.publish(&store, &slot, &mut attempted),
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        };
        match fetched {
            Ok(detail) => batch.add(site_id, detail),
            Err(e) => {
                tracing::warn!(
                    account = %slot.name,
                    site_id,
                    reason = e.reason(),
                    error = %e,
                    "per-site detail failed, keeping what the bulk endpoints say"
                );
                store.update(&slot, |s| {
                    *s.counters
                        .detail_errors
                        .entry(e.reason().to_string())
                        .or_default() += 1;
                });
                // Back off for ten slots (a minute at 10 a minute).
                next = next.max(Instant::now() + spacing * ERROR_BACKOFF_SLOTS);
            }
        }
    }
}

/// Both detail requests of one site, each in its slot of the detail budget.
async fn fetch(
    client: &Client,
    token: &TokenSource,
    site_id: u64,
    spacing: Duration,
    next: &mut Instant,
) -> Result<SiteDetail, ApiError> {
    let token = token.load()?;
    let mut slot = || {
        let at = (*next).max(Instant::now());
        *next = at + spacing;
        at
    };
    tokio::time::sleep_until(slot()).await;
    let prune = client.prune_schedule(&token, site_id).await?;
    tokio::time::sleep_until(slot()).await;
    let integrations = client.site_integrations(&token, site_id).await?;
    let retention = |p: Option<crate::gridpane::wire::PruneSetting>| {
        p.map(|p| RetentionDetail {
            prune_schedule: p.prune_schedule,
            retain_days: p.retain_days,
        })
        .unwrap_or_default()
    };
    let mut integration_ids: Vec<u64> = integrations.iter().map(|i| i.id).collect();
    integration_ids.sort_unstable();
    integration_ids.dedup();
    Ok(SiteDetail {
        fetched_at: unix_now(),
        local: retention(prune.local),
        remote: retention(prune.remote),
        integration_ids,
    })
}

/// Sites one poll interval covers at this budget (for docs and logs).
pub fn sites_per_interval(requests_per_minute: u32, interval: Duration) -> u64 {
    let per_site = u64::from(REQUESTS_PER_SITE);
    (u64::from(requests_per_minute) * interval.as_secs() / 60 / per_site).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Site, StorageSettings};

    fn snap(ids: &[u64]) -> AccountSnapshot {
        AccountSnapshot {
            account: "a".into(),
            fetched_at: 0.0,
            servers: Vec::new(),
            integrations: Vec::new(),
            sites: ids
                .iter()
                .map(|id| Site {
                    id: *id,
                    url: format!("s{id}"),
                    server_id: None,
                    local: StorageSettings::default(),
                    remote: StorageSettings::default(),
                    pending: false,
                })
                .collect(),
        }
    }

    fn detailed(at: f64) -> SiteDetail {
        SiteDetail {
            fetched_at: at,
            ..SiteDetail::default()
        }
    }

    #[test]
    fn sites_never_detailed_come_first_then_the_oldest() {
        let s = snap(&[5, 3, 9]);
        let mut detail = BTreeMap::from([(3, detailed(100.0)), (9, detailed(50.0))]);
        let mut attempted = HashMap::new();
        assert_eq!(next_site(&s, &detail, &attempted), Some(5));
        detail.insert(5, detailed(200.0));
        assert_eq!(next_site(&s, &detail, &attempted), Some(9));
        attempted.insert(9, 300.0);
        assert_eq!(
            next_site(&s, &detail, &attempted),
            Some(3),
            "a failed attempt counts as recent"
        );
        assert_eq!(next_site(&snap(&[]), &detail, &attempted), None);
    }

    #[test]
    fn a_rolling_order_covers_every_site_before_repeating_one() {
        let s = snap(&(1..=50).collect::<Vec<_>>());
        let mut detail = BTreeMap::new();
        let attempted = HashMap::new();
        let mut order = Vec::new();
        for t in 0..60 {
            let id = next_site(&s, &detail, &attempted).unwrap();
            order.push(id);
            detail.insert(id, detailed(f64::from(t)));
        }
        let mut first: Vec<u64> = order[..50].to_vec();
        first.sort_unstable();
        assert_eq!(first, (1..=50).collect::<Vec<_>>());
        assert_eq!(&order[50..], &order[..10]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_lays_only_the_sites_the_snapshot_still_lists_in_one_generation() {
        let store = Store::new(["a".to_string()]);
        let slot = Arc::clone(&store.accounts()[0]);
        store.replace_snapshot(&slot, snap(&[1, 2]), |_| {});
        let before = store.generation();
        let mut batch = Batch {
            pending: BTreeMap::new(),
            due: None,
            every: Duration::from_secs(60),
        };
        for id in [1, 2, 3] {
            batch.add(id, detailed(f64::from(id as u32)));
        }
        let mut attempted = HashMap::from([(1, 0.5), (3, 0.5), (7, 0.5)]);
        batch.publish(&store, &slot, &mut attempted);
        assert_eq!(store.generation(), before + 1);
        let state = slot.load();
        assert_eq!(state.detail.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(attempted.keys().copied().collect::<Vec<_>>(), [7]);
        assert!(batch.pending.is_empty() && batch.due.is_none());
    }

    #[test]
    fn ten_requests_a_minute_cover_twenty_five_sites_per_five_minute_poll() {
        assert_eq!(sites_per_interval(10, Duration::from_secs(300)), 25);
        assert_eq!(sites_per_interval(1, Duration::from_secs(10)), 1);
    }
}
