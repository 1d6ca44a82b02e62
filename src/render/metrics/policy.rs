//! The backup policy in force as series, rendered on every scrape.

use chrono::{DateTime, Utc};

use crate::domain::Policy;
use crate::render::text::Family;

/// The policy in force, rendered on every scrape (a mute's state depends
/// on the time).
pub(super) fn policy_families(policy: &Policy, now: DateTime<Utc>) -> Vec<Family> {
    let mut info = Family::gauge(
        "gridpane_policy_info",
        "The backup policy in force for sites no group matches, value 1.",
    );
    let rules = &policy.rules;
    info.push(
        &[
            ("min_retention_days", &rules.min_retention_days.to_string()),
            (
                "max_interval_seconds",
                &rules.max_interval.as_secs().to_string(),
            ),
            ("require_remote", &rules.require_remote.to_string()),
            ("overdue_after", &rules.overdue_after.to_string()),
            (
                "overdue_grace_seconds",
                &rules.overdue_grace.as_secs().to_string(),
            ),
            (
                "record_max_age_seconds",
                &rules.record_max_age.as_secs().to_string(),
            ),
        ],
        1.0,
    );
    let mut groups = Family::gauge(
        "gridpane_policy_groups",
        "Groups of sites with their own rules in the backup policy.",
    );
    groups.push(&[], policy.groups.len() as f64);
    let mut mutes = Family::gauge(
        "gridpane_policy_mutes",
        "Mutes (acknowledged problems) in the backup policy: active, or expired (no longer muting).",
    );
    let (active, expired) = policy.mute_states(now);
    mutes.push(&[("state", "active")], active as f64);
    mutes.push(&[("state", "expired")], expired as f64);
    vec![info, groups, mutes]
}
