//! The proof from the bucket, laid over the sites: for each site whose
//! remote schedule points at an integration of a `remote_storage` entry,
//! the revisions of it found in the entry's buckets; for each entry, what
//! its buckets hold that no site claims. Computed with the assessment,
//! from the snapshot and the account's [`BucketEvidence`]; every surface
//! reads the result.

use chrono::{DateTime, Utc};

use super::snapshot::AccountSnapshot;
use crate::bucket::{BucketEvidence, IntegrationRef, Match, Matcher, Revisions, StorageEvidence};

/// What the buckets of the entry that holds a site's remote backups say
/// about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CopyProof {
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
    /// When the entry's last pass ended (`None`: not listed yet).
    pub listed_at: Option<DateTime<Utc>>,
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
                listed_at,
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
