use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue,
};
use secrecy::zeroize::Zeroizing;
use serde::de::DeserializeOwned;
use url::Url;

use super::budget::{Budget, BudgetOptions, Observation};
use super::endpoint::Endpoint;
use super::error::ApiError;
use super::history;
use super::secret::{ExposeSecret as _, Secret};
use super::wait::{RateLimitWait, Waits};
use super::wire::{self, Envelope};

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

/// Wait after a 429 that carries no usable header (GridPane's own scripts
/// sleep 31 s after "Beep, Beep").
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(31);
/// The longest wait a header may ask for; beyond it the request fails.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(300);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const RATE_LIMIT_TEXT: &str = "Beep, Beep";

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

enum Attempt {
    Done(bytes::Bytes),
    /// How long GridPane asked to wait, and whether the account-wide budget
    /// (not only the endpoint's) is exhausted.
    RateLimited(Duration, bool),
    Transient(ApiError),
    Fatal(ApiError),
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
    /// tolerant reader with names in `offset`. A body with content in which
    /// no backup name is recognised is [`ApiError::UnknownShape`].
    pub async fn backup_history(
        &self,
        token: &Secret,
        site_id: u64,
        offset: chrono::FixedOffset,
    ) -> Result<history::Found, ApiError> {
        let ep = Endpoint::BackupHistory;
        let path = format!("backups/original/{site_id}");
        let body = self.raw(token, ep, &path, &[]).await?;
        history::read(&body, offset).map_err(|e| ApiError::At {
            url: self.shown_url(&path),
            inner: Box::new(ApiError::UnknownShape {
                endpoint: ep,
                shape: e.shape,
            }),
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

    /// The URL of `path` as errors show it.
    fn shown_url(&self, path: &str) -> String {
        self.api_root
            .join(path)
            .map_or_else(|_| path.to_string(), |url| shown(&url))
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
        let mut url = self.api_root.join(path).map_err(|e| ApiError::Network {
            endpoint: ep,
            message: format!("bad URL: {e}"),
        })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        self.get_json_at(token, ep, &url, items)
            .await
            .map_err(|e| ApiError::At {
                url: shown(&url),
                inner: Box::new(e),
            })
    }

    async fn get_json_at<T: DeserializeOwned + Envelope>(
        &self,
        token: &Secret,
        ep: Endpoint,
        url: &Url,
        items: usize,
    ) -> Result<T, ApiError> {
        // The header keeps its own copy (marked sensitive); the formatted
        // one is zeroed when dropped, like the token.
        let header = Zeroizing::new(format!("Bearer {}", token.expose_secret()));
        let mut bearer =
            HeaderValue::from_str(&header).map_err(|_| ApiError::InvalidToken { endpoint: ep })?;
        bearer.set_sensitive(true);

        let mut backoff = Duration::from_secs(1);
        let mut attempt: u32 = 0;
        // A retry after a 429 has waited out its own block already.
        let mut honour_block = true;
        loop {
            attempt += 1;
            let outcome = {
                let slot = self.pace(ep, honour_block).await;
                // Answered or given up (even by a cancelled poll): the
                // request no longer waits for GridPane's count.
                let _settle = Settle(&self.budget, ep, slot);
                self.attempt(ep, url, bearer.clone(), slot).await
            };
            honour_block = true;
            let retries_left = attempt <= self.opts.max_retries;
            match outcome {
                Attempt::Done(body) => {
                    return decode_capped(ep, &body, items, self.opts.max_items);
                }
                Attempt::RateLimited(wait, account_wide) => {
                    // Every later request to this endpoint (or account)
                    // waits too: the next poll and the detail task included.
                    let wait = wait + jitter(Duration::from_secs(3));
                    self.budget
                        .rate_limited(ep, wait, account_wide, tokio::time::Instant::now());
                    if !retries_left {
                        return Err(ApiError::RateLimited {
                            endpoint: ep,
                            attempts: attempt,
                        });
                    }
                    self.with_tally(|t| t.waited += wait);
                    let _shown = self.waits.begin(&self.account, ep, wait, true);
                    (self.sleeper)(wait).await;
                    honour_block = false;
                }
                Attempt::Transient(e) if retries_left => {
                    let wait = backoff + jitter(backoff / 4);
                    // Said at once: the request's last failure ends the poll
                    // only after every retry.
                    tracing::warn!(
                        account = %self.account,
                        url = %shown(url),
                        reason = e.reason(),
                        error = %e.detail(),
                        attempt,
                        retry_in_ms = wait.as_millis() as u64,
                        "request failed, retrying"
                    );
                    (self.sleeper)(wait).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Attempt::Transient(e) | Attempt::Fatal(e) => return Err(e),
            }
        }
    }

    /// Waits for this request's slot in the account's budget.
    /// Returns the reservation's id.
    async fn pace(&self, ep: Endpoint, honour_block: bool) -> u64 {
        let slot = self
            .budget
            .reserve_slot(ep, tokio::time::Instant::now(), honour_block);
        if !slot.wait.is_zero() {
            self.with_tally(|t| t.waited += slot.wait);
            let _shown = slot
                .blocked
                .then(|| self.waits.begin(&self.account, ep, slot.wait, false));
            (self.sleeper)(slot.wait).await;
        }
        slot.id
    }

    async fn attempt(&self, ep: Endpoint, url: &Url, bearer: HeaderValue, slot: u64) -> Attempt {
        let sent = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, bearer)
            .header(ACCEPT, "application/json")
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                self.count(ep, "error");
                return Attempt::Transient(self.transport_error(ep, &e, url));
            }
        };
        let status = resp.status();
        self.count(ep, status.as_str());
        self.record_remaining(ep, resp.headers(), slot);

        if status == StatusCode::TOO_MANY_REQUESTS {
            self.with_tally(|t| *t.rate_limited.entry(ep.route()).or_default() += 1);
            return Attempt::RateLimited(
                rate_limit_wait(resp.headers(), SystemTime::now()),
                account_exhausted(resp.headers()),
            );
        }
        if status.is_redirection() {
            // Never followed (the token must not go to another place), and
            // the Location is not repeated: it may carry credentials.
            return Attempt::Fatal(ApiError::Redirect {
                endpoint: ep,
                status: status.as_u16(),
            });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Attempt::Fatal(ApiError::Auth {
                endpoint: ep,
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            // A rate limit can also hide behind another status: look at the
            // first bytes only, never log them.
            let headers = resp.headers().clone();
            let head = self
                .read_body(ep, url, resp, 4096)
                .await
                .unwrap_or_default();
            if contains(&head, RATE_LIMIT_TEXT) {
                self.with_tally(|t| *t.rate_limited.entry(ep.route()).or_default() += 1);
                return Attempt::RateLimited(
                    rate_limit_wait(&headers, SystemTime::now()),
                    account_exhausted(&headers),
                );
            }
            let err = ApiError::Http {
                endpoint: ep,
                status: status.as_u16(),
            };
            return if status.is_server_error() {
                Attempt::Transient(err)
            } else {
                Attempt::Fatal(err)
            };
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match self
            .read_body(ep, url, resp, self.opts.max_body_bytes)
            .await
        {
            // A JSON answer that mentions the text (an integration named
            // "Beep, Beep backups") is data, not a rate limit.
            Ok(body)
                if contains(&body[..body.len().min(256)], RATE_LIMIT_TEXT)
                    && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() =>
            {
                self.with_tally(|t| *t.rate_limited.entry(ep.route()).or_default() += 1);
                Attempt::RateLimited(DEFAULT_RATE_LIMIT_WAIT, false)
            }
            Ok(body) => match html(content_type.as_deref(), &body) {
                Some(seen) => Attempt::Fatal(ApiError::Html {
                    endpoint: ep,
                    status: status.as_u16(),
                    seen,
                }),
                None => Attempt::Done(body),
            },
            Err(e @ ApiError::TooLarge { .. }) => Attempt::Fatal(e),
            Err(e) => Attempt::Transient(e),
        }
    }

    /// Reads a body up to `limit` bytes, failing (without buffering the
    /// rest) when it is larger.
    async fn read_body(
        &self,
        ep: Endpoint,
        url: &Url,
        mut resp: reqwest::Response,
        limit: u64,
    ) -> Result<bytes::Bytes, ApiError> {
        let too_large = ApiError::TooLarge {
            endpoint: ep,
            limit,
        };
        let declared = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large);
        }
        let mut buf = bytes::BytesMut::with_capacity(
            usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0),
        );
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if (buf.len() + chunk.len()) as u64 > limit {
                        return Err(too_large);
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(buf.freeze()),
                Err(e) => return Err(self.transport_error(ep, &e, url)),
            }
        }
    }

