//! The Prometheus exposition. Per-site series are built fresh from the
//! current assessed snapshots on every render, so a site that a poll no
//! longer lists takes its series with it. Values come from the last
//! successful poll and from the verdict the store holds with it: nothing
//! here judges a site or calls GridPane.
//!
//! The snapshot part (the walk over every site, [`walk`], into one buffer
//! per family, [`families`], [`snapshot_text`]) changes only with the
//! snapshots and is cached ([`crate::render::cache`]); the tail, rendered
//! on every scrape, is the exporter's health ([`health`]), the policy
//! ([`policy`]), per-site detail and the bucket's series. [`gzip`] joins a
//! compressed snapshot part and a tail into one gzip member.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::copies::JudgedCopies;
use super::text::write_families;
use crate::domain::{Assessed, Policy};
use crate::store::{AccountState, Store};

mod families;
mod gzip;
mod health;
mod policy;
mod snapshot_text;
mod walk;

pub use gzip::GzipHead;
pub use health::task_text;
pub use snapshot_text::{SnapshotText, snapshot_text, snapshot_text_recycled, snapshot_text_sized};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("GRIDPANE_BACKUP_EXPORTER_REVISION");

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The part of the exposition rendered on every scrape: the exporter's
/// health per account, the per-site detail (ages: they change by the
/// second), then `extra` as it is (task restarts and process metrics,
/// already written).
pub fn render_tail(
    states: &[(&str, &AccountState)],
    policy: &Policy,
    extra: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    tail(
        states,
        policy,
        &JudgedCopies::render(&assessed(states)),
        extra,
        now,
    )
}

/// Like [`render_tail`], with the copy series given (as rendered with the
/// snapshot part) instead of rendered now.
pub(crate) fn tail(
    states: &[(&str, &AccountState)],
    policy: &Policy,
    copies: &JudgedCopies,
    extra: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    let now_unix = now.timestamp_millis() as f64 / 1000.0;
    let mut out = Vec::with_capacity(8 * 1024 + extra.len());
    write_families(&health::health_families(states, now_unix), &mut out);
    write_families(&policy::policy_families(policy, now), &mut out);
    write_families(&super::detail::detail_families(states, now_unix), &mut out);
    write_families(&super::copies::storage_families(states), &mut out);
    copies.write(&mut out);
    out.extend_from_slice(extra);
    out
}

/// The assessed snapshots of the accounts that have one, in their order.
fn assessed<'a>(states: &[(&str, &'a AccountState)]) -> Vec<&'a Assessed> {
    states
        .iter()
        .filter_map(|(_, s)| s.snapshot.as_deref())
        .collect()
}

/// Every account's current state, in configuration order.
pub fn load_states(store: &Store) -> Vec<(String, Arc<AccountState>)> {
    store
        .accounts()
        .iter()
        .map(|a| (a.name.clone(), a.load()))
        .collect()
}

/// Renders the whole exposition from the store, fresh: snapshots, health,
/// and the extra text (task restarts, process metrics) given.
pub fn render(store: &Store, extra: &[u8], now: DateTime<Utc>) -> Vec<u8> {
    render_states(&load_states(store), &store.policy(), extra, now)
}

/// Like [`render`], for the accounts' states given.
pub(crate) fn render_states(
    states: &[(String, Arc<AccountState>)],
    policy: &Policy,
    extra: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    let health: Vec<(&str, &AccountState)> = states
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_ref()))
        .collect();
    let snapshot = snapshot_text(&assessed(&health), now);
    let tail = render_tail(&health, policy, extra, now);
    let mut out = Vec::with_capacity(snapshot.len + tail.len());
    for c in &snapshot.chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&tail);
    out
}

#[cfg(test)]
mod tests;
