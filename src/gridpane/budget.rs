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
//!
//! When GridPane sends its counts with their limits (`X-RateLimit-Endpoint-*`,
//! `X-RateLimit-Total-*`), what is left of its current window is spent at
//! once instead of at the spacing: a lane holds the remaining count of the
//! last answer, less the requests reserved and not answered since, as
//! credit until the window's end (placed as above). Spending what GridPane
//! says is left never draws a 429 in its fixed windows, whatever their
//! phase; when the credit runs out the next answer says 0 left and the lane
//! waits for the window's end. Without those headers (or when our own
//! requests cannot explain the count, because someone else shares the
//! token) the spacing applies as before.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::Endpoint;

/// GridPane's rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Units one `GET /site` list page costs against its endpoint budget.
pub(crate) const SITE_PAGE_COST: u32 = 2;
/// Default endpoint budget: under the observed 12 units a minute.
pub(crate) const DEFAULT_ENDPOINT_UNITS_PER_MINUTE: u32 = 11;

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
    /// No pacing at all (tests and the demo): only GridPane's own signals
    /// slow requests down.
    pub const UNPACED: BudgetOptions = BudgetOptions {
        account_per_minute: 0,
        endpoint_units_per_minute: 0,
    };

    /// Both rates, where an account rate of 0 switches all pacing off (tests
    /// and the demo), the endpoint budget included.
    pub(crate) fn paced(account_per_minute: u32, endpoint_units_per_minute: u32) -> Self {
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
    /// Slots reserved in the last two windows, in the order they start.
    sent: VecDeque<Sent>,
    /// What GridPane said is left of its current window, less what it had
    /// not counted yet; spent instead of waiting for `next`.
    credit: Option<Credit>,
}

/// A reserved slot.
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    cost: u32,
    /// The reservation ([`Slot::id`]).
    id: u64,
    answered: bool,
}

/// What a request waits for in one lane.
enum Gate {
    Credit,
    Until(Instant),
    Spacing(Option<Instant>),
}

