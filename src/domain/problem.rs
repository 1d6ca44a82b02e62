//! The kinds of problem a site's backups can have, how bad each is, and a
//! set of them.

use serde::{Deserialize, Serialize};

use super::snapshot::Storage;

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
    /// A storage that is on has no backup at all in GridPane's record.
    NeverBackedUp,
    /// The newest backup of a storage that is on is older than the policy
    /// allows for its schedule.
    BackupOverdue,
    /// Remote backups are on, and no revision of the site is in any bucket
    /// of the `remote_storage` entry that holds its integration, every one
    /// of them listed in full.
    RemoteCopyMissing,
    /// The newest revision of the site in its bucket is older than the
    /// policy allows for its remote schedule.
    RemoteCopyStale,
    /// GridPane's record of the site's backups could not be read or
    /// understood at its last read.
    RecordUnreadable,
    /// The last good read of the site's record is older than the policy's
    /// `record_max_age`.
    RecordStale,
    /// A schedule row or an on/off switch of the site the exporter does not
    /// understand.
    ScheduleUnreadable,
    /// Remote backups are on, a bucket of the `remote_storage` entry that
    /// holds the site's integration could not be listed in full, and what
    /// was listed holds no revision of the site within its schedule.
    RemoteCopyUnknown,
    /// Local or remote backups are kept for less than the policy's minimum.
    ShortRetention,
    /// A storage that is on runs less often than the policy's longest period.
    IntervalTooLong,
}

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The site is not protected.
    Critical,
    /// Whether the site is protected cannot be established: a fact its
    /// verdict rests on was not read or not understood.
    Unknown,
    /// The site is protected, less than it should be.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Unknown => "unknown",
            Severity::Warning => "warning",
        }
    }
}

impl Problem {
    /// Every problem kind, most serious first (the order in which a site's problems are listed).
    pub(crate) const ALL: [Problem; 15] = [
        Problem::LocalDisabled,
        Problem::LocalNotScheduled,
        Problem::RemoteDisabled,
        Problem::RemoteNotSetUp,
        Problem::IntegrationMissing,
        Problem::NeverBackedUp,
        Problem::BackupOverdue,
        Problem::RemoteCopyMissing,
        Problem::RemoteCopyStale,
        Problem::RecordUnreadable,
        Problem::RecordStale,
        Problem::ScheduleUnreadable,
        Problem::RemoteCopyUnknown,
        Problem::ShortRetention,
        Problem::IntervalTooLong,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Problem::LocalDisabled => "local_disabled",
            Problem::LocalNotScheduled => "local_not_scheduled",
            Problem::RemoteDisabled => "remote_disabled",
            Problem::RemoteNotSetUp => "remote_not_set_up",
            Problem::IntegrationMissing => "integration_missing",
            Problem::NeverBackedUp => "never_backed_up",
            Problem::BackupOverdue => "backup_overdue",
            Problem::RecordUnreadable => "record_unreadable",
            Problem::RecordStale => "record_stale",
            Problem::ScheduleUnreadable => "schedule_unreadable",
            Problem::ShortRetention => "short_retention",
            Problem::IntervalTooLong => "interval_too_long",
            Problem::RemoteCopyMissing => "remote_copy_missing",
            Problem::RemoteCopyStale => "remote_copy_stale",
            Problem::RemoteCopyUnknown => "remote_copy_unknown",
        }
    }

    /// The kind a name (as [`Problem::as_str`] writes it) stands for.
    pub(crate) fn parse(name: &str) -> Option<Problem> {
        Problem::ALL.into_iter().find(|p| p.as_str() == name)
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Problem::LocalDisabled => "local backups are switched off",
            Problem::LocalNotScheduled => "no local backup schedule",
            Problem::RemoteDisabled => "remote backups are switched off",
            Problem::RemoteNotSetUp => "remote backups were never set up",
            Problem::IntegrationMissing => "remote schedule points at a deleted integration",
            Problem::NeverBackedUp => "GridPane's record holds no backup of a storage that is on",
            Problem::BackupOverdue => "the newest backup is older than its schedule allows",
            Problem::RecordUnreadable => {
                "GridPane's record of the site's backups could not be read or understood"
            }
            Problem::RecordStale => {
                "the last good read of GridPane's record is older than the policy allows"
            }
            Problem::ScheduleUnreadable => {
                "a schedule or an on/off switch of the site is not understood"
            }
            Problem::ShortRetention => "backups are kept for less than the policy's minimum",
            Problem::IntervalTooLong => "backups run less often than the policy requires",
            Problem::RemoteCopyMissing => "the bucket holds no remote backup of the site",
            Problem::RemoteCopyStale => {
                "the newest remote backup in the bucket is older than its schedule allows"
            }
            Problem::RemoteCopyUnknown => {
                "a bucket that holds the site's remote backups could not be listed"
            }
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Problem::ShortRetention | Problem::IntervalTooLong => Severity::Warning,
            Problem::RecordUnreadable
            | Problem::RecordStale
            | Problem::ScheduleUnreadable
            | Problem::RemoteCopyUnknown => Severity::Unknown,
            _ => Severity::Critical,
        }
    }

    /// Which storage the problem concerns; `None` for the problems that can
    /// concern either (short retention, long intervals, missing or overdue
    /// backups, a record or schedule not understood).
    pub(crate) fn storage(self) -> Option<Storage> {
        match self {
            Problem::LocalDisabled | Problem::LocalNotScheduled => Some(Storage::Local),
            Problem::RemoteDisabled
            | Problem::RemoteNotSetUp
            | Problem::IntegrationMissing
            | Problem::RemoteCopyMissing
            | Problem::RemoteCopyStale
            | Problem::RemoteCopyUnknown => Some(Storage::Remote),
            Problem::NeverBackedUp
            | Problem::BackupOverdue
            | Problem::RecordUnreadable
            | Problem::RecordStale
            | Problem::ScheduleUnreadable
            | Problem::ShortRetention
            | Problem::IntervalTooLong => None,
        }
    }

    /// The remote problems that the policy's `require_remote: false` waives.
    pub(crate) fn needs_remote(self) -> bool {
        self.storage() == Some(Storage::Remote)
    }
}

/// A set of problem kinds, iterated most serious first. One bit per kind of
/// [`Problem::ALL`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ProblemSet(u32);

impl ProblemSet {
    pub(crate) fn insert(&mut self, p: Problem) {
        self.0 |= 1 << p as u32;
    }

    pub(crate) fn contains(self, p: Problem) -> bool {
        self.0 & (1 << p as u32) != 0
    }

    #[cfg(test)]
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Problem> {
        Problem::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

impl FromIterator<Problem> for ProblemSet {
    fn from_iter<I: IntoIterator<Item = Problem>>(iter: I) -> Self {
        let mut set = ProblemSet::default();
        for p in iter {
            set.insert(p);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts kept per kind are indexed by the kind's value and read back
    /// in [`Problem::ALL`]'s order: both orders must be the same.
    #[test]
    fn every_kind_sits_in_all_at_its_own_index() {
        for (i, p) in Problem::ALL.into_iter().enumerate() {
            assert_eq!(p as usize, i, "{p:?}");
        }
    }
}
