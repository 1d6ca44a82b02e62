//! What the templates read: the page as plain values (numbers, words,
//! addresses), built from the snapshots and the query. No markup here:
//! `templates/` holds all of it, and askama escapes every value it writes
//! there, in text and in attributes alike. This file holds the page, the
//! accounts (and why one lists no sites), the summary and the
//! integrations; the filter form, the schedules table and the policy
//! section have a file each.

use askama::Template;
use chrono::{DateTime, Utc};

use super::filters::Filters;
use super::policy::PolicySection;
use super::query::{InvalidParam, Order, PageQuery};
use super::table::{IntegrationCell, Listing, NextRun, Pill, ScheduleCell, ServerCell};
use super::words::{Time, fmt_relative, grouped};
use super::{MAX_SEARCH_CHARS, STYLE, WAITING_REFRESH_SECONDS};
use crate::domain::{Health, Problem, Severity, Storage};
use crate::render::api::notes;
use crate::render::api::{
    self, AccountView, Counts, IntegrationRow, IntegrationStatus, SiteFilter, SiteRow, View,
};
use crate::render::metrics::{REVISION, VERSION};

/// The class a problem's line and count take on the page: `bad`
/// (critical), `unknown` or `warn`.
pub(super) trait Tone {
    fn tone(&self) -> &'static str;
}

impl Tone for Problem {
    fn tone(&self) -> &'static str {
        match self.severity() {
            Severity::Critical => "bad",
            Severity::Unknown => "unknown",
            Severity::Warning => "warn",
        }
    }
}

/// The whole page.
#[derive(Template)]
#[template(
    path = "page.html",
    escape = "html",
    config = "src/render/status_page/askama.toml"
)]
pub(super) struct PageHtml<'a> {
    /// Reload every [`WAITING_REFRESH_SECONDS`]: an account waits for its
    /// first poll or sweeps its sites.
    pub reloads: bool,
    pub not_protected: usize,
    pub generated: Time,
    /// The metrics endpoint, relative to the page.
    pub metrics_href: String,
    pub invalid: &'a [InvalidParam],
    pub accounts: Vec<AccountLine<'a>>,
    pub summary: Summary,
    pub filters: Filters<'a>,
    /// What the schedules section says of accounts without sites to list.
    pub notes: Vec<AccountNote<'a>>,
    pub listing: Listing<'a>,
    pub integrations: Vec<IntegrationLine<'a>>,
    /// The accounts in view whose integrations are not read yet.
    pub unread: Unread<'a>,
    pub policy: PolicySection<'a>,
}

// ---------------------------------------------------------------------------
// Accounts.

/// An account that has neither data nor a failed poll yet.
pub(super) fn waiting(a: &AccountView) -> bool {
    a.snapshot().is_none() && a.state.last_poll.is_none()
}

/// One account's row in the accounts table, and its banners.
pub(super) struct AccountLine<'a> {
    pub name: &'a str,
    pub last: LastPoll<'a>,
    /// A poll runs now, and an earlier one ended.
    pub polling: bool,
    /// When the data shown was fetched.
    pub data: Option<Time>,
    pub next: NextPoll,
    /// Sites and sites not protected; `None` without data.
    pub counts: Option<(usize, usize)>,
    pub failed: Option<FailedPoll<'a>>,
    pub sweep: Option<SweepLine>,
    /// The first poll runs and there is no data yet.
    pub first_poll: bool,
    /// No poll has ever succeeded, for so long that it is critical: since
    /// when the exporter polls it.
    pub never_read: Option<Time>,
    /// Sites held back after a sharp drop of the site list, and since when.
    pub held_back: Option<(String, Option<Time>)>,
    /// A poll waits for GridPane's rate limit.
    pub waiting: Option<WaitLine<'a>>,
}

/// A wait for GridPane's rate limit: its end to the second, and the
/// endpoint whose request waits.
pub(super) struct WaitLine<'a> {
    pub until: Time,
    pub endpoint: &'a str,
    pub rate_limited: bool,
}

