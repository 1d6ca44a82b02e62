//! The backup policy: what a protected site needs (minimum retention,
//! longest schedule period, remote backups or not), per group of sites, and
//! the problems operators have acknowledged (mutes). Built from the
//! configuration's `policy:` section (docs/policy.md); the assessment reads
//! it, nothing here reads the configuration.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use wildmatch::WildMatch;

use super::problem::Problem;
use super::snapshot::Site;

/// What a site must have to be protected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// Retention under this many days is a warning (keep-all always
    /// passes; 0 switches the check off).
    pub min_retention_days: u32,
    /// A storage that is on with a longer schedule period is a warning.
    pub max_interval: Duration,
    /// Remote backups must be on, scheduled and point at an existing
    /// integration.
    pub require_remote: bool,
    /// The newest backup of a storage that is on may be this many of its
    /// schedule's periods old (plus `overdue_grace`) before it is overdue.
    pub overdue_after: f64,
    pub overdue_grace: Duration,
    /// The last good read of a site's backup record may be this old before
    /// the site's outcome is unknown (`record_stale`).
    pub record_max_age: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_retention_days: 7,
            max_interval: Duration::from_secs(7 * 86_400),
            require_remote: true,
            overdue_after: 2.0,
            overdue_grace: Duration::from_secs(3_600),
            record_max_age: Duration::from_secs(7 * 86_400),
        }
    }
}

/// Which sites a group holds: every condition given must hold.
#[derive(Clone, Debug, Default)]
pub struct Match {
    /// The site's type from GridPane (`primary`, `staging`...), ignoring case.
    pub site_type: Option<String>,
    pub account: Option<String>,
    /// The server's label or id.
    pub server: Option<String>,
    /// A glob over the site URL (`*` any run, `?` one character), ignoring case.
    pub url: Option<WildMatch>,
}

/// What a site is matched against: the site and where it lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SiteContext<'a> {
    pub account: &'a str,
    pub site: &'a Site,
    pub server_label: Option<&'a str>,
}

impl Match {
    pub(crate) fn matches(&self, at: &SiteContext<'_>) -> bool {
        self.site_type.as_deref().is_none_or(|t| {
            at.site
                .site_type
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(t))
        }) && self.matches_whatever_type(at)
    }

    /// Every condition but the site type holds.
    fn matches_whatever_type(&self, at: &SiteContext<'_>) -> bool {
        self.account.as_deref().is_none_or(|a| a == at.account)
            && self
                .server
                .as_deref()
                .is_none_or(|s| names_server(s, at.site.server_id, at.server_label))
            && self
                .url
                .as_ref()
                .is_none_or(|glob| glob.matches(&at.site.url.to_ascii_lowercase()))
    }
}

/// Whether `name`, as a group's or a filter's `server` gives it, names the
/// server with this id and label: by its label, or by its id in digits.
pub(crate) fn names_server(name: &str, id: Option<u64>, label: Option<&str>) -> bool {
    label == Some(name) || id.is_some_and(|id| id.to_string() == name)
}

/// A named group of sites with its own rules.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: Arc<str>,
    pub matcher: Match,
    /// The policy's rules with the group's overrides applied.
    pub rules: Rules,
}

/// A site a mute names: its id or its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteRef {
    Id(u64),
    Url(String),
}

impl SiteRef {
    /// Digits are an id; anything else a URL (compared ignoring case).
    pub fn parse(raw: &str) -> SiteRef {
        let raw = raw.trim();
        match raw.parse::<u64>() {
            Ok(id) => SiteRef::Id(id),
            Err(_) => SiteRef::Url(raw.to_ascii_lowercase()),
        }
    }

    pub(crate) fn names(&self, site: &Site) -> bool {
        match self {
            SiteRef::Id(id) => site.id == *id,
            SiteRef::Url(url) => site.url.eq_ignore_ascii_case(url),
        }
    }
}

