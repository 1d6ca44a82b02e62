//! Fixed one-minute windows, each starting with the first request after the
//! previous window ran out. Time is `tokio::time::Instant`, so a paused test
//! clock drives it.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{FakeEndpoint, RateLimit};

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    used: u32,
}

impl Window {
    fn current(slot: &mut Option<Window>, now: Instant) -> &mut Window {
        let window = slot.get_or_insert(Window {
            start: now,
            used: 0,
        });
        if now.duration_since(window.start) >= WINDOW {
            *window = Window {
                start: now,
                used: 0,
            };
        }
        window
    }

    /// Whole seconds until the window resets, at least 1.
    fn secs_left(&self, now: Instant) -> u64 {
        let left = (self.start + WINDOW).saturating_duration_since(now);
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    }
}

/// What the limiter decided, with the numbers for the response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub allowed: bool,
    pub endpoint_limit: u32,
    pub endpoint_remaining: u32,
    pub total_limit: u32,
    pub total_remaining: u32,
    /// Seconds until the exhausted window(s) reset; meaningful when refused.
    pub retry_after_secs: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    endpoints: HashMap<FakeEndpoint, Option<Window>>,
    account: Option<Window>,
}

impl Limiter {
    /// Charges `cost` units to the endpoint and one request to the account,
    /// or refuses without charging if either budget would be exceeded.
    pub(crate) fn charge(
        &mut self,
        limit: &RateLimit,
        endpoint: FakeEndpoint,
        cost: u32,
        now: Instant,
    ) -> Decision {
        let ep = Window::current(self.endpoints.entry(endpoint).or_default(), now);
        let account = Window::current(&mut self.account, now);
        let ep_over = ep.used.saturating_add(cost) > limit.endpoint_per_minute;
        let account_over = account.used.saturating_add(1) > limit.account_per_minute;
        let allowed = !ep_over && !account_over;
        if allowed {
            ep.used += cost;
            account.used += 1;
        }
        let retry_after_secs = [(ep_over, &*ep), (account_over, &*account)]
            .iter()
            .filter(|(over, _)| *over)
            .map(|(_, w)| w.secs_left(now))
            .max()
            .unwrap_or(0);
        Decision {
            allowed,
            endpoint_limit: limit.endpoint_per_minute,
            endpoint_remaining: limit.endpoint_per_minute.saturating_sub(ep.used),
            total_limit: limit.account_per_minute,
            total_remaining: limit.account_per_minute.saturating_sub(account.used),
            retry_after_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit() -> RateLimit {
        RateLimit {
            endpoint_per_minute: 12,
            account_per_minute: 60,
            site_page_cost: 2,
        }
    }

    #[test]
    fn six_site_pages_spend_a_budget_of_twelve() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        for n in 1..=6 {
            let d = limiter.charge(&limit(), FakeEndpoint::Sites, 2, t0);
            assert!(d.allowed);
            assert_eq!(d.endpoint_remaining, 12 - 2 * n);
        }
        let refused = limiter.charge(
            &limit(),
            FakeEndpoint::Sites,
            2,
            t0 + Duration::from_secs(33),
        );
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 27);
        assert_eq!(refused.total_remaining, 54);
    }

    #[test]
    fn endpoints_have_separate_budgets() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..12 {
            assert!(
                limiter
                    .charge(&limit(), FakeEndpoint::Servers, 1, t0)
                    .allowed
            );
        }
        assert!(
            !limiter
                .charge(&limit(), FakeEndpoint::Servers, 1, t0)
                .allowed
        );
        assert!(
            limiter
                .charge(&limit(), FakeEndpoint::Schedules, 1, t0)
                .allowed
        );
    }

    #[test]
    fn window_resets_a_minute_after_its_first_request() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..6 {
            limiter.charge(&limit(), FakeEndpoint::Sites, 2, t0);
        }
        let late = t0 + Duration::from_millis(59_999);
        assert!(
            !limiter
                .charge(&limit(), FakeEndpoint::Sites, 2, late)
                .allowed
        );
        let reset = limiter.charge(&limit(), FakeEndpoint::Sites, 2, t0 + WINDOW);
        assert!(reset.allowed);
        assert_eq!(reset.endpoint_remaining, 10);
    }

    #[test]
    fn account_budget_spans_all_endpoints() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        let all = [
            FakeEndpoint::Sites,
            FakeEndpoint::Servers,
            FakeEndpoint::Schedules,
            FakeEndpoint::BackupIntegrations,
            FakeEndpoint::UserIntegrations,
            FakeEndpoint::Domains,
        ];
        for n in 0..60 {
            let d = limiter.charge(&limit(), all[n % all.len()], 1, t0);
            assert!(d.allowed);
        }
        let refused = limiter.charge(
            &limit(),
            FakeEndpoint::PruneSchedule,
            1,
            t0 + Duration::from_secs(10),
        );
        assert!(!refused.allowed);
        assert_eq!(refused.total_remaining, 0);
        assert_eq!(refused.retry_after_secs, 50);
    }

    #[tokio::test(start_paused = true)]
    async fn paused_clock_drives_the_window() {
        let mut limiter = Limiter::default();
        for _ in 0..12 {
            limiter.charge(&limit(), FakeEndpoint::ServerDetail, 1, Instant::now());
        }
        assert!(
            !limiter
                .charge(&limit(), FakeEndpoint::ServerDetail, 1, Instant::now())
                .allowed
        );
        tokio::time::advance(WINDOW).await;
        assert!(
            limiter
                .charge(&limit(), FakeEndpoint::ServerDetail, 1, Instant::now())
                .allowed
        );
    }
}
