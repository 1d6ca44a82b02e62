//! The page's policy parts: problems a mute keeps out of a site's status,
//! and the policy in force with each mute, active or expired.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{esc, fmt_duration, fmt_time};
use crate::domain::MutedProblem;
use crate::domain::policy::{Policy, Rules, SiteRef};

/// One pill per muted problem, with its reason and end.
pub(super) fn muted_pills(muted: &[MutedProblem]) -> String {
    let mut out = String::new();
    for m in muted {
        let _ = write!(
            out,
            "<li class=\"muted\" data-muted=\"{code}\"><a href=\"?problem={code}\">{text}</a> \
<span class=\"sub\">muted until {until}{reason}</span></li>",
            code = m.problem.as_str(),
            text = esc(m.problem.describe()),
            until = esc(&fmt_time(m.until)),
            reason = if m.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", esc(&m.reason))
            },
        );
    }
    out
}

fn rules_words(r: &Rules) -> String {
    format!(
        "retention at least {} day{}, a backup at least every {}, remote backups {}",
        r.min_retention_days,
        if r.min_retention_days == 1 { "" } else { "s" },
        fmt_duration(r.max_interval.as_secs()),
        if r.require_remote {
            "required"
        } else {
            "not required"
        }
    )
}

/// The policy in force: its rules, its groups, its mutes.
pub(super) fn render(out: &mut String, policy: &Policy, now: DateTime<Utc>) {
    let _ = write!(
        out,
        "<section aria-labelledby=\"policy-h\" id=\"policy\"><h2 id=\"policy-h\">Backup policy</h2>\n\
<p id=\"policy-rules\">Sites: {}.</p>\n",
        esc(&rules_words(&policy.rules))
    );
    if !policy.groups.is_empty() {
        out.push_str("<ul class=\"groups\">");
        for g in &policy.groups {
            let _ = write!(
                out,
                "<li data-group=\"{name}\"><strong>{name}</strong>: {}</li>",
                esc(&rules_words(&g.rules)),
                name = esc(&g.name),
            );
        }
        out.push_str("</ul>\n");
    }
    if !policy.mutes.is_empty() {
        out.push_str("<ul class=\"mutes\">");
        for m in &policy.mutes {
            let state = if m.active(now) { "active" } else { "expired" };
            let sites: Vec<String> = m
                .sites
                .iter()
                .map(|s| match s {
                    SiteRef::Id(id) => format!("#{id}"),
                    SiteRef::Url(u) => u.clone(),
                })
                .collect();
            let problems = match &m.problems {
                None => "every problem".to_string(),
                Some(ps) => ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "),
            };
            let _ = write!(
                out,
                "<li class=\"mute {state}\" data-mute-state=\"{state}\">{} ({}): {} {} {}{}</li>",
                esc(&sites.join(", ")),
                esc(&problems),
                if state == "active" {
                    "muted until"
                } else {
                    "<strong>expired</strong>, no longer muted since"
                },
                esc(&fmt_time(m.until)),
                if m.reason.is_empty() { "" } else { "· " },
                esc(&m.reason),
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}
