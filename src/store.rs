//! The snapshot store: per account, the last good snapshot with its verdict,
//! and the health of its polling. One write judges ([`Store::install`]: a
//! snapshot, per-site detail or bucket evidence, judged under the policy in
//! force at the `now` it is given); every other write ([`Store::update`])
//! judges nothing. Renderers only read it. Nothing here talks to GridPane.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use chrono::{DateTime, Utc};

use crate::bucket::BucketEvidence;
use crate::domain::{Assessed, Policy, SiteDetail};
pub use crate::gridpane::RateLimitWait;

mod install;
pub use install::Install;
use install::{lay_over_current, lay_over_new};

/// The outcome of one poll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PollResult {
    /// Unix seconds when the poll ended.
    pub finished_at: f64,
    pub duration_seconds: f64,
    /// API requests the poll made, retries included.
    pub requests: u64,
    /// `None` when the poll succeeded.
    pub error: Option<PollError>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PollError {
    /// One of [`crate::gridpane::ApiError::REASONS`], or [`POLLER_STOPPED`]
    /// when the poller itself ended in the middle of it.
    pub reason: String,
    /// One line for people: endpoint and cause, never a body or a token.
    pub message: String,
}

impl PollError {
    /// A failed poll of `account`, worded to stand on its own (the page and
    /// the API show it without the log line's fields).
    pub fn new(account: &str, reason: &str, cause: &dyn std::fmt::Display) -> Self {
        PollError {
            reason: reason.to_string(),
            message: format!("account \"{account}\": {cause}"),
        }
    }
}

/// The reason of a poll the poller did not finish because it ended
/// unexpectedly (a panic); the supervisor restarts it.
pub(crate) const POLLER_STOPPED: &str = "internal";

/// Counters since the process started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    pub polls: u64,
    /// reason -> failed polls.
    pub poll_errors: BTreeMap<String, u64>,
    /// (endpoint, code) -> requests.
    pub api_requests: BTreeMap<(String, String), u64>,
    /// endpoint -> 429s.
    pub rate_limited: BTreeMap<String, u64>,
    /// scope -> remaining quota last reported by GridPane.
    pub rate_limit_remaining: BTreeMap<String, f64>,
    /// reason -> failed per-site detail fetches.
    pub detail_errors: BTreeMap<String, u64>,
}

/// Everything the renderers know about one account, swapped as a whole.
#[derive(Clone, Debug, Default)]
pub struct AccountState {
    /// The last good snapshot, with its assessment; a failed poll never
    /// replaces or clears it.
    pub snapshot: Option<Arc<Assessed>>,
    /// True once the first poll has finished (either way) or a snapshot was
    /// loaded from the state file.
    pub ready: bool,
    /// True while a poll is running.
    pub polling: bool,
    pub last_poll: Option<PollResult>,
    /// Unix seconds when the next poll is due.
    pub next_poll_at: Option<f64>,
    pub counters: Counters,
    /// Per-site detail by site id (empty unless `poll.detail.enabled`); it
    /// is already laid over `snapshot`.
    pub detail: Arc<BTreeMap<u64, SiteDetail>>,
    /// Sites the snapshot still lists only because the last complete sweep
    /// dropped suspiciously many and their removal waits for confirmation.
    pub unconfirmed_removals: usize,
    /// The first `/site` sweep in progress, while it publishes page by page;
    /// `None` once a sweep has completed.
    pub sweep: Option<SweepStatus>,
    /// The poll in progress has published what it read so far.
    pub publishing: bool,
    /// What the account's buckets held at the last listing pass
    /// (`remote_storage`), judged with every snapshot; empty without it.
    pub evidence: Arc<BucketEvidence>,
    /// Unix seconds when the exporter began polling the account (its
    /// poller's first start); `None` until then.
    pub watched_since: Option<f64>,
    /// Unix seconds of the poll that began holding back
    /// [`AccountState::unconfirmed_removals`]; `None` while none are held.
    pub unconfirmed_since: Option<f64>,
    /// The poll in progress waits for GridPane's rate limit.
    pub rate_limit_wait: Option<RateLimitWait>,
}

