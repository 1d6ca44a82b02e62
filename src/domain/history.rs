//! What GridPane's backup record says about one site, per storage: the
//! newest backup, the newest automatic one (when the record gives types) and
//! how many backups it holds, or why the record could not be read
//! ([`Unreadable`], the code the client's reader gives). Read by the
//! per-site detail task when `poll.detail.history` is on (the poller sums up
//! what the reader found); kept with the site's detail, so the state file
//! keeps it across restarts.

use serde::{Deserialize, Serialize};

/// Why a site's backup record could not be read or understood: a bounded
/// code, kept with the site and shown on every surface.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Unreadable {
    /// GridPane rejected the token.
    Auth,
    /// HTTP 4xx.
    Http4xx,
    /// HTTP 5xx.
    Http5xx,
    /// A redirect, not followed.
    Redirect,
    /// No answer in time.
    Timeout,
    /// No connection, or it broke.
    Network,
    /// Still rate limited after the retries.
    RateLimited,
    /// An HTML page instead of JSON.
    Html,
    /// A body that says nothing: empty (a 204), `{}`, `null`, `[]`, or an
    /// envelope without `backups`.
    Empty,
    /// `success` false, `"false"` or `0`, or an error envelope.
    Unsuccessful,
    /// JSON that ends early.
    Truncated,
    /// Not JSON.
    InvalidJson,
    /// Nested deeper than the reader's cap.
    TooDeep,
    /// More bytes or items than the reader's caps.
    TooLarge,
    /// JSON of a shape the reader does not know.
    UnknownShape,
    /// A name that is not GridPane's `YYYY-MM-DD HH:MM[ tag]` (an epoch
    /// number, an ISO-8601 time).
    BadName,
    /// A name dated more than the reader's clock allowance (an hour)
    /// ahead of the clock.
    FutureName,
    /// A code this version does not know (a state file from another).
    #[serde(other)]
    Other,
}

impl Unreadable {
    /// Every code, for documentation and for counters at zero.
    pub const ALL: [Unreadable; 18] = [
        Unreadable::Auth,
        Unreadable::Http4xx,
        Unreadable::Http5xx,
        Unreadable::Redirect,
        Unreadable::Timeout,
        Unreadable::Network,
        Unreadable::RateLimited,
        Unreadable::Html,
        Unreadable::Empty,
        Unreadable::Unsuccessful,
        Unreadable::Truncated,
        Unreadable::InvalidJson,
        Unreadable::TooDeep,
        Unreadable::TooLarge,
        Unreadable::UnknownShape,
        Unreadable::BadName,
        Unreadable::FutureName,
        Unreadable::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Unreadable::Auth => "auth",
            Unreadable::Http4xx => "http_4xx",
            Unreadable::Http5xx => "http_5xx",
            Unreadable::Redirect => "redirect",
            Unreadable::Timeout => "timeout",
            Unreadable::Network => "network",
            Unreadable::RateLimited => "rate_limited",
            Unreadable::Html => "html",
            Unreadable::Empty => "empty",
            Unreadable::Unsuccessful => "unsuccessful",
            Unreadable::Truncated => "truncated",
            Unreadable::InvalidJson => "invalid_json",
            Unreadable::TooDeep => "too_deep",
            Unreadable::TooLarge => "too_large",
            Unreadable::UnknownShape => "unknown_shape",
            Unreadable::BadName => "bad_name",
            Unreadable::FutureName => "future_name",
            Unreadable::Other => "other",
        }
    }

    /// The words the status page shows.
    pub fn describe(self) -> &'static str {
        match self {
            Unreadable::Auth => "GridPane rejected the token",
            Unreadable::Http4xx | Unreadable::Http5xx => "GridPane answered with an HTTP error",
            Unreadable::Redirect => "GridPane answered with a redirect",
            Unreadable::Timeout => "GridPane did not answer in time",
            Unreadable::Network => "GridPane could not be reached",
            Unreadable::RateLimited => "GridPane kept rate limiting the request",
            Unreadable::Html => "an HTML page instead of JSON",
            Unreadable::Empty => "an answer that says nothing",
            Unreadable::Unsuccessful => "GridPane answered success: false",
            Unreadable::Truncated => "JSON that ends early",
            Unreadable::InvalidJson => "not JSON",
            Unreadable::TooDeep => "JSON nested deeper than the reader reads",
            Unreadable::TooLarge => "more than the reader reads",
            Unreadable::UnknownShape => "JSON of a shape the reader does not know",
            Unreadable::BadName => "a backup name not in GridPane's form",
            Unreadable::FutureName => "a backup dated in the future",
            Unreadable::Other => "not understood",
        }
    }
}

/// The newest read of a site's backup record failed or was not understood.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordFailure {
    /// Unix seconds of the failed read.
    pub at: f64,
    /// Why, as a bounded code ([`Unreadable::as_str`]).
    pub reason: Unreadable,
}

/// The backups of one storage in a site's record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageBackups {
    /// Backups held.
    pub count: u64,
    /// Unix seconds of the newest backup, automatic and manual alike.
    pub last: Option<f64>,
    /// Unix seconds of the newest backup known to be automatic.
    pub last_automatic: Option<f64>,
}

impl StorageBackups {
    /// Counts one backup taken at `at`.
    pub(crate) fn add(&mut self, at: f64, automatic: bool) {
        self.count += 1;
        self.last = Some(self.last.map_or(at, |t| t.max(at)));
        if automatic {
            self.last_automatic = Some(self.last_automatic.map_or(at, |t| t.max(at)));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One site's backup record, summed up per storage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupHistory {
    /// Unix seconds when the record was read.
    pub read_at: f64,
    /// Unix seconds of the last `/backups/refresh/{id}` asked for this site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<f64>,
    pub local: StorageBackups,
    /// Every remote provider together.
    pub remote: StorageBackups,
    /// Backups the record names without saying where they are kept.
    #[serde(default, skip_serializing_if = "StorageBackups::is_empty")]
    pub unattributed: StorageBackups,
}

impl BackupHistory {
    /// The storages with their `storage` label value; `unknown` only when
    /// the record names backups without a storage.
    pub(crate) fn storages(&self) -> impl Iterator<Item = (&'static str, &StorageBackups)> {
        [
            ("local", &self.local),
            ("remote", &self.remote),
            ("unknown", &self.unattributed),
        ]
        .into_iter()
        .filter(|(name, s)| *name != "unknown" || !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_distinct_code() {
        let codes: std::collections::BTreeSet<&str> =
            Unreadable::ALL.iter().map(|u| u.as_str()).collect();
        assert_eq!(codes.len(), Unreadable::ALL.len());
    }

    #[test]
    fn the_unknown_storage_shows_only_once_the_record_names_a_backup_without_one() {
        let mut h = BackupHistory::default();
        h.local.add(100.0, true);
        h.remote.add(200.0, false);
        let names = |h: &BackupHistory| h.storages().map(|(n, _)| n).collect::<Vec<_>>();
        assert_eq!(names(&h), ["local", "remote"]);
        h.unattributed.add(50.0, false);
        assert_eq!(names(&h), ["local", "remote", "unknown"]);
        assert_eq!(h.unattributed.last, Some(50.0));
    }
}
