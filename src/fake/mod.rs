//! An in-process fake of GridPane's read-only API (`/oauth/api/v1`).
//!
//! It serves the response shapes described in `gridpane-api.md`, including
//! the type drift seen in the wild, from a deterministic [`Fleet`]. Tests
//! inject [`Fault`]s per [`FakeEndpoint`] and read back what the client sent with
//! [`FakeGridPane::requests`]. The `--demo` mode serves [`FleetSpec::demo`].
//!
//! The JSON is built from `serde_json::Value` on purpose: nothing here depends
//! on the client's decoding types.

pub mod bucket;
mod drift;
mod faults;
pub mod fleet;
pub mod history;
mod ratelimit;
mod render;
mod server;

use std::time::Duration;

pub use drift::SiteDrift;
pub use fleet::{
    FakeFrequency, FakeHistory, FakeIntegration, FakeSchedule, FakeServer, FakeSite, Fleet,
    FleetSpec, HistoryShape, HostileRecord, SiteFault,
};
pub use server::FakeGridPane;

/// Planted in every integration's `token`, so tests can prove it never leaks.
pub const SECRET_TOKEN_SENTINEL: &str = "SENTINEL-PROVIDER-TOKEN-5b1f";
/// Planted in every integration's `secret_token`, so tests can prove it never leaks.
pub const SECRET_SECRET_SENTINEL: &str = "SENTINEL-PROVIDER-SECRET-9c2e";

/// How the fake behaves when no fault is injected.
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// The only Bearer token accepted; anything else gets a 401.
    pub token: String,
    /// Page size when the request has no usable `per_page` (the real default is unknown).
    pub default_per_page: usize,
    /// Larger `per_page` values are clamped to this.
    pub max_per_page: usize,
    /// `None` serves without limits and without rate-limit headers.
    pub rate_limit: Option<RateLimit>,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            token: "demo-token".to_owned(),
            default_per_page: 15,
            max_per_page: 500,
            rate_limit: None,
        }
    }
}

impl FakeOptions {
    /// The same options with rate limiting switched on.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }
}

/// Fixed one-minute windows: one per [`FakeEndpoint`] counted in units, one for
/// the whole account counted in requests.
#[derive(Clone, Debug)]
pub struct RateLimit {
    pub endpoint_per_minute: u32,
    pub account_per_minute: u32,
    /// Units one `GET /site` list page costs against its endpoint budget.
    pub site_page_cost: u32,
}

impl RateLimit {
    /// The numbers observed on the real API: 12 units per endpoint, 60
    /// requests per account, a `/site` page costs 2.
    pub fn gridpane() -> Self {
        Self {
            endpoint_per_minute: 12,
            account_per_minute: 60,
            site_page_cost: 2,
        }
    }
}

/// A rate-limit bucket and fault target. The `/backups/schedules/site/{id}`
/// and `/backups/schedules/server/{id}` variants count as [`FakeEndpoint::Schedules`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FakeEndpoint {
    Sites,
    Servers,
    Schedules,
    BackupIntegrations,
    UserIntegrations,
    Domains,
    SiteDetail,
    ServerDetail,
    PruneSchedule,
    SiteIntegrations,
    BackupHistory,
    BackupRefresh,
}

/// A misbehaviour to inject on one endpoint.
#[derive(Clone, Debug)]
pub enum Fault {
    /// This status. 502, 503 and 504 get an nginx HTML page, anything else a
    /// JSON `{"message": ...}`. Codes outside 100..=999 become 500.
    Status(u16),
    /// 401 `{"message":"Unauthenticated."}` even with the right token.
    Unauthorized,
    /// 429 "Beep, Beep" with the full set of rate-limit headers.
    RateLimited { retry_after_endpoint_secs: u64 },
    /// 429 with the "Beep, Beep" text as a plain-text body and no rate-limit headers.
    RateLimitedBodyOnly,
    /// The correct response, after this delay.
    Delay(Duration),
    /// The first half of the correct body's bytes.
    TruncatedJson,
    /// `"data": "oops"` where `data` is a list, otherwise every `id` wrapped in an object.
    WrongTypes,
    /// Every `id` and `url` key removed (outside `links` and `meta`).
    MissingFields,
    /// 200 `{"success": false, "message": ...}`.
    SuccessFalse,
    /// 200 with a valid JSON list of about this many bytes, streamed without a length.
    HugeBody(usize),
    /// The correct body in small chunks at about this rate.
    Trickle { bytes_per_sec: u64 },
    /// `meta.last_page` huge, `links.next` always set, `data` always page 1.
    EndlessPagination,
    /// The connection is closed without a response.
    Refuse,
    /// The correct response with these headers added (raw values, such as
    /// `("x-ratelimit-endpoint-reset", "1e300")`).
    Headers(Vec<(&'static str, String)>),
    /// 429 "Beep, Beep" with only these headers.
    RateLimitedWith(Vec<(&'static str, String)>),
    /// 200 with exactly this body, as `application/json`.
    Body(String),
    /// 302 to this location.
    Redirect(String),
    /// One last page of this many minimal items (`id` and `url`), streamed
    /// without a length.
    ManyItems(usize),
}

/// How many requests a fault applies to before the endpoint is normal again.
#[derive(Clone, Copy, Debug)]
pub enum FaultCount {
    Times(u32),
    Always,
}

/// One request as the fake saw it. `status` is 0 when the connection was
/// refused. `endpoint` is `None` for unknown routes.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    pub endpoint: Option<FakeEndpoint>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub authorized: bool,
    pub accept_json: bool,
    pub user_agent: Option<String>,
}
