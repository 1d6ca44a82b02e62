//! `/api/v1/status`: each account's polling state and site counts, the
//! totals, and the policy in force.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::notes;
use super::view::{Counts, View, site_rows};
use crate::domain::{self, Policy};
use crate::render::metrics::{REVISION, VERSION};
use crate::render::time::{age_seconds, from_unix, rfc3339};

#[derive(Debug, Serialize)]
pub struct StatusAnswer {
    pub version: &'static str,
    pub revision: &'static str,
    pub generated_at: String,
    pub generated_at_unix: i64,
    /// Every account has finished a first poll (or loaded saved state).
    pub ready: bool,
    /// Over every account with data.
    pub totals: Counts,
    pub accounts: Vec<AccountStatus>,
    /// The policy in force.
    pub policy: PolicyEntry,
}

#[derive(Debug, Serialize)]
pub struct RulesEntry {
    pub min_retention_days: u32,
    pub max_interval_seconds: u64,
    pub require_remote: bool,
    pub overdue_after: f64,
    pub overdue_grace_seconds: u64,
    pub record_max_age_seconds: u64,
}

impl From<&domain::policy::Rules> for RulesEntry {
    fn from(r: &domain::policy::Rules) -> Self {
        RulesEntry {
            min_retention_days: r.min_retention_days,
            max_interval_seconds: r.max_interval.as_secs(),
            require_remote: r.require_remote,
            overdue_after: r.overdue_after,
            overdue_grace_seconds: r.overdue_grace.as_secs(),
            record_max_age_seconds: r.record_max_age.as_secs(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct GroupEntry {
    pub name: String,
    #[serde(flatten)]
    pub rules: RulesEntry,
}

#[derive(Debug, Serialize)]
pub struct MuteEntry {
    /// Site URLs or ids, as configured.
    pub sites: Vec<String>,
    /// The account the sites are in; `null`: any account.
    pub account: Option<String>,
    /// Site ids it names without an account that more than one account
    /// holds: it mutes none of them.
    pub ambiguous_site_ids: Vec<u64>,
    /// `null`: every problem.
    pub problems: Option<Vec<&'static str>>,
    pub until: String,
    pub reason: String,
    /// `active` or `expired`.
    pub state: &'static str,
}

/// The policy in force: the rules of sites no group matches, the groups
/// in matching order, the mutes.
#[derive(Debug, Serialize)]
pub struct PolicyEntry {
    #[serde(flatten)]
    pub rules: RulesEntry,
    pub groups: Vec<GroupEntry>,
    pub mutes: Vec<MuteEntry>,
}

pub(crate) fn policy_entry(policy: &Policy, now: DateTime<Utc>) -> PolicyEntry {
    PolicyEntry {
        rules: RulesEntry::from(&policy.rules),
        groups: policy
            .groups
            .iter()
            .map(|g| GroupEntry {
                name: g.name.to_string(),
                rules: RulesEntry::from(&g.rules),
            })
            .collect(),
        mutes: policy
            .mutes
            .iter()
            .map(|m| MuteEntry {
                sites: m
                    .sites
                    .iter()
                    .map(|s| match s {
                        domain::policy::SiteRef::Id(id) => id.to_string(),
                        domain::policy::SiteRef::Url(u) => u.clone(),
                    })
                    .collect(),
                account: m.account.clone(),
                ambiguous_site_ids: m.ambiguous.clone(),
                problems: m
                    .problems
                    .as_ref()
                    .map(|ps| ps.iter().map(|p| p.as_str()).collect()),
                until: rfc3339(m.until),
                reason: m.reason.to_string(),
                state: if m.active(now) { "active" } else { "expired" },
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
pub struct AccountStatus {
    pub account: String,
    /// `first_poll_in_progress`, `ok` or `failed` (the last poll).
    pub state: &'static str,
    /// A poll is running right now.
    pub polling: bool,
    pub last_poll: Option<LastPoll>,
    pub next_poll_at: Option<String>,
    pub next_poll_at_unix: Option<i64>,
    /// The snapshot being served; `null` before any poll succeeded.
    pub data: Option<DataStatus>,
    /// The first `/site` sweep, while it runs (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<crate::store::SweepStatus>,
    /// Never read, sites held back, a rate-limit wait, a superseded failure.
    #[serde(flatten)]
    pub notes: notes::AccountNotes,
}

#[derive(Debug, Serialize)]
pub struct LastPoll {
    pub ok: bool,
    pub finished_at: Option<String>,
    pub finished_at_unix: Option<i64>,
    pub age_seconds: Option<i64>,
    pub duration_seconds: f64,
    pub requests: u64,
    pub error: Option<PollErrorEntry>,
}

#[derive(Debug, Serialize)]
pub struct PollErrorEntry {
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct DataStatus {
    pub fetched_at: Option<String>,
    pub fetched_at_unix: Option<i64>,
    pub age_seconds: Option<i64>,
    pub servers: usize,
    pub integrations: usize,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The state of each account's polling, and site counts.
pub fn status(view: &View, now: DateTime<Utc>) -> StatusAnswer {
    let mut all_rows = Vec::new();
    let mut accounts = Vec::with_capacity(view.accounts.len());
    for account in &view.accounts {
        let state = &account.state;
        let last_poll = state.last_poll.as_ref().map(|p| {
            let at = from_unix(p.finished_at);
            LastPoll {
                ok: p.error.is_none(),
                finished_at: at.map(rfc3339),
                finished_at_unix: at.map(|t| t.timestamp()),
                age_seconds: at.map(|t| age_seconds(t, now)),
                duration_seconds: (p.duration_seconds * 1000.0).round() / 1000.0,
                requests: p.requests,
                error: p.error.as_ref().map(|e| PollErrorEntry {
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                }),
            }
        });
        let next = state.next_poll_at.and_then(from_unix);
        let data = account.assessed().map(|snap| {
            let rows = site_rows(&account.name, snap, now);
            let at = from_unix(snap.fetched_at);
            let d = DataStatus {
                fetched_at: at.map(rfc3339),
                fetched_at_unix: at.map(|t| t.timestamp()),
                age_seconds: at.map(|t| age_seconds(t, now)),
                servers: snap.servers.len(),
                integrations: snap.integrations.len(),
                counts: Counts::of(&rows),
            };
            all_rows.extend(rows);
            d
        });
        accounts.push(AccountStatus {
            account: account.name.clone(),
            state: match &state.last_poll {
                None => "first_poll_in_progress",
                Some(p) if p.error.is_none() => "ok",
                Some(_) => "failed",
            },
            polling: state.polling,
            last_poll,
            next_poll_at: next.map(rfc3339),
            next_poll_at_unix: next.map(|t| t.timestamp()),
            data,
            sweep: state.sweep,
            notes: notes::AccountNotes::of(state, now.timestamp_millis() as f64 / 1000.0),
        });
    }
    StatusAnswer {
        version: VERSION,
        revision: REVISION,
        generated_at: rfc3339(now),
        generated_at_unix: now.timestamp(),
        ready: view.accounts.iter().all(|a| a.state.ready),
        totals: Counts::of(&all_rows),
        accounts,
        policy: policy_entry(&view.policy, now),
    }
}
