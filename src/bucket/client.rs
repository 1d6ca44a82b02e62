//! One ListObjectsV2 request: signed by rusty-s3 (AWS Signature V4, as a
//! presigned URL), sent through the process's reqwest, its body read up to
//! a cap and read by [`super::page`]. The signed URL
//! carries the key id and a signature: it is never logged or put in an
//! error, and reqwest's errors are stripped of it.

use std::time::Duration;

use futures_util::StreamExt as _;
use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action as _};

use crate::gridpane::{ExposeSecret as _, Secret};

/// The key pair of an entry, read for one listing pass.
pub struct Keys {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([REDACTED])")
    }
}

/// Why a request or a listing failed. Messages name the bucket's host
/// part at most, never a key, a signature or a body.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("cannot read the entry's keys: {0}")]
    Credentials(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot reach the endpoint: {0}")]
    Network(String),
    #[error("HTTP 403: the key may not list this bucket (it needs s3:ListBucket on it)")]
    Forbidden,
    #[error("HTTP 404: no such bucket at this endpoint and region")]
    NotFound,
    #[error("HTTP {0}")]
    Status(u16),
    #[error("the answer is not a ListObjectsV2 document")]
    Malformed,
    #[error("an answer over {0} bytes")]
    TooLarge(u64),
    #[error(
        "the bucket holds over {0} keys (poll.remote_storage.max_keys_per_bucket); the rest is not listed"
    )]
    KeyCap(u64),
}

impl ListError {
    /// Every value of the `reason` label.
    pub const REASONS: [&'static str; 9] = [
        "credentials",
        "timeout",
        "network",
        "forbidden",
        "not_found",
        "http",
        "malformed",
        "too_large",
        "key_cap",
    ];

    /// The bounded `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            ListError::Credentials(_) => "credentials",
            ListError::Timeout(_) => "timeout",
            ListError::Network(_) => "network",
            ListError::Forbidden => "forbidden",
            ListError::NotFound => "not_found",
            ListError::Status(_) => "http",
            ListError::Malformed => "malformed",
            ListError::TooLarge(_) => "too_large",
            ListError::KeyCap(_) => "key_cap",
        }
    }

    /// Worth another try: the endpoint may answer next time.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            ListError::Timeout(_) | ListError::Network(_) => true,
            ListError::Status(code) => *code == 429 || *code >= 500,
            _ => false,
        }
    }
}

/// One page of a listing: each key with its LastModified in unix seconds
/// (keys whose date does not parse are left out), and the token of the
/// next page.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub keys: Vec<(String, Option<f64>)>,
    pub next: Option<String>,
}

/// How long a presigned URL stays valid: longer than any request may take.
const SIGNED_FOR: Duration = Duration::from_secs(300);

/// Lists one page of `bucket` under `prefix`.
pub(crate) async fn list_page(
    http: &reqwest::Client,
    bucket: &Bucket,
    keys: &Keys,
    prefix: &str,
    token: Option<&str>,
    timeout: Duration,
    max_page_bytes: u64,
) -> Result<Page, ListError> {
    let credentials = Credentials::new(
        keys.access_key_id.expose_secret(),
        keys.secret_access_key.expose_secret(),
    );
    let mut action = ListObjectsV2::new(bucket, Some(&credentials));
    action.with_prefix(prefix);
    if let Some(token) = token {
        action.with_continuation_token(token);
    }
    let url = action.sign(SIGNED_FOR);
    drop(credentials);
    let body = tokio::time::timeout(timeout, fetch(http, url, max_page_bytes))
        .await
        .map_err(|_| ListError::Timeout(timeout))??;
    let text = std::str::from_utf8(&body).map_err(|_| ListError::Malformed)?;
    let (keys, next) = super::page::parse(text).ok_or(ListError::Malformed)?;
    Ok(Page {
        keys: keys
            .into_iter()
            .map(|(key, modified)| (key, unix_seconds(&modified)))
            .collect(),
        next,
    })
}

async fn fetch(http: &reqwest::Client, url: url::Url, max: u64) -> Result<Vec<u8>, ListError> {
    let network = |e: reqwest::Error| {
        if e.is_timeout() {
            ListError::Network("timed out".to_string())
        } else {
            ListError::Network(e.without_url().to_string())
        }
    };
    let response = http.get(url).send().await.map_err(network)?;
    match response.status().as_u16() {
        200 => {}
        403 => return Err(ListError::Forbidden),
        404 => return Err(ListError::NotFound),
        code => return Err(ListError::Status(code)),
    }
    if response.content_length().is_some_and(|n| n > max) {
        return Err(ListError::TooLarge(max));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(network)?;
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(ListError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// S3's LastModified (`2026-11-20T03:00:00.000Z`) in unix seconds.
pub(crate) fn unix_seconds(text: &str) -> Option<f64> {
    let at = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(at.timestamp_millis() as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_reads_as_unix_seconds_and_garbage_as_nothing() {
        assert_eq!(unix_seconds("1970-01-01T00:01:40.500Z"), Some(100.5));
        assert_eq!(unix_seconds("2026-11-20T03:00:00Z"), Some(1_795_143_600.0));
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn the_keys_never_print_themselves() {
        let keys = Keys {
            access_key_id: Secret::from("AKIDEXAMPLE"),
            secret_access_key: Secret::from("wJalrXUtnFEMI"),
        };
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains("AKID") && !shown.contains("wJal"),
            "{shown}"
        );
    }
}