/// Known problems of some sites, acknowledged until a given instant.
#[derive(Clone, Debug, Default)]
pub struct Mute {
    pub sites: Vec<SiteRef>,
    /// The account its sites are in; `None`: any account.
    pub account: Option<String>,
    /// `None`: every problem.
    pub problems: Option<Vec<Problem>>,
    /// The mute stops muting at this instant.
    pub until: DateTime<Utc>,
    pub reason: Arc<str>,
    /// Site ids this mute names without an account that more than one
    /// account's snapshot holds: which site is meant is unknown, so the
    /// mute applies to none of them (set by the store, see
    /// [`Policy::with_ambiguity`]).
    pub ambiguous: Vec<u64>,
}

impl Mute {
    pub(crate) fn active(&self, now: DateTime<Utc>) -> bool {
        now < self.until
    }

    /// The mute names this site of this account, and this problem (whether
    /// or not it is active). A site id that is [`Mute::ambiguous`] names no
    /// site.
    pub(crate) fn covers(&self, at: &SiteContext<'_>, problem: Problem) -> bool {
        self.names(at.account, at.site)
            && self
                .problems
                .as_ref()
                .is_none_or(|ps| ps.contains(&problem))
    }

    /// The mute names this site of this account.
    fn names(&self, account: &str, site: &Site) -> bool {
        self.account.as_deref().is_none_or(|a| a == account)
            && self
                .sites
                .iter()
                .any(|s| s.names(site) && !self.is_ambiguous(s))
    }

    fn is_ambiguous(&self, site: &SiteRef) -> bool {
        matches!(site, SiteRef::Id(id) if self.ambiguous.contains(id))
    }
}

/// The policy in force.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// The rules of sites no group matches.
    pub rules: Rules,
    /// First match wins.
    pub groups: Vec<Group>,
    pub mutes: Vec<Mute>,
    /// GridPane's backup record of every site is read
    /// (`poll.detail.history`): a site whose record has not been read yet
    /// is pending, never OK.
    pub records_read: bool,
}

impl Policy {
    /// The policy as a viewer of only some sites may see it (each with its
    /// account and group): the rules, the groups some of those sites belong
    /// to, and the mutes that name one of them in its account (naming only
    /// those). A group's matcher or a mute can name another organisation's
    /// accounts, servers or URLs; nothing else is kept. A site id that is
    /// ambiguous (in several accounts) is left out: its mute may be meant
    /// for another account, and that the id exists elsewhere is not theirs
    /// to know.
    pub(crate) fn seen_from<'a>(
        &self,
        sites: impl IntoIterator<Item = (&'a str, &'a Site, Option<&'a str>)>,
    ) -> Policy {
        let mut groups_in_use: Vec<&str> = Vec::new();
        let mut visible: Vec<(&str, &Site)> = Vec::new();
        for (account, site, group) in sites {
            if let Some(g) = group.filter(|g| !groups_in_use.contains(g)) {
                groups_in_use.push(g);
            }
            visible.push((account, site));
        }
        Policy {
            rules: self.rules,
            groups: self
                .groups
                .iter()
                .filter(|g| groups_in_use.contains(&&*g.name))
                .cloned()
                .collect(),
            mutes: self
                .mutes
                .iter()
                .filter_map(|m| {
                    let sites: Vec<SiteRef> = m
                        .sites
                        .iter()
                        .filter(|r| {
                            !m.is_ambiguous(r)
                                && visible.iter().any(|(account, s)| {
                                    m.account.as_deref().is_none_or(|a| a == *account) && r.names(s)
                                })
                        })
                        .cloned()
                        .collect();
                    (!sites.is_empty()).then(|| Mute {
                        sites,
                        ambiguous: Vec::new(),
                        ..m.clone()
                    })
                })
                .collect(),
            records_read: self.records_read,
        }
    }

