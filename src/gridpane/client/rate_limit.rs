//! What GridPane's rate-limit headers say: how long to wait after a 429
//! (capped), whether the account-wide budget is spent, the remaining quota
//! a response reports ([`observation`]), and the text of a rate limit that
//! hides in a body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

use super::super::budget::Observation;

/// Wait after a 429 that carries no usable header (GridPane's own scripts
/// sleep 31 s after "Beep, Beep").
pub(super) const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(31);
/// The longest wait a header may ask for; beyond it the request fails.
pub(super) const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(300);
pub(super) const RATE_LIMIT_TEXT: &str = "Beep, Beep";

/// What the rate-limit headers of a response say, when it has any.
pub(super) fn observation(headers: &HeaderMap, now: SystemTime) -> Option<Observation> {
    let endpoint_remaining = header_f64(headers, "x-ratelimit-endpoint-remaining");
    let total_remaining = header_f64(headers, "x-ratelimit-total-remaining");
    if endpoint_remaining.is_none() && total_remaining.is_none() {
        return None;
    }
    let endpoint_reset_in = header_f64(headers, "x-ratelimit-endpoint-reset")
        .map(|reset| reset - unix_secs(now))
        .filter(|d| *d > 0.0)
        .map(|d| capped_secs(d, MAX_RATE_LIMIT_WAIT));
    Some(Observation {
        endpoint_remaining,
        total_remaining,
        endpoint_reset_in,
        endpoint_limit: header_f64(headers, "x-ratelimit-endpoint-limit"),
        total_limit: header_f64(headers, "x-ratelimit-total-limit"),
    })
}

fn unix_secs(now: SystemTime) -> f64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Seconds from upstream as a `Duration`, capped at `max` before the
/// conversion (which panics on huge values): negative, NaN and sub-nanosecond
/// values are zero, infinite and huge ones `max`.
pub(super) fn capped_secs(secs: f64, max: Duration) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    if secs >= max.as_secs_f64() {
        return max;
    }
    Duration::try_from_secs_f64(secs).map_or(max, |d| d.min(max))
}

