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
//! With `poll.detail.history`, each site's backup record
//! (`GET /backups/original/{id}`) is read in the same turn, and with
//! `poll.detail.refresh_every` GridPane is first asked to refresh it
//! (`GET /backups/refresh/{id}`, work on the customer's server) when the
//! site's last refresh is older than that period. A failed or unreadable
//! record is counted, kept on the site as its `record_failure` (with the
//! history read well before, shown as the last good read; the site is
//! `record_unreadable` until a read succeeds), and the retention and
//! integrations of the same turn are kept. A record the reader does not
//! understand is logged once per distinct reason (a bounded code, never a
//! value of the body).
//!
//! On shutdown, results not yet published are dropped: the state file writer
//! stops at the same signal and the process is ending, so nothing would read
//! them; those sites are simply detailed first on the next start.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{FixedOffset, Utc};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::domain::{AccountSnapshot, BackupHistory, RecordFailure, RetentionDetail, SiteDetail};
use crate::gridpane::budget::WINDOW;
use crate::gridpane::{ApiError, Client};
use crate::store::{AccountSlot, Install, Store};

use super::Token;

use crate::domain::unix_now;

/// After a failed site, the task pauses for this many of its slots.
const ERROR_BACKOFF_SLOTS: u32 = 10;

/// Reading each site's backup record (`poll.detail.history`).
#[derive(Clone, Copy, Debug)]
pub struct HistoryOptions {
    /// The UTC offset of the account's backup names.
    pub offset: FixedOffset,
    /// Refresh a site's record at most once per this period; `None` never.
    pub refresh_every: Option<Duration>,
}

/// How the task paces and publishes (`poll.detail`); app.rs builds it from
/// the configuration.
#[derive(Clone, Copy, Debug)]
pub struct DetailOptions {
    /// The task's own budget, within the account's.
    pub requests_per_minute: u32,
    /// Results are laid over the snapshot together, at most this often.
    pub publish_every: Duration,
    /// Each site's backup record too; `None` without `poll.detail.history`.
    pub history: Option<HistoryOptions>,
}

