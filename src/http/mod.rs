//! The HTTP server: /metrics, health and readiness, the status page (`/`)
//! and the JSON API (`/api/v1/`). Every handler reads the store; none calls
//! GridPane.

use std::io::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flate2::Compression;
use flate2::write::GzEncoder;
use prometheus::Registry;
use tower_http::compression::{CompressionLayer, CompressionLevel};

pub mod access;
pub mod api;
mod status_page;

use self::access::{AccessRules, Viewer};
use self::api::SharedAnswers;
use crate::render::cache::Expositions;
use crate::render::{metrics, text};
use crate::store::Store;

pub(crate) const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the handlers share.
pub struct Web {
    pub store: Arc<Store>,
    pub telemetry_path: String,
    /// Process metrics (`process_*`).
    process: Registry,
    /// The snapshot part of `/metrics`, rendered once per change, per set
    /// of permitted accounts; `None` renders everything on every scrape (for
    /// benchmarks).
    exposition: Option<Expositions>,
    /// The JSON API's list answers, shared between requests.
    pub(crate) answers: SharedAnswers,
    /// Who may see which accounts.
    pub(crate) access: AccessRules,
}

impl Web {
    pub fn new(store: Arc<Store>, telemetry_path: String) -> Self {
        let process = Registry::new();
        #[cfg(target_os = "linux")]
        {
            let pc = prometheus::process_collector::ProcessCollector::for_self();
            if let Err(e) = process.register(Box::new(pc)) {
                tracing::warn!(error = %e, "process metrics unavailable");
            }
        }
        Web {
            store,
            telemetry_path,
            process,
            exposition: Some(Expositions::default()),
            answers: SharedAnswers::default(),
            access: AccessRules::default(),
        }
    }

    /// What is rendered after the health series: task restarts, then
    /// process metrics.
    fn extra(&self) -> Vec<u8> {
        let mut out = metrics::task_text(self.store.tasks());
        text::write_gathered(&self.process.gather(), &mut out);
        out
    }

    /// What the JSON API's list answers may hold in memory at once, cached
    /// or still being sent (`--web.max-api-answer-bytes`).
    pub fn with_api_answer_bytes(mut self, bytes: usize) -> Self {
        self.answers = SharedAnswers::new(bytes);
        self
    }

    /// The `access` rules to follow (a handle the caller keeps, to replace
    /// them while serving).
    pub(crate) fn with_access(mut self, access: AccessRules) -> Self {
        self.access = access;
        self
    }

    /// Renders the whole exposition on every scrape, as a baseline for
    /// benchmarks (`--web.disable-exposition-cache`).
    pub(crate) fn without_exposition_cache(mut self) -> Self {
        self.exposition = None;
        self
    }
}

pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route(&web.telemetry_path, get(metrics_handler))
        .merge(status_page::routes())
        .merge(api::routes())
        // The data surfaces above see only what the access rules permit.
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&web),
            access::admit,
        ))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .with_state(web)
}

/// Gzip of a response rendered per request, as it streams out, when the
/// client asks for it. Gzip only, whatever other encodings tower-http may
/// be built with, at the fastest level as for `/metrics`: these bodies are
/// mostly repeated markup and JSON keys, which compress well even so. Its
/// default predicate leaves bodies under 32 bytes (no page is that small),
/// images, SSE and gRPC alone; the API sets its own threshold. It adds
/// `Vary: Accept-Encoding` only to the responses it would compress, so the
/// handlers set it themselves.
fn compression() -> CompressionLayer {
    CompressionLayer::new()
        .no_br()
        .no_deflate()
        .no_zstd()
        .quality(CompressionLevel::Fastest)
}

/// True when the client accepts gzip (and did not say `q=0`). For the
/// bodies compressed once and served many times (`/metrics`, the API's
/// shared answers); tower-http's own negotiation is not public.
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !q_zero
        })
}

pub(crate) fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 8 + 64), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

async fn metrics_handler(
    State(web): State<Arc<Web>>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
) -> Response {
    let gzipped = accepts_gzip(&headers);
    let mut resp = match &web.exposition {
        Some(caches) => cached_exposition(&web, &viewer, caches, gzipped).await,
        None => {
            let states = viewer.states(&web.store);
            let body = metrics::render_states(
                &states,
                &viewer.policy(&web.store, &states),
                &web.extra(),
                chrono::Utc::now(),
            );
            if gzipped { gzip(&body) } else { body }.into_response()
        }
    };
    if gzipped {
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(EXPOSITION_CONTENT_TYPE),
    );
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    resp
}

/// The cached snapshot part, then the health and process part rendered now,
/// streamed from the cached buffers without copying them. Gzip: the cached
/// compressed part, then the tail compressed now, as one gzip member.
async fn cached_exposition(
    web: &Web,
    viewer: &Viewer,
    caches: &Expositions,
    gzipped: bool,
) -> Response {
    let states = viewer.states(&web.store);
    let (entry, now) = caches.get(viewer.scope(), &states).await;
    let health: Vec<_> = states
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_ref()))
        .collect();
    let policy = viewer.policy(&web.store, &states);
    let tail = entry.render_tail(&health, &policy, &web.extra(), now);
    let mut parts: Vec<bytes::Bytes> = if gzipped {
        let head = entry.gzip().await;
        vec![head.bytes.clone(), bytes::Bytes::from(head.finish(&tail))]
    } else {
        let mut p = entry.text().chunks.clone();
        p.push(bytes::Bytes::from(tail));
        p
    };
    parts.retain(|p| !p.is_empty());
    let len: usize = parts.iter().map(bytes::Bytes::len).sum();
    let stream =
        futures_util::stream::iter(parts.into_iter().map(Ok::<_, std::convert::Infallible>));
    let mut resp = axum::body::Body::from_stream(stream).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// 503 once a background task could not be kept running, so that the
/// orchestrator restarts the process.
async fn healthy(State(web): State<Arc<Web>>) -> Response {
    if web.store.tasks().healthy() {
        (StatusCode::OK, "Healthy\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Unhealthy: a background task keeps ending and cannot be kept running\n",
        )
            .into_response()
    }
}

async fn ready(State(web): State<Arc<Web>>) -> Response {
    if web.store.ready() {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: first poll in progress\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_encoding(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn gzip_is_used_only_when_the_scraper_asks_for_it() {
        assert!(accepts_gzip(&with_encoding("gzip")));
        assert!(accepts_gzip(&with_encoding("deflate, gzip;q=0.5")));
        assert!(!accepts_gzip(&with_encoding("gzip;q=0")));
        assert!(!accepts_gzip(&with_encoding("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
