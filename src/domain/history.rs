//! What GridPane's backup record says about one site, per storage: the
//! newest backup, the newest automatic one (when the record gives types) and
//! how many backups it holds. Read by the per-site detail task when
//! `poll.detail.history` is on; kept with the site's detail, so the state
//! file keeps it across restarts.

use serde::{Deserialize, Serialize};

use crate::gridpane::history::{BackupType, Found, Unreadable};

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
    fn add(&mut self, at: f64, automatic: bool) {
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
    /// The summary of what the reader found, read at `read_at`.
    pub(crate) fn from_found(found: &Found, read_at: f64) -> BackupHistory {
        let mut out = BackupHistory {
            read_at,
            ..BackupHistory::default()
        };
        for b in &found.backups {
            let storage = match b.source {
                Some(s) if s.is_local() => &mut out.local,
                Some(_) => &mut out.remote,
                None => &mut out.unattributed,
            };
            storage.add(b.at as f64, b.kind == Some(BackupType::Automatic));
        }
        out
    }

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
    use crate::gridpane::history::{Backup, Source};

    #[test]
    fn backups_are_summed_per_storage_with_the_newest_automatic_apart() {
        let b = |at, source, kind| Backup {
            at,
            tag: None,
            source,
            kind,
        };
        let found = Found {
            backups: vec![
                b(100, Some(Source::Local), Some(BackupType::Automatic)),
                b(300, Some(Source::Local), Some(BackupType::Manual)),
                b(200, Some(Source::Wasabi), None),
                b(250, Some(Source::AwsS3), Some(BackupType::Automatic)),
                b(50, None, None),
            ],
            ..Found::default()
        };
        let h = BackupHistory::from_found(&found, 400.0);
        assert_eq!(
            h.local,
            StorageBackups {
                count: 2,
                last: Some(300.0),
                last_automatic: Some(100.0)
            }
        );
        assert_eq!(
            h.remote,
            StorageBackups {
                count: 2,
                last: Some(250.0),
                last_automatic: Some(250.0)
            }
        );
        assert_eq!(h.unattributed.count, 1);
        assert_eq!(
            h.storages().map(|(n, _)| n).collect::<Vec<_>>(),
            ["local", "remote", "unknown"]
        );
    }
}