    fn transport_error(&self, ep: Endpoint, e: &reqwest::Error, url: &Url) -> ApiError {
        if e.is_timeout() {
            ApiError::Timeout {
                endpoint: ep,
                timeout: self.opts.timeout,
            }
        } else {
            ApiError::Network {
                endpoint: ep,
                message: describe_transport_error(e, &server_of(url)),
            }
        }
    }

    fn count(&self, ep: Endpoint, code: &str) {
        self.with_tally(|t| {
            *t.requests
                .entry((ep.route(), code.to_string()))
                .or_default() += 1
        });
    }

    fn record_remaining(&self, ep: Endpoint, headers: &HeaderMap, slot: u64) {
        let Some(seen) = observation(headers, SystemTime::now()) else {
            return;
        };
        self.budget
            .answered(ep, slot, Some(seen), tokio::time::Instant::now());
        self.with_tally(|t| {
            if let Some(v) = seen.endpoint_remaining {
                t.remaining.insert(ep.route().to_string(), v);
            }
            if let Some(v) = seen.total_remaining {
                t.remaining.insert("account".to_string(), v);
            }
        });
    }
}

/// Reports a reserved request as answered (or given up) when dropped.
struct Settle<'a>(&'a Budget, Endpoint, u64);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        self.0
            .answered(self.1, self.2, None, tokio::time::Instant::now());
    }
}

