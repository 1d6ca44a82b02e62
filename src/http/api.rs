//! The JSON API's routes and handlers under `/api/v1/`, and the shared,
//! budgeted bodies of its list answers. The answers themselves are built by
//! [`crate::render::api`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use axum::Router;
use axum::body::HttpBody;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};
use tower_http::compression::predicate::{Predicate, SizeAbove};

use super::access::Viewer;
use super::{Web, accepts_gzip, gzip};
use crate::config::access::Scope;
use crate::domain::Assessed;
use crate::render::api::{ListRoute, ParamError, View, build, index, status, strict_params};

pub(crate) fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/api/v1/status", get(status_handler))
        .route("/api/v1/sites", get(sites_handler))
        .route("/api/v1/schedules", get(schedules_handler))
        .route("/api/v1/integrations", get(integrations_handler))
        .route("/api/v1", get(index_handler))
        .route("/api/v1/", get(index_handler))
        .route("/api/v1/{*rest}", get(not_found_handler))
        // Answers built per request (status, the index, refusals) are
        // compressed as they stream out; the shared list answers carry
        // their own cached gzip (see `SharedAnswer::gzip`).
        .layer(super::compression().compress_when(SizeAbove::new(GZIP_ABOVE + 1).and(NotShared)))
}

/// Marks a response whose body is a shared answer: `shared_answer` sent
/// it gzipped or not already, and the compression layer leaves it as it
/// is (a plain shared answer to a gzip client is one the budget had no
/// room to compress).
#[derive(Clone, Copy, Debug)]
struct Shared;

/// True for a response that is not a shared answer.
#[derive(Clone, Copy, Debug)]
struct NotShared;

impl Predicate for NotShared {
    fn should_compress<B: HttpBody>(&self, response: &axum::http::Response<B>) -> bool {
        response.extensions().get::<Shared>().is_none()
    }
}

// ---------------------------------------------------------------------------
// Shared answers.

/// Distinct answers kept for reuse, at most.
const SHARED_ANSWERS: usize = 16;
/// Answers up to this size are sent as they are, never gzipped.
const GZIP_ABOVE: u16 = 1024;
/// Bytes that serialised list answers may hold at once, by default.
pub(crate) const DEFAULT_ANSWER_BYTES: usize = 64 << 20;

/// Serialised list answers, shared by every request for the same snapshots
/// and query: a client that reads slowly (or never) holds a reference to a
/// shared body, not a copy of its own. Every body, cached or still being
/// sent, holds permits for its bytes from one budget, so all of them
/// together never exceed it; an answer that finds no room is a 503.
#[derive(Debug)]
pub(crate) struct SharedAnswers {
    entries: Mutex<VecDeque<Arc<SharedAnswer>>>,
    /// Concurrent misses build an answer once between them.
    building: tokio::sync::Mutex<()>,
    budget: Arc<Semaphore>,
    budget_bytes: u32,
}

#[derive(Debug)]
struct SharedAnswer {
    endpoint: ListRoute,
    query: Option<String>,
    /// The accounts it was built for: an answer serves only viewers who
    /// may see exactly these.
    scope: Arc<Scope>,
    /// The snapshots it was built from, per account (as in the exposition
    /// cache: weak, and compared by address).
    sources: Vec<Option<Weak<Assessed>>>,
    built_at: DateTime<Utc>,
    /// The earliest next run in the answer (unix seconds): from then on a
    /// fresh answer differs.
    valid_until: Option<i64>,
    body: Arc<Held>,
    /// Compressed on first use, then sent to every gzip client; `None`
    /// when the budget had no room for it. Kept rather than compressing
    /// each response as it streams out (tower-http's `CompressionLayer`,
    /// which the page and the answers built per request use): measured at
    /// 10k sites, that served the whole site list 25 times less often
    /// (32 against 804 requests/s) and a 100-site page 4.5 times less
    /// often, and 150 gzip clients that never read took 133 MiB at peak
    /// against 83 MiB, each holding its own compressor outside the budget
    /// (docs/performance.md, "Compression of the page and the API").
    gzip: OnceCell<Option<Arc<Held>>>,
}

