//! The status page's routes: the page at `/` (built by
//! [`crate::render::status_page`]), a page per site at
//! `/site/<account>/<id>`, and the page's script.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;

use super::access::Viewer;
use super::{Web, compression};
use crate::render::status_page::{CONTENT_SECURITY_POLICY, SCRIPT, SiteAnswer, page, site_page};

pub(crate) fn routes() -> Router<Arc<Web>> {
    Router::new()
        // The page is rendered per request, so it is compressed per
        // request too, as it streams out.
        .route("/", get(page_handler).layer(compression()))
        .route(
            "/site/{account}/{id}",
            get(site_handler).layer(compression()),
        )
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
    let status = if page.bad_request {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html_response(status, page.html)
}

/// One site's page. The path's parts are taken as text and judged by the
/// page, so an id that is not a number gets the page's own words (400),
/// and an account the viewer may not see answers as one that does not
/// exist (404).
async fn site_handler(
    State(web): State<Arc<Web>>,
    Extension(viewer): Extension<Viewer>,
    Path((account, id)): Path<(String, String)>,
) -> Response {
    let view = viewer.view(&web.store);
    let page = site_page(&view, &account, &id, Utc::now(), &web.telemetry_path);
    let status = match page.status {
        SiteAnswer::Found => StatusCode::OK,
        SiteAnswer::BadRequest => StatusCode::BAD_REQUEST,
        SiteAnswer::NotFound => StatusCode::NOT_FOUND,
    };
    html_response(status, page.html)
}

/// An HTML page with the page's headers.
fn html_response(status: StatusCode, body: String) -> Response {
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