/// An account that has never been read: no snapshot at all, neither from a
/// poll nor from the state file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeverPolled {
    /// When the exporter began polling it (unix seconds), when known.
    pub since: Option<f64>,
    /// It has been so for [`NEVER_POLLED_CRITICAL_AFTER`] or longer: every
    /// surface calls it critical.
    pub critical: bool,
}

/// How long an account may go without a single successful poll before it
/// is critical (`GridPaneAccountNeverPolled` fires after as long).
pub const NEVER_POLLED_CRITICAL_AFTER: std::time::Duration =
    std::time::Duration::from_secs(15 * 60);

/// Where the first `/site` sweep of an account is, as of its last
/// publication (the `sweep` entry of `/api/v1/status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepStatus {
    /// `/site` pages read by this sweep.
    pub pages_read: u32,
    /// The pages the sweep will read, when GridPane said how many sites
    /// there are (`meta.total`); `null` otherwise.
    pub pages_total: Option<u32>,
    /// Sites GridPane says the account has (`meta.total`), when it said.
    pub sites_total: Option<u64>,
    /// Sites of the published snapshot whose `/site` record is not read yet.
    pub sites_pending: usize,
}

impl AccountState {
    /// The last poll succeeded, or the poll in progress has published the
    /// data it read so far (the first sweep, page by page).
    pub fn up(&self) -> bool {
        self.publishing || matches!(&self.last_poll, Some(p) if p.error.is_none())
    }

    /// The account has no data at all, and since when (as of `now_unix`).
    pub fn never_polled(&self, now_unix: f64) -> Option<NeverPolled> {
        if self.snapshot.is_some() {
            return None;
        }
        let bound = NEVER_POLLED_CRITICAL_AFTER.as_secs_f64();
        Some(NeverPolled {
            since: self.watched_since,
            critical: self.watched_since.is_some_and(|t| now_unix - t >= bound),
        })
    }
}

/// One account's slot.
#[derive(Debug)]
pub struct AccountSlot {
    pub name: String,
    /// Read by every scrape without a lock: a reader never waits for a
    /// writer building the next state (judging a whole fleet, say).
    state: ArcSwap<AccountState>,
    /// Writers build the next state from the current one (a detail batch
    /// laid over the snapshot, a poll's counters), so they take turns: two
    /// at once would each start from the same state and the later store
    /// would drop the other's change. A mutex rather than `ArcSwap::rcu`,
    /// which would run a change again after losing a race: changes here
    /// move their values in (`FnOnce`) and may judge every site.
    writer: Mutex<()>,
}

impl AccountSlot {
    fn new(name: String) -> Self {
        AccountSlot {
            name,
            state: ArcSwap::from_pointee(AccountState::default()),
            writer: Mutex::new(()),
        }
    }

    /// The current state; cheap (an `Arc` clone).
    pub fn load(&self) -> Arc<AccountState> {
        self.state.load_full()
    }

    fn swap(&self, f: impl FnOnce(&mut AccountState)) {
        // A writer that panicked stored nothing (the store comes after `f`),
        // so the state behind a poisoned lock is whole.
        let _turn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = AccountState::clone(&self.state.load());
        f(&mut next);
        self.state.store(Arc::new(next));
    }
}

/// The background tasks the supervisor keeps running
/// (`gridpane_exporter_task_restarts_total{task}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// An account's poller, and the `/site` sweep it drives.
    Poller,
    /// An account's per-site detail task.
    Detail,
    /// The state file writer.
    StateWriter,
    /// Judges every snapshot again when a mute ends.
    Judge,
    /// Reloads the configuration on SIGHUP.
    Reload,
    /// An account's bucket lister (`remote_storage`).
    BucketLister,
}

impl Task {
    pub(crate) const ALL: [Task; 6] = [
        Task::Poller,
        Task::Detail,
        Task::StateWriter,
        Task::Judge,
        Task::Reload,
        Task::BucketLister,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Task::Poller => "poller",
            Task::Detail => "detail",
            Task::StateWriter => "state_writer",
            Task::Judge => "judge",
            Task::Reload => "reload",
            Task::BucketLister => "bucket_lister",
        }
    }
}