/// A URL fit for an error message: no userinfo, no fragment. (Queries hold
/// only `page` and `per_page`: the base URL's own query does not survive
/// joining the route.)
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    url.to_string()
}

/// `host:port` of a URL, for hints.
fn server_of(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or("?"),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Why a 2xx answer is an HTML page rather than JSON, if it is one: its
/// Content-Type, or a body that starts with `<`. Never quotes the body.
fn html(content_type: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(ct) = content_type.filter(|ct| {
        let ct = ct.trim_start().to_ascii_lowercase();
        ct.starts_with("text/html") || ct.starts_with("application/xhtml")
    }) {
        return Some(format!("Content-Type {}", short(ct, MAX_KEY_CHARS)));
    }
    body.trim_ascii_start()
        .starts_with(b"<")
        .then(|| "the body starts with <".to_string())
}

/// The cause of a transport error, with a hint when no server answered at
/// `server` (`host:port`).
fn describe_transport_error(e: &reqwest::Error, server: &str) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection broken while reading the body"
    } else if e.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    describe_cause(kind, e, server)
}

/// `kind: root cause`; when the cause is a lack of file descriptors, says so
/// and what to raise; when the connection was refused or the host name did
/// not resolve, says what to check.
fn describe_cause(kind: &str, e: &(dyn std::error::Error + 'static), server: &str) -> String {
    let mut source = e.source();
    let mut root = None;
    let mut hint = None;
    while let Some(s) = source {
        let io = s.downcast_ref::<std::io::Error>();
        if io.is_some_and(out_of_file_descriptors) {
            return format!(
                "{kind}: out of file descriptors ({s}); raise the open-file limit (LimitNOFILE, ulimit -n)"
            );
        }
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            hint = Some(format!(
                "is base_url right? the exporter reached no server at {server}"
            ));
        } else if s.to_string().starts_with("dns error") {
            hint = Some(format!(
                "the host name of {server} does not resolve: check base_url and DNS"
            ));
        }
        root = Some(s.to_string());
        source = s.source();
    }
    match (root, hint) {
        (Some(r), Some(h)) => format!("{kind}: {r}; {h}"),
        (Some(r), None) => format!("{kind}: {r}"),
        (None, _) => kind.to_string(),
    }
}

