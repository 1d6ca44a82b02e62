//! One poller per account: fetch from GridPane on an interval, build an
//! immutable snapshot from the answers (`build.rs`: the only place wire
//! types become domain values), hand it to the store's one judging write
//! (`Store::install`, with the instant to judge at). A failed poll keeps the
//! last good snapshot and records why. Its options are plain values app.rs
//! builds from the configuration (a [`Token`], [`SweepLimits`],
//! [`detail::DetailOptions`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::domain::{self, unix_now};
use crate::gridpane::{ApiError, Client, RateLimitWait, RequestTally, Secret};
use crate::store::{AccountSlot, AccountState, Install, PollError, PollResult, Store, SweepStatus};

mod build;
pub mod detail;
mod sweep;
mod waits;
pub use build::{Fetched, build_snapshot};
pub use sweep::{SweepLimits, SweepingSource};

/// What a poll knows before it ends: the bulk endpoints' answers and the
/// `/site` records read so far by the first sweep.
pub struct Partial {
    pub fetched: Fetched,
    pub sweep: SweepStatus,
}

/// Where a source hands its [`Partial`]s.
pub(crate) type Publish<'a> = dyn Fn(Partial) + Send + Sync + 'a;

/// Where a poller gets its data: GridPane in production, a script in tests.
pub trait Source: Send + Sync + 'static {
    /// Fetches everything one poll needs; all of it or an error.
    fn fetch(&self) -> impl Future<Output = Result<Fetched, ApiError>> + Send;
    /// [`Source::fetch`], handing `publish` what is known before the end
    /// (the first `/site` sweep, page by page). By default nothing early.
    fn fetch_publishing(
        &self,
        publish: &Publish<'_>,
    ) -> impl Future<Output = Result<Fetched, ApiError>> + Send {
        let _ = publish;
        self.fetch()
    }
    /// What the source's requests did since the last call.
    fn take_tally(&self) -> RequestTally;
    /// Sites the last fetch still lists only because their removal waits
    /// for the next sweep to confirm it.
    fn unconfirmed_removals(&self) -> usize {
        0
    }
    /// The source's wait for GridPane's rate limit in progress, and its
    /// changes; `None` for a source that never waits.
    fn rate_limit_waits(&self) -> Option<watch::Receiver<Option<RateLimitWait>>> {
        None
    }
}

/// A shared source, so that a restarted poller goes on with the same one.
impl<S: Source> Source for Arc<S> {
    fn fetch(&self) -> impl Future<Output = Result<Fetched, ApiError>> + Send {
        S::fetch(self)
    }
    fn fetch_publishing(
        &self,
        publish: &Publish<'_>,
    ) -> impl Future<Output = Result<Fetched, ApiError>> + Send {
        S::fetch_publishing(self, publish)
    }
    fn take_tally(&self) -> RequestTally {
        S::take_tally(self)
    }
    fn unconfirmed_removals(&self) -> usize {
        S::unconfirmed_removals(self)
    }
    fn rate_limit_waits(&self) -> Option<watch::Receiver<Option<RateLimitWait>>> {
        S::rate_limit_waits(self)
    }
}

/// How a poll gets the account's token: read for each poll (a file's token
/// may change between polls) and dropped at its end. app.rs builds it from
/// the configuration.
#[derive(Clone)]
pub struct Token(Arc<dyn Fn() -> Result<Secret, ApiError> + Send + Sync>);

impl Token {
    pub fn new(load: impl Fn() -> Result<Secret, ApiError> + Send + Sync + 'static) -> Token {
        Token(Arc::new(load))
    }

    /// Reads the token now. Errors name where it is, never what it holds.
    pub fn load(&self) -> Result<Secret, ApiError> {
        (self.0)()
    }
}

/// The real source: the account's client and token.
pub struct GridPaneSource {
    pub client: Client,
    pub token: Token,
}

impl Source for GridPaneSource {
    async fn fetch(&self) -> Result<Fetched, ApiError> {
        // The token is read for this poll and dropped at its end.
        let token = self.token.load()?;
        let mut fetched = fetch_bulk(&self.client, &token, |_| {}).await?;
        fetched.sites = self.client.sites(&token).await?;
        Ok(fetched)
    }

    fn take_tally(&self) -> RequestTally {
        self.client.take_tally()
    }

    fn rate_limit_waits(&self) -> Option<watch::Receiver<Option<RateLimitWait>>> {
        Some(self.client.rate_limit_waits())
    }
}

