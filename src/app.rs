//! Wiring: one poller per account feeding the store, and the HTTP server
//! reading it. `App::start` runs the whole exporter on any address (port 0
//! in tests). Every background task runs under [`supervise`].

use std::any::Any;
use std::collections::VecDeque;
use std::collections::hash_map::{Entry, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::access::Access;
use crate::config::{self, Config, Sources};
use crate::domain::Policy;
use crate::gridpane::{ApiError, Budget, Client, http_client};
use crate::http::access::AccessRules;
use crate::http::{self, Web};
use crate::persist;
use crate::poller::detail::{DetailOptions, HistoryOptions};
use crate::poller::{self, Source, SweepLimits, SweepingSource, Token};
use crate::server::{self, ServerOptions};
use crate::store::{AccountSlot, Install, POLLER_STOPPED, PollError, PollResult, Store, Task};

/// How long in-flight responses get after a stop signal.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("account \"{account}\": {source}")]
    Client { account: String, source: ApiError },
    #[error("account \"{account}\": {source}")]
    Bucket {
        account: String,
        source: crate::bucket::lister::ListerError,
    },
}

#[derive(Clone, Debug)]
pub struct WebOptions {
    pub listen: SocketAddr,
    pub telemetry_path: String,
    /// Render `/metrics` in full on every scrape (benchmark baseline).
    pub disable_exposition_cache: bool,
}

/// The policy as the store judges under it: with the backup record read
/// (`poll.detail.history`, a restart-only setting of `running`), a site
/// whose record has not been read yet is never OK. Set here, where every
/// configuration is put in force, whether it was loaded from a file or
/// built in code (`--demo`).
fn policy_in_force(mut policy: Policy, running: &Config) -> Policy {
    policy.records_read = running.poll.detail.enabled && running.poll.detail.history;
    policy
}

/// The poller's options, built from the configuration here: the poller
/// reads no configuration type.
impl From<config::TokenSource> for Token {
    fn from(source: config::TokenSource) -> Token {
        Token::new(move || source.load().map_err(ApiError::from))
    }
}

impl SweepLimits {
    /// The guards `poll` sets.
    pub fn from_poll(poll: &config::PollConfig) -> Self {
        SweepLimits {
            max_removal_share: poll.max_site_removal_share,
            max_sites: poll.max_items_per_account,
        }
    }
}

impl DetailOptions {
    /// `account`'s per-site detail under `detail` (`poll.detail`).
    pub fn of(detail: &config::DetailConfig, account: &config::Account) -> DetailOptions {
        use chrono::Offset as _;
        DetailOptions {
            requests_per_minute: detail.requests_per_minute,
            publish_every: detail.publish_every,
            history: detail.history.then(|| HistoryOptions {
                offset: account.time_zone.unwrap_or_else(|| chrono::Utc.fix()),
                refresh_every: detail.refresh_every,
            }),
        }
    }
}

/// A running exporter.
pub struct App {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    access: AccessRules,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl App {
    pub async fn start(config: Config, web: WebOptions) -> Result<App, AppError> {
        App::start_with(config, web, ServerOptions::default()).await
    }

