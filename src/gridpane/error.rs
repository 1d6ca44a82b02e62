use std::time::Duration;

use super::Endpoint;

/// Why a request to GridPane failed. Messages name the endpoint and, for
/// decode errors, the JSON path; never a response body or the token.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{endpoint}: GridPane rejected the token (HTTP {status})")]
    Auth { endpoint: Endpoint, status: u16 },
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
    #[error("{endpoint}: pagination did not end after {pages} pages")]
    Pagination { endpoint: Endpoint, pages: u32 },
    #[error("token: {0}")]
    Token(#[from] crate::config::TokenError),
}

impl ApiError {
    /// A small, bounded label value for `gridpane_poll_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            // Out of file descriptors: the token file may be fine.
            ApiError::Token(e) if e.is_transient() => "network",
            ApiError::Auth { .. } | ApiError::Token(_) => "auth",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Network { .. } => "network",
            ApiError::Http { status, .. } if *status >= 500 => "http_5xx",
            ApiError::Http { .. } => "http_4xx",
            ApiError::Decode { .. } => "decode",
            ApiError::Unsuccessful { .. } => "unsuccessful",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::Pagination { .. } => "pagination",
        }
    }

    /// Every value [`ApiError::reason`] can return, for documentation and
    /// for pre-initialising counters at zero.
    pub const REASONS: [&'static str; 10] = [
        "auth",
        "rate_limited",
        "timeout",
        "network",
        "http_4xx",
        "http_5xx",
        "decode",
        "unsuccessful",
        "too_large",
        "pagination",
    ];
}