impl SharedAnswer {
    fn serves(
        &self,
        endpoint: ListRoute,
        query: Option<&str>,
        scope: &Scope,
        view: &View,
        now: DateTime<Utc>,
    ) -> bool {
        self.endpoint == endpoint
            && self.query.as_deref() == query
            && *self.scope == *scope
            && self.sources.len() == view.accounts.len()
            && self.sources.iter().zip(&view.accounts).all(|(cached, a)| {
                cached.as_ref().map(Weak::as_ptr) == a.state.snapshot.as_ref().map(Arc::as_ptr)
            })
            && self.built_at <= now
            && self.valid_until.is_none_or(|until| now.timestamp() < until)
    }

    /// A response is still sending its body.
    fn in_use(&self) -> bool {
        Arc::strong_count(&self.body) > 1
            || self
                .gzip
                .get()
                .and_then(Option::as_ref)
                .is_some_and(|gz| Arc::strong_count(gz) > 1)
    }
}

/// A body and the budget permits for its bytes, released with its last
/// reference.
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    _permit: OwnedSemaphorePermit,
}

/// A response's reference to a shared body.
struct Sending(Arc<Held>);

impl AsRef<[u8]> for Sending {
    fn as_ref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl Sending {
    fn bytes(held: &Arc<Held>) -> Bytes {
        Bytes::from_owner(Sending(Arc::clone(held)))
    }
}

impl Default for SharedAnswers {
    fn default() -> Self {
        SharedAnswers::new(DEFAULT_ANSWER_BYTES)
    }
}

impl SharedAnswers {
    /// `budget_bytes`: what all bodies together may hold (at most 4 GiB).
    /// An answer larger than the budget is served alone.
    pub(crate) fn new(budget_bytes: usize) -> Self {
        let budget_bytes = u32::try_from(budget_bytes.max(1)).unwrap_or(u32::MAX);
        SharedAnswers {
            entries: Mutex::new(VecDeque::new()),
            building: tokio::sync::Mutex::new(()),
            budget: Arc::new(Semaphore::new(budget_bytes as usize)),
            budget_bytes,
        }
    }

    fn with_entries<R>(&self, f: impl FnOnce(&mut VecDeque<Arc<SharedAnswer>>) -> R) -> R {
        match self.entries.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn find(
        &self,
        endpoint: ListRoute,
        query: Option<&str>,
        scope: &Scope,
        view: &View,
        now: DateTime<Utc>,
    ) -> Option<Arc<SharedAnswer>> {
        self.with_entries(|e| {
            e.retain(|a| a.sources.iter().flatten().all(|w| w.strong_count() > 0));
            e.iter()
                .find(|a| a.serves(endpoint, query, scope, view, now))
                .cloned()
        })
    }

    /// `bytes` as a body that holds budget for its size; `None` when the
    /// budget has no room, even after dropping the cached answers no
    /// response is sending.
    fn hold(&self, bytes: Vec<u8>) -> Option<Arc<Held>> {
        let need = u32::try_from(bytes.len())
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_bytes);
        let permit = match Arc::clone(&self.budget).try_acquire_many_owned(need) {
            Ok(p) => p,
            Err(_) => {
                self.with_entries(|e| e.retain(|a| a.in_use()));
                Arc::clone(&self.budget).try_acquire_many_owned(need).ok()?
            }
        };
        Some(Arc::new(Held {
            bytes,
            _permit: permit,
        }))
    }

