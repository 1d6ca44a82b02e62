//! The per-account request budget: every request of one account, whoever
//! sends it (the poller, the per-site detail task), reserves a slot here
//! first.
//!
//! GridPane counts two things in fixed one-minute windows (shared/gridpane-api.md
//! §6): units per endpoint (about 12; a `/site` list page costs 2) and
//! requests per account (about 60). The budget keeps below both by spacing:
//!
//! - account-wide, consecutive requests start at least `60 s / account_per_minute`
//!   apart;
//! - per endpoint, a request of cost `c` pushes the next request to that
//!   endpoint `c × 60 s / endpoint_units_per_minute` later.
//!
//! With spacing `s`, any 60 s window holds at most `ceil(60 / s)` requests, so
//! the defaults (30 per account, 11 units per endpoint) stay under the
//! observed limits whatever the phase of GridPane's windows.
//!
//! On top of the spacing, what GridPane says wins: an endpoint whose
//! `X-RateLimit-Endpoint-Remaining` is below the cost of one request is
//! blocked until `X-RateLimit-Endpoint-Reset` (or, as GridPane sends the reset
//! only on 429s, until the end of its window as `X-RateLimit-Endpoint-Limit`
//! and our own requests place it; a full window when they cannot), an account
//! whose `X-RateLimit-Total-Remaining` is 0 is blocked for a full window, and
//! a 429 blocks its endpoint (or the whole account, when the account budget
//! is the one exhausted) for as long as the answer asks.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::Endpoint;

/// GridPane's rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Units one `GET /site` list page costs against its endpoint budget.
pub const SITE_PAGE_COST: u32 = 2;
/// Default endpoint budget: under the observed 12 units a minute.
pub const DEFAULT_ENDPOINT_UNITS_PER_MINUTE: u32 = 11;

/// What a request of this endpoint costs against the endpoint budget.
pub fn cost(endpoint: Endpoint) -> u32 {
    match endpoint {
        Endpoint::Sites => SITE_PAGE_COST,
        _ => 1,
    }
}

/// The budget's rates. 0 switches that part of the pacing off (GridPane's own
/// signals, 429s and remaining counts, are honoured regardless).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetOptions {
    pub account_per_minute: u32,
    pub endpoint_units_per_minute: u32,
}