/// What every poll reads in full: the one-request endpoints first (so they
/// stay fresh whatever the site list costs; `answered` sees them), then the
/// servers, whose pages may take minutes at 100k sites. The sites are left
/// to the source.
pub(crate) async fn fetch_bulk(
    client: &Client,
    token: &Secret,
    answered: impl FnOnce(&Fetched),
) -> Result<Fetched, ApiError> {
    let mut fetched = Fetched {
        sites: Vec::new(),
        servers: Vec::new(),
        schedules: client.backup_schedules(token).await?,
        integrations: client.backup_integrations(token).await?,
    };
    answered(&fetched);
    fetched.servers = client.servers(token).await?;
    Ok(fetched)
}

/// One poll of one account: fetch, then swap in the new snapshot or record
/// the failure. Logs one line.
pub async fn poll_once<S: Source>(
    source: &S,
    store: &Store,
    slot: &AccountSlot,
) -> Result<(), ApiError> {
    poll(source, store, slot, None).await
}

/// [`poll_once`]; `retry_in` is when a failed poll is tried again, if sooner
/// than the interval, for the log line.
async fn poll<S: Source>(
    source: &S,
    store: &Store,
    slot: &AccountSlot,
    retry_in: Option<Duration>,
) -> Result<(), ApiError> {
    store.update(slot, |s| s.polling = true);
    let started = tokio::time::Instant::now();
    let publish = |partial: Partial| publish_partial(store, slot, partial);
    let fetch = source.fetch_publishing(&publish);
    let result = waits::showing_waits(fetch, source.rate_limit_waits(), store, slot).await;
    let duration = started.elapsed().as_secs_f64();
    let tally = source.take_tally();
    let unconfirmed = source.unconfirmed_removals();
    let finished_at = unix_now();
    let requests = tally.total_requests();

    let record = |s: &mut AccountState, error: Option<PollError>| {
        s.polling = false;
        s.publishing = false;
        s.rate_limit_wait = None;
        s.ready = true;
        s.counters.polls += 1;
        if let Some(e) = &error {
            *s.counters.poll_errors.entry(e.reason.clone()).or_default() += 1;
        }
        for ((endpoint, code), n) in &tally.requests {
            *s.counters
                .api_requests
                .entry((endpoint.to_string(), code.clone()))
                .or_default() += n;
        }
        for (endpoint, n) in &tally.rate_limited {
            *s.counters
                .rate_limited
                .entry(endpoint.to_string())
                .or_default() += n;
        }
        for (scope, v) in &tally.remaining {
            s.counters.rate_limit_remaining.insert(scope.clone(), *v);
        }
        s.last_poll = Some(PollResult {
            finished_at,
            duration_seconds: duration,
            requests,
            error,
        });
    };

    match result {
        Ok(fetched) => {
            let snapshot = build_snapshot(&slot.name, finished_at, fetched);
            tracing::info!(
                account = %slot.name,
                result = "ok",
                duration_ms = (duration * 1000.0).round() as u64,
                sites = snapshot.sites.len(),
                servers = snapshot.servers.len(),
                integrations = snapshot.integrations.len(),
                requests,
                rate_limited = tally.rate_limited.values().sum::<u64>(),
                waited_ms = tally.waited.as_millis() as u64,
                "poll finished"
            );
            let (flawed, kinds) = domain::schedule_flaws(&snapshot);
            if flawed > 0 {
                // Once per poll, for every such site together.
                tracing::warn!(
                    account = %slot.name,
                    sites = flawed,
                    what = %kinds.join(","),
                    "schedule rows or on/off switches not understood; those sites' status is unknown (schedule_unreadable)"
                );
            }
            if unconfirmed > 0 {
                tracing::warn!(
                    account = %slot.name,
                    unconfirmed_removals = unconfirmed,
                    "the site list dropped suspiciously; the missing sites are kept until the next complete sweep confirms their removal"
                );
            }
            store.install(slot, Install::snapshot(snapshot, Utc::now()), |s| {
                s.unconfirmed_removals = unconfirmed;
                s.unconfirmed_since = match unconfirmed {
                    0 => None,
                    _ => Some(s.unconfirmed_since.unwrap_or(finished_at)),
                };
                // A successful poll ends the first sweep (it runs to its
                // end in one poll).
                s.sweep = None;
                record(s, None);
            });
            Ok(())
        }
        Err(e) => {
            let first = slot.load().snapshot.is_none();
            // On the first poll, what to check; the message stands for the
            // error in the log, the page and the API alike.
            let message = match e.first_poll_hint().filter(|_| first) {
                Some(hint) => format!("{e}; {hint}"),
                None => e.to_string(),
            };
            let outcome = if !first {
                "keeping the last good snapshot"
            } else {
                "no snapshot yet: this account has no data to serve until a poll succeeds"
            };
            let next = match retry_in {
                Some(d) => format!("; next try in {}s", d.as_secs()),
                None => String::new(),
            };
            tracing::warn!(
                account = %slot.name,
                result = "error",
                reason = e.reason(),
                error = %message,
                duration_ms = (duration * 1000.0).round() as u64,
                requests,
                rate_limited = tally.rate_limited.values().sum::<u64>(),
                next_try_in_s = retry_in.map(|d| d.as_secs()),
                "poll failed, {outcome}{next}"
            );
            let error = PollError::new(&slot.name, e.reason(), &message);
            store.update(slot, |s| record(s, Some(error)));
            Err(e)
        }
    }
}