pub(super) enum LastPoll<'a> {
    InProgress,
    /// How long ago it ended, when known.
    Ok(Option<String>),
    Failed {
        ago: Option<String>,
        reason: &'a str,
        /// Newer data is shown: no longer an alarm.
        superseded: bool,
    },
}

pub(super) enum NextPoll {
    Running,
    At(Time),
    Unknown,
}

pub(super) struct FailedPoll<'a> {
    pub ago: Option<String>,
    pub message: &'a str,
    pub reason: &'a str,
    /// The data shown is newer than the failure: history, not an alarm.
    pub superseded: bool,
}

/// A first sweep in progress, its counts grouped by thousands.
pub(super) struct SweepLine {
    pub sites: String,
    pub pages_read: u32,
    pub pages_total: Option<String>,
    pub pending: String,
}

pub(super) fn accounts<'a>(
    view: &'a View,
    rows: &[SiteRow<'_>],
    now: DateTime<Utc>,
) -> Vec<AccountLine<'a>> {
    view.accounts
        .iter()
        .map(|a| {
            let st = &a.state;
            let ago = |finished_at: f64| api::from_unix(finished_at).map(|t| fmt_relative(t, now));
            let superseded = notes::failure_superseded(st);
            let last = match &st.last_poll {
                None => LastPoll::InProgress,
                Some(p) => match &p.error {
                    None => LastPoll::Ok(ago(p.finished_at)),
                    Some(e) => LastPoll::Failed {
                        ago: ago(p.finished_at),
                        reason: &e.reason,
                        superseded,
                    },
                },
            };
            let data = a
                .snapshot()
                .and_then(|s| api::from_unix(s.fetched_at))
                .map(|t| Time::new(t, now));
            let next = match st.next_poll_at.and_then(api::from_unix) {
                _ if st.polling => NextPoll::Running,
                Some(t) => NextPoll::At(Time::new(t, now)),
                None => NextPoll::Unknown,
            };
            let counts = a.snapshot().map(|_| {
                let c = Counts::of(rows.iter().filter(|r| r.account == a.name));
                (c.sites, c.sites_with_problem)
            });
            let failed = st.last_poll.as_ref().and_then(|p| {
                p.error.as_ref().map(|e| FailedPoll {
                    ago: ago(p.finished_at),
                    message: &e.message,
                    reason: &e.reason,
                    superseded,
                })
            });
            let now_unix = now.timestamp_millis() as f64 / 1000.0;
            let never_read = st
                .never_polled(now_unix)
                .filter(|n| n.critical)
                .and_then(|n| n.since)
                .and_then(api::from_unix)
                .map(|t| Time::new(t, now));
            let held_back = notes::held_back(st).map(|(sites, since)| {
                let since = since.and_then(api::from_unix).map(|t| Time::new(t, now));
                (grouped(sites as u64), since)
            });
            let rate_limit_wait = st.rate_limit_wait.as_ref().and_then(|w| {
                Some(WaitLine {
                    until: Time::to_the_second(api::from_unix(w.until)?, now),
                    endpoint: w.endpoint,
                    rate_limited: w.rate_limited,
                })
            });
            let sweep = st.sweep.as_ref().map(|sweep| SweepLine {
                sites: grouped(
                    sweep
                        .sites_total
                        .or_else(|| a.snapshot().map(|s| s.sites.len() as u64))
                        .unwrap_or(0),
                ),
                pages_read: sweep.pages_read,
                pages_total: sweep.pages_total.map(|n| grouped(n.into())),
                pending: grouped(sweep.sites_pending as u64),
            });
            AccountLine {
                name: &a.name,
                last,
                polling: st.polling && st.last_poll.is_some(),
                data,
                next,
                counts,
                failed,
                sweep,
                first_poll: waiting(a),
                never_read,
                held_back,
                waiting: rate_limit_wait,
            }
        })
        .collect()
}

