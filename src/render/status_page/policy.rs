//! The page's policy parts: problems a mute keeps out of a site's status,
//! and the policy in force with each mute, active or expired.

use chrono::{DateTime, Utc};

use super::words::{fmt_end, rules_words};
use crate::domain::MutedProblem;
use crate::domain::policy::{Policy, SiteRef};

/// A muted problem, shown in its site's row with its reason and end.
pub(super) struct MutedLine<'a> {
    pub code: &'static str,
    pub text: &'static str,
    pub until: String,
    pub reason: &'a str,
}

impl<'a> MutedLine<'a> {
    pub(super) fn of(m: &'a MutedProblem) -> MutedLine<'a> {
        MutedLine {
            code: m.problem.as_str(),
            text: m.problem.describe(),
            until: fmt_end(m.until),
            reason: &m.reason,
        }
    }
}

/// The policy in force: its rules, its groups, its mutes.
pub(super) struct PolicySection<'a> {
    pub rules: String,
    pub groups: Vec<(&'a str, String)>,
    pub mutes: Vec<MuteLine<'a>>,
}

pub(super) struct MuteLine<'a> {
    pub active: bool,
    /// The sites it names, by id or URL, with the account it names.
    pub sites: String,
    /// Site ids it names without an account that several accounts hold
    /// (it mutes none of them), empty when none.
    pub ambiguous: String,
    pub problems: String,
    pub until: String,
    pub reason: &'a str,
}

impl MuteLine<'_> {
    pub(super) fn state(&self) -> &'static str {
        if self.active { "active" } else { "expired" }
    }
}

impl<'a> PolicySection<'a> {
    pub(super) fn of(policy: &'a Policy, now: DateTime<Utc>) -> PolicySection<'a> {
        PolicySection {
            rules: rules_words(&policy.rules),
            groups: policy
                .groups
                .iter()
                .map(|g| (&*g.name, rules_words(&g.rules)))
                .collect(),
            mutes: policy
                .mutes
                .iter()
                .map(|m| MuteLine {
                    active: m.active(now),
                    sites: m
                        .sites
                        .iter()
                        .map(|s| match s {
                            SiteRef::Id(id) => format!("#{id}"),
                            SiteRef::Url(u) => u.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                        + &m.account
                            .as_ref()
                            .map(|a| format!(" in account {a}"))
                            .unwrap_or_default(),
                    ambiguous: m
                        .ambiguous
                        .iter()
                        .map(|id| format!("#{id}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    problems: match &m.problems {
                        None => "every problem".to_string(),
                        Some(ps) => ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "),
                    },
                    until: fmt_end(m.until),
                    reason: &m.reason,
                })
                .collect(),
        }
    }
}