/// EMFILE (the process's open-file limit) or ENFILE (the system's): 24 and
/// 23 on Linux, the BSDs and macOS.
fn out_of_file_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// What the rate-limit headers of a response say, when it has any.
pub(crate) fn observation(headers: &HeaderMap, now: SystemTime) -> Option<Observation> {
    let endpoint_remaining = header_f64(headers, "x-ratelimit-endpoint-remaining");
    let total_remaining = header_f64(headers, "x-ratelimit-total-remaining");
    if endpoint_remaining.is_none() && total_remaining.is_none() {
        return None;
    }
    let endpoint_reset_in = header_f64(headers, "x-ratelimit-endpoint-reset")
        .map(|reset| reset - unix_secs(now))
        .filter(|d| *d > 0.0)
        .map(|d| capped_secs(d, MAX_RATE_LIMIT_WAIT));
    Some(Observation {
        endpoint_remaining,
        total_remaining,
        endpoint_reset_in,
        endpoint_limit: header_f64(headers, "x-ratelimit-endpoint-limit"),
        total_limit: header_f64(headers, "x-ratelimit-total-limit"),
    })
}

fn unix_secs(now: SystemTime) -> f64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Seconds from upstream as a `Duration`, capped at `max` before the
/// conversion (which panics on huge values): negative, NaN and sub-nanosecond
/// values are zero, infinite and huge ones `max`.
pub(crate) fn capped_secs(secs: f64, max: Duration) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    if secs >= max.as_secs_f64() {
        return max;
    }
    Duration::try_from_secs_f64(secs).map_or(max, |d| d.min(max))
}

/// The 429 came from the account-wide budget, not only the endpoint's.
fn account_exhausted(headers: &HeaderMap) -> bool {
    header_f64(headers, "x-ratelimit-total-remaining").is_some_and(|r| r < 1.0)
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// How long to wait after a 429: `Retry-After-Endpoint` seconds, else until
/// `X-RateLimit-Endpoint-Reset` (unix seconds), else `Retry-After` seconds,
/// else 31 s. Capped at five minutes.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Duration {
    let now_unix = unix_secs(now);
    let secs = header_f64(headers, "retry-after-endpoint")
        .or_else(|| {
            header_f64(headers, "x-ratelimit-endpoint-reset")
                .map(|reset| reset - now_unix)
                .filter(|d| *d > 0.0)
        })
        .or_else(|| header_f64(headers, "retry-after"));
    match secs {
        Some(s) if s > 0.0 => capped_secs(s, MAX_RATE_LIMIT_WAIT),
        Some(_) => Duration::from_secs(1),
        None => DEFAULT_RATE_LIMIT_WAIT,
    }
}

fn jitter(max: Duration) -> Duration {
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random_range(0..=ms))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Decodes a body, naming the JSON path of the first problem. The message
/// never quotes a value from the body. Public so that property tests can
/// feed it arbitrary input.
pub fn decode<T: DeserializeOwned + Envelope>(ep: Endpoint, body: &[u8]) -> Result<T, ApiError> {
    decode_capped(ep, body, usize::MAX, usize::MAX)
}