    /// Like [`App::start`], with TLS, basic auth and connection limits.
    pub async fn start_with(
        config: Config,
        web: WebOptions,
        server_options: ServerOptions,
    ) -> Result<App, AppError> {
        let store = Arc::new(Store::new(config.accounts.iter().map(|a| a.name.clone())));
        store.set_policy(
            policy_in_force(config.policy.clone(), &config),
            chrono::Utc::now(),
        );
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let listener = TcpListener::bind(web.listen)
            .await
            .map_err(|source| AppError::Bind {
                addr: web.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| AppError::Bind {
            addr: web.listen,
            source,
        })?;

        // Saved state first, so that it is served before the first poll ends
        // and is not written back unchanged.
        if let Some(path) = &config.state_file {
            persist::restore(&store, path, config.poll.max_items_per_account);
            let (store_w, path, stop) = (Arc::clone(&store), path.clone(), shutdown_rx.clone());
            tasks.spawn(supervise(
                Task::StateWriter,
                Arc::clone(&store),
                None,
                shutdown_rx.clone(),
                move || persist::run_writer(Arc::clone(&store_w), path.clone(), stop.clone()),
            ));
        }

        let mut sources = Vec::with_capacity(config.accounts.len());
        // One HTTP client (pool, root certificates) per transport settings:
        // building one per account took most of the start-up with many
        // accounts. Budgets, tallies and tokens stay per account.
        let mut http_clients = HashMap::new();
        for account in &config.accounts {
            let budget = Arc::new(Budget::new(config.poll.budget_options()));
            let opts = config.poll.client_options(account);
            let http = match http_clients.entry((opts.timeout, opts.connect_timeout)) {
                Entry::Occupied(e) => reqwest::Client::clone(e.get()),
                Entry::Vacant(e) => e
                    .insert(http_client(&opts).map_err(|source| AppError::Client {
                        account: account.name.clone(),
                        source,
                    })?)
                    .clone(),
            };
            let client = Client::with_http(opts, http)
                .with_account(&account.name)
                .with_budget(budget);
            let client = Arc::new(client);
            let token = Token::from(account.token.clone());
            sources.push((
                SweepingSource::new(
                    Arc::clone(&client),
                    token.clone(),
                    config.poll.interval,
                    SweepLimits::from_poll(&config.poll),
                ),
                client,
                token,
                DetailOptions::of(&config.poll.detail, account),
            ));
        }
        let count = sources.len();
        for (index, ((source, client, token, options), slot)) in sources
            .into_iter()
            .zip(store.accounts().iter().cloned())
            .enumerate()
        {
            if config.poll.detail.enabled {
                let (store_d, slot_d, stop) =
                    (Arc::clone(&store), Arc::clone(&slot), shutdown_rx.clone());
                tasks.spawn(supervise(
                    Task::Detail,
                    Arc::clone(&store),
                    None,
                    shutdown_rx.clone(),
                    move || {
                        poller::detail::run(
                            Arc::clone(&client),
                            token.clone(),
                            Arc::clone(&store_d),
                            Arc::clone(&slot_d),
                            options,
                            stop.clone(),
                        )
                    },
                ));
            }
            let start_after = poller::first_poll_delay(index, count, config.poll.interval);
            tasks.spawn(supervised_poller(
                Arc::new(source),
                Arc::clone(&store),
                slot,
                config.poll.interval,
                start_after,
                shutdown_rx.clone(),
            ));
        }

        spawn_listers(&config, &store, &shutdown_rx, &mut tasks)?;

        let (store_j, stop) = (Arc::clone(&store), shutdown_rx.clone());
        tasks.spawn(supervise(
            Task::Judge,
            Arc::clone(&store),
            None,
            shutdown_rx.clone(),
            move || crate::judge::run(Arc::clone(&store_j), chrono::Utc::now, stop.clone()),
        ));

        // An access configuration no request can satisfy is one of the
        // start warnings (config::preflight), logged by the caller.
        let access = AccessRules::new(config.access.clone());
        let mut handlers = Web::new(Arc::clone(&store), web.telemetry_path)
            .with_api_answer_bytes(server_options.limits.max_api_answer_bytes)
            .with_access(access.clone());
        if web.disable_exposition_cache {
            handlers = handlers.without_exposition_cache();
        }
        let router = http::router(Arc::new(handlers));
        tasks.spawn(server::serve(
            listener,
            router,
            server_options,
            shutdown_rx.clone(),
        ));

        tracing::info!(address = %addr, accounts = config.accounts.len(), "listening");
        Ok(App {
            addr,
            store,
            access,
            shutdown,
            tasks,
        })
    }

    /// Reloads the configuration at every SIGHUP `hangups` receives (see
    /// [`Reload`]), a SIGHUP received while the exporter started included.
    pub fn reload_on_sighup(&mut self, reload: Reload, hangups: Hangups) {
        let reload = Arc::new(std::sync::Mutex::new(reload));
        let hangups = Arc::new(tokio::sync::Mutex::new(hangups));
        let stop = self.shutdown.subscribe();
        self.tasks.spawn(supervise(
            Task::Reload,
            Arc::clone(&self.store),
            None,
            self.shutdown.subscribe(),
            move || reload_on_hangup(Arc::clone(&reload), Arc::clone(&hangups), stop.clone()),
        ));
    }

    /// Puts new `access` rules in force (a configuration reload): the next
    /// request follows them. `None`: everyone who authenticates sees every
    /// account.
    pub fn replace_access(&self, access: Option<Access>) {
        tracing::info!(
            rules = access.is_some(),
            scopes = access.as_ref().map_or(1, Access::scopes),
            "access rules replaced"
        );
        self.access.replace(access);
    }

    /// Stops polling, lets in-flight responses finish (up to the grace
    /// period), and returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("shutdown grace period over, closing remaining connections");
            self.tasks.abort_all();
        }
    }
}

