//! What a listing found: per snapshot id the newest revision and how many
//! there are, per bucket how the listing went, per `remote_storage` entry
//! the integrations it proves. Plain immutable values: the lister builds
//! them, the store publishes them next to the snapshot, the assessment
//! reads them. Nothing here lists, matches or judges.

use std::collections::BTreeMap;
use std::sync::Arc;

/// The revisions of one snapshot id in one bucket. Memory does not grow
/// with revisions: only the newest and a count are kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Revisions {
    /// Unix seconds of the newest revision's LastModified.
    pub newest: f64,
    pub count: u64,
}

impl Revisions {
    pub(crate) fn add(&mut self, at: f64) {
        self.count += 1;
        if at > self.newest {
            self.newest = at;
        }
    }

    /// Both sets of revisions together (one site under both id forms).
    pub(crate) fn merge(a: Option<Revisions>, b: Revisions) -> Revisions {
        match a {
            None => b,
            Some(a) => Revisions {
                newest: a.newest.max(b.newest),
                count: a.count + b.count,
            },
        }
    }
}

/// How the last listing of one bucket went.
#[derive(Clone, Debug, PartialEq)]
pub enum ListOutcome {
    /// Not listed yet since the process started.
    NotYet,
    /// Every page was read.
    Listed,
    /// The listing stopped: `reason` is one of
    /// [`crate::bucket::ListError::REASONS`]. What it read before it stopped
    /// is kept (the snapshot id it stopped in excepted, whose revisions may
    /// go on), so it proves the copies it found, never that one is missing.
    Failed { reason: &'static str },
}

/// One bucket of an entry.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketListing {
    pub name: String,
    pub outcome: ListOutcome,
    /// Keys read in the last listing.
    pub keys: u64,
    /// Snapshot id (as the bucket spells it) -> its revisions.
    pub ids: Arc<BTreeMap<String, Revisions>>,
}

impl BucketListing {
    pub fn not_yet(name: &str) -> BucketListing {
        BucketListing {
            name: name.to_string(),
            outcome: ListOutcome::NotYet,
            keys: 0,
            ids: Arc::default(),
        }
    }

    pub fn listed(&self) -> bool {
        self.outcome == ListOutcome::Listed
    }
}

/// A GridPane backup integration an entry's buckets hold backups of, by id
/// or by name (`integrations` in the configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrationRef {
    Id(u64),
    Name(String),
}

/// One `remote_storage` entry of an account, as of its last listing pass.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageEvidence {
    /// The entry's `name`: the `remote_storage` label.
    pub name: Arc<str>,
    pub integrations: Vec<IntegrationRef>,
    pub buckets: Vec<BucketListing>,
    /// Unix seconds when the last pass ended.
    pub listed_at: Option<f64>,
    /// Unix seconds when the last pass that listed every bucket ended.
    pub last_success: Option<f64>,
    /// Requests sent since the process started, retries included.
    pub requests: u64,
    /// Failed requests and listings since the process started, by reason.
    pub errors: BTreeMap<&'static str, u64>,
}

impl StorageEvidence {
    /// An entry not listed yet.
    pub fn new(name: &str, integrations: Vec<IntegrationRef>, buckets: &[String]) -> Self {
        StorageEvidence {
            name: Arc::from(name),
            integrations,
            buckets: buckets.iter().map(|b| BucketListing::not_yet(b)).collect(),
            listed_at: None,
            last_success: None,
            requests: 0,
            errors: BTreeMap::new(),
        }
    }

    /// Every bucket of the entry was listed in full by the last pass.
    pub fn up(&self) -> bool {
        !self.buckets.is_empty() && self.buckets.iter().all(BucketListing::listed)
    }
}

/// What an account's buckets hold: one entry per `remote_storage` entry, in
/// configuration order. Empty when the account has none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketEvidence {
    pub storages: Vec<StorageEvidence>,
}

impl BucketEvidence {
    pub fn is_empty(&self) -> bool {
        self.storages.is_empty()
    }
}
