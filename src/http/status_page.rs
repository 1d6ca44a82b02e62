//! The status page's routes: the page at `/` (built by
//! [`crate::render::status_page`]) and its script.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;

use super::access::Viewer;
use super::{Web, compression};
use crate::render::status_page::{CONTENT_SECURITY_POLICY, SCRIPT, page};

pub(crate) fn routes() -> Router<Arc<Web>> {
    Router::new()
        // The page is rendered per request, so it is compressed per
        // request too, as it streams out.
        .route("/", get(page_handler).layer(compression()))
        .route("/static/status.js", get(script_handler))
}

// ---------------------------------------------------------------------------
// Handlers.

async fn page_handler(
    State(web): State<Arc<Web>>,
    Extension(viewer): Extension<Viewer>,
    RawQuery(raw): RawQuery,
) -> Response {
    let view = viewer.view(&web.store);
    let page = page(&view, raw.as_deref(), Utc::now(), &web.telemetry_path);
    let (status, body) = if page.bad_request {
        (StatusCode::BAD_REQUEST, page.html)
    } else {
        (StatusCode::OK, page.html)
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Set here rather than left to the compression layer, which adds it
    // only to the answers it would compress (not below its minimum size):
    // every answer of this URL depends on Accept-Encoding.
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    resp
}

async fn script_handler() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        SCRIPT,
    )
        .into_response()
}
