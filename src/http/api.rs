//! The JSON API's routes and handlers under `/api/v1/`. The answers are
//! built by [`crate::render::api`]; the list answers are shared and
//! budgeted by [`crate::render::cache`].

use std::sync::Arc;

use axum::Router;
use axum::body::HttpBody;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;
use tower_http::compression::predicate::{Predicate, SizeAbove};

use super::access::Viewer;
use super::{Web, accepts_gzip, gzip};
use crate::domain::Assessed;
use crate::render::api::{ListRoute, ParamError, View, build, index, status, strict_params};
use crate::render::cache::AnswerKey;

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
        // their own cached gzip (see `SharedAnswer::gzip` in `render::cache::answers`).
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

/// Answers up to this size are sent as they are, never gzipped.
const GZIP_ABOVE: u16 = 1024;
pub(crate) use crate::render::cache::DEFAULT_ANSWER_BYTES;

/// The list answers, kept by endpoint ([`crate::render::cache::answers`]).
pub(crate) type SharedAnswers = crate::render::cache::SharedAnswers<ListRoute>;

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
    let seen = sources(&view);
    let want = AnswerKey {
        key: endpoint,
        query,
        scope,
        sources: &seen,
        now: Utc::now(),
    };
    let answer = match cache.find(&want) {
        Some(a) => a,
        None => {
            let _building = cache.building().await;
            // Another request may have built it while this one waited.
            let view = viewer.view(&web.store);
            let seen = sources(&view);
            let want = AnswerKey {
                sources: &seen,
                now: Utc::now(),
                ..want
            };
            match cache.find(&want) {
                Some(a) => a,
                None => {
                    let (json, valid_until) = match build(endpoint, &view, query, want.now) {
                        Ok(built) => built,
                        Err(e) => return json_response::<()>(Err(e)),
                    };
                    let json = match json {
                        Ok(j) => j,
                        Err(e) => return serialisation_failed(&e),
                    };
                    match cache.share(&want, valid_until, json) {
                        Some(answer) => answer,
                        None => return no_room(),
                    }
                }
            }
        }
    };
    let gzipped = match answer.len() > usize::from(GZIP_ABOVE) && accepts_gzip(headers) {
        true => answer.gzip(cache, gzip).await,
        false => None,
    };
    let mut resp = match gzipped {
        Some(gz) => json_body(StatusCode::OK, gz, true),
        None => json_body(StatusCode::OK, answer.body(), false),
    };
    resp.extensions_mut().insert(Shared);
    resp
}

/// The snapshots a view's answer is built from, per account.
fn sources(view: &View) -> Vec<Option<&Arc<Assessed>>> {
    view.accounts
        .iter()
        .map(|a| a.state.snapshot.as_ref())
        .collect()
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
