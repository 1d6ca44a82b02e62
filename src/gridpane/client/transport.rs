//! One GET of the client: the retries within the account's budget (pacing,
//! backoff, waiting out a 429), one attempt and its body read up to a
//! limit, what a failed attempt says (the URL without credentials, the
//! transport's cause with a hint, an HTML page named, never quoted), and
//! the request tally.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue,
};
use secrecy::zeroize::Zeroizing;
use url::Url;

use super::super::budget::Budget;
use super::super::endpoint::Endpoint;
use super::super::error::ApiError;
use super::super::secret::{ExposeSecret as _, Secret};
use super::Client;
use super::decode::{MAX_KEY_CHARS, short};
use super::rate_limit::{
    DEFAULT_RATE_LIMIT_WAIT, RATE_LIMIT_TEXT, account_exhausted, contains, observation,
    rate_limit_wait,
};

const MAX_BACKOFF: Duration = Duration::from_secs(30);

enum Attempt {
    Done(bytes::Bytes),
    /// How long GridPane asked to wait, and whether the account-wide budget
    /// (not only the endpoint's) is exhausted.
    RateLimited(Duration, bool),
    Transient(ApiError),
    Fatal(ApiError),
}

impl Client {
    /// GETs `url` within the budget, with the usual retries, reading at
    /// most `limit` bytes of the body, and decodes the body with `decode`.
    pub(super) async fn get_at<T>(
        &self,
        token: &Secret,
        ep: Endpoint,
        url: &Url,
        limit: u64,
        decode: impl Fn(&[u8]) -> Result<T, ApiError>,
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
                self.attempt(ep, url, bearer.clone(), slot, limit).await
            };
            honour_block = true;
            let retries_left = attempt <= self.opts.max_retries;
            match outcome {
                Attempt::Done(body) => {
                    return decode(&body);
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

    async fn attempt(
        &self,
        ep: Endpoint,
        url: &Url,
        bearer: HeaderValue,
        slot: u64,
        limit: u64,
    ) -> Attempt {
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
        match self.read_body(ep, url, resp, limit).await {
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
pub(super) struct Settle<'a>(&'a Budget, Endpoint, u64);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        self.0
            .answered(self.1, self.2, None, tokio::time::Instant::now());
    }
}

/// A URL fit for an error message: no userinfo, no fragment. (Queries hold
/// only `page` and `per_page`: the base URL's own query does not survive
/// joining the route.)
pub(super) fn shown(url: &Url) -> String {
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
                "{} the exporter reached no server at {server}",
                super::super::error::BASE_URL_HINT
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

fn jitter(max: Duration) -> Duration {
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random_range(0..=ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

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
}
