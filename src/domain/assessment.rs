//! The assessment: every site of a snapshot judged once (is a schedule on,
//! are remote backups really configured, what is wrong, how bad it is). Every
//! surface reads these verdicts; none judges a site again.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::snapshot::{AccountSnapshot, Site, Storage, StorageSettings};

/// Automatic backups of this storage are on and scheduled. Where the site
/// carries no flag, a schedule row counts as on.
pub fn schedule_enabled(settings: &StorageSettings) -> bool {
    settings.schedule.is_some() && settings.automatic.unwrap_or(true)
}

/// `Some(true)` when the remote schedule points at an integration that is not
/// in the account's list; `None` when there is no remote schedule or it names
/// no integration.
pub fn integration_missing(site: &Site, integration_ids: &HashSet<u64>) -> Option<bool> {
    let id = site.remote.schedule.as_ref()?.integration_id?;
    Some(!integration_ids.contains(&id))
}

/// Remote backups are on, scheduled, and their integration exists (when the
/// schedule names one).
pub fn remote_configured(site: &Site, integration_ids: &HashSet<u64>) -> bool {
    schedule_enabled(&site.remote) && integration_missing(site, integration_ids) != Some(true)
}

/// Retention under this many days is reported as a warning.
pub const SHORT_RETENTION_DAYS: u32 = 7;

/// Something wrong with a site's backups, in the words an operator reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// A local schedule exists but automatic local backups are off.
    LocalDisabled,
    /// No local schedule at all.
    LocalNotScheduled,
    /// A remote schedule exists but automatic remote backups are off.
    RemoteDisabled,
    /// No remote schedule: remote backups were never set up.
    RemoteNotSetUp,
    /// The remote schedule points at an integration that no longer exists.
    IntegrationMissing,
    /// Local or remote backups are kept for less than a week.
    ShortRetention,
}

impl Problem {
    /// Every problem kind, most serious first (the order of [`site_problems`]).
    pub const ALL: [Problem; 6] = [
        Problem::LocalDisabled,
        Problem::LocalNotScheduled,
        Problem::RemoteDisabled,
        Problem::RemoteNotSetUp,
        Problem::IntegrationMissing,
        Problem::ShortRetention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Problem::LocalDisabled => "local_disabled",
            Problem::LocalNotScheduled => "local_not_scheduled",
            Problem::RemoteDisabled => "remote_disabled",
            Problem::RemoteNotSetUp => "remote_not_set_up",
            Problem::IntegrationMissing => "integration_missing",
            Problem::ShortRetention => "short_retention",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Problem::LocalDisabled => "local backups are switched off",
            Problem::LocalNotScheduled => "no local backup schedule",
            Problem::RemoteDisabled => "remote backups are switched off",
            Problem::RemoteNotSetUp => "remote backups were never set up",
            Problem::IntegrationMissing => "remote schedule points at a deleted integration",
            Problem::ShortRetention => "backups are kept for less than a week",
        }
    }

    /// Problems leave a site unprotected; warnings weaken its protection.
    pub fn is_warning(self) -> bool {
        matches!(self, Problem::ShortRetention)
    }
}

/// Every problem of one site, most serious first.
pub fn site_problems(site: &Site, integration_ids: &HashSet<u64>) -> Vec<Problem> {
    SiteVerdict::judge(site, integration_ids)
        .problems()
        .collect()
}

impl Problem {
    /// Which storage the problem concerns; `None` for short retention,
    /// which can concern either.
    pub fn storage(self) -> Option<Storage> {
        match self {
            Problem::LocalDisabled | Problem::LocalNotScheduled => Some(Storage::Local),
            Problem::RemoteDisabled | Problem::RemoteNotSetUp | Problem::IntegrationMissing => {
                Some(Storage::Remote)
            }
            Problem::ShortRetention => None,
        }
    }
}

// ---------------------------------------------------------------------------
// The assessment: every site judged once per snapshot, read by every surface
// (exposition, JSON API, status page).

/// How bad a site's backups are. The order sorts the worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// At least one problem: the site is not protected.
    Problem,
    /// Only warnings: protected, but less than it should be.
    Warning,
    /// No problem proven yet, but the site's `/site` record has not been
    /// read: never shown as OK ([`super::pending`]).
    Pending,
    Ok,
}

impl Health {
    pub fn of(problems: impl IntoIterator<Item = Problem>) -> Health {
        let mut health = Health::Ok;
        for p in problems {
            if !p.is_warning() {
                return Health::Problem;
            }
            health = Health::Warning;
        }
        health
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Problem => "problem",
            Health::Warning => "warning",
            Health::Pending => "pending",
            Health::Ok => "ok",
        }
    }
}

/// One storage of one site, judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageVerdict {
    /// A schedule row exists, on or off.
    pub scheduled: bool,
    /// [`schedule_enabled`]: automatic backups are on and scheduled.
    pub enabled: bool,
    /// On, and kept for less than [`SHORT_RETENTION_DAYS`] (keep-all is not
    /// short).
    pub short_retention: bool,
}

impl StorageVerdict {
    fn judge(settings: &StorageSettings) -> StorageVerdict {
        let enabled = schedule_enabled(settings);
        StorageVerdict {
            scheduled: settings.schedule.is_some(),
            enabled,
            short_retention: enabled
                && settings
                    .retain_days
                    .is_some_and(|d| d > 0 && d < SHORT_RETENTION_DAYS),
        }
    }
}

