use std::time::Duration;

use super::Endpoint;
use super::history::Unreadable;

/// Why a request to GridPane failed. Messages name the endpoint (the URL
/// once the client has wrapped them in [`ApiError::At`]) and, for decode
/// errors, the JSON path; never a response body, the token or URL
/// credentials.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An error of one request, with the URL it went to (no userinfo).
    #[error("GET {url}: {}", inner.detail())]
    At { url: String, inner: Box<ApiError> },
    #[error("{endpoint}: GridPane rejected the token (HTTP {status})")]
    Auth { endpoint: Endpoint, status: u16 },
    #[error("{endpoint}: the token holds characters an HTTP header cannot carry; nothing was sent")]
    InvalidToken { endpoint: Endpoint },
    #[error("{endpoint}: still rate limited after {attempts} attempts")]
    RateLimited { endpoint: Endpoint, attempts: u32 },
    #[error("{endpoint}: no answer within {timeout:?}")]
    Timeout {
        endpoint: Endpoint,
        timeout: Duration,
    },
    #[error("{endpoint}: network error: {message}")]
    Network { endpoint: Endpoint, message: String },
    #[error("{endpoint}: HTTP {status}")]
    Http { endpoint: Endpoint, status: u16 },
    #[error(
        "{endpoint}: GridPane answered with a redirect (HTTP {status}), not followed; check accounts[].base_url"
    )]
    Redirect { endpoint: Endpoint, status: u16 },
    #[error(
        "{endpoint}: HTTP {status} with an HTML page ({seen}), not JSON: is accounts[].base_url the GridPane API's host?"
    )]
    Html {
        endpoint: Endpoint,
        status: u16,
        /// What gave it away: the Content-Type, or the body's first byte.
        seen: String,
    },
    #[error("{endpoint}: unexpected response at {path}: {message}")]
    Decode {
        endpoint: Endpoint,
        path: String,
        message: String,
    },
    #[error("{endpoint}: GridPane answered success=false")]
    Unsuccessful { endpoint: Endpoint },
    #[error("{endpoint}: response larger than {limit} bytes")]
    TooLarge { endpoint: Endpoint, limit: u64 },
    #[error("{endpoint}: more than {limit} items (poll.max_items_per_account)")]
    TooManyItems { endpoint: Endpoint, limit: usize },
    #[error("{endpoint}: pagination did not end after {pages} pages")]
    Pagination { endpoint: Endpoint, pages: u32 },
    /// A backup record that could not be read or understood, and why
    /// (a bounded code; never a value of the body).
    #[error("{endpoint}: backup record not understood: {}", reason.describe())]
    Record {
        endpoint: Endpoint,
        reason: Unreadable,
    },
    /// The token could not be had (read by the caller, e.g. from a file).
    /// `transient`: the token may well be fine, reading it failed for want
    /// of a resource, so the poll is worth retrying soon.
    #[error("token: {source}")]
    Token {
        source: Box<dyn std::error::Error + Send + Sync>,
        transient: bool,
    },
}

/// What a message says when GridPane may not be where `base_url` points:
/// a refused connection, or a 404 on the first poll.
pub(crate) const BASE_URL_HINT: &str = "is base_url right?";

impl ApiError {
    /// Why a request for a backup record failed, as the record's reason.
    pub fn unreadable(&self) -> Unreadable {
        use ApiError as E;
        match self.kind() {
            E::Record { reason, .. } => *reason,
            E::Auth { .. } | E::InvalidToken { .. } | E::Token { .. } => Unreadable::Auth,
            E::RateLimited { .. } => Unreadable::RateLimited,
            E::Timeout { .. } => Unreadable::Timeout,
            E::Network { .. } => Unreadable::Network,
            E::Http { status, .. } if *status >= 500 => Unreadable::Http5xx,
            E::Http { .. } => Unreadable::Http4xx,
            E::Redirect { .. } => Unreadable::Redirect,
            E::Html { .. } => Unreadable::Html,
            E::Decode { .. } => Unreadable::InvalidJson,
            E::Unsuccessful { .. } => Unreadable::Unsuccessful,
            E::TooLarge { .. } | E::TooManyItems { .. } => Unreadable::TooLarge,
            E::Pagination { .. } | E::At { .. } => Unreadable::Other,
        }
    }

