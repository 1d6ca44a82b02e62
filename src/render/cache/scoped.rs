//! The snapshot part of `/metrics` kept per scope (the set of accounts a
//! viewer may see): every account together for [`Scope::All`], else each
//! account's part rendered apart, once, and merged per scope.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, Utc};

use super::exposition::{CachedSnapshot, ExpositionCache};
use crate::config::access::Scope;
use crate::store::AccountState;

/// Distinct scopes whose cache entries are kept, at most; the least
/// recently used goes first.
pub(crate) const SCOPES_CACHED: usize = 32;

/// One cache per scope (not per user: users who see the same accounts
/// share it), for the most recently used [`SCOPES_CACHED`] scopes.
#[derive(Debug)]
pub(crate) struct PerScope<T> {
    entries: Mutex<VecDeque<(Arc<Scope>, Arc<T>)>>,
}

impl<T> Default for PerScope<T> {
    fn default() -> Self {
        PerScope {
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl<T> PerScope<T> {
    /// The cache of `scope`, made by `make` if it has none.
    pub(crate) fn get(&self, scope: &Arc<Scope>, make: impl FnOnce() -> T) -> Arc<T> {
        let mut entries = lock(&self.entries);
        let found = entries
            .iter()
            .position(|(s, _)| Arc::ptr_eq(s, scope) || **s == **scope);
        let entry = match found.and_then(|i| entries.remove(i)) {
            Some(e) => e,
            None => {
                if entries.len() >= SCOPES_CACHED {
                    entries.pop_front();
                }
                (Arc::clone(scope), Arc::new(make()))
            }
        };
        let cache = Arc::clone(&entry.1);
        entries.push_back(entry);
        cache
    }
}

/// The snapshot part of `/metrics` per scope. Every account together for
/// [`Scope::All`], as without rules. For other scopes, each account is
/// rendered apart, once, and a scope's part is the merge of its accounts'
/// (which shares their text): scopes that overlap do not hold the same
/// series twice.
#[derive(Debug, Default)]
pub(crate) struct Expositions {
    all: ExpositionCache,
    /// Bounded by the configured accounts.
    accounts: Mutex<HashMap<String, Arc<ExpositionCache>>>,
    merged: PerScope<Mutex<Option<Merged>>>,
}

/// A scope's merged part, and the account entries it was merged from.
#[derive(Debug)]
struct Merged {
    parts: Vec<Weak<CachedSnapshot>>,
    entry: Arc<CachedSnapshot>,
}

impl Expositions {
    /// The snapshot part for `states` (the scope's accounts, as loaded for
    /// this scrape) and the instant it is valid for.
    pub(crate) async fn get(
        &self,
        scope: &Arc<Scope>,
        states: &[(String, Arc<AccountState>)],
    ) -> (Arc<CachedSnapshot>, DateTime<Utc>) {
        if **scope == Scope::All {
            let arcs: Vec<_> = states.iter().map(|(_, s)| Arc::clone(s)).collect();
            return self.all.get(&arcs, Utc::now).await;
        }
        let mut now = Utc::now();
        let mut parts = Vec::with_capacity(states.len());
        for (name, state) in states {
            let cache = Arc::clone(lock(&self.accounts).entry(name.clone()).or_default());
            let (part, at) = cache.get(std::slice::from_ref(state), Utc::now).await;
            now = at;
            parts.push(part);
        }
        let slot = self.merged.get(scope, || Mutex::new(None));
        let mut merged = lock(&slot);
        let current = merged.as_ref().filter(|m| {
            m.parts.len() == parts.len()
                && m.parts
                    .iter()
                    .zip(&parts)
                    .all(|(w, p)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(p)))
        });
        if let Some(m) = current {
            return (Arc::clone(&m.entry), now);
        }
        let entry = Arc::new(CachedSnapshot::merged(&parts));
        *merged = Some(Merged {
            parts: parts.iter().map(Arc::downgrade).collect(),
            entry: Arc::clone(&entry),
        });
        (entry, now)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(name: &str) -> Arc<Scope> {
        Arc::new(Scope::Accounts([name.to_string()].into()))
    }

    #[test]
    fn equal_scopes_share_one_cache_and_the_least_recently_used_goes_first() {
        let caches = PerScope::<usize>::default();
        let first = caches.get(&only("a"), || 1);
        assert!(Arc::ptr_eq(&first, &caches.get(&only("a"), || 2)));
        for i in 0..SCOPES_CACHED - 1 {
            caches.get(&only(&format!("other-{i}")), || 0);
        }
        // "a" was used least recently, but is used again now: it stays.
        assert_eq!(*caches.get(&only("a"), || 3), 1);
        caches.get(&only("new"), || 0);
        assert_eq!(*caches.get(&only("a"), || 4), 1, "kept");
        assert_eq!(*caches.get(&only("other-0"), || 5), 5, "evicted");
    }
}