/// Why an account in view lists no sites.
pub(super) enum AccountNote<'a> {
    NoSites(&'a str),
    Waiting(&'a str),
    NoData(&'a str),
}

pub(super) fn notes<'a>(view: &'a View, q: &PageQuery) -> Vec<AccountNote<'a>> {
    view.accounts
        .iter()
        .filter(|a| q.filter.account.as_deref().is_none_or(|f| f == a.name))
        .filter_map(|a| match a.snapshot() {
            Some(s) if s.sites.is_empty() => Some(AccountNote::NoSites(&a.name)),
            Some(_) => None,
            None if waiting(a) => Some(AccountNote::Waiting(&a.name)),
            None => Some(AccountNote::NoData(&a.name)),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Summary.

pub(super) struct Summary {
    pub totals: Counts,
    /// Accounts without data, of `accounts`.
    pub without_data: usize,
    pub accounts: usize,
    /// Every problem kind with its count, zeros included.
    pub kinds: Vec<(Problem, usize)>,
}

impl Summary {
    pub(super) fn of(view: &View, totals: Counts) -> Summary {
        Summary {
            kinds: Problem::ALL
                .iter()
                .map(|&p| (p, totals.problem(p)))
                .collect(),
            totals,
            without_data: view
                .accounts
                .iter()
                .filter(|a| a.snapshot().is_none())
                .count(),
            accounts: view.accounts.len(),
        }
    }
}

// ---------------------------------------------------------------------------
// Integrations.

/// One row of the integrations table.
pub(super) struct IntegrationLine<'a> {
    pub status: IntegrationStatus,
    pub id: u64,
    /// `None` when the account no longer has it.
    pub name: Option<&'a str>,
    pub provider: &'a str,
    pub region: Option<&'a str>,
    pub account: &'a str,
    pub sites: usize,
    /// The schedules table showing those sites, when there are any.
    pub sites_href: Option<String>,
    /// The status's place in the order, for the script's sorting.
    pub rank: u8,
}

/// The accounts in view without data (no poll has finished), whose
/// integrations are not known: never "no integrations".
pub(super) struct Unread<'a> {
    pub accounts: Vec<&'a str>,
    /// An account in view has data.
    pub any_read: bool,
}

impl<'a> Unread<'a> {
    pub(super) fn of(view: &'a View, q: &PageQuery) -> Unread<'a> {
        let (read, unread): (Vec<_>, Vec<_>) = view
            .accounts
            .iter()
            .filter(|a| q.filter.account.as_deref().is_none_or(|f| f == a.name))
            .partition(|a| a.snapshot().is_some());
        Unread {
            accounts: unread.iter().map(|a| a.name.as_str()).collect(),
            any_read: !read.is_empty(),
        }
    }
}

/// The integrations of the accounts in view: missing first, then unused,
/// then in use, each by name.
pub(super) fn integrations<'a>(view: &'a View, q: &PageQuery) -> Vec<IntegrationLine<'a>> {
    let mut rows: Vec<IntegrationRow<'_>> = view
        .integration_rows()
        .into_iter()
        .filter(|r| q.filter.keeps_integration(view, r))
        .collect();
    rows.sort_by(|a, b| {
        a.status
            .cmp(&b.status)
            .then_with(|| {
                let name = |r: &IntegrationRow<'_>| r.integration.map(|i| i.name.to_lowercase());
                name(a).cmp(&name(b))
            })
            .then_with(|| a.account.cmp(b.account))
            .then_with(|| a.id.cmp(&b.id))
    });
    rows.into_iter()
        .map(|r| IntegrationLine {
            status: r.status,
            id: r.id,
            name: r.integration.map(|i| i.name.as_str()),
            provider: r
                .integration
                .map(|i| i.provider.as_str())
                .or(r.provider_hint)
                .unwrap_or("unknown"),
            region: r.integration.and_then(|i| i.region.as_deref()),
            account: r.account,
            sites: r.sites,
            sites_href: (r.sites > 0).then(|| {
                PageQuery {
                    filter: SiteFilter {
                        account: Some(r.account.to_string()),
                        integration: Some(r.id),
                        ..SiteFilter::default()
                    },
                    ..PageQuery::default()
                }
                .href()
            }),
            rank: r.status as u8,
        })
        .collect()
}
