//! Bodies and responses for injected faults.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

/// GridPane's rate-limit text, matched by its own scripts.
pub(crate) const TOO_FAST: &str = "Beep, Beep, you're going too fast...";

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    bytes_response(status, json_bytes(body), "application/json")
}

pub(crate) fn json_bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

pub(crate) fn bytes_response(status: u16, body: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// 502/503/504 as nginx's HTML page, 500 as Laravel's JSON, anything else
/// as `{"message": <reason>}`.
pub(crate) fn status_response(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Error");
    match status.as_u16() {
        502..=504 => {
            let page = format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
                 <center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n\
                 </body>\r\n</html>\r\n",
                code = status.as_u16()
            );
            bytes_response(status.as_u16(), page.into_bytes(), "text/html")
        }
        500 => json_response(500, &json!({ "message": "Server Error" })),
        other => json_response(other, &json!({ "message": reason })),
    }
}

pub(crate) fn success_false() -> Value {
    json!({
        "success": false,
        "message": "Something went wrong while retrieving the data. Please try again.",
    })
}

/// A list `data` becomes `"oops"`; otherwise every `id` is wrapped in an object.
pub(crate) fn wrong_types(body: &mut Value) {
    if let Some(data) = body.get_mut("data").filter(|d| d.is_array()) {
        *data = json!("oops");
        return;
    }
    wrap_ids(body);
}

fn wrap_ids(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "id" {
                    *value = json!({ "id": value.take() });
                } else {
                    wrap_ids(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(wrap_ids),
        _ => {}
    }
}

/// Removes every `id` and `url` key, leaving `links` and `meta` alone.
pub(crate) fn drop_ids(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("id");
            map.remove("url");
            for (key, value) in map.iter_mut() {
                if key != "links" && key != "meta" {
                    drop_ids(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_ids),
        _ => {}
    }
}

/// A valid JSON list of about `approx_bytes`, produced lazily and sent
/// chunked (no `Content-Length`).
pub(crate) fn huge_response(approx_bytes: usize) -> Response {
    let padding = "x".repeat(900);
    let items = (approx_bytes / (padding.len() + 64)).max(1);
    streamed_list(
        items,
        64,
        move |n| {
            format!(
                "{{\"id\":{id},\"url\":\"huge-{n}.example.com\",\"padding\":\"{padding}\"}}",
                id = 500_000 + n
            )
        },
        format!("{{\"total\":{items}}}"),
    )
}

/// About `approx_bytes` of `[0,0,0,...]`, produced lazily and sent chunked
/// (no `Content-Length`): a record of zeros.
pub(crate) fn zeros_response(approx_bytes: usize) -> Response {
    const CHUNK: usize = 64 * 1024;
    let chunks = approx_bytes / CHUNK + 1;
    let stream = futures_util::stream::iter((0..=chunks).map(move |i| {
        let part = match i {
            0 => b"[0".to_vec(),
            i if i == chunks => b"]".to_vec(),
            _ => b",0".repeat(CHUNK / 2),
        };
        Ok::<Bytes, Infallible>(Bytes::from(part))
    }));
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"data": [...]}` with `count` items of a few bytes each, produced lazily
/// and sent chunked, marked as the only page.
pub(crate) fn many_items_response(count: usize) -> Response {
    streamed_list(
        count,
        4096,
        |n| format!("{{\"id\":{n},\"url\":\"m{n}.example\"}}"),
        format!("{{\"current_page\":1,\"last_page\":1,\"total\":{count}}}"),
    )
}

/// `{"data": [item(0), ..., item(count - 1)], "meta": meta}`, produced
/// lazily `per_chunk` items at a time and sent chunked (no `Content-Length`).
fn streamed_list(
    count: usize,
    per_chunk: usize,
    item: impl Fn(usize) -> String + Send + 'static,
    meta: String,
) -> Response {
    let chunks = count.div_ceil(per_chunk).max(1);
    let stream = futures_util::stream::iter((0..chunks).map(move |c| {
        let mut out = String::new();
        if c == 0 {
            out.push_str("{\"data\":[");
        }
        let start = c * per_chunk;
        for n in start..(start + per_chunk).min(count) {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&item(n));
        }
        if c + 1 == chunks {
            out.push_str(&format!("],\"meta\":{meta}}}"));
        }
        Ok::<_, Infallible>(Bytes::from(out))
    }));
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Adds headers with raw values; a name or value HTTP cannot carry is skipped.
pub(crate) fn add_headers(response: &mut Response, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// `body` in small chunks at about `bytes_per_sec`: a tenth of a second's
/// worth every 100 ms, or one byte at a time below 10 bytes a second.
pub(crate) fn trickle_response(status: u16, body: Vec<u8>, bytes_per_sec: u64) -> Response {
    let rate = bytes_per_sec.max(1);
    let (chunk, interval) = if rate >= 10 {
        (
            usize::try_from(rate / 10).unwrap_or(usize::MAX),
            Duration::from_millis(100),
        )
    } else {
        (1, Duration::from_secs(1) / u32::try_from(rate).unwrap_or(1))
    };
    let stream = futures_util::stream::unfold(
        (Bytes::from(body), true),
        move |(mut rest, first)| async move {
            if rest.is_empty() {
                return None;
            }
            if !first {
                tokio::time::sleep(interval).await;
            }
            let part = rest.split_to(chunk.min(rest.len()));
            Some((Ok::<_, Infallible>(part), (rest, false)))
        },
    );
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