/// The 429 came from the account-wide budget, not only the endpoint's.
pub(super) fn account_exhausted(headers: &HeaderMap) -> bool {
    header_f64(headers, "x-ratelimit-total-remaining").is_some_and(|r| r < 1.0)
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// How long to wait after a 429: `Retry-After-Endpoint` seconds, else until
/// `X-RateLimit-Endpoint-Reset` (unix seconds), else `Retry-After` seconds,
/// else 31 s. Capped at five minutes.
pub(super) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Duration {
    let now_unix = unix_secs(now);
    let secs = header_f64(headers, "retry-after-endpoint")
        .or_else(|| {
            header_f64(headers, "x-ratelimit-endpoint-reset")
                .map(|reset| reset - now_unix)
                .filter(|d| *d > 0.0)
        })
        .or_else(|| header_f64(headers, "retry-after"));
    match secs {
        Some(s) if s > 0.0 => capped_secs(s, MAX_RATE_LIMIT_WAIT),
        Some(_) => Duration::from_secs(1),
        None => DEFAULT_RATE_LIMIT_WAIT,
    }
}

pub(super) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gridpane::budget::{Budget, BudgetOptions};
    use crate::gridpane::endpoint::Endpoint;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_endpoint_wins_over_every_other_header() {
        let h = headers(&[
            ("retry-after-endpoint", "27"),
            ("x-ratelimit-endpoint-reset", "1000100"),
            ("retry-after", "5"),
        ]);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(rate_limit_wait(&h, now), Duration::from_secs(27));
    }

    #[test]
    fn endpoint_reset_is_read_as_a_unix_time() {
        let h = headers(&[
            ("x-ratelimit-endpoint-reset", "1000040"),
            ("retry-after", "5"),
        ]);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(rate_limit_wait(&h, now), Duration::from_secs(40));
    }

    #[test]
    fn a_reset_in_the_past_falls_back_to_retry_after() {
        let h = headers(&[
            ("x-ratelimit-endpoint-reset", "999000"),
            ("retry-after", "5"),
        ]);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(rate_limit_wait(&h, now), Duration::from_secs(5));
    }

    #[test]
    fn no_header_waits_thirty_one_seconds() {
        assert_eq!(
            rate_limit_wait(&HeaderMap::new(), SystemTime::now()),
            Duration::from_secs(31)
        );
    }

    #[test]
    fn an_absurd_wait_is_capped_at_five_minutes() {
        let h = headers(&[("retry-after-endpoint", "86400")]);
        assert_eq!(rate_limit_wait(&h, SystemTime::now()), MAX_RATE_LIMIT_WAIT);
    }

    #[test]
    fn durations_from_upstream_are_capped_before_they_become_durations() {
        let max = MAX_RATE_LIMIT_WAIT;
        for (secs, want) in [
            (1e300, max),
            (1e20, max),
            (1.85e19, max),
            (f64::INFINITY, max),
            (f64::NAN, Duration::ZERO),
            (f64::NEG_INFINITY, Duration::ZERO),
            (-5.0, Duration::ZERO),
            (1e-300, Duration::ZERO),
            (27.5, Duration::from_millis(27_500)),
        ] {
            assert_eq!(capped_secs(secs, max), want, "{secs}");
        }
    }

    #[test]
    fn a_reset_far_in_the_future_blocks_for_at_most_the_cap() {
        let h = headers(&[
            ("x-ratelimit-endpoint-remaining", "0"),
            ("x-ratelimit-endpoint-reset", "1e300"),
        ]);
        let seen = observation(&h, SystemTime::now()).unwrap();
        assert_eq!(seen.endpoint_reset_in, Some(MAX_RATE_LIMIT_WAIT));
        let h = headers(&[("retry-after-endpoint", "1e20")]);
        assert_eq!(rate_limit_wait(&h, SystemTime::now()), MAX_RATE_LIMIT_WAIT);
    }

    /// A header value: a number written any way, or arbitrary header text.
    fn header_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            any::<f64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:e}")),
            any::<i64>().prop_map(|v| v.to_string()),
            "[-+0-9.eE]{1,40}",
            "(-)?(inf|infinity|NaN|nan)",
            "[ -~]{0,40}",
        ]
    }

    proptest::proptest! {
        #[test]
        fn rate_limit_headers_never_panic_and_never_ask_to_wait_past_the_cap(
            values in proptest::collection::vec(header_value(), 6),
            now_secs in 0u64..4_000_000_000,
        ) {
            const NAMES: [&str; 6] = [
                "retry-after-endpoint",
                "retry-after",
                "x-ratelimit-endpoint-reset",
                "x-ratelimit-endpoint-remaining",
                "x-ratelimit-endpoint-limit",
                "x-ratelimit-total-remaining",
            ];
            let mut h = HeaderMap::new();
            for (name, value) in NAMES.iter().zip(&values) {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(*name, v);
                }
            }
            let now = UNIX_EPOCH + Duration::from_secs(now_secs);
            proptest::prop_assert!(rate_limit_wait(&h, now) <= MAX_RATE_LIMIT_WAIT);
            if let Some(seen) = observation(&h, now) {
                proptest::prop_assert!(
                    seen.endpoint_reset_in.is_none_or(|d| d <= MAX_RATE_LIMIT_WAIT)
                );
                let budget = Budget::new(BudgetOptions {
                    account_per_minute: 0,
                    endpoint_units_per_minute: 0,
                });
                let t0 = tokio::time::Instant::now();
                budget.observe(Endpoint::Sites, seen, t0);
                proptest::prop_assert!(
                    budget.reserve(Endpoint::Sites, t0, true) <= MAX_RATE_LIMIT_WAIT
                );
            }
        }
    }
}