/// [`decode`], failing as soon as the body's lists hold more than `items`
/// items in all (`limit` is the configured cap, for the message).
fn decode_capped<T: DeserializeOwned + Envelope>(
    ep: Endpoint,
    body: &[u8],
    items: usize,
    limit: usize,
) -> Result<T, ApiError> {
    #[derive(serde::Deserialize)]
    struct SuccessOnly {
        #[serde(default, deserialize_with = "super::lenient::opt_bool")]
        success: Option<bool>,
    }
    let (decoded, over_cap) = super::lenient::with_item_cap(items, || {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize::<_, T>(&mut de)
    });
    if over_cap {
        return Err(ApiError::TooManyItems {
            endpoint: ep,
            limit,
        });
    }
    let value = decoded.map_err(|e| {
        // `{"success": false, "message": ...}` lacks the usual fields: say
        // what it is rather than which field is missing.
        if let Ok(SuccessOnly {
            success: Some(false),
        }) = serde_json::from_slice(body)
        {
            return ApiError::Unsuccessful { endpoint: ep };
        }
        let path = describe_path(e.path());
        let inner = e.into_inner();
        let message = match inner.classify() {
            serde_json::error::Category::Eof => "truncated JSON".to_string(),
            serde_json::error::Category::Syntax => "invalid JSON".to_string(),
            serde_json::error::Category::Io => "read error".to_string(),
            serde_json::error::Category::Data => {
                short(&redact_quoted(&inner.to_string()), MAX_MESSAGE_CHARS)
            }
        };
        ApiError::Decode {
            endpoint: ep,
            path,
            message,
        }
    })?;
    if value.unsuccessful() {
        return Err(ApiError::Unsuccessful { endpoint: ep });
    }
    Ok(value)
}

/// Longest key a decode error quotes, in characters.
const MAX_KEY_CHARS: usize = 40;
/// Longest serde message a decode error repeats, in characters.
const MAX_MESSAGE_CHARS: usize = 160;