    /// What to check when this error ends an account's first poll (no
    /// data yet): a 404 from one of GridPane's own endpoints then means
    /// `base_url` does not lead to its API, as a refused connection does.
    /// Later, with the same `base_url` having answered, a 404 is GridPane's.
    pub(crate) fn first_poll_hint(&self) -> Option<String> {
        match self.kind() {
            ApiError::Http { status: 404, .. } => Some(format!(
                "{BASE_URL_HINT} the server answered but has no such GridPane API path"
            )),
            _ => None,
        }
    }

    /// A small, bounded label value for `gridpane_poll_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::At { inner, .. } => inner.reason(),
            // Out of file descriptors: the token file may be fine.
            ApiError::Token {
                transient: true, ..
            } => "network",
            ApiError::Auth { .. } | ApiError::InvalidToken { .. } | ApiError::Token { .. } => {
                "auth"
            }
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Network { .. } => "network",
            ApiError::Http { status, .. } if *status >= 500 => "http_5xx",
            ApiError::Http { .. } => "http_4xx",
            ApiError::Redirect { .. } => "redirect",
            ApiError::Decode { .. } | ApiError::Html { .. } => "decode",
            ApiError::Unsuccessful { .. } => "unsuccessful",
            ApiError::TooLarge { .. } | ApiError::TooManyItems { .. } => "too_large",
            ApiError::Pagination { .. } => "pagination",
            ApiError::Record { reason, .. } => reason.as_str(),
        }
    }

    /// The error itself, without the URL [`ApiError::At`] adds.
    pub fn kind(&self) -> &ApiError {
        match self {
            ApiError::At { inner, .. } => inner.kind(),
            other => other,
        }
    }

    /// The endpoint the error is about, if any.
    pub(crate) fn endpoint(&self) -> Option<Endpoint> {
        match self {
            ApiError::At { inner, .. } => inner.endpoint(),
            ApiError::Token { .. } => None,
            ApiError::Auth { endpoint, .. }
            | ApiError::InvalidToken { endpoint }
            | ApiError::RateLimited { endpoint, .. }
            | ApiError::Timeout { endpoint, .. }
            | ApiError::Network { endpoint, .. }
            | ApiError::Http { endpoint, .. }
            | ApiError::Redirect { endpoint, .. }
            | ApiError::Html { endpoint, .. }
            | ApiError::Decode { endpoint, .. }
            | ApiError::Unsuccessful { endpoint }
            | ApiError::TooLarge { endpoint, .. }
            | ApiError::TooManyItems { endpoint, .. }
            | ApiError::Pagination { endpoint, .. }
            | ApiError::Record { endpoint, .. } => Some(*endpoint),
        }
    }

    /// The message without its leading endpoint, for [`ApiError::At`],
    /// which names the URL instead.
    pub(crate) fn detail(&self) -> String {
        let text = self.to_string();
        match self.endpoint() {
            Some(ep) => text
                .strip_prefix(&format!("{ep}: "))
                .map_or_else(|| text.clone(), str::to_string),
            None => text,
        }
    }

    /// Every value [`ApiError::reason`] can return but those of
    /// [`ApiError::DETAIL_ONLY_REASONS`], for documentation and for
    /// pre-initialising counters at zero.
    pub(crate) const REASONS: [&'static str; 11] = [
        "auth",
        "rate_limited",
        "timeout",
        "network",
        "redirect",
        "http_4xx",
        "http_5xx",
        "decode",
        "unsuccessful",
        "too_large",
        "pagination",
    ];

    /// The reasons only the per-site backup record gives
    /// ([`super::history::Unreadable`] codes not in [`ApiError::REASONS`]):
    /// besides those in `gridpane_site_detail_errors_total`, never in
    /// `gridpane_poll_errors_total`.
    pub(crate) const DETAIL_ONLY_REASONS: [&'static str; 9] = [
        "html",
        "empty",
        "truncated",
        "invalid_json",
        "too_deep",
        "unknown_shape",
        "bad_name",
        "future_name",
        "other",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_counted_under_its_code() {
        for u in Unreadable::ALL {
            let code = u.as_str();
            assert!(
                ApiError::REASONS.contains(&code) || ApiError::DETAIL_ONLY_REASONS.contains(&code),
                "{code}"
            );
        }
    }
}