/// One site, judged: what every surface says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SiteVerdict {
    pub local: StorageVerdict,
    pub remote: StorageVerdict,
    /// [`remote_configured`].
    pub remote_configured: bool,
    /// [`integration_missing`].
    pub integration_missing: Option<bool>,
    /// Which problems the site has, in the order of [`Problem::ALL`].
    pub problem_flags: [bool; Problem::ALL.len()],
    pub health: Health,
}

impl SiteVerdict {
    pub fn judge(site: &Site, integration_ids: &HashSet<u64>) -> SiteVerdict {
        if site.pending {
            return SiteVerdict::pending(site, integration_ids);
        }
        let local = StorageVerdict::judge(&site.local);
        let remote = StorageVerdict::judge(&site.remote);
        let integration_missing = integration_missing(site, integration_ids);
        let problem_flags = [
            local.scheduled && !local.enabled,
            !local.scheduled,
            remote.scheduled && !remote.enabled,
            !remote.scheduled,
            integration_missing == Some(true),
            local.short_retention || remote.short_retention,
        ];
        SiteVerdict {
            local,
            remote,
            remote_configured: remote_configured(site, integration_ids),
            integration_missing,
            problem_flags,
            health: Health::of(flagged(problem_flags)),
        }
    }

    /// A pending site: only what its schedule rows prove. Nothing is on,
    /// configured or short-kept until the `/site` record says so.
    fn pending(site: &Site, integration_ids: &HashSet<u64>) -> SiteVerdict {
        let held_back = |settings: &StorageSettings| StorageVerdict {
            scheduled: settings.schedule.is_some(),
            enabled: false,
            short_retention: false,
        };
        let (local, remote) = (held_back(&site.local), held_back(&site.remote));
        let integration_missing = integration_missing(site, integration_ids);
        let problem_flags = [
            false,
            !local.scheduled,
            false,
            !remote.scheduled,
            integration_missing == Some(true),
            false,
        ];
        SiteVerdict {
            local,
            remote,
            remote_configured: false,
            integration_missing,
            problem_flags,
            health: match Health::of(flagged(problem_flags)) {
                Health::Ok => Health::Pending,
                proven => proven,
            },
        }
    }

    pub fn storage(&self, storage: Storage) -> &StorageVerdict {
        match storage {
            Storage::Local => &self.local,
            Storage::Remote => &self.remote,
        }
    }

    /// The site's problems, most serious first.
    pub fn problems(&self) -> impl Iterator<Item = Problem> + use<> {
        flagged(self.problem_flags)
    }

    /// The site's problems that concern one storage: its own, and short
    /// retention when that storage's retention is short.
    pub fn storage_problems(&self, storage: Storage) -> impl Iterator<Item = Problem> + use<> {
        let short = self.storage(storage).short_retention;
        self.problems().filter(move |p| match p.storage() {
            Some(s) => s == storage,
            None => short,
        })
    }
}

fn flagged(flags: [bool; Problem::ALL.len()]) -> impl Iterator<Item = Problem> {
    Problem::ALL
        .into_iter()
        .zip(flags)
        .filter_map(|(p, on)| on.then_some(p))
}

/// Every site of a snapshot judged, in the snapshot's site order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assessment {
    sites: Vec<SiteVerdict>,
}

impl Assessment {
    /// The one place a snapshot's sites are judged.
    pub fn of(snapshot: &AccountSnapshot) -> Assessment {
        let ids = snapshot.integration_ids();
        Assessment {
            sites: snapshot
                .sites
                .iter()
                .map(|s| SiteVerdict::judge(s, &ids))
                .collect(),
        }
    }

    /// One verdict per site, in the snapshot's site order.
    pub fn sites(&self) -> &[SiteVerdict] {
        &self.sites
    }
}

/// A snapshot with its assessment, computed when the snapshot is made and
/// never stored apart from it: what the store holds and every surface
/// reads. Only the snapshot is saved in the state file; the assessment is
/// computed again on load.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessed {
    snapshot: AccountSnapshot,
    assessment: Assessment,
}

impl Assessed {
    pub fn new(snapshot: AccountSnapshot) -> Assessed {
        let assessment = Assessment::of(&snapshot);
        Assessed {
            snapshot,
            assessment,
        }
    }

    pub fn snapshot(&self) -> &AccountSnapshot {
        &self.snapshot
    }

    pub fn assessment(&self) -> &Assessment {
        &self.assessment
    }

    /// Each site with its verdict, in site order.
    pub fn sites(&self) -> impl Iterator<Item = (&Site, &SiteVerdict)> {
        self.snapshot.sites.iter().zip(&self.assessment.sites)
    }
}

#[cfg(test)]
impl Assessed {
    /// A snapshot held with verdicts other than its own, to show which
    /// surfaces read the assessment and which judge again.
    pub(crate) fn with_verdicts(snapshot: AccountSnapshot, sites: Vec<SiteVerdict>) -> Assessed {
        Assessed {
            snapshot,
            assessment: Assessment { sites },
        }
    }
}

impl std::ops::Deref for Assessed {
    type Target = AccountSnapshot;

    fn deref(&self) -> &AccountSnapshot {
        &self.snapshot
    }
}