impl Gate {
    fn ready(&self) -> Option<Instant> {
        match self {
            Gate::Credit => None,
            Gate::Until(t) => Some(*t),
            Gate::Spacing(next) => *next,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Credit {
    units: f64,
    /// The window's end, as our own requests place it.
    until: Instant,
}

impl Lane {
    fn block(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        self.credit = None;
    }

    /// What holds a request of `cost` units starting `at` back: nothing
    /// when the credit covers it (and it is spent), the window's end when
    /// the window is known and spent, else the spacing.
    fn gate(&mut self, cost: u32, at: Instant) -> Gate {
        match &mut self.credit {
            Some(c) if at < c.until => {
                if c.units >= f64::from(cost) {
                    c.units -= f64::from(cost);
                    Gate::Credit
                } else {
                    Gate::Until(c.until)
                }
            }
            _ => Gate::Spacing(self.next),
        }
    }

    /// The next request waits `spacing` after one starting `at` (never less
    /// than for the slots already reserved).
    fn space(&mut self, at: Instant, spacing: Option<Duration>) {
        if let Some(s) = spacing {
            self.next = Some(self.next.map_or(at + s, |n| n.max(at + s)));
        }
    }

    /// GridPane answered reservation `id`: `remaining` of `limit` are left
    /// in its window. GridPane may not have counted the requests that start
    /// after that one, nor those not answered yet: the credit is what is
    /// left less their units. None when our own requests do not explain the
    /// count, or the reservation is no longer known.
    fn credit_from(&mut self, id: u64, remaining: f64, limit: f64, now: Instant) {
        self.credit = None;
        let Some(ours) = self.sent.iter().position(|s| s.id == id) else {
            return;
        };
        let uncounted: u32 = self
            .sent
            .iter()
            .enumerate()
            .filter(|(i, s)| s.id != id && (*i > ours || !s.answered))
            .map(|(_, s)| s.cost)
            .sum();
        self.credit = self.window_end(limit - remaining, now).map(|until| Credit {
            units: (remaining - f64::from(uncounted)).max(0.0),
            until,
        });
    }

    fn record(&mut self, at: Instant, cost: u32, id: u64) {
        let i = self.sent.partition_point(|s| s.at <= at);
        self.sent.insert(
            i,
            Sent {
                at,
                cost,
                id,
                answered: false,
            },
        );
        while self.sent.front().is_some_and(|s| s.at + WINDOW * 2 < at) {
            self.sent.pop_front();
        }
    }

    fn answered(&mut self, id: u64) {
        if let Some(s) = self.sent.iter_mut().find(|s| s.id == id) {
            s.answered = true;
        }
    }

    /// When GridPane's window that counted `used` units ends: it opened no
    /// later than the oldest of our latest requests that add up to `used`,
    /// so it closes one window after that request (plus a margin for the
    /// time the request took to arrive). `None` when our own requests do
    /// not account for `used` (someone else shares the token).
    fn window_end(&self, used: f64, now: Instant) -> Option<Instant> {
        let mut sum = 0.0;
        for s in self.sent.iter().rev().filter(|s| s.at <= now) {
            sum += f64::from(s.cost);
            if sum >= used {
                return Some(s.at + WINDOW + ARRIVAL_MARGIN);
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
    /// The id of the next reservation.
    next_id: u64,
}

/// A reserved slot: how long to wait before sending, and the reservation's
/// id for [`Budget::answered`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub wait: Duration,
    pub id: u64,
    /// Some of the wait is GridPane's: a 429, or its window spent (not
    /// only the budget's own spacing).
    pub blocked: bool,
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
    /// The account window's size in requests (`X-RateLimit-Total-Limit`).
    pub total_limit: Option<f64>,
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
        self.reserve_slot(endpoint, now, honour_block).wait
    }

    /// [`Budget::reserve`], with the reservation's id: the caller reports
    /// the answer with [`Budget::answered`], so that GridPane's counts can
    /// be spent.
    pub fn reserve_slot(&self, endpoint: Endpoint, now: Instant, honour_block: bool) -> Slot {
        let account_spacing = spacing(self.opts.account_per_minute, 1);
        let endpoint_spacing = spacing(self.opts.endpoint_units_per_minute, cost(endpoint));
        let units = cost(endpoint);
        self.with_lanes(|lanes| {
            let lane = lanes.endpoints.entry(endpoint).or_default();
            let account = &mut lanes.account;
            // GridPane's blocks always hold; the spacing of a lane holds
            // unless its credit covers the request.
            let mut at = now;
            for block in [account.blocked_until, lane.blocked_until]
                .into_iter()
                .flatten()
                .filter(|_| honour_block)
            {
                at = at.max(block);
            }
            let blocked = at > now;
            if let Some(t) = lane.gate(units, at).ready() {
                at = at.max(t);
            }
            if let Some(t) = account.gate(1, at).ready() {
                at = at.max(t);
            }
            let id = lanes.next_id;
            lanes.next_id += 1;
            lane.space(at, endpoint_spacing);
            lane.record(at, units, id);
            account.space(at, account_spacing);
            account.record(at, 1, id);
            Slot {
                wait: at - now,
                id,
                blocked,
            }
        })
    }

    /// The request of reservation `id` to `endpoint` was answered, or given
    /// up. `seen` is what the answer said, if anything: where it names
    /// GridPane's limits too, what is left of its windows is spent at once.
    pub fn answered(&self, endpoint: Endpoint, id: u64, seen: Option<Observation>, now: Instant) {
        if let Some(seen) = seen {
            self.observe(endpoint, seen, now);
        }
        self.with_lanes(|lanes| {
            let lane = lanes.endpoints.entry(endpoint).or_default();
            if let Some(seen) = seen {
                if lane.blocked_until.is_none_or(|b| b <= now) {
                    if let (Some(remaining), Some(limit)) =
                        (seen.endpoint_remaining, seen.endpoint_limit)
                    {
                        lane.credit_from(id, remaining, limit, now);
                    }
                }
                let account = &mut lanes.account;
                if account.blocked_until.is_none_or(|b| b <= now) {
                    if let (Some(remaining), Some(limit)) = (seen.total_remaining, seen.total_limit)
                    {
                        account.credit_from(id, remaining, limit, now);
                    }
                }
            }
            let lane = lanes.endpoints.entry(endpoint).or_default();
            lane.answered(id);
            lanes.account.answered(id);
        });
    }

    /// Adjusts to what GridPane reported on a response of `endpoint`.
    pub(crate) fn observe(&self, endpoint: Endpoint, seen: Observation, now: Instant) {
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
    pub(crate) fn rate_limited(
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
                total_limit: None,
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

    fn left(endpoint: f64, total: f64) -> Option<Observation> {
        Some(Observation {
            endpoint_remaining: Some(endpoint),
            endpoint_limit: Some(12.0),
            total_remaining: Some(total),
            total_limit: Some(60.0),
            endpoint_reset_in: None,
        })
    }

    #[test]
    fn what_gridpane_says_is_left_is_spent_at_once_then_the_lane_waits_for_the_windows_end() {
        let b = budget(30, DEFAULT_ENDPOINT_UNITS_PER_MINUTE);
        let t0 = Instant::now();
        let mut now = t0;
        let mut starts = Vec::new();
        // One page at a time, each answered with GridPane's counts.
        for page in 0..7u32 {
            let slot = b.reserve_slot(Endpoint::Sites, now, true);
            now += slot.wait;
            starts.push(now - t0);
            let endpoint_left = f64::from(12 - 2 * (page % 6 + 1));
            let total_left = f64::from(60 - (page + 1));
            b.answered(
                Endpoint::Sites,
                slot.id,
                left(endpoint_left, total_left),
                now,
            );
        }
        assert_eq!(
            starts[..6],
            [Duration::ZERO; 6],
            "the window's twelve units at once"
        );
        assert_eq!(starts[6], WINDOW + ARRIVAL_MARGIN, "then its end");
    }

    #[test]
    fn a_late_answer_does_not_give_back_units_that_later_requests_spent() {
        let b = budget(30, DEFAULT_ENDPOINT_UNITS_PER_MINUTE);
        let t0 = Instant::now();
        let first = b.reserve_slot(Endpoint::Sites, t0, true);
        let second = b.reserve_slot(Endpoint::Sites, t0, true);
        // The first answer arrives last and says 10 left: the second page,
        // sent after it, may not be counted in that.
        let later = t0 + Duration::from_secs(1);
        b.answered(Endpoint::Sites, second.id, left(8.0, 58.0), later);
        b.answered(Endpoint::Sites, first.id, left(10.0, 59.0), later);
        let mut now = later;
        let mut burst = 0;
        loop {
            let slot = b.reserve_slot(Endpoint::Sites, now, true);
            if !slot.wait.is_zero() {
                break;
            }
            burst += 1;
            now += Duration::from_millis(10);
            b.answered(Endpoint::Sites, slot.id, None, now);
        }
        assert_eq!(burst, 4, "eight units left, not ten");
    }

    #[test]
    fn counts_our_own_requests_cannot_explain_keep_the_spacing() {
        let b = budget(30, DEFAULT_ENDPOINT_UNITS_PER_MINUTE);
        let t0 = Instant::now();
        let slot = b.reserve_slot(Endpoint::Sites, t0, true);
        // Someone else shares the token: 8 units used, 2 of them ours.
        b.answered(Endpoint::Sites, slot.id, left(4.0, 50.0), t0);
        assert_eq!(b.reserve(Endpoint::Sites, t0, true), WINDOW * 2 / 11);
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
