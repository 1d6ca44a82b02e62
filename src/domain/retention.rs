//! How long a storage keeps its backups, judged once from GridPane's
//! `retain_days` (where `0` means keep all): every surface reads this.

/// A storage's retention. The order sorts shorter retention first, keep-all
/// after every number of days, unknown last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Retention {
    /// Backups are kept this many days (never 0).
    Days(u32),
    /// GridPane's `0`: backups are never deleted.
    KeepAll,
    /// GridPane's record does not say (or has not been read).
    #[default]
    Unknown,
}

impl Retention {
    /// From GridPane's `retain_days`.
    pub fn of(retain_days: Option<u32>) -> Retention {
        match retain_days {
            None => Retention::Unknown,
            Some(0) => Retention::KeepAll,
            Some(d) => Retention::Days(d),
        }
    }

    /// How long backups are kept, in seconds; keep-all is +Inf.
    pub fn seconds(self) -> Option<f64> {
        match self {
            Retention::Days(d) => Some(f64::from(d) * 86_400.0),
            Retention::KeepAll => Some(f64::INFINITY),
            Retention::Unknown => None,
        }
    }

    pub fn keep_all(self) -> bool {
        self == Retention::KeepAll
    }

    /// Kept for fewer than `min_days` (keep-all is never short).
    pub(crate) fn shorter_than(self, min_days: u32) -> bool {
        matches!(self, Retention::Days(d) if d < min_days)
    }
}