/// One bucket lister per account with `remote_storage`, under
/// [`supervise`]; the accounts' evidence starts as "not listed yet".
fn spawn_listers(
    config: &Config,
    store: &Arc<Store>,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) -> Result<(), AppError> {
    use crate::bucket::lister::{self, Lister};
    let listing = &config.poll.remote_storage;
    let mut http = None;
    for (account, slot) in config.accounts.iter().zip(store.accounts()) {
        if account.remote_storage.is_empty() {
            continue;
        }
        let bucket_error = |source| AppError::Bucket {
            account: account.name.clone(),
            source,
        };
        let client = match &http {
            Some(c) => reqwest::Client::clone(c),
            None => http
                .insert(lister::http_client(listing).map_err(bucket_error)?)
                .clone(),
        };
        let lister = Arc::new(
            Lister::new(&account.name, &account.remote_storage, listing, client)
                .map_err(bucket_error)?,
        );
        let not_yet = Install::evidence(Arc::new(lister.not_yet()), chrono::Utc::now());
        store.install(slot, not_yet, |_| {});
        let (store_l, slot_l, stop) = (Arc::clone(store), Arc::clone(slot), shutdown.clone());
        tasks.spawn(supervise(
            Task::BucketLister,
            Arc::clone(store),
            None,
            shutdown.clone(),
            move || {
                lister::run(
                    Arc::clone(&lister),
                    Arc::clone(&store_l),
                    Arc::clone(&slot_l),
                    stop.clone(),
                )
            },
        ));
    }
    Ok(())
}

/// The first restart of a supervised task comes after this; each further
/// one waits twice as long, up to [`RESTART_BACKOFF_MAX`].
pub(crate) const RESTART_BACKOFF_MIN: Duration = Duration::from_secs(1);
pub(crate) const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A task that ends this many times within [`RESTART_WINDOW`] cannot be kept
/// running: `/-/healthy` fails from then on, so that the orchestrator
/// restarts the process. The supervisor goes on restarting it meanwhile.
pub(crate) const MAX_RESTARTS: usize = 10;
pub(crate) const RESTART_WINDOW: Duration = Duration::from_secs(3600);

