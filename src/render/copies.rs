//! Series of the proof from the bucket (`remote_storage`): per entry,
//! whether its buckets were listed, when, with how many requests and
//! errors, and what they hold that no site claims; per judged site, its
//! newest revision and how many there are. Read from the evidence and the
//! assessment in the store; nothing here lists or matches.
//!
//! The series read from the assessment (orphans, ambiguous ids, each
//! site's newest revision and count) change only with the snapshot: they
//! are rendered once per snapshot, in [`JudgedCopies`], kept with the
//! cached snapshot part and copied into each scrape. The entry series read
//! from the evidence the lister publishes are rendered on every scrape.

use super::text::{Family, write_families};
use crate::bucket::ListError;
use crate::domain::Assessed;
use crate::store::AccountState;

/// The per-entry families from the evidence in the store: they change with
/// every listing pass, not with the snapshot.
pub(crate) fn storage_families(accounts: &[(&str, &AccountState)]) -> Vec<Family> {
    let mut up = Family::gauge(
        "gridpane_remote_storage_up",
        "1 if the last listing pass read every bucket of this remote_storage entry in full, else 0 (0 before the first pass). Buckets are listed in the background, not on scrape.",
    );
    let mut last_success = Family::gauge(
        "gridpane_remote_storage_last_successful_listing_timestamp_seconds",
        "When the last listing pass that read every bucket of this entry in full ended, unix seconds.",
    );
    let mut keys = Family::gauge(
        "gridpane_remote_storage_keys",
        "Keys under snapshots/ read from this entry's buckets by the last listing pass.",
    );
    let mut requests = Family::counter(
        "gridpane_remote_storage_requests_total",
        "ListObjectsV2 requests sent to this entry's buckets, retries included.",
    );
    let mut errors = Family::counter(
        "gridpane_remote_storage_errors_total",
        "Failed ListObjectsV2 requests (retried ones included) and stopped listings of this entry's buckets, by reason.",
    );
    for (account, state) in accounts {
        let a = *account;
        for storage in &state.evidence.storages {
            let labels = [("account", a), ("remote_storage", &*storage.name)];
            up.push(&labels, f64::from(u8::from(storage.up())));
            if let Some(t) = storage.last_success {
                last_success.push(&labels, t);
            }
            keys.push(
                &labels,
                storage.buckets.iter().map(|b| b.keys).sum::<u64>() as f64,
            );
            requests.push(&labels, storage.requests as f64);
            for reason in ListError::REASONS {
                let n = storage.errors.get(reason).copied().unwrap_or(0);
                errors.push(&[labels[0], labels[1], ("reason", reason)], n as f64);
            }
        }
    }
    vec![up, last_success, keys, requests, errors]
}

/// The families judged with the snapshots (orphans, ambiguous ids, each
/// site's newest revision and count), rendered once per snapshot.
#[derive(Clone, Debug, Default)]
pub struct JudgedCopies(Vec<Family>);

impl JudgedCopies {
    /// Renders the families of `snapshots`, in configuration order.
    pub(crate) fn render(snapshots: &[&Assessed]) -> JudgedCopies {
        let mut orphans = Family::gauge(
            "gridpane_remote_copy_orphans",
            "Snapshot ids in this entry's buckets that no current site matches: backups of deleted sites that still cost money.",
        );
        let mut ambiguous = Family::gauge(
            "gridpane_remote_copy_ambiguous",
            "Snapshot ids in this entry's buckets that fit several sites and so prove none.",
        );
        let mut newest = Family::gauge(
            "gridpane_remote_copy_newest_timestamp_seconds",
            "When the newest revision of the site found in the buckets of its remote_storage entry landed (LastModified), unix seconds; absent when none was found.",
        );
        let mut revisions = Family::gauge(
            "gridpane_remote_copy_revisions",
            "Revisions of the site found in the buckets of its remote_storage entry (0: none).",
        );
        for assessed in snapshots {
            let a = assessed.snapshot().account.as_str();
            let judged_with = &assessed.evidence().storages;
            for (storage, tally) in judged_with.iter().zip(assessed.assessment().copies()) {
                let labels = [("account", a), ("remote_storage", &*storage.name)];
                orphans.push(&labels, tally.orphans as f64);
                ambiguous.push(&labels, tally.ambiguous as f64);
            }
            for (site, verdict) in assessed.sites() {
                let Some(copy) = &verdict.remote.copy else {
                    continue;
                };
                let Some(storage) = judged_with.get(copy.storage) else {
                    continue;
                };
                let id = site.id.to_string();
                let labels = [
                    ("account", a),
                    ("site_id", id.as_str()),
                    ("remote_storage", &*storage.name),
                ];
                if let Some(t) = copy.newest {
                    newest.push(&labels, t.timestamp_millis() as f64 / 1000.0);
                }
                revisions.push(&labels, copy.revisions as f64);
            }
        }
        JudgedCopies(vec![orphans, ambiguous, newest, revisions])
    }

    /// Parts rendered apart (one per account), as one: each family's
    /// samples in the parts' order.
    pub(crate) fn merged<'a>(parts: impl IntoIterator<Item = &'a JudgedCopies>) -> JudgedCopies {
        let mut out: Option<JudgedCopies> = None;
        for part in parts {
            match &mut out {
                None => out = Some(part.clone()),
                Some(merged) => {
                    for (into, from) in merged.0.iter_mut().zip(&part.0) {
                        into.extend(from);
                    }
                }
            }
        }
        out.unwrap_or_else(|| JudgedCopies::render(&[]))
    }

    /// Appends the families that have samples to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        write_families(&self.0, out);
    }
}
