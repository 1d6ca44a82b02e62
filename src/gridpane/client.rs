//! The client of one account: its options, the request tally it reports,
//! and one method per GridPane route (the site and server lists page after
//! page, the backup schedules and integrations, one site, the backup record,
//! a refresh), each a GET through [`transport`] (the budget, the retries,
//! one attempt and what its errors say) whose body [`decode`] reads.
//! [`rate_limit`] reads GridPane's rate-limit headers.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use url::Url;

use super::budget::{Budget, BudgetOptions};
use super::endpoint::Endpoint;
use super::error::ApiError;
use super::history;
use super::secret::Secret;
use super::wait::{RateLimitWait, Waits};
use super::wire::{self, Envelope};

mod decode;
mod rate_limit;
mod transport;

pub use decode::decode;
use decode::decode_capped;
use transport::shown;

/// What the client did since it was last asked: requests by endpoint and
/// status code, 429s, and the remaining quota GridPane last reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestTally {
    /// (endpoint route, HTTP code or "error") -> count.
    pub requests: BTreeMap<(&'static str, String), u64>,
    /// endpoint route -> 429 answers.
    pub rate_limited: BTreeMap<&'static str, u64>,
    /// scope ("account" or an endpoint route) -> remaining requests.
    pub remaining: BTreeMap<String, f64>,
    /// Time spent waiting because of rate limits and pacing.
    pub waited: Duration,
}

impl RequestTally {
    pub(crate) fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// How the client waits. Production uses `tokio::time::sleep`; tests can
/// record the waits instead.
pub type Sleeper = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

fn tokio_sleeper() -> Sleeper {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// Settings of one account's client.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub base_url: Url,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The rates of the budget a client starts with; accounts replace it
    /// with one budget shared by everything that sends for them
    /// ([`Client::with_budget`]).
    pub budget: BudgetOptions,
    pub per_page: u32,
    pub max_pages: u32,
    pub max_body_bytes: u64,
    /// Items one list may hold across its pages (`poll.max_items_per_account`).
    pub max_items: usize,
    pub max_retries: u32,
}

/// A GridPane API client for one account. Requests are serial: one poller
/// owns one client.
pub struct Client {
    http: reqwest::Client,
    api_root: Url,
    opts: ClientOptions,
    /// The account's name, for log lines.
    account: String,
    tally: Mutex<RequestTally>,
    budget: Arc<Budget>,
    sleeper: Sleeper,
    /// Waits for GridPane's rate limit in progress.
    waits: Waits,
}

/// How a list endpoint pages.
#[derive(Clone, Copy)]
enum Paging {
    /// `/site`, `/server`: `page` and `per_page` on every request; pages
    /// follow until one is empty or the envelope marks the last.
    Numbered,
    /// `/backups/schedules`: one response as documented (no query); further
    /// pages only when `meta` says more follow.
    Single,
}

impl Paging {
    fn query(self, page: u32, per_page: u32) -> Vec<(&'static str, String)> {
        match self {
            Paging::Numbered => vec![
                ("page", page.to_string()),
                ("per_page", per_page.to_string()),
            ],
            Paging::Single if page == 1 => Vec::new(),
            Paging::Single => vec![("page", page.to_string())],
        }
    }
}

/// The HTTP client (connection pool, root certificates) for `opts`'s
/// transport settings. Building one loads the system's root certificates,
/// so accounts with the same settings share one ([`Client::with_http`]):
/// the token goes with each request, never with the pool, and redirects are
/// never followed.
pub fn http_client(opts: &ClientOptions) -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .user_agent(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        ))
        .timeout(opts.timeout)
        .connect_timeout(opts.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ApiError::Network {
            endpoint: Endpoint::Sites,
            message: format!("cannot build HTTP client: {e}"),
        })
}

impl Client {
    /// A client with an HTTP client of its own.
    pub fn new(opts: ClientOptions) -> Result<Self, ApiError> {
        let http = http_client(&opts)?;
        Ok(Client::with_http(opts, http))
    }

    /// A client sending through `http`, which may be shared with other
    /// accounts' clients: it must have been built by [`http_client`] from
    /// the same transport settings (timeouts).
    pub(crate) fn with_http(opts: ClientOptions, http: reqwest::Client) -> Self {
        let mut api_root = opts.base_url.clone();
        {
            let path = api_root.path().trim_end_matches('/').to_string();
            api_root.set_path(&format!("{path}/oauth/api/v1/"));
        }
        let budget = Arc::new(Budget::new(opts.budget));
        Client {
            http,
            api_root,
            opts,
            account: String::new(),
            tally: Mutex::new(RequestTally::default()),
            budget,
            sleeper: tokio_sleeper(),
            waits: Waits::default(),
        }
    }

    /// Names the account in the client's log lines.
    pub fn with_account(mut self, name: &str) -> Self {
        self.account = name.to_string();
        self
    }

