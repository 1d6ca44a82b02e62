//! Wiring: one poller per account feeding the store, and the HTTP server
//! reading it. `App::start` runs the whole exporter on any address (port 0
//! in tests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::gridpane::{ApiError, Budget, BudgetOptions, Client, ClientOptions};
use crate::http::{self, Web};
use crate::poller::{self, SweepingSource};
use crate::server::{self, ServerOptions};
use crate::state;
use crate::store::Store;

/// How long in-flight responses get after a stop signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("account \"{account}\": {source}")]
    Client { account: String, source: ApiError },
}

#[derive(Clone, Debug)]
pub struct WebOptions {
    pub listen: SocketAddr,
    pub telemetry_path: String,
    /// Render `/metrics` in full on every scrape (benchmark baseline).
    pub disable_exposition_cache: bool,
}

/// A running exporter.
pub struct App {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
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
            state::restore(&store, path);
            tasks.spawn(state::run_writer(
                Arc::clone(&store),
                path.clone(),
                shutdown_rx.clone(),
            ));
        }

        let mut sources = Vec::with_capacity(config.accounts.len());
        for account in &config.accounts {
            let budget = Arc::new(Budget::new(BudgetOptions::from_poll(&config.poll)));
            let client = Client::new(ClientOptions::new(account, &config.poll))
                .map_err(|source| AppError::Client {
                    account: account.name.clone(),
                    source,
                })?
                .with_budget(budget);
            let client = Arc::new(client);
            sources.push((
                SweepingSource::new(
                    Arc::clone(&client),
                    account.token.clone(),
                    config.poll.interval,
                ),
                client,
                account.token.clone(),
            ));
        }
        for ((source, client, token), slot) in
            sources.into_iter().zip(store.accounts().iter().cloned())
        {
            if config.poll.detail.enabled {
                tasks.spawn(poller::detail::run(
                    client,
                    token,
                    Arc::clone(&store),
                    Arc::clone(&slot),
                    config.poll.detail.requests_per_minute,
                    shutdown_rx.clone(),
                ));
            }
            tasks.spawn(poller::run(
                source,
                Arc::clone(&store),
                slot,
                config.poll.interval,
                shutdown_rx.clone(),
            ));
        }

        let mut handlers = Web::new(Arc::clone(&store), web.telemetry_path)
            .with_api_answer_bytes(server_options.limits.max_api_answer_bytes);
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
            shutdown,
            tasks,
        })
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