    /// This policy with each mute's [`Mute::ambiguous`] ids: those it names
    /// without an account that the sites of more than one account hold
    /// (`accounts`: each account's site ids).
    pub(crate) fn with_ambiguity(
        &self,
        accounts: impl IntoIterator<Item = impl IntoIterator<Item = u64>>,
    ) -> Policy {
        let wanted: std::collections::HashSet<u64> = self
            .mutes
            .iter()
            .filter(|m| m.account.is_none())
            .flat_map(|m| m.sites.iter())
            .filter_map(|s| match s {
                SiteRef::Id(id) => Some(*id),
                SiteRef::Url(_) => None,
            })
            .collect();
        let mut held: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        if !wanted.is_empty() {
            for ids in accounts {
                let mut seen = std::collections::HashSet::new();
                for id in ids {
                    if wanted.contains(&id) && seen.insert(id) {
                        *held.entry(id).or_default() += 1;
                    }
                }
            }
        }
        let mut policy = self.clone();
        for m in &mut policy.mutes {
            m.ambiguous = match &m.account {
                Some(_) => Vec::new(),
                None => m
                    .sites
                    .iter()
                    .filter_map(|s| match s {
                        SiteRef::Id(id) if held.get(id).is_some_and(|n| *n > 1) => Some(*id),
                        _ => None,
                    })
                    .collect(),
            };
        }
        policy
    }

    /// Some mute names a site by id without an account: only such a mute
    /// can be ambiguous.
    pub(crate) fn has_unscoped_id_mutes(&self) -> bool {
        self.mutes
            .iter()
            .any(|m| m.account.is_none() && m.sites.iter().any(|s| matches!(s, SiteRef::Id(_))))
    }

    /// Each mute's ambiguous ids, in order (to tell whether they changed).
    pub(crate) fn ambiguity(&self) -> Vec<&[u64]> {
        self.mutes.iter().map(|m| m.ambiguous.as_slice()).collect()
    }

    /// The first group that matches the site, if any, and the rules that
    /// apply to it.
    pub(crate) fn rules_for(&self, at: &SiteContext<'_>) -> (Option<&Group>, &Rules) {
        match self.groups.iter().find(|g| g.matcher.matches(at)) {
            Some(g) => (Some(g), &g.rules),
            None => (None, &self.rules),
        }
    }

    /// The rules of a site whose type is not known yet (its `/site` record
    /// is not read): the group when every group it could fall in is the
    /// same, and rules that find a problem only where every group it could
    /// fall in would (the lowest retention, the longest interval, remote
    /// backups required only if all require them).
    pub(crate) fn rules_whatever_type(&self, at: &SiteContext<'_>) -> (Option<&Group>, Rules) {
        let mut possible: Vec<(Option<&Group>, &Rules)> = Vec::new();
        let mut certain = false;
        for g in &self.groups {
            if g.matcher.matches_whatever_type(at) {
                possible.push((Some(g), &g.rules));
                if g.matcher.site_type.is_none() {
                    certain = true;
                    break;
                }
            }
        }
        if !certain {
            possible.push((None, &self.rules));
        }
        let group = match possible.as_slice() {
            [(group, _)] => *group,
            _ => None,
        };
        let rules = possible
            .iter()
            .map(|(_, r)| **r)
            .reduce(|a, b| Rules {
                min_retention_days: a.min_retention_days.min(b.min_retention_days),
                max_interval: a.max_interval.max(b.max_interval),
                require_remote: a.require_remote && b.require_remote,
                overdue_after: a.overdue_after.max(b.overdue_after),
                overdue_grace: a.overdue_grace.max(b.overdue_grace),
                record_max_age: a.record_max_age.max(b.record_max_age),
            })
            .unwrap_or(self.rules);
        (group, rules)
    }

    /// The first active mute of this problem of this site.
    pub(crate) fn mute_of(
        &self,
        at: &SiteContext<'_>,
        problem: Problem,
        now: DateTime<Utc>,
    ) -> Option<&Mute> {
        self.mutes
            .iter()
            .find(|m| m.active(now) && m.covers(at, problem))
    }

    /// Mutes still muting at `now`, and those that have ended.
    pub(crate) fn mute_states(&self, now: DateTime<Utc>) -> (usize, usize) {
        let active = self.mutes.iter().filter(|m| m.active(now)).count();
        (active, self.mutes.len() - active)
    }
}