    fn insert(&self, answer: Arc<SharedAnswer>) {
        self.with_entries(|e| {
            if e.len() >= SHARED_ANSWERS {
                e.pop_front();
            }
            e.push_back(answer);
        });
    }
}

/// Answers a list endpoint from the shared answers, building (and sharing)
/// the answer when none serves. The body of the response is the shared
/// allocation itself.
pub async fn shared_answer(
    web: &Web,
    viewer: &Viewer,
    endpoint: ListRoute,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let cache = &web.answers;
    let scope = viewer.scope();
    let view = viewer.view(&web.store);
    let answer = match cache.find(endpoint, query, scope, &view, Utc::now()) {
        Some(a) => a,
        None => {
            let _building = cache.building.lock().await;
            // Another request may have built it while this one waited.
            let view = viewer.view(&web.store);
            let now = Utc::now();
            match cache.find(endpoint, query, scope, &view, now) {
                Some(a) => a,
                None => {
                    let (json, valid_until) = match build(endpoint, &view, query, now) {
                        Ok(built) => built,
                        Err(e) => return json_response::<()>(Err(e)),
                    };
                    let json = match json {
                        Ok(j) => j,
                        Err(e) => return serialisation_failed(&e),
                    };
                    let Some(body) = cache.hold(json) else {
                        return no_room();
                    };
                    let answer = Arc::new(SharedAnswer {
                        endpoint,
                        query: query.map(str::to_string),
                        scope: Arc::clone(scope),
                        sources: view
                            .accounts
                            .iter()
                            .map(|a| a.state.snapshot.as_ref().map(Arc::downgrade))
                            .collect(),
                        built_at: now,
                        valid_until,
                        body,
                        gzip: OnceCell::new(),
                    });
                    cache.insert(Arc::clone(&answer));
                    answer
                }
            }
        }
    };
    let gzipped = if answer.body.bytes.len() > usize::from(GZIP_ABOVE) && accepts_gzip(headers) {
        answer
            .gzip
            .get_or_init(|| async {
                let body = Arc::clone(&answer.body);
                let gz = tokio::task::spawn_blocking(move || gzip(&body.bytes))
                    .await
                    .unwrap_or_else(|_| gzip(&answer.body.bytes));
                cache.hold(gz)
            })
            .await
            .as_ref()
    } else {
        None
    };
    let mut resp = match gzipped {
        Some(gz) => json_body(StatusCode::OK, Sending::bytes(gz), true),
        None => json_body(StatusCode::OK, Sending::bytes(&answer.body), false),
    };
    resp.extensions_mut().insert(Shared);
    resp
}

fn serialisation_failed(e: &serde_json::Error) -> Response {
    tracing::error!(error = %e, "cannot serialise an API answer");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"error\":\"internal error\"}",
    )
        .into_response()
}

/// The budget for answer bodies is spent by answers still being sent.
fn no_room() -> Response {
    tracing::debug!("API answer refused: the answer budget is in use");
    let mut resp = json_body(
        StatusCode::SERVICE_UNAVAILABLE,
        Bytes::from_static(b"{\"error\":\"too many large answers are being sent; retry shortly\"}"),
        false,
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

// ---------------------------------------------------------------------------
// Handlers.

/// Serialises an answer, or the 400 naming the bad parameter.
fn json_response<T: Serialize>(answer: Result<T, ParamError>) -> Response {
    let (status, body) = match answer {
        Ok(a) => (StatusCode::OK, serde_json::to_vec(&a)),
        Err(e) => (StatusCode::BAD_REQUEST, serde_json::to_vec(&e)),
    };
    match body {
        Ok(b) => json_body(status, Bytes::from(b), false),
        Err(e) => serialisation_failed(&e),
    }
}

fn json_body(status: StatusCode, body: Bytes, gzipped: bool) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if gzipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

async fn status_handler(
    State(web): State<Arc<Web>>,
    Extension(viewer): Extension<Viewer>,
    RawQuery(raw): RawQuery,
) -> Response {
    let answer =
        strict_params(raw.as_deref(), &[]).map(|_| status(&viewer.view(&web.store), Utc::now()));
    json_response(answer)
}

async fn sites_handler(
    State(web): State<Arc<Web>>,
    Extension(viewer): Extension<Viewer>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    shared_answer(&web, &viewer, ListRoute::Sites, raw.as_deref(), &headers).await
}

async fn schedules_handler(
    State(web): State<Arc<Web>>,
    Extension(viewer): Extension<Viewer>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    shared_answer(
        &web,
        &viewer,
        ListRoute::Schedules,
        raw.as_deref(),
        &headers,
    )
    .await
}

async fn integrations_handler(
    State(web): State<Arc<Web>>,
    Extension(viewer): Extension<Viewer>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    shared_answer(
        &web,
        &viewer,
        ListRoute::Integrations,
        raw.as_deref(),
        &headers,
    )
    .await
}

async fn index_handler(RawQuery(raw): RawQuery) -> Response {
    json_response(strict_params(raw.as_deref(), &[]).map(|_| index()))
}

async fn not_found_handler() -> Response {
    let body = serde_json::json!({
        "error": "no such endpoint; see /api/v1/ for the list: /api/v1/status, /api/v1/sites, /api/v1/schedules, /api/v1/integrations"
    });
    json_body(StatusCode::NOT_FOUND, Bytes::from(body.to_string()), false)
}