/// The site to detail next: never detailed (or attempted) first, then the
/// oldest; ties by id.
pub(crate) fn next_site(
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
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return;
        }
        attempted.retain(|id, _| !pending.contains_key(id));
        store.install(slot, Install::detail(pending, Utc::now()), |_| {});
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
/// once per `options.publish_every`; with `options.history`, each site's
/// backup record too.
pub async fn run(
    client: Arc<Client>,
    token: Token,
    store: Arc<Store>,
    slot: Arc<AccountSlot>,
    options: DetailOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let DetailOptions {
        requests_per_minute,
        publish_every,
        history,
    } = options;
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
    let mut reasons_logged: HashSet<&'static str> = HashSet::new();
    // Refreshes asked this run, by site: kept even when the record read
    // after it failed, so a refresh is never repeated within its period.
    let mut refreshed: HashMap<u64, f64> = HashMap::new();
    loop {
        let state = slot.load();
        let pick = state
            .snapshot
            .as_deref()
            .and_then(|snap| next_site(snap, &state.detail, &attempted));
        // The history read before, and whether the last read failed: kept
        // when this turn's read fails or does not happen.
        let previous = pick
            .and_then(|id| batch.pending.get(&id).or_else(|| state.detail.get(&id)))
            .map(|d| (d.history.clone(), d.record_failure))
            .unwrap_or_default();
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
            let fetching = fetch(
                &client,
                &token,
                site_id,
                (spacing, &mut next),
                history.map(|h| (h, previous)),
                &mut refreshed,
            );
            tokio::pin!(fetching);
            loop {
                tokio::select! {
                    r = &mut fetching => break r,
                    _ = until(batch.due) => batch.publish(&store, &slot, &mut attempted),
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        };
        let failed = match fetched {
            Ok((detail, history_error)) => {
                batch.add(site_id, detail);
                history_error
            }
            Err(e) => Some(e),
        };
        let Some(e) = failed else { continue };
        store.update(&slot, |s| {
            *s.counters
                .detail_errors
                .entry(e.reason().to_string())
                .or_default() += 1;
        });
        if let ApiError::Record { reason, .. } = e.kind() {
            // Not transient: the same answer comes back for many sites, so
            // each reason is logged once and the rolling order goes on at
            // its pace.
            if reasons_logged.insert(reason.as_str()) {
                tracing::warn!(
                    account = %slot.name,
                    site_id,
                    reason = reason.as_str(),
                    "backup record not understood ({}); the site's status is unknown; run `gridpane-backup-exporter inspect --site ID` and report its output",
                    reason.describe()
                );
            }
            continue;
        }
        tracing::warn!(
            account = %slot.name,
            site_id,
            reason = e.reason(),
            error = %e,
            "per-site detail failed, keeping what the bulk endpoints say"
        );
        // Back off for ten slots (a minute at 10 a minute).
        next = next.max(Instant::now() + spacing * ERROR_BACKOFF_SLOTS);
    }
}

/// The record read well before, if any, and the failure of the last read,
/// if it failed.
type Previous = (Option<BackupHistory>, Option<RecordFailure>);

/// The detail requests of one site, each in its slot of the detail budget
/// (`pace`: the spacing and the next free slot). With `history` (options and
/// the history read before), the backup record too: its failure is
/// returned beside the detail, which then keeps the history read before.
/// `refreshed`: the refreshes asked this run, by site.
async fn fetch(
    client: &Client,
    token: &Token,
    site_id: u64,
    pace: (Duration, &mut Instant),
    history: Option<(HistoryOptions, Previous)>,
    refreshed: &mut HashMap<u64, f64>,
) -> Result<(SiteDetail, Option<ApiError>), ApiError> {
    let token = token.load()?;
    let (spacing, next) = pace;
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
    let mut detail = SiteDetail {
        fetched_at: unix_now(),
        local: retention(prune.local),
        remote: retention(prune.remote),
        integration_ids,
        history: None,
        record_failure: None,
    };
    let Some((opts, (previous, failure))) = history else {
        return Ok((detail, None));
    };
    detail.history = previous;
    detail.record_failure = failure;
    let saved = detail.history.as_ref().and_then(|h| h.refreshed_at);
    let mut refreshed_at = refreshed.get(&site_id).copied().or(saved);
    if refresh_due(opts.refresh_every, refreshed_at, unix_now()) {
        tokio::time::sleep_until(slot()).await;
        // Asked, whatever the answer: never again within the period.
        refreshed_at = Some(unix_now());
        refreshed.extend(refreshed_at.map(|at| (site_id, at)));
        if let Some(h) = detail.history.as_mut() {
            h.refreshed_at = refreshed_at;
        }
        if let Err(e) = client.refresh_backups(&token, site_id).await {
            return Ok((detail, Some(e)));
        }
    }
    tokio::time::sleep_until(slot()).await;
    match client.backup_history(&token, site_id, opts.offset).await {
        Ok(found) => {
            let mut read = super::build::history_of(&found, unix_now());
            read.refreshed_at = refreshed_at;
            detail.history = Some(read);
            detail.record_failure = None;
            Ok((detail, None))
        }
        Err(e) => {
            detail.record_failure = Some(RecordFailure {
                at: unix_now(),
                reason: e.unreadable(),
            });
            Ok((detail, Some(e)))
        }
    }
}

/// Whether a site's record is due a refresh: never when refreshing is off,
/// at once when it was never refreshed.
pub(crate) fn refresh_due(every: Option<Duration>, last: Option<f64>, now: f64) -> bool {
    match (every, last) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(every), Some(last)) => now - last >= every.as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(ids: &[u64]) -> AccountSnapshot {
        crate::store::bare_snapshot("a", ids.iter().map(|id| (*id, format!("s{id}"))))
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
        store.install(&slot, Install::snapshot(snap(&[1, 2]), Utc::now()), |_| {});
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

    /// How long one pass over `sites` sites takes at `requests_per_minute`:
    /// two requests per site (prune schedule and integrations), one more
    /// when the backup record is read (refreshes not counted).
    fn full_pass(sites: u64, requests_per_minute: u32, history: bool) -> Duration {
        let requests = sites.saturating_mul(2 + u64::from(history));
        Duration::from_secs(requests.saturating_mul(60) / u64::from(requests_per_minute.max(1)))
    }

    /// The README's table, "Did the backups run?".
    #[test]
    fn a_full_pass_at_the_default_budget_takes_what_the_readme_table_says() {
        let rpm = crate::config::DetailConfig::default().requests_per_minute;
        let minutes = |sites, history| full_pass(sites, rpm, history).as_secs() / 60;
        assert_eq!(minutes(100, false), 20);
        assert_eq!(minutes(100, true), 30);
        assert_eq!(minutes(1_000, true), 300);
        assert_eq!(minutes(10_000, false), 2_000);
        assert_eq!(minutes(10_000, true), 3_000);
    }

    #[test]
    fn a_refresh_is_due_once_its_period_has_passed_and_never_when_off() {
        let day = Some(Duration::from_secs(86_400));
        assert!(refresh_due(day, None, 1_000.0));
        assert!(!refresh_due(day, Some(1_000.0), 1_000.0 + 86_399.0));
        assert!(refresh_due(day, Some(1_000.0), 1_000.0 + 86_400.0));
        assert!(!refresh_due(None, None, 1_000.0));
    }
}
