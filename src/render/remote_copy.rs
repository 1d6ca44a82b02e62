//! The proof from the bucket next to GridPane's claim, for the JSON API
//! (`remote_copy` of a site) and the status page: what the bucket holds
//! (verified, stale, missing or unknown, with the newest revision and the
//! listing's age) and what GridPane's record says, side by side.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::time::{age_seconds, from_unix, rfc3339};
use crate::domain::StorageBackups;
use crate::domain::{CopyProof, CopyState};

/// A site's proof from the bucket, with the entry that holds it.
#[derive(Clone, Copy, Debug)]
pub struct CopyRow<'a> {
    pub proof: CopyProof,
    /// The entry's `name`.
    pub storage: &'a str,
}

/// `remote_copy` of a site in the JSON API.
#[derive(Debug, Serialize)]
pub struct RemoteCopyEntry {
    /// The `remote_storage` entry whose buckets hold the site's backups.
    pub remote_storage: String,
    /// `verified`, `stale`, `missing` or `unknown` (a bucket of the entry
    /// could not be listed in full, and nothing fresh was found).
    pub state: CopyState,
    /// Verified: the newest revision in the bucket.
    pub newest: Option<String>,
    pub newest_age_seconds: Option<i64>,
    pub revisions: u64,
    /// Every bucket of the entry was listed in full by the last pass.
    pub complete: bool,
    /// When the last listing pass ended, and how long ago (the proof's age).
    pub listed_at: Option<String>,
    pub proof_age_seconds: Option<i64>,
    /// Claimed: the newest remote backup in GridPane's record, when
    /// `poll.detail.history` has read it.
    pub claimed_last: Option<String>,
    pub claimed_age_seconds: Option<i64>,
}

pub(crate) fn entry(
    row: &CopyRow<'_>,
    claimed: Option<&StorageBackups>,
    now: DateTime<Utc>,
) -> RemoteCopyEntry {
    let p = &row.proof;
    let claimed = claimed.and_then(|c| c.last).and_then(from_unix);
    RemoteCopyEntry {
        remote_storage: row.storage.to_string(),
        state: p.state,
        newest: p.newest.map(rfc3339),
        newest_age_seconds: p.newest.map(|t| age_seconds(t, now)),
        revisions: p.revisions,
        complete: p.complete,
        listed_at: p.listed_at.map(rfc3339),
        proof_age_seconds: p.listed_at.map(|t| age_seconds(t, now)),
        claimed_last: claimed.map(rfc3339),
        claimed_age_seconds: claimed.map(|t| age_seconds(t, now)),
    }
}