/// A decode error's JSON path, fit for a log line: keys are cut short and
/// escaped, and inside `integrations` (objects that hold provider
/// credentials) only the keys the decoder reads are quoted.
fn describe_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut credentials = false;
    for segment in path.iter() {
        let key = match segment {
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                continue;
            }
            Segment::Map { key } | Segment::Enum { variant: key } => key.as_str(),
            Segment::Unknown => "?",
        };
        if !out.is_empty() {
            out.push('.');
        }
        if credentials && !wire::INTEGRATION_FIELDS.contains(&key) {
            out.push_str("<key>");
        } else {
            out.push_str(&short(key, MAX_KEY_CHARS));
        }
        credentials |= key == "integrations";
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// At most `max` characters of `text`, control characters and quotes
/// escaped, with `…` when cut.
fn short(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .by_ref()
        .take(max)
        .flat_map(char::escape_debug)
        .collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Drops quoted values from a serde message (`invalid type: string "x"`),
/// and the line/column suffix.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quote = false;
    for c in message.chars() {
        match (c, in_quote) {
            ('"', false) => {
                in_quote = true;
                out.push_str("\"…");
            }
            ('"', true) => {
                in_quote = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    match out.find(" at line ") {
        Some(i) => out[..i].to_string(),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_endpoint_wins_over_every_other_header() {
        let h = headers(&[
            ("retry-after-endpoint", "27"),
            ("x-ratelimit-endpoint-reset", "1000100"),
            ("retry-after", "5"),
        ]);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(rate_limit_wait(&h, now), Duration::from_secs(27));
    }

    #[test]
    fn endpoint_reset_is_read_as_a_unix_time() {
        let h = headers(&[
            ("x-ratelimit-endpoint-reset", "1000040"),
            ("retry-after", "5"),
        ]);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(rate_limit_wait(&h, now), Duration::from_secs(40));
    }

    #[test]
    fn a_reset_in_the_past_falls_back_to_retry_after() {
        let h = headers(&[
            ("x-ratelimit-endpoint-reset", "999000"),
            ("retry-after", "5"),
        ]);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(rate_limit_wait(&h, now), Duration::from_secs(5));
    }

    #[test]
    fn no_header_waits_thirty_one_seconds() {
        assert_eq!(
            rate_limit_wait(&HeaderMap::new(), SystemTime::now()),
            Duration::from_secs(31)
        );
    }

    #[test]
    fn an_absurd_wait_is_capped_at_five_minutes() {
        let h = headers(&[("retry-after-endpoint", "86400")]);
        assert_eq!(rate_limit_wait(&h, SystemTime::now()), MAX_RATE_LIMIT_WAIT);
    }

    #[test]
    fn durations_from_upstream_are_capped_before_they_become_durations() {
        let max = MAX_RATE_LIMIT_WAIT;
        for (secs, want) in [
            (1e300, max),
            (1e20, max),
            (1.85e19, max),
            (f64::INFINITY, max),
            (f64::NAN, Duration::ZERO),
            (f64::NEG_INFINITY, Duration::ZERO),
            (-5.0, Duration::ZERO),
            (1e-300, Duration::ZERO),
            (27.5, Duration::from_millis(27_500)),
        ] {
            assert_eq!(capped_secs(secs, max), want, "{secs}");
        }
    }

    #[test]
    fn a_reset_far_in_the_future_blocks_for_at_most_the_cap() {
        let h = headers(&[
            ("x-ratelimit-endpoint-remaining", "0"),
            ("x-ratelimit-endpoint-reset", "1e300"),
        ]);
        let seen = observation(&h, SystemTime::now()).unwrap();
        assert_eq!(seen.endpoint_reset_in, Some(MAX_RATE_LIMIT_WAIT));
        let h = headers(&[("retry-after-endpoint", "1e20")]);
        assert_eq!(rate_limit_wait(&h, SystemTime::now()), MAX_RATE_LIMIT_WAIT);
    }

    /// A header value: a number written any way, or arbitrary header text.
    fn header_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            any::<f64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:e}")),
            any::<i64>().prop_map(|v| v.to_string()),
            "[-+0-9.eE]{1,40}",
            "(-)?(inf|infinity|NaN|nan)",
            "[ -~]{0,40}",
        ]
    }

    proptest::proptest! {
        #[test]
        fn rate_limit_headers_never_panic_and_never_ask_to_wait_past_the_cap(
            values in proptest::collection::vec(header_value(), 6),
            now_secs in 0u64..4_000_000_000,
        ) {
            const NAMES: [&str; 6] = [
                "retry-after-endpoint",
                "retry-after",
                "x-ratelimit-endpoint-reset",
                "x-ratelimit-endpoint-remaining",
                "x-ratelimit-endpoint-limit",
                "x-ratelimit-total-remaining",
            ];
            let mut h = HeaderMap::new();
            for (name, value) in NAMES.iter().zip(&values) {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(*name, v);
                }
            }
            let now = UNIX_EPOCH + Duration::from_secs(now_secs);
            proptest::prop_assert!(rate_limit_wait(&h, now) <= MAX_RATE_LIMIT_WAIT);
            if let Some(seen) = observation(&h, now) {
                proptest::prop_assert!(
                    seen.endpoint_reset_in.is_none_or(|d| d <= MAX_RATE_LIMIT_WAIT)
                );
                let budget = Budget::new(BudgetOptions {
                    account_per_minute: 0,
                    endpoint_units_per_minute: 0,
                });
                let t0 = tokio::time::Instant::now();
                budget.observe(Endpoint::Sites, seen, t0);
                proptest::prop_assert!(
                    budget.reserve(Endpoint::Sites, t0, true) <= MAX_RATE_LIMIT_WAIT
                );
            }
        }
    }

    /// A layer of an error chain, as reqwest and hyper nest them.
    #[derive(Debug)]
    struct Layer(&'static str, Box<dyn std::error::Error + Send + Sync>);
    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.1)
        }
    }

    /// A send error whose connector failed with `cause`.
    fn send_error(connector: &'static str, cause: std::io::Error) -> Layer {
        let connect = Layer(connector, Box::new(cause));
        Layer("error sending request", Box::new(connect))
    }

    #[test]
    fn running_out_of_file_descriptors_is_named_as_such() {
        for errno in [23, 24] {
            let e = send_error(
                "tcp connect error",
                std::io::Error::from_raw_os_error(errno),
            );
            let message = describe_cause("connection failed", &e, "h:1");
            assert!(
                message.starts_with("connection failed: out of file descriptors"),
                "{message}"
            );
            assert!(message.contains("open-file limit"), "{message}");
        }
    }

    #[test]
    fn a_refused_connection_or_an_unresolved_host_says_what_to_check() {
        let refused = send_error(
            "tcp connect error",
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        );
        assert_eq!(
            describe_cause("connection failed", &refused, "gp.example:443"),
            "connection failed: connection refused; is base_url right? the exporter reached no server at gp.example:443"
        );
        // hyper-util's connector names a failed lookup "dns error".
        let unresolved = send_error(
            "dns error",
            std::io::Error::other(
                "failed to lookup address information: Name or service not known",
            ),
        );
        assert_eq!(
            describe_cause("connection failed", &unresolved, "gp.example:443"),
            "connection failed: failed to lookup address information: Name or service not known; the host name of gp.example:443 does not resolve: check base_url and DNS"
        );
        let reset = send_error(
            "tcp connect error",
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        );
        assert_eq!(
            describe_cause("connection failed", &reset, "gp.example:443"),
            "connection failed: connection reset"
        );
    }

    #[test]
    fn an_html_page_is_named_by_its_content_type_or_its_first_byte() {
        assert_eq!(
            html(Some("text/html; charset=UTF-8"), b"{}").as_deref(),
            Some("Content-Type text/html; charset=UTF-8")
        );
        assert_eq!(
            html(
                Some("application/json"),
                b"  \n<!DOCTYPE html><p>secret</p>"
            )
            .as_deref(),
            Some("the body starts with <")
        );
        assert_eq!(html(Some("application/json"), b"{\"data\": []}"), None);
        assert_eq!(html(None, b"[]"), None);
    }

    #[test]
    fn a_url_in_an_error_never_carries_credentials() {
        let url = Url::parse("https://user:hunter2@gp.example/oauth/api/v1/site?page=2#x").unwrap();
        assert_eq!(shown(&url), "https://gp.example/oauth/api/v1/site?page=2");
        assert_eq!(server_of(&url), "gp.example:443");
    }

    #[test]
    fn decode_errors_name_the_path_and_never_quote_the_body() {
        let body = br#"{"data": [{"id": 1, "url": "a"}, {"id": "secret-looking", "url": "b"}]}"#;
        let err = decode::<wire::Page<wire::Site>>(Endpoint::Sites, body).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("data[1].id"), "{msg}");
        assert!(!msg.contains("secret-looking"), "{msg}");
        assert_eq!(err.reason(), "decode");
    }

    #[test]
    fn a_missing_field_that_matters_is_an_error_naming_it() {
        let body = br#"{"data": [{"url": "a"}]}"#;
        let msg = decode::<wire::Page<wire::Site>>(Endpoint::Sites, body)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "/site: unexpected response at data[0]: missing field `id`"
        );
    }

    #[test]
    fn truncated_json_is_named_as_such() {
        let body = br#"{"data": [{"id": 1, "url": "a"#;
        let msg = decode::<wire::Page<wire::Site>>(Endpoint::Sites, body)
            .unwrap_err()
            .to_string();
        assert!(msg.ends_with("truncated JSON"), "{msg}");
    }

    #[test]
    fn success_false_inside_a_200_is_an_error() {
        let body = br#"{"success": false, "message": "nope", "integrations": []}"#;
        let err =
            decode::<wire::IntegrationsResponse>(Endpoint::BackupIntegrations, body).unwrap_err();
        assert_eq!(err.reason(), "unsuccessful");
    }

    #[test]
    fn a_page_without_data_is_an_error_not_an_empty_fleet() {
        let body = br#"{"success": false, "message": "nope"}"#;
        assert!(decode::<wire::Page<wire::Site>>(Endpoint::Sites, body).is_err());
    }
}
