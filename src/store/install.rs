//! What one write of the store brings to an account before it is judged
//! ([`super::Store::install`]), and how it is laid over the snapshot.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::AccountState;
use crate::bucket::BucketEvidence;
use crate::domain::{AccountSnapshot, SiteDetail};

/// What one [`super::Store::install`] brings to an account before it is judged.
#[derive(Debug)]
pub struct Install {
    /// A new snapshot (a poll, saved state); `None` keeps the current one.
    pub(super) snapshot: Option<AccountSnapshot>,
    /// Per-site detail laid over the snapshot beside the account's own
    /// (newer wins); detail of sites the snapshot does not list is dropped.
    pub(super) detail: BTreeMap<u64, SiteDetail>,
    /// What the account's buckets hold, when a listing pass found it.
    pub(super) evidence: Option<Arc<BucketEvidence>>,
    /// The instant the verdict is made at.
    pub(super) now: DateTime<Utc>,
}

impl Install {
    /// A new snapshot, with the account's per-site detail laid over it.
    pub fn snapshot(snapshot: AccountSnapshot, now: DateTime<Utc>) -> Install {
        Install {
            snapshot: Some(snapshot),
            detail: BTreeMap::new(),
            evidence: None,
            now,
        }
    }

    /// Per-site detail laid over the current snapshot; nothing without one.
    pub fn detail(detail: BTreeMap<u64, SiteDetail>, now: DateTime<Utc>) -> Install {
        Install {
            snapshot: None,
            detail,
            evidence: None,
            now,
        }
    }

    /// What a listing pass found, put in force and judged with the current
    /// snapshot.
    pub fn evidence(evidence: Arc<BucketEvidence>, now: DateTime<Utc>) -> Install {
        Install {
            snapshot: None,
            detail: BTreeMap::new(),
            evidence: Some(evidence),
            now,
        }
    }

    /// With per-site detail besides (saved state: a snapshot and its
    /// detail).
    pub fn with_detail(self, detail: BTreeMap<u64, SiteDetail>) -> Install {
        Install { detail, ..self }
    }
}

/// A new snapshot for `s`, with the account's detail and `detail` laid over
/// it; the account's detail keeps only the sites it lists.
pub(super) fn lay_over_new(
    s: &mut AccountState,
    mut snapshot: AccountSnapshot,
    mut detail: BTreeMap<u64, SiteDetail>,
) -> Arc<AccountSnapshot> {
    if s.detail.is_empty() && detail.is_empty() {
        return Arc::new(snapshot);
    }
    let listed: HashSet<u64> = snapshot.sites.iter().map(|site| site.id).collect();
    detail.retain(|id, _| listed.contains(id));
    if !detail.is_empty() || s.detail.keys().any(|id| !listed.contains(id)) {
        let mut kept = BTreeMap::clone(&s.detail);
        kept.retain(|id, _| listed.contains(id));
        kept.append(&mut detail);
        s.detail = Arc::new(kept);
    }
    crate::domain::apply_detail(&mut snapshot, &s.detail);
    Arc::new(snapshot)
}

/// `s`'s current snapshot with `detail` laid over it (the sites it lists),
/// added to the account's detail; `None` when there is no snapshot or none
/// of `detail` is for a site it lists.
pub(super) fn lay_over_current(
    s: &mut AccountState,
    mut detail: BTreeMap<u64, SiteDetail>,
) -> Option<Arc<AccountSnapshot>> {
    let current = s.snapshot.as_ref()?;
    let listed: HashSet<u64> = current.sites.iter().map(|site| site.id).collect();
    detail.retain(|id, _| listed.contains(id));
    if detail.is_empty() {
        return None;
    }
    let mut next = AccountSnapshot::clone(current.snapshot());
    crate::domain::apply_detail(&mut next, &detail);
    let mut map = BTreeMap::clone(&s.detail);
    map.append(&mut detail);
    s.detail = Arc::new(map);
    Some(Arc::new(next))
}