/// Publishes what a poll knows before its end: the account is ready and up
/// from the first publication on, and sites not read yet are pending.
fn publish_partial(store: &Store, slot: &AccountSlot, partial: Partial) {
    let previous = slot.load().snapshot.clone();
    let snapshot = build::build_partial(
        &slot.name,
        unix_now(),
        partial.fetched,
        previous.as_deref().map(domain::Assessed::snapshot),
    );
    let sweep = SweepStatus {
        sites_pending: domain::pending::pending_sites(&snapshot),
        ..partial.sweep
    };
    tracing::debug!(
        account = %slot.name,
        sites = snapshot.sites.len(),
        sites_pending = sweep.sites_pending,
        pages_read = sweep.pages_read,
        "published the first sweep so far"
    );
    store.install(slot, Install::snapshot(snapshot, Utc::now()), |s| {
        s.publishing = true;
        s.sweep = Some(sweep);
    });
}

/// The delay before the next poll: the interval plus up to a tenth of it
/// (at most 30 s) of jitter, so accounts drift apart.
pub(crate) fn next_delay(interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(30));
    let ms = u64::try_from(max.as_millis()).unwrap_or(0);
    interval
        + Duration::from_millis(if ms == 0 {
            0
        } else {
            rand::random_range(0..=ms)
        })
}

/// First polls of consecutive accounts start this far apart (at most the
/// poll interval for all of them together), so that many accounts do not
/// open all their connections at once.
pub(crate) const FIRST_POLL_STAGGER: Duration = Duration::from_millis(20);

/// When account `index` of `count` polls first: [`FIRST_POLL_STAGGER`]
/// apart, spread over at most the poll interval.
pub fn first_poll_delay(index: usize, count: usize, interval: Duration) -> Duration {
    let n = u32::try_from(count).unwrap_or(u32::MAX).max(1);
    let i = u32::try_from(index).unwrap_or(u32::MAX).min(n - 1);
    let spread = FIRST_POLL_STAGGER.saturating_mul(n).min(interval);
    (spread / n).saturating_mul(i)
}

/// While an account has no snapshot, a failed poll is retried after this,
/// doubling up to the poll interval.
pub(crate) const FIRST_POLL_RETRY: Duration = Duration::from_secs(5);

/// Polls after `start_after`, then every interval, until `shutdown` turns
/// true. A poll that overruns the interval is followed at once by the next,
/// never doubled. While the account has no snapshot, failed polls are
/// retried sooner ([`FIRST_POLL_RETRY`], doubling up to the interval).
pub async fn run<S: Source>(
    source: S,
    store: Arc<Store>,
    slot: Arc<AccountSlot>,
    interval: Duration,
    start_after: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let due_in = |delay: Duration| {
        store.update(&slot, |s| {
            s.next_poll_at = Some(unix_now() + delay.as_secs_f64())
        })
    };
    // Since when the account has been polled: kept across restarts of
    // its poller, for "never read" (the page, the API, the metrics).
    store.update(&slot, |s| {
        s.watched_since.get_or_insert_with(unix_now);
    });
    let mut delay = start_after;
    if !delay.is_zero() {
        due_in(delay);
    }
    let mut retry = FIRST_POLL_RETRY;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let started = tokio::time::Instant::now();
        // A failed poll leaves the snapshot as it was: whether one exists
        // decides now when a failure is tried again.
        let retry_in = slot.load().snapshot.is_none().then(|| retry.min(interval));
        let result = tokio::select! {
            r = poll(&source, &store, &slot, retry_in) => r,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        delay = if let (Err(_), Some(d)) = (&result, retry_in) {
            retry = retry.saturating_mul(2);
            d
        } else {
            retry = FIRST_POLL_RETRY;
            next_delay(interval).saturating_sub(started.elapsed())
        };
        due_in(delay);
    }
}
