//! The `policy:` section: what a protected site needs, per group of sites,
//! and acknowledged problems (docs/policy.md). Checked here and handed to
//! the domain as a [`Policy`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use wildmatch::WildMatch;

use super::ConfigError;
use crate::domain::Problem;
use crate::domain::policy::{Group, Match, Mute, Policy, Rules, SiteRef};

/// The section as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawPolicy {
    min_retention_days: Option<u32>,
    #[serde(with = "humantime_serde")]
    max_interval: Option<Duration>,
    require_remote: Option<bool>,
    overdue_after: Option<f64>,
    #[serde(with = "humantime_serde")]
    overdue_grace: Option<Duration>,
    #[serde(with = "humantime_serde")]
    record_max_age: Option<Duration>,
    groups: Vec<RawGroup>,
    mutes: Vec<RawMute>,
}

/// The keys a group may override.
struct RawRules {
    min_retention_days: Option<u32>,
    max_interval: Option<Duration>,
    require_remote: Option<bool>,
    overdue_after: Option<f64>,
    overdue_grace: Option<Duration>,
    record_max_age: Option<Duration>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    #[serde(rename = "match")]
    matcher: RawMatch,
    #[serde(default)]
    min_retention_days: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    max_interval: Option<Duration>,
    #[serde(default)]
    require_remote: Option<bool>,
    #[serde(default)]
    overdue_after: Option<f64>,
    #[serde(default, with = "humantime_serde")]
    overdue_grace: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    record_max_age: Option<Duration>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawMatch {
    site_type: Option<String>,
    account: Option<String>,
    server: Option<Name>,
    url: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMute {
    sites: Vec<Name>,
    #[serde(default)]
    problems: Option<Vec<String>>,
    until: Name,
    #[serde(default)]
    reason: String,
}

/// A name YAML may read as a number (a site or server id, a date).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Name {
    Text(String),
    Number(u64),
}

impl Name {
    fn text(&self) -> String {
        match self {
            Name::Text(s) => s.trim().to_string(),
            Name::Number(n) => n.to_string(),
        }
    }
}

impl RawRules {
    fn over(&self, base: Rules) -> Rules {
        Rules {
            min_retention_days: self.min_retention_days.unwrap_or(base.min_retention_days),
            max_interval: self.max_interval.unwrap_or(base.max_interval),
            require_remote: self.require_remote.unwrap_or(base.require_remote),
            overdue_after: self.overdue_after.unwrap_or(base.overdue_after),
            overdue_grace: self.overdue_grace.unwrap_or(base.overdue_grace),
            record_max_age: self.record_max_age.unwrap_or(base.record_max_age),
        }
    }
}

/// The checks every set of rules must pass; `key` names the rules' place
/// (`policy.` or `policy.groups[0].`).
fn check(rules: &Rules, key: &str) -> Result<(), (String, String)> {
    if rules.max_interval.is_zero() {
        return Err((format!("{key}max_interval"), "must be > 0".into()));
    }
    if !(rules.overdue_after.is_finite() && rules.overdue_after >= 1.0) {
        return Err((
            format!("{key}overdue_after"),
            "must be a number of schedule periods, at least 1".into(),
        ));
    }
    if rules.record_max_age.is_zero() || rules.record_max_age > MAX_RECORD_AGE {
        return Err((
            format!("{key}record_max_age"),
            "must be > 0 and at most 365d".into(),
        ));
    }
    Ok(())
}

/// The longest `record_max_age`: a record read a year ago says nothing
/// about today's backups.
const MAX_RECORD_AGE: Duration = Duration::from_secs(365 * 86_400);

/// Checks the section and builds the policy. Errors name the key.
pub(super) fn validate(raw: RawPolicy, file: &str) -> Result<Policy, ConfigError> {
    let err = |key: String, message: String| ConfigError::at(file, &key, message);
    let rules = RawRules {
        min_retention_days: raw.min_retention_days,
        max_interval: raw.max_interval,
        require_remote: raw.require_remote,
        overdue_after: raw.overdue_after,
        overdue_grace: raw.overdue_grace,
        record_max_age: raw.record_max_age,
    }
    .over(Rules::default());
    check(&rules, "policy.").map_err(|(key, message)| err(key, message))?;
    let mut groups: Vec<Group> = Vec::with_capacity(raw.groups.len());
    for (i, g) in raw.groups.into_iter().enumerate() {
        let at = |field: &str| format!("policy.groups[{i}].{field}");
        let name = g.name.trim();
        if name.is_empty() {
            return Err(err(at("name"), "must not be empty".into()));
        }
        if groups.iter().any(|other| &*other.name == name) {
            return Err(err(at("name"), format!("duplicate group name \"{name}\"")));
        }
        let own = RawRules {
            min_retention_days: g.min_retention_days,
            max_interval: g.max_interval,
            require_remote: g.require_remote,
            overdue_after: g.overdue_after,
            overdue_grace: g.overdue_grace,
            record_max_age: g.record_max_age,
        }
        .over(rules);
        check(&own, &at("")).map_err(|(key, message)| err(key, message))?;
        let text = |v: Option<String>, field: &str| -> Result<Option<String>, ConfigError> {
            match v.map(|s| s.trim().to_string()) {
                Some(s) if s.is_empty() => Err(err(
                    at(&format!("match.{field}")),
                    "must not be empty".into(),
                )),
                other => Ok(other),
            }
        };
        let m = g.matcher;
        let matcher = Match {
            site_type: text(m.site_type, "site_type")?.map(|t| t.to_ascii_lowercase()),
            account: text(m.account, "account")?,
            server: text(m.server.map(|s| s.text()), "server")?,
            url: text(m.url, "url")?.map(|u| WildMatch::new(&u.to_ascii_lowercase())),
        };
        groups.push(Group {
            name: Arc::from(name),
            matcher,
            rules: own,
        });
    }
    let mut mutes = Vec::with_capacity(raw.mutes.len());
    for (i, m) in raw.mutes.into_iter().enumerate() {
        let at = |field: &str| format!("policy.mutes[{i}].{field}");
        if m.sites.is_empty() {
            return Err(err(
                at("sites"),
                "must name at least one site (URL or id)".into(),
            ));
        }
        let mut sites = Vec::with_capacity(m.sites.len());
        for (j, s) in m.sites.iter().enumerate() {
            let s = s.text();
            if s.is_empty() {
                return Err(err(at(&format!("sites[{j}]")), "must not be empty".into()));
            }
            sites.push(SiteRef::parse(&s));
        }
        let problems = match m.problems {
            None => None,
            Some(names) if names.is_empty() => {
                return Err(err(
                    at("problems"),
                    "must list at least one problem, or be left out to mute every problem".into(),
                ));
            }
            Some(names) => {
                let mut problems = Vec::with_capacity(names.len());
                for (j, name) in names.iter().enumerate() {
                    let p = Problem::parse(name.trim()).ok_or_else(|| {
                        let known: Vec<&str> = Problem::ALL.iter().map(|p| p.as_str()).collect();
                        err(
                            at(&format!("problems[{j}]")),
                            format!(
                                "unknown problem \"{name}\", expected one of {}",
                                known.join(", ")
                            ),
                        )
                    })?;
                    problems.push(p);
                }
                Some(problems)
            }
        };
        let until = parse_until(&m.until.text()).map_err(|e| err(at("until"), e))?;
        mutes.push(Mute {
            sites,
            problems,
            until,
            reason: Arc::from(m.reason.trim()),
        });
    }
    Ok(Policy {
        rules,
        groups,
        mutes,
        records_read: false,
    })
}

/// A date (`2027-01-31`: the mute lasts through that day, UTC) or an RFC
/// 3339 time (`2027-01-31T18:00:00Z`).
fn parse_until(raw: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return date
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("\"{raw}\" is out of range"));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "\"{raw}\" is not a date (2027-01-31) or an RFC 3339 time (2027-01-31T18:00:00Z)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_mutes_through_the_end_of_that_day_and_a_time_until_that_instant() {
        assert_eq!(
            parse_until("2027-01-31").unwrap(),
            "2027-02-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_until("2027-01-31T18:00:00+02:00").unwrap(),
            "2027-01-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(parse_until("Friday").unwrap_err().contains("\"Friday\""));
    }
}
