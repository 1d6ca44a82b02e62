//! The proof from the bucket, laid over the sites: for each site whose
//! remote schedule points at an integration of a `remote_storage` entry,
//! the revisions of it found in the entry's buckets; for each entry, what
//! its buckets hold that no site claims. Computed with the assessment,
//! from the snapshot and the account's [`BucketEvidence`]; every surface
//! reads the result.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::snapshot::AccountSnapshot;
use crate::bucket::{
    BucketEvidence, IntegrationRef, ListOutcome, Match, Matcher, Revisions, StorageEvidence,
};

/// What the buckets of the entry that holds a site's remote backups say
/// about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyProof {
    /// The entry, as an index into the account's evidence.
    pub storage: usize,
    /// When the newest revision of the site landed; `None`: no revision
    /// found in any bucket of the entry.
    pub newest: Option<DateTime<Utc>>,
    /// Revisions of the site found.
    pub revisions: u64,
    /// Every bucket of the entry was listed in full by its last pass: a
    /// revision not found is not there.
    pub complete: bool,
    /// A bucket of the entry failed its last listing (403, timeout, a body
    /// not understood, the key cap): what it holds is not known.
    pub failed: bool,
    /// When the entry's last pass ended (`None`: not listed yet).
    pub listed_at: Option<DateTime<Utc>>,
    /// What the proof says, under the site's rules ([`CopyProof::judge`]).
    pub state: CopyState,
}

/// What the bucket proves about a site's remote backups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyState {
    /// A revision of the site landed within what its schedule allows.
    Verified,
    /// The newest revision is older than its schedule allows.
    Stale,
    /// No revision of the site in any bucket, every one listed in full.
    Missing,
    /// Not proven either way: a bucket of the entry could not be listed,
    /// and what was listed holds nothing within the schedule (the site is
    /// `remote_copy_unknown`).
    Unknown,
    /// Not proven either way yet: a bucket of the entry has not been listed
    /// since the process started, and none failed (the site is pending).
    Pending,
}

impl CopyState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CopyState::Verified => "verified",
            CopyState::Stale => "stale",
            CopyState::Missing => "missing",
            CopyState::Unknown => "unknown",
            CopyState::Pending => "pending",
        }
    }
}

impl CopyProof {
    /// The state of the proof for a remote schedule of `period` seconds:
    /// stale once the newest revision is `overdue_after` periods plus
    /// `overdue_grace` old at the time of the listing (judged at the
    /// listing, like the record at its read: no time-driven flip between
    /// passes). Only a complete listing proves a copy missing or stale.
    pub(crate) fn judge(
        &self,
        period: Option<u64>,
        overdue_after: f64,
        grace: std::time::Duration,
    ) -> CopyState {
        let due = match (self.newest, period) {
            (Some(newest), Some(p)) => {
                let allowed = overdue_after * p as f64 + grace.as_secs_f64();
                newest.checked_add_signed(chrono::Duration::milliseconds((allowed * 1000.0) as i64))
            }
            _ => None,
        };
        let late = matches!((due, self.listed_at), (Some(due), Some(at)) if at >= due);
        match (self.newest, late, self.complete) {
            (Some(_), false, _) => CopyState::Verified,
            (Some(_), true, true) => CopyState::Stale,
            (None, _, true) => CopyState::Missing,
            (_, _, false) if self.failed => CopyState::Unknown,
            (_, _, false) => CopyState::Pending,
        }
    }
}

/// What one entry's buckets hold, against the snapshot's sites.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StorageCopies {
    /// Snapshot ids no current site matches.
    pub orphans: usize,
    /// Snapshot ids that fit several sites.
    pub ambiguous: usize,
    /// Sites whose remote schedule points at the entry.
    pub judged: usize,
    /// Of those, sites with a revision found.
    pub verified: usize,
}

/// The proof per site (in site order) and the tally per entry (in
/// evidence order).
pub(crate) fn prove(
    snapshot: &AccountSnapshot,
    evidence: &BucketEvidence,
) -> (Vec<Option<CopyProof>>, Vec<StorageCopies>) {
    let mut proofs = vec![None; snapshot.sites.len()];
    if evidence.is_empty() {
        return (proofs, Vec::new());
    }
    let matcher = Matcher::new(snapshot.sites.iter().map(|s| s.url.as_str()));
    let mut tallies = Vec::with_capacity(evidence.storages.len());
    for (index, storage) in evidence.storages.iter().enumerate() {
        let mut found: Vec<Option<Revisions>> = vec![None; snapshot.sites.len()];
        let mut tally = StorageCopies::default();
        for bucket in &storage.buckets {
            for (id, revisions) in bucket.ids.iter() {
                match matcher.find(id) {
                    Match::Site(i) => {
                        if let Some(slot) = found.get_mut(i) {
                            *slot = Some(Revisions::merge(*slot, *revisions));
                        }
                    }
                    Match::Ambiguous => tally.ambiguous += 1,
                    Match::Orphan => tally.orphans += 1,
                }
            }
        }
        let complete = storage.up();
        let failed = storage
            .buckets
            .iter()
            .any(|b| matches!(b.outcome, ListOutcome::Failed { .. }));
        let listed_at = storage.listed_at.and_then(instant);
        for (i, site) in snapshot.sites.iter().enumerate() {
            let Some(slot) = proofs.get_mut(i) else {
                continue;
            };
            if slot.is_some()
                || !holds(
                    storage,
                    snapshot,
                    site.remote.schedule.as_ref().and_then(|s| s.integration_id),
                )
            {
                continue;
            }
            let revisions = found.get(i).copied().flatten();
            tally.judged += 1;
            tally.verified += usize::from(revisions.is_some());
            *slot = Some(CopyProof {
                storage: index,
                newest: revisions.and_then(|r| instant(r.newest)),
                revisions: revisions.map_or(0, |r| r.count),
                complete,
                failed,
                listed_at,
                state: CopyState::Unknown,
            });
        }
        tallies.push(tally);
    }
    (proofs, tallies)
}

/// The entry holds the backups of this integration (by id, or by its name
/// in the snapshot, ignoring case).
fn holds(storage: &StorageEvidence, snapshot: &AccountSnapshot, integration: Option<u64>) -> bool {
    let Some(id) = integration else {
        return false;
    };
    let name = snapshot
        .integrations
        .iter()
        .find(|i| i.id == id)
        .map(|i| i.name.as_str());
    storage.integrations.iter().any(|r| match r {
        IntegrationRef::Id(x) => *x == id,
        IntegrationRef::Name(n) => name.is_some_and(|name| name.eq_ignore_ascii_case(n)),
    })
}

fn instant(unix: f64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis((unix * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests;
