//! One task per account with `remote_storage`: every
//! `poll.remote_storage.interval` it lists each bucket of each entry and
//! publishes what it found to the store as one [`BucketEvidence`] value,
//! which the store judges with the account's snapshot. Counters go on
//! from the evidence in the store, so a restarted task does not reset
//! them.

use std::sync::Arc;
use std::time::Duration;

use rusty_s3::{Bucket, UrlStyle};
use tokio::sync::watch;

use super::client::{Keys, ListError};
use super::index::{BucketEvidence, BucketListing, ListOutcome, StorageEvidence};
use super::listing::{Limits, Pacer, list_bucket};
use crate::config::remote_storage::{ListingConfig, RemoteStorage};
use crate::domain::unix_now;
use crate::store::{AccountSlot, Install, Store};

/// Why a lister could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ListerError {
    #[error("remote_storage \"{entry}\": bucket \"{bucket}\": {message}")]
    Bucket {
        entry: String,
        bucket: String,
        message: String,
    },
    #[error("cannot build the S3 HTTP client: {0}")]
    Http(String),
}

struct Entry {
    config: RemoteStorage,
    buckets: Vec<Bucket>,
}

/// The listing of one account's buckets.
pub struct Lister {
    account: String,
    entries: Vec<Entry>,
    http: reqwest::Client,
    limits: Limits,
    interval: Duration,
}

/// The HTTP client the listers share: its own timeouts, no redirects (an
/// S3 endpoint answers, it does not send elsewhere).
pub fn http_client(listing: &ListingConfig) -> Result<reqwest::Client, ListerError> {
    reqwest::Client::builder()
        .connect_timeout(listing.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "gridpane-backup-exporter/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| ListerError::Http(e.without_url().to_string()))
}

impl Lister {
    pub fn new(
        account: &str,
        entries: &[RemoteStorage],
        listing: &ListingConfig,
        http: reqwest::Client,
    ) -> Result<Lister, ListerError> {
        let mut built = Vec::with_capacity(entries.len());
        for e in entries {
            let style = if e.path_style {
                UrlStyle::Path
            } else {
                UrlStyle::VirtualHost
            };
            let mut buckets = Vec::with_capacity(e.buckets.len());
            for b in &e.buckets {
                let bucket = Bucket::new(e.endpoint.clone(), style, b.clone(), e.region.clone())
                    .map_err(|err| ListerError::Bucket {
                        entry: e.name.clone(),
                        bucket: b.clone(),
                        message: err.to_string(),
                    })?;
                buckets.push(bucket);
            }
            built.push(Entry {
                config: e.clone(),
                buckets,
            });
        }
        Ok(Lister {
            account: account.to_string(),
            entries: built,
            http,
            limits: listing.limits(),
            interval: listing.interval,
        })
    }

    /// Replaces the bounds (tests: a short timeout, no backoff).
    pub fn with_limits(mut self, limits: Limits) -> Lister {
        self.limits = limits;
        self
    }

    /// The evidence before any listing: every bucket not listed yet.
    pub fn not_yet(&self) -> BucketEvidence {
        BucketEvidence {
            storages: self
                .entries
                .iter()
                .map(|e| {
                    StorageEvidence::new(
                        &e.config.name,
                        e.config.integrations.clone(),
                        &e.config.buckets,
                    )
                })
                .collect(),
        }
    }

    /// One pass over every bucket; counters go on from `previous`.
    pub async fn pass(&self, previous: &BucketEvidence) -> BucketEvidence {
        let mut storages = Vec::with_capacity(self.entries.len());
        for (i, entry) in self.entries.iter().enumerate() {
            let before = previous
                .storages
                .get(i)
                .filter(|s| *s.name == *entry.config.name)
                .cloned()
                .unwrap_or_else(|| {
                    StorageEvidence::new(
                        &entry.config.name,
                        entry.config.integrations.clone(),
                        &entry.config.buckets,
                    )
                });
            storages.push(self.list_entry(entry, before).await);
        }
        BucketEvidence { storages }
    }

    async fn list_entry(&self, entry: &Entry, mut evidence: StorageEvidence) -> StorageEvidence {
        let name = entry.config.name.as_str();
        evidence.buckets = match keys(&entry.config) {
            Err(e) => {
                tracing::warn!(account = %self.account, remote_storage = name, reason = e.reason(), error = %e, "cannot list remote storage");
                *evidence.errors.entry(e.reason()).or_default() += 1;
                entry
                    .config
                    .buckets
                    .iter()
                    .map(|b| BucketListing {
                        outcome: ListOutcome::Failed { reason: e.reason() },
                        ..BucketListing::not_yet(b)
                    })
                    .collect()
            }
            Ok(keys) => {
                let mut pacer = Pacer::default();
                let mut out = Vec::with_capacity(entry.buckets.len());
                for (bucket, bucket_name) in entry.buckets.iter().zip(&entry.config.buckets) {
                    let started = tokio::time::Instant::now();
                    let listed =
                        list_bucket(&self.http, bucket, &keys, &self.limits, &mut pacer).await;
                    evidence.requests += listed.requests;
                    for reason in &listed.errors {
                        *evidence.errors.entry(reason).or_default() += 1;
                    }
                    let outcome = match &listed.stopped {
                        None => ListOutcome::Listed,
                        Some(e) => {
                            tracing::warn!(account = %self.account, remote_storage = name, bucket = %bucket_name, reason = e.reason(), error = %e, keys = listed.keys, "bucket listing stopped");
                            ListOutcome::Failed { reason: e.reason() }
                        }
                    };
                    tracing::debug!(account = %self.account, remote_storage = name, bucket = %bucket_name, keys = listed.keys, ids = listed.ids.len(), requests = listed.requests, duration_ms = started.elapsed().as_millis() as u64, "bucket listed");
                    out.push(BucketListing {
                        name: bucket_name.clone(),
                        outcome,
                        keys: listed.keys,
                        ids: Arc::new(listed.ids),
                    });
                }
                out
            }
        };
        let now = unix_now();
        evidence.listed_at = Some(now);
        if evidence.up() {
            evidence.last_success = Some(now);
        }
        evidence
    }
}

/// The entry's keys, read now (a file again at every pass).
fn keys(entry: &RemoteStorage) -> Result<Keys, ListError> {
    let load = |source: &crate::config::TokenSource, what: &str| {
        source
            .load()
            .map_err(|e| ListError::Credentials(format!("{what}: {e}")))
    };
    Ok(Keys {
        access_key_id: load(&entry.access_key_id, "access_key_id")?,
        secret_access_key: load(&entry.secret_access_key, "secret_access_key")?,
    })
}

/// Lists every `interval` until `shutdown`, publishing each pass. The
/// first pass starts at once.
pub async fn run(
    lister: Arc<Lister>,
    store: Arc<Store>,
    slot: Arc<AccountSlot>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let previous = Arc::clone(&slot.load().evidence);
        let started = tokio::time::Instant::now();
        let evidence = tokio::select! {
            e = lister.pass(&previous) => e,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let found = Install::evidence(Arc::new(evidence), chrono::Utc::now());
        store.install(&slot, found, |_| {});
        tokio::select! {
            _ = tokio::time::sleep_until(started + lister.interval) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