    /// Replaces the account's request budget (shared by everything that
    /// sends requests for the account).
    pub fn with_budget(mut self, budget: Arc<Budget>) -> Self {
        self.budget = budget;
        self
    }

    /// Replaces how the client waits (tests).
    pub fn with_sleeper(mut self, sleeper: Sleeper) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Returns and resets what the client did since the last call.
    /// The wait for GridPane's rate limit in progress (`None` when no
    /// request waits for it), and its changes.
    pub fn rate_limit_waits(&self) -> tokio::sync::watch::Receiver<Option<RateLimitWait>> {
        self.waits.subscribe()
    }

    pub fn take_tally(&self) -> RequestTally {
        match self.tally.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    fn with_tally(&self, f: impl FnOnce(&mut RequestTally)) {
        match self.tally.lock() {
            Ok(mut t) => f(&mut t),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Every site of the account, all pages.
    pub async fn sites(&self, token: &Secret) -> Result<Vec<wire::Site>, ApiError> {
        self.paged(
            token,
            Endpoint::Sites,
            "site",
            Paging::Numbered,
            |s: &wire::Site| s.id,
        )
        .await
    }

    /// One page of `GET /site`, whether it is the last one (by `meta`, by a
    /// null `links.next`, or because it is empty), and `meta.total`.
    pub async fn sites_page(
        &self,
        token: &Secret,
        page: u32,
    ) -> Result<(Vec<wire::Site>, bool, Option<u64>), ApiError> {
        let query = Paging::Numbered.query(page, self.opts.per_page);
        let resp: wire::Page<wire::Site> = self
            .get_json(token, Endpoint::Sites, "site", &query, self.opts.max_items)
            .await?;
        let last = resp.data.is_empty() || resp.marked_last();
        let total = resp.meta.as_ref().and_then(|m| m.total);
        Ok((resp.data, last, total))
    }

    /// The cap on pages read from one paginated endpoint.
    pub(crate) fn max_pages(&self) -> u32 {
        self.opts.max_pages
    }

    /// Items asked for per page.
    pub(crate) fn per_page(&self) -> u32 {
        self.opts.per_page
    }

    /// Every server of the account, all pages.
    pub async fn servers(&self, token: &Secret) -> Result<Vec<wire::Server>, ApiError> {
        self.paged(
            token,
            Endpoint::Servers,
            "server",
            Paging::Numbered,
            |s: &wire::Server| s.id,
        )
        .await
    }

    /// The backup schedules of every site (one response; further pages are
    /// followed if the API ever paginates it).
    pub async fn backup_schedules(
        &self,
        token: &Secret,
    ) -> Result<Vec<wire::SiteSchedules>, ApiError> {
        let site_id = |s: &wire::SiteSchedules| s.site_id;
        self.paged(
            token,
            Endpoint::Schedules,
            "backups/schedules",
            Paging::Single,
            site_id,
        )
        .await
    }

    /// The account's remote backup integrations, without credentials.
    pub async fn backup_integrations(
        &self,
        token: &Secret,
    ) -> Result<Vec<wire::Integration>, ApiError> {
        let resp: wire::IntegrationsResponse = self
            .get_json(
                token,
                Endpoint::BackupIntegrations,
                "backups/integrations",
                &[],
                self.opts.max_items,
            )
            .await?;
        Ok(resp.integrations)
    }

    /// The integrations attached to one site (per-site detail; off by default).
    pub async fn site_integrations(
        &self,
        token: &Secret,
        site_id: u64,
    ) -> Result<Vec<wire::Integration>, ApiError> {
        let resp: wire::IntegrationsResponse = self
            .get_json(
                token,
                Endpoint::SiteIntegrations,
                &format!("backups/integrations/{site_id}"),
                &[],
                self.opts.max_items,
            )
            .await?;
        Ok(resp.integrations)
    }

    /// One site (per-site detail; nothing calls it by default).
    pub async fn site(&self, token: &Secret, site_id: u64) -> Result<wire::Site, ApiError> {
        let resp: wire::Single<wire::Site> = self
            .get_json(
                token,
                Endpoint::Site,
                &format!("site/{site_id}"),
                &[],
                self.opts.max_items,
            )
            .await?;
        Ok(resp.0)
    }

    /// One server (nothing calls it by default).
    pub async fn server(&self, token: &Secret, server_id: u64) -> Result<wire::Server, ApiError> {
        let resp: wire::Single<wire::Server> = self
            .get_json(
                token,
                Endpoint::Server,
                &format!("server/{server_id}"),
                &[],
                self.opts.max_items,
            )
            .await?;
        Ok(resp.0)
    }

    /// One site's prune schedules (per-site detail; off by default).
    pub async fn prune_schedule(
        &self,
        token: &Secret,
        site_id: u64,
    ) -> Result<wire::PruneSchedules, ApiError> {
        let resp: wire::PruneScheduleResponse = self
            .get_json(
                token,
                Endpoint::PruneSchedule,
                &format!("backups/prune-schedule/{site_id}"),
                &[],
                self.opts.max_items,
            )
            .await?;
        Ok(resp.data.unwrap_or_default())
    }

    /// One site's backup record (`GET /backups/original/{id}`), read by the
    /// bounded record reader ([`super::record`]) with names in `offset`:
    /// the body is read up to [`super::record::MAX_RECORD_BYTES`] and never
    /// held as a JSON tree. A record that cannot be understood is
    /// [`ApiError::Record`], with its reason.
    pub async fn backup_history(
        &self,
        token: &Secret,
        site_id: u64,
        offset: chrono::FixedOffset,
    ) -> Result<history::Found, ApiError> {
        let ep = Endpoint::BackupHistory;
        let path = format!("backups/original/{site_id}");
        let url = self.url(ep, &path, &[])?;
        let limit = (super::record::MAX_RECORD_BYTES as u64).min(self.opts.max_body_bytes);
        let decode = |body: &[u8]| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            super::record::read(body, offset, now).map_err(|reason| ApiError::Record {
                endpoint: ep,
                reason,
            })
        };
        self.get_at(token, ep, &url, limit, decode)
            .await
            .map_err(|e| ApiError::At {
                url: shown(&url),
                inner: Box::new(e),
            })
    }

    /// Asks GridPane to have the site's server re-list its backups
    /// (`GET /backups/refresh/{id}`): work on the customer's server.
    pub async fn refresh_backups(&self, token: &Secret, site_id: u64) -> Result<(), ApiError> {
        let path = format!("backups/refresh/{site_id}");
        self.raw(token, Endpoint::BackupRefresh, &path, &[])
            .await
            .map(drop)
    }

    /// Any route's body as JSON, within the budget and with the usual
    /// retries (`success: false` is an error); for the backup record and
    /// `inspect`.
    pub(crate) async fn raw(
        &self,
        token: &Secret,
        ep: Endpoint,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, ApiError> {
        let body: wire::AnyBody = self
            .get_json(token, ep, path, query, self.opts.max_items)
            .await?;
        Ok(body.0)
    }

    /// Every item of a paginated list endpoint, page after page, until a
    /// page is empty or the envelope says it is the last ([`Paging`]), within
    /// `max_pages` and `max_items`. A page that brings no item not seen before
    /// means the upstream ignores `page`: a pagination error, not a loop.
    async fn paged<T: DeserializeOwned>(
        &self,
        token: &Secret,
        ep: Endpoint,
        path: &str,
        paging: Paging,
        id: impl Fn(&T) -> u64,
    ) -> Result<Vec<T>, ApiError> {
        let mut out: Vec<T> = Vec::new();
        let mut seen = HashSet::new();
        for page in 1..=self.opts.max_pages {
            let query = paging.query(page, self.opts.per_page);
            let left = self.opts.max_items.saturating_sub(out.len());
            let resp: wire::Page<T> = self.get_json(token, ep, path, &query, left).await?;
            if resp.data.is_empty() {
                return Ok(out);
            }
            let before = seen.len();
            seen.extend(resp.data.iter().map(&id));
            if seen.len() == before {
                return Err(ApiError::Pagination {
                    endpoint: ep,
                    pages: page,
                });
            }
            let last = match paging {
                Paging::Numbered => resp.marked_last(),
                Paging::Single => !resp.marked_more(),
            };
            out.extend(resp.data);
            if last {
                return Ok(out);
            }
        }
        Err(ApiError::Pagination {
            endpoint: ep,
            pages: self.opts.max_pages,
        })
    }

    /// GETs and decodes one response holding at most `items` list items.
    /// Errors name the URL ([`ApiError::At`]).
    async fn get_json<T: DeserializeOwned + Envelope>(
        &self,
        token: &Secret,
        ep: Endpoint,
        path: &str,
        query: &[(&str, String)],
        items: usize,
    ) -> Result<T, ApiError> {
        let url = self.url(ep, path, query)?;
        let max_items = self.opts.max_items;
        self.get_at(token, ep, &url, self.opts.max_body_bytes, |body| {
            decode_capped(ep, body, items, max_items)
        })
        .await
        .map_err(|e| ApiError::At {
            url: shown(&url),
            inner: Box::new(e),
        })
    }

    /// The URL of `path` with `query`.
    fn url(&self, ep: Endpoint, path: &str, query: &[(&str, String)]) -> Result<Url, ApiError> {
        let mut url = self.api_root.join(path).map_err(|e| ApiError::Network {
            endpoint: ep,
            message: format!("bad URL: {e}"),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }
}
