//! The schedules table's order: every column sorts both ways, values a
//! site lacks last either way, ties broken by URL, account and id.

use std::cmp::Ordering;

use super::query::{Order, SortKey};
use crate::render::api::{SiteRow, StorageRow};

/// Compares two optional values with `None` last in either order.
fn cmp_some_first<T: Ord>(a: Option<T>, b: Option<T>, order: Order) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => order.apply(x.cmp(&y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// How often a storage's schedule runs (shortest first); `None` without a
/// schedule or with an unknown frequency.
fn frequency_of(row: &StorageRow<'_>) -> Option<u64> {
    row.schedule().and_then(|s| s.frequency.interval_seconds())
}

fn integration_name(row: &SiteRow<'_>) -> Option<String> {
    row.remote
        .integration
        .as_ref()
        .map(|i| match i.found.filter(|_| !i.missing) {
            Some(found) => found.name.to_lowercase(),
            None => String::new(),
        })
}

pub fn sort_rows(rows: &mut [SiteRow<'_>], key: SortKey, order: Order) {
    rows.sort_by(|a, b| {
        let primary = match key {
            SortKey::Status => order.apply(
                a.health
                    .cmp(&b.health)
                    .then_with(|| b.problems.len().cmp(&a.problems.len())),
            ),
            SortKey::Url => order.apply(a.site.url.to_lowercase().cmp(&b.site.url.to_lowercase())),
            SortKey::Server => cmp_some_first(
                a.server_label.map(str::to_lowercase),
                b.server_label.map(str::to_lowercase),
                order,
            ),
            SortKey::Account => order.apply(a.account.cmp(b.account)),
            SortKey::LocalFrequency => {
                cmp_some_first(frequency_of(&a.local), frequency_of(&b.local), order)
            }
            SortKey::RemoteFrequency => {
                cmp_some_first(frequency_of(&a.remote), frequency_of(&b.remote), order)
            }
            SortKey::Local => cmp_some_first(a.local.next_run, b.local.next_run, order),
            SortKey::Remote => cmp_some_first(a.remote.next_run, b.remote.next_run, order),
            SortKey::Integration => cmp_some_first(integration_name(a), integration_name(b), order),
            SortKey::Retention => cmp_some_first(a.retention, b.retention, order),
        };
        primary
            .then_with(|| a.site.url.to_lowercase().cmp(&b.site.url.to_lowercase()))
            .then_with(|| a.account.cmp(b.account))
            .then_with(|| a.site.id.cmp(&b.site.id))
    });
}