/// What the supervisor records: restarts by task, and whether a task could
/// not be kept running (then `/-/healthy` fails); and the state writer's
/// failed writes.
#[derive(Debug, Default)]
pub struct TaskHealth {
    restarts: [AtomicU64; Task::ALL.len()],
    given_up: AtomicBool,
    /// Writes of the state file that failed.
    state_write_errors: AtomicU64,
    /// Configuration reloads that changed nothing (refused or not loaded).
    reload_failures: AtomicU64,
}

impl TaskHealth {
    pub fn restarts(&self, task: Task) -> u64 {
        self.restarts[task as usize].load(Ordering::Relaxed)
    }

    pub(crate) fn count_restart(&self, task: Task) {
        self.restarts[task as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A task could not be kept running; for good.
    pub fn give_up(&self) {
        self.given_up.store(true, Ordering::Relaxed);
    }

    pub(crate) fn count_state_write_error(&self) {
        self.state_write_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn state_write_errors(&self) -> u64 {
        self.state_write_errors.load(Ordering::Relaxed)
    }

    pub(crate) fn count_reload_failure(&self) {
        self.reload_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reload_failures(&self) -> u64 {
        self.reload_failures.load(Ordering::Relaxed)
    }

    /// Every task is running or being restarted.
    pub fn healthy(&self) -> bool {
        !self.given_up.load(Ordering::Relaxed)
    }
}

/// All accounts, in configuration order.
#[derive(Debug)]
pub struct Store {
    accounts: Vec<Arc<AccountSlot>>,
    /// Bumped whenever any account's snapshot is replaced.
    generation: watch::Sender<u64>,
    tasks: TaskHealth,
    /// The policy every snapshot is judged under; replaced whole, read
    /// without a lock.
    policy: ArcSwap<Policy>,
    /// Held while the policy is replaced: a new policy and the ambiguity
    /// of its mutes after a poll are never lost to each other.
    policy_writer: std::sync::Mutex<()>,
}

impl Store {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let accounts = names
            .into_iter()
            .map(|name| Arc::new(AccountSlot::new(name)))
            .collect();
        Store {
            accounts,
            generation: watch::Sender::new(0),
            tasks: TaskHealth::default(),
            policy: ArcSwap::from_pointee(Policy::default()),
            policy_writer: std::sync::Mutex::new(()),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Puts `policy` in force and judges every snapshot again under it.
    /// Mutes by site id without an account are checked against the
    /// snapshots now ([`Policy::with_ambiguity`]) and again after each
    /// change of a snapshot.
    pub fn set_policy(&self, policy: Policy, now: DateTime<Utc>) {
        {
            let _writing = lock(&self.policy_writer);
            let policy = match policy.has_unscoped_id_mutes() {
                true => policy.with_ambiguity(self.site_ids()),
                false => policy,
            };
            log_ambiguity(&policy);
            self.policy.store(Arc::new(policy));
        }
        self.rejudge(now);
    }

    /// Each account's site ids.
    fn site_ids(&self) -> Vec<Vec<u64>> {
        self.accounts
            .iter()
            .map(|a| {
                a.load()
                    .snapshot
                    .as_ref()
                    .map(|s| s.snapshot().sites.iter().map(|site| site.id).collect())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// After a snapshot changed: a mute by site id without an account that
    /// became ambiguous (or stopped being) is put in force as such, logged,
    /// and every snapshot judged again at `now`.
    fn refresh_ambiguity(&self, now: DateTime<Utc>) {
        let changed = {
            let _writing = lock(&self.policy_writer);
            let policy = self.policy();
            if !policy.has_unscoped_id_mutes() {
                return;
            }
            let next = policy.with_ambiguity(self.site_ids());
            let changed = next.ambiguity() != policy.ambiguity();
            if changed {
                log_ambiguity(&next);
                self.policy.store(Arc::new(next));
            }
            changed
        };
        if changed {
            self.rejudge(now);
        }
    }

    /// Judges every account's snapshot again at `now` under the policy in
    /// force (a new policy, a mute that ended), whether or not polls
    /// succeed.
    pub(crate) fn rejudge(&self, now: DateTime<Utc>) {
        let policy = self.policy();
        for slot in &self.accounts {
            slot.swap(|s| {
                if let Some(a) = &s.snapshot {
                    s.snapshot = Some(Arc::new(Assessed::judge_with(
                        a.shared_snapshot(),
                        a.shared_evidence(),
                        &policy,
                        now,
                    )));
                }
            });
        }
        self.generation.send_modify(|g| *g += 1);
    }

    /// The earliest instant at which time alone changes a verdict of any
    /// account.
    pub(crate) fn next_change(&self) -> Option<DateTime<Utc>> {
        self.accounts
            .iter()
            .filter_map(|a| a.load().snapshot.as_ref()?.assessment().next_change())
            .min()
    }

    pub fn tasks(&self) -> &TaskHealth {
        &self.tasks
    }

    pub fn accounts(&self) -> &[Arc<AccountSlot>] {
        &self.accounts
    }

    pub fn account(&self, name: &str) -> Option<&Arc<AccountSlot>> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// Every account has finished a first poll or loaded saved state.
    pub fn ready(&self) -> bool {
        self.accounts.iter().all(|a| a.load().ready)
    }

    /// Changes whenever a snapshot is replaced (render caches, persistence).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Changes an account's state without judging anything: its polling
    /// flags, counters and timings.
    pub fn update(&self, slot: &AccountSlot, f: impl FnOnce(&mut AccountState)) {
        slot.swap(f);
    }

    /// The one write that judges: lays what `install` brings over the
    /// account's snapshot and judges it under the policy in force at
    /// `install.now`, then lets `also` set the state's other fields in the
    /// same turn (a poll's counters and flags; it is handed the state, never
    /// the store). Announces a new generation.
    pub fn install(
        &self,
        slot: &AccountSlot,
        install: Install,
        also: impl FnOnce(&mut AccountState),
    ) {
        let Install {
            snapshot,
            detail,
            evidence,
            now,
        } = install;
        let sites_changed = snapshot.is_some();
        let evidence_came = evidence.is_some();
        // Judged in the writer's turn, like a rejudge: a policy reloaded
        // meanwhile is then either read here or applied by the rejudge
        // that follows it, never lost to a verdict made before it. Scrapes
        // do not wait for the judging.
        slot.swap(|s| {
            if let Some(evidence) = evidence {
                s.evidence = evidence;
            }
            let laid = match snapshot {
                Some(snapshot) => {
                    s.ready = true;
                    Some(lay_over_new(s, snapshot, detail))
                }
                None => lay_over_current(s, detail).or_else(|| {
                    let current = s.snapshot.as_ref().filter(|_| evidence_came)?;
                    Some(current.shared_snapshot())
                }),
            };
            if let Some(snapshot) = laid {
                s.snapshot = Some(Arc::new(Assessed::judge_with(
                    snapshot,
                    Arc::clone(&s.evidence),
                    &self.policy(),
                    now,
                )));
            }
            also(s);
        });
        self.generation.send_modify(|g| *g += 1);
        if sites_changed {
            self.refresh_ambiguity(now);
        }
    }
}

/// Warns of each mute that is ambiguous: it mutes none of the sites whose
/// ids it names without an account.
fn log_ambiguity(policy: &Policy) {
    for (index, m) in policy.mutes.iter().enumerate() {
        if !m.ambiguous.is_empty() {
            tracing::warn!(
                mute = index,
                site_ids = ?m.ambiguous,
                reason = %m.reason,
                "a mute names site ids that more than one account holds, without an account: it mutes none of those sites; name the account (policy.mutes[].account)"
            );
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A snapshot of `sites` (id, URL) with nothing set up, for the tests of
/// the store and of what writes to it.
#[cfg(test)]
pub(crate) fn bare_snapshot(
    account: &str,
    sites: impl IntoIterator<Item = (u64, String)>,
) -> crate::domain::AccountSnapshot {
    use crate::domain::Site;
    crate::domain::AccountSnapshot {
        account: account.into(),
        fetched_at: 0.0,
        servers: Vec::new(),
        sites: sites
            .into_iter()
            .map(|(id, url)| Site::unscheduled(id, Some(url), None))
            .collect(),
        integrations: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccountSnapshot;

    /// Writers each build on the state the previous one stored: none of
    /// their changes is lost, however they interleave.
    #[test]
    fn concurrent_writers_lose_no_change() {
        const THREADS: u64 = 4;
        const EACH: u64 = 2000;
        let store = Store::new(["a".to_string()]);
        let slot = Arc::clone(&store.accounts()[0]);
        let start = std::sync::Barrier::new(THREADS as usize);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (store, slot, start) = (&store, &slot, &start);
                scope.spawn(move || {
                    start.wait();
                    // Yielding inside the change widens the window in
                    // which another writer could start from the same state.
                    let add_one = |s: &mut AccountState| {
                        std::thread::yield_now();
                        s.counters.polls += 1;
                    };
                    for _ in 0..EACH {
                        if t % 2 == 0 {
                            store.update(slot, add_one);
                        } else {
                            let nothing = Install::detail(BTreeMap::new(), Utc::now());
                            store.install(slot, nothing, add_one);
                        }
                        // Readers go on meanwhile.
                        assert!(slot.load().counters.polls <= THREADS * EACH);
                    }
                });
            }
        });
        assert_eq!(slot.load().counters.polls, THREADS * EACH);
        assert_eq!(store.generation(), THREADS / 2 * EACH);
    }

    /// A writer that panics leaves the state as it was, and the slot takes
    /// writes after it.
    #[test]
    fn a_writer_that_panics_changes_nothing() {
        let store = Store::new(["a".to_string()]);
        let slot = Arc::clone(&store.accounts()[0]);
        store.update(&slot, |s| s.counters.polls = 1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.update(&slot, |s| {
                s.counters.polls = 99;
                panic!("a bug in a writer");
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(slot.load().counters.polls, 1);
        store.update(&slot, |s| s.counters.polls += 1);
        assert_eq!(slot.load().counters.polls, 2);
    }

    fn one_site(account: &str) -> AccountSnapshot {
        bare_snapshot(account, [(1, "shop.example".to_string())])
    }

    fn stale(slot: &AccountSlot) -> bool {
        let state = slot.load();
        let Some(assessed) = state.snapshot.as_ref() else {
            panic!("no snapshot installed");
        };
        assessed.assessment().sites()[0]
            .problems()
            .any(|p| p == crate::domain::Problem::RecordStale)
    }

    /// The store's one judging write judges at the instant it is handed,
    /// not at the clock's: a record read just inside `record_max_age` of
    /// that instant is fresh, one read just outside it is stale, whether
    /// the detail comes with a new snapshot or over the current one.
    #[test]
    fn an_install_judges_at_the_now_it_is_given() {
        use crate::domain::BackupHistory;
        use crate::domain::policy::Rules;
        let store = Store::new(["a".to_string()]);
        let slot = Arc::clone(&store.accounts()[0]);
        // Long ago, so that the wall clock would find every record stale.
        let read: DateTime<Utc> = "2020-01-01T00:00:00Z".parse().unwrap_or_default();
        let max_age = chrono::Duration::from_std(Rules::default().record_max_age).unwrap();
        let detail = BTreeMap::from([(
            1,
            SiteDetail {
                fetched_at: read.timestamp() as f64,
                history: Some(BackupHistory {
                    read_at: read.timestamp() as f64,
                    ..BackupHistory::default()
                }),
                ..SiteDetail::default()
            },
        )]);
        let just_inside = read + max_age - chrono::Duration::seconds(1);
        let just_outside = read + max_age;

        let first = Install::snapshot(one_site("a"), just_inside).with_detail(detail.clone());
        store.install(&slot, first, |_| {});
        assert!(!stale(&slot), "fresh at the instant given");
        store.install(
            &slot,
            Install::snapshot(one_site("a"), just_outside),
            |_| {},
        );
        assert!(
            stale(&slot),
            "the account's detail, judged at a later instant"
        );

        let other = Store::new(["a".to_string()]);
        let slot = Arc::clone(&other.accounts()[0]);
        other.install(&slot, Install::snapshot(one_site("a"), just_inside), |_| {});
        other.install(&slot, Install::detail(detail.clone(), just_inside), |_| {});
        assert!(!stale(&slot), "detail over the current snapshot, fresh");
        other.install(&slot, Install::detail(detail, just_outside), |_| {});
        assert!(stale(&slot), "detail over the current snapshot, stale");
    }
}