/// Runs the task `start` makes, and makes it again whenever it ends before
/// `shutdown` turns true, by returning or by panicking: logged at error,
/// counted in `gridpane_exporter_task_restarts_total{task}`, restarted
/// after a backoff ([`RESTART_BACKOFF_MIN`] doubling up to
/// [`RESTART_BACKOFF_MAX`]; back to the minimum after a task ran that long).
/// A poller that ends leaves its account's last poll failed (`up` 0, not
/// polling) until the restarted poller finishes a poll.
pub async fn supervise<F, Fut>(
    task: Task,
    store: Arc<Store>,
    account: Option<Arc<AccountSlot>>,
    shutdown: watch::Receiver<bool>,
    mut start: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut shutdown = shutdown;
    let mut backoff = RESTART_BACKOFF_MIN;
    let mut recent: VecDeque<Instant> = VecDeque::new();
    let name = account.as_ref().map_or("", |a| a.name.as_str()).to_string();
    loop {
        let started = Instant::now();
        let outcome = AssertUnwindSafe(start()).catch_unwind().await;
        if *shutdown.borrow() {
            return;
        }
        if started.elapsed() >= RESTART_BACKOFF_MAX {
            backoff = RESTART_BACKOFF_MIN;
        }
        let now = Instant::now();
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
        {
            recent.pop_front();
        }
        store.tasks().count_restart(task);
        let cause = match &outcome {
            Ok(()) => "returned".to_string(),
            Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
        };
        tracing::error!(
            task = task.as_str(),
            account = %name,
            cause = %cause,
            restart_in_ms = backoff.as_millis() as u64,
            "background task ended unexpectedly, restarting it"
        );
        if recent.len() >= MAX_RESTARTS {
            if store.tasks().healthy() {
                tracing::error!(
                    task = task.as_str(),
                    account = %name,
                    restarts = recent.len(),
                    window_s = RESTART_WINDOW.as_secs(),
                    "background task cannot be kept running, /-/healthy now fails"
                );
            }
            store.tasks().give_up();
        }
        if let (Task::Poller, Some(slot)) = (task, &account) {
            let cause = format!(
                "the poller stopped unexpectedly ({}); restarting it",
                if outcome.is_ok() { "returned" } else { "panic" }
            );
            let error = PollError::new(&name, POLLER_STOPPED, &cause);
            store.update(slot, |s| {
                s.polling = false;
                s.ready = true;
                s.last_poll = Some(PollResult {
                    finished_at: crate::domain::unix_now(),
                    duration_seconds: 0.0,
                    requests: 0,
                    error: Some(error),
                });
                s.next_poll_at = Some(crate::domain::unix_now() + backoff.as_secs_f64());
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
    }
}

/// An account's poller under [`supervise`]: the first start waits
/// `start_after` (staggered first polls), a restart polls at once.
pub async fn supervised_poller<S: Source>(
    source: Arc<S>,
    store: Arc<Store>,
    slot: Arc<AccountSlot>,
    interval: Duration,
    start_after: Duration,
    shutdown: watch::Receiver<bool>,
) {
    let mut first = Some(start_after);
    let (store_p, slot_p, stop) = (Arc::clone(&store), Arc::clone(&slot), shutdown.clone());
    supervise(Task::Poller, store, Some(slot), shutdown, move || {
        poller::run(
            Arc::clone(&source),
            Arc::clone(&store_p),
            Arc::clone(&slot_p),
            interval,
            first.take().unwrap_or_default(),
            stop.clone(),
        )
    })
    .await;
}

/// A panic's message, shortened and escaped: panics carry a `&str` or a
/// `String`.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    text.chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect()
}

/// Re-reads the configuration and hands each part that can change without
/// a restart to its owner: the policy to the store, which judges every
/// snapshot again at once; the access rules to the HTTP handlers, which
/// follow them from the next request. Keys that need a restart are logged,
/// not applied; a configuration that does not load changes nothing.
pub struct Reload {
    sources: Sources,
    running: Config,
    store: Arc<Store>,
    access: AccessRules,
}

impl Reload {
    /// `running`: the configuration `app` started with.
    pub fn new(sources: Sources, running: Config, app: &App) -> Reload {
        Reload {
            sources,
            running,
            store: Arc::clone(&app.store),
            access: app.access.clone(),
        }
    }

    /// Reloads now; false when nothing changed: the file did not load, or
    /// it would remove the access rules in force (counted in
    /// `gridpane_exporter_config_reload_failures_total`).
    pub(crate) fn apply(&mut self) -> bool {
        let new = match config::load(&self.sources) {
            Ok(c) => c,
            Err(e) => {
                self.store.tasks().count_reload_failure();
                tracing::error!(error = %e, "configuration reload failed; the running configuration is kept");
                return false;
            }
        };
        if let Some(running) = &self.running.access
            && new.access.as_ref().is_none_or(Access::is_empty)
        {
            self.store.tasks().count_reload_failure();
            tracing::error!(
                file = ?self.sources.file,
                rules_in_force = true,
                scopes_in_force = running.scopes(),
                new_rules = if new.access.is_some() { "empty" } else { "absent" },
                "configuration reload refused: the new configuration has no access rules while access rules are in force, which would let every user see every account; the running configuration (policy included) is kept. Removing access control takes a restart"
            );
            return false;
        }
        for key in needs_restart(&self.running, &new) {
            tracing::warn!(
                key,
                "configuration key changed but needs a restart; not applied"
            );
        }
        tracing::info!(
            groups = new.policy.groups.len(),
            mutes = new.policy.mutes.len(),
            access_rules = new.access.is_some(),
            "configuration reloaded; policy and access rules applied"
        );
        // Whether records are read is the poll's (restart only).
        let policy = policy_in_force(new.policy, &self.running);
        self.store.set_policy(policy.clone(), chrono::Utc::now());
        self.running.policy = policy;
        if self.running.access != new.access {
            self.access.replace(new.access.clone());
            self.running.access = new.access;
        }
        true
    }
}

/// The top-level keys of `new` that differ from `running` and are read
/// only at start.
fn needs_restart(running: &Config, new: &Config) -> Vec<&'static str> {
    let same_accounts = running.accounts.len() == new.accounts.len()
        && running.accounts.iter().zip(&new.accounts).all(|(a, b)| {
            a.name == b.name
                && a.base_url == b.base_url
                && a.token == b.token
                && a.remote_storage == b.remote_storage
        });
    let mut keys = Vec::new();
    if !same_accounts {
        keys.push("accounts");
    }
    if running.poll != new.poll {
        keys.push("poll");
    }
    if running.state_file != new.state_file {
        keys.push("state_file");
    }
    keys
}

/// SIGHUP, listened for from the first moments of the process: once
/// [`Hangups::listen`] has run, a SIGHUP no longer ends the process (its
/// default action), and one received before the reload task runs is kept
/// for it (several are one).
pub struct Hangups {
    /// A SIGHUP came before this listened (`early`), not yet applied.
    pending: bool,
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Starts listening; call it inside the runtime, before anything slow.
    /// `early`: a SIGHUP came before (the binary notes those from its
    /// first instant).
    pub fn listen(early: bool) -> Hangups {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::hangup())
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot listen for SIGHUP; the configuration cannot be reloaded");
                })
                .ok();
            Hangups {
                pending: early,
                signal,
            }
        }
        #[cfg(not(unix))]
        Hangups { pending: early }
    }

    /// The next SIGHUP; `false` when none can come.
    async fn recv(&mut self) -> bool {
        if std::mem::take(&mut self.pending) {
            return true;
        }
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            return signal.recv().await.is_some();
        }
        false
    }
}

/// Applies `reload` at every SIGHUP, until `shutdown`.
async fn reload_on_hangup(
    reload: Arc<std::sync::Mutex<Reload>>,
    hangups: Arc<tokio::sync::Mutex<Hangups>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut hangups = hangups.lock().await;
    loop {
        let got = tokio::select! {
            got = hangups.recv() => got,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        if !got {
            // No SIGHUP can come: nothing to do until the exporter stops.
            let _ = shutdown.wait_for(|stop| *stop).await;
            return;
        }
        tracing::info!("SIGHUP received, reloading the configuration");
        match reload.lock() {
            Ok(mut r) => r.apply(),
            Err(poisoned) => poisoned.into_inner().apply(),
        };
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