impl BudgetOptions {
    /// Both rates, where an account rate of 0 switches all pacing off (tests
    /// and the demo), the endpoint budget included.
    pub fn paced(account_per_minute: u32, endpoint_units_per_minute: u32) -> Self {
        BudgetOptions {
            account_per_minute,
            endpoint_units_per_minute: if account_per_minute == 0 {
                0
            } else {
                endpoint_units_per_minute
            },
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Lane {
    /// Earliest start of the next request.
    next: Option<Instant>,
    /// GridPane said to stop until then.
    blocked_until: Option<Instant>,
    /// Slots reserved in the last two windows: (start, cost), oldest first.
    sent: VecDeque<(Instant, u32)>,
}

impl Lane {
    fn ready_at(&self, honour_block: bool) -> Option<Instant> {
        let block = if honour_block {
            self.blocked_until
        } else {
            None
        };
        match (self.next, block) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn block(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    fn record(&mut self, at: Instant, cost: u32) {
        self.sent.push_back((at, cost));
        while self.sent.front().is_some_and(|(t, _)| *t + WINDOW * 2 < at) {
            self.sent.pop_front();
        }
    }

    /// When GridPane's window that counted `used` units ends: it opened no
    /// later than the oldest of our latest requests that add up to `used`,
    /// so it closes one window after that request (plus a margin for the
    /// time the request took to arrive). `None` when our own requests do
    /// not account for `used` (someone else shares the token).
    fn window_end(&self, used: f64, now: Instant) -> Option<Instant> {
        let mut sum = 0.0;
        for (at, cost) in self.sent.iter().rev().filter(|(at, _)| *at <= now) {
            sum += f64::from(*cost);
            if sum >= used {
                return Some(*at + WINDOW + ARRIVAL_MARGIN);
            }
        }
        None
    }
}

/// Allowance for a request's travel time when computing when GridPane's
/// window closes.
const ARRIVAL_MARGIN: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct Lanes {
    account: Lane,
    endpoints: HashMap<Endpoint, Lane>,
}

/// What one response said about the budget.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observation {
    pub endpoint_remaining: Option<f64>,
    pub total_remaining: Option<f64>,
    /// Time until the endpoint window resets, when GridPane said.
    pub endpoint_reset_in: Option<Duration>,
    /// The endpoint window's size in units (`X-RateLimit-Endpoint-Limit`).
    pub endpoint_limit: Option<f64>,
}

/// One account's budget. Cheap to share (`Arc`); all methods take `&self`.
#[derive(Debug)]
pub struct Budget {
    opts: BudgetOptions,
    lanes: Mutex<Lanes>,
}

impl Budget {
    pub fn new(opts: BudgetOptions) -> Self {
        Budget {
            opts,
            lanes: Mutex::new(Lanes::default()),
        }
    }

    pub fn options(&self) -> BudgetOptions {
        self.opts
    }

    fn with_lanes<R>(&self, f: impl FnOnce(&mut Lanes) -> R) -> R {
        match self.lanes.lock() {
            Ok(mut l) => f(&mut l),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Reserves the next slot for a request to `endpoint` and returns how
    /// long to wait before sending it. Reservations are made in order, so
    /// concurrent callers never share a slot. `honour_block` is false for the
    /// retry of a request that already waited out its own 429.
    pub fn reserve(&self, endpoint: Endpoint, now: Instant, honour_block: bool) -> Duration {
        let account_spacing = spacing(self.opts.account_per_minute, 1);
        let endpoint_spacing = spacing(self.opts.endpoint_units_per_minute, cost(endpoint));
        self.with_lanes(|lanes| {
            let lane = lanes.endpoints.entry(endpoint).or_default();
            let mut at = now;
            for ready in [
                lanes_ready(&lanes.account, honour_block),
                lanes_ready(lane, honour_block),
            ]
            .into_iter()
            .flatten()
            {
                at = at.max(ready);
            }
            if let Some(s) = endpoint_spacing {
                lane.next = Some(at + s);
            }
            lane.record(at, cost(endpoint));
            if let Some(s) = account_spacing {
                lanes.account.next = Some(at + s);
            }
            at - now
        })
    }

    /// Adjusts to what GridPane reported on a response of `endpoint`.
    pub fn observe(&self, endpoint: Endpoint, seen: Observation, now: Instant) {
        self.with_lanes(|lanes| {
            if seen
                .endpoint_remaining
                .is_some_and(|r| r < f64::from(cost(endpoint)))
            {
                let lane = lanes.endpoints.entry(endpoint).or_default();
                // GridPane's reset time if it gave one; else the end of its
                // window as our own requests place it; else a full window.
                let until = match seen.endpoint_reset_in.filter(|d| !d.is_zero()) {
                    Some(reset) => now + reset.min(WINDOW * 5),
                    None => seen
                        .endpoint_limit
                        .zip(seen.endpoint_remaining)
                        .and_then(|(limit, remaining)| lane.window_end(limit - remaining, now))
                        .map_or(now + WINDOW, |end| {
                            end.clamp(now, now + WINDOW + ARRIVAL_MARGIN)
                        }),
                };
                lane.block(until);
            }
            if seen.total_remaining.is_some_and(|r| r < 1.0) {
                lanes.account.block(now + WINDOW);
            }
        });
    }

    /// A 429 on `endpoint` that asked to wait `wait`. `account_wide` when the
    /// account's budget was the one exhausted.
    pub fn rate_limited(
        &self,
        endpoint: Endpoint,
        wait: Duration,
        account_wide: bool,
        now: Instant,
    ) {
        self.with_lanes(|lanes| {
            lanes
                .endpoints
                .entry(endpoint)
                .or_default()
                .block(now + wait);
            if account_wide {
                lanes.account.block(now + wait);
            }
        });
    }

    /// When `endpoint` (or the whole account) is blocked by GridPane, until when.
    pub fn blocked_until(&self, endpoint: Endpoint) -> Option<Instant> {
        self.with_lanes(|lanes| {
            let e = lanes.endpoints.get(&endpoint).and_then(|l| l.blocked_until);
            match (e, lanes.account.blocked_until) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        })
    }
}

fn lanes_ready(lane: &Lane, honour_block: bool) -> Option<Instant> {
    lane.ready_at(honour_block)
}

/// Time between two requests under a per-minute rate, for a request of
/// `cost` units; `None` when the rate is 0 (off).
fn spacing(per_minute: u32, cost: u32) -> Option<Duration> {
    if per_minute == 0 {
        return None;
    }
    Some(WINDOW * cost / per_minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(account: u32, endpoint: u32) -> Budget {
        Budget::new(BudgetOptions {
            account_per_minute: account,
            endpoint_units_per_minute: endpoint,
        })
    }

    #[test]
    fn site_pages_are_two_elevenths_of_a_minute_apart_under_the_default_endpoint_budget() {
        let b = budget(30, DEFAULT_ENDPOINT_UNITS_PER_MINUTE);
        let t0 = Instant::now();
        let page = WINDOW * 2 / 11;
        assert_eq!(b.reserve(Endpoint::Sites, t0, true), Duration::ZERO);
        assert_eq!(b.reserve(Endpoint::Sites, t0, true), page);
        // Another endpoint only waits for the account spacing.
        assert_eq!(
            b.reserve(Endpoint::Schedules, t0, true),
            page + Duration::from_secs(2)
        );
    }

    #[test]
    fn concurrent_reservations_never_share_a_slot() {
        let b = budget(60, 0);
        let t0 = Instant::now();
        let waits: Vec<Duration> = (0..5)
            .map(|_| b.reserve(Endpoint::PruneSchedule, t0, true))
            .collect();
        assert_eq!(waits, (0..5).map(Duration::from_secs).collect::<Vec<_>>());
    }

    #[test]
    fn zero_rates_switch_pacing_off() {
        let b = budget(0, 0);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(b.reserve(Endpoint::Sites, t0, true), Duration::ZERO);
        }
    }

    #[test]
    fn an_exhausted_endpoint_waits_for_its_reset_even_with_pacing_off() {
        let b = budget(0, 0);
        let t0 = Instant::now();
        b.observe(
            Endpoint::Sites,
            Observation {
                endpoint_remaining: Some(1.0),
                total_remaining: Some(40.0),
                endpoint_reset_in: Some(Duration::from_secs(20)),
                endpoint_limit: None,
            },
            t0,
        );
        assert_eq!(
            b.reserve(Endpoint::Sites, t0, true),
            Duration::from_secs(20),
            "one unit left is less than a page costs"
        );
        assert_eq!(b.reserve(Endpoint::Servers, t0, true), Duration::ZERO);
    }

    #[test]
    fn an_exhausted_endpoint_without_a_reset_waits_a_full_window() {
        let b = budget(0, 0);
        let t0 = Instant::now();
        b.observe(
            Endpoint::Schedules,
            Observation {
                endpoint_remaining: Some(0.0),
                ..Observation::default()
            },
            t0,
        );
        assert_eq!(b.reserve(Endpoint::Schedules, t0, true), WINDOW);
    }

    #[test]
    fn an_exhausted_endpoint_with_a_limit_waits_only_until_its_window_closes() {
        // Six pages 11 s apart fill a 12-unit window that opened with the
        // first: the window closes one minute after it, not after the last.
        let b = budget(0, 0);
        let t0 = Instant::now();
        for i in 0..6 {
            b.reserve(Endpoint::Sites, t0 + Duration::from_secs(11 * i), true);
        }
        let now = t0 + Duration::from_secs(55);
        b.observe(
            Endpoint::Sites,
            Observation {
                endpoint_remaining: Some(0.0),
                endpoint_limit: Some(12.0),
                ..Observation::default()
            },
            now,
        );
        assert_eq!(
            b.reserve(Endpoint::Sites, now, true),
            WINDOW + ARRIVAL_MARGIN - Duration::from_secs(55)
        );
    }

    #[test]
    fn units_our_requests_do_not_explain_wait_a_full_window() {
        // Someone else shares the token: two of our pages cannot have used
        // twelve units, so the window's start is unknown.
        let b = budget(0, 0);
        let t0 = Instant::now();
        b.reserve(Endpoint::Sites, t0, true);
        b.reserve(Endpoint::Sites, t0 + Duration::from_secs(5), true);
        let now = t0 + Duration::from_secs(6);
        b.observe(
            Endpoint::Sites,
            Observation {
                endpoint_remaining: Some(0.0),
                endpoint_limit: Some(12.0),
                ..Observation::default()
            },
            now,
        );
        assert_eq!(b.reserve(Endpoint::Sites, now, true), WINDOW);
    }

    #[test]
    fn an_exhausted_account_blocks_every_endpoint() {
        let b = budget(0, 0);
        let t0 = Instant::now();
        b.observe(
            Endpoint::Servers,
            Observation {
                total_remaining: Some(0.0),
                ..Observation::default()
            },
            t0,
        );
        assert_eq!(b.reserve(Endpoint::PruneSchedule, t0, true), WINDOW);
    }

    #[test]
    fn a_429_blocks_its_endpoint_but_not_the_retry_that_waited_it_out() {
        let b = budget(0, 0);
        let t0 = Instant::now();
        b.rate_limited(Endpoint::Sites, Duration::from_secs(27), false, t0);
        assert_eq!(
            b.reserve(Endpoint::Sites, t0, true),
            Duration::from_secs(27)
        );
        assert_eq!(b.reserve(Endpoint::Sites, t0, false), Duration::ZERO);
        assert_eq!(b.reserve(Endpoint::Schedules, t0, true), Duration::ZERO);
        b.rate_limited(Endpoint::Sites, Duration::from_secs(5), true, t0);
        assert_eq!(
            b.reserve(Endpoint::Schedules, t0, true),
            Duration::from_secs(5)
        );
    }
}
