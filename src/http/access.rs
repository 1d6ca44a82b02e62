//! Who sees what: the identity the server authenticated, the accounts the
//! `access` rules let it see, and the caches kept per set of accounts.
//! Every data surface (`/metrics`, the page, the JSON API) loads the store
//! through a [`Viewer`], so an account outside the scope is simply absent,
//! as if it were not configured.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, RwLock, Weak};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::Web;
use crate::config::access::{Access, Scope};
use crate::domain::Policy;
use crate::render::api::View;
use crate::render::metrics::{CachedSnapshot, ExpositionCache};
use crate::store::{AccountState, Store};

/// The authenticated user of a request: the basic-auth user, or else the
/// common name (CN) of the verified client certificate. Set by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity(pub Arc<str>);

/// The `access` rules in force, replaceable while serving (a reload): the
/// next request reads the new rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct AccessRules(Arc<RwLock<Option<Arc<Access>>>>);

impl AccessRules {
    pub(crate) fn new(access: Option<Access>) -> Self {
        AccessRules(Arc::new(RwLock::new(access.map(Arc::new))))
    }

    /// Puts `access` in force for every request from now on; `None` lets
    /// everyone who authenticates see every account.
    pub(crate) fn replace(&self, access: Option<Access>) {
        let access = access.map(Arc::new);
        match self.0.write() {
            Ok(mut g) => *g = access,
            Err(poisoned) => *poisoned.into_inner() = access,
        }
    }

    fn current(&self) -> Option<Arc<Access>> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

static ALL: LazyLock<Arc<Scope>> = LazyLock::new(|| Arc::new(Scope::All));

/// The accounts one request may see.
#[derive(Clone, Debug)]
pub struct Viewer {
    scope: Arc<Scope>,
}

impl Viewer {
    /// A viewer of every account.
    pub fn everyone() -> Viewer {
        Viewer::new(Arc::clone(&ALL))
    }

    pub fn new(scope: Arc<Scope>) -> Viewer {
        Viewer { scope }
    }

    pub(crate) fn scope(&self) -> &Arc<Scope> {
        &self.scope
    }

    /// The permitted accounts, as [`View::load`] loads them.
    pub(crate) fn view(&self, store: &Store) -> View {
        let mut view = View::load(store);
        if *self.scope != Scope::All {
            view.accounts.retain(|a| self.scope.permits(&a.name));
            view.policy = seen_policy(
                &view.policy,
                view.accounts.iter().map(|a| (a.name.as_str(), &*a.state)),
            );
        }
        view
    }

    /// The policy as this viewer may see it, given its accounts' `states`
    /// (as [`Viewer::states`] loads them): the `/metrics` policy series.
    pub(crate) fn policy(
        &self,
        store: &Store,
        states: &[(String, Arc<AccountState>)],
    ) -> Arc<Policy> {
        let policy = store.policy();
        match *self.scope {
            Scope::All => policy,
            Scope::Accounts(_) => seen_policy(
                &policy,
                states.iter().map(|(name, state)| (name.as_str(), &**state)),
            ),
        }
    }

    /// The permitted accounts' states, as [`crate::render::metrics::load_states`].
    pub(crate) fn states(&self, store: &Store) -> Vec<(String, Arc<AccountState>)> {
        let mut states = crate::render::metrics::load_states(store);
        states.retain(|(name, _)| self.scope.permits(name));
        states
    }
}

/// The policy as seen from these accounts' sites ([`Policy::seen_from`]).
fn seen_policy<'a>(
    policy: &Policy,
    accounts: impl Iterator<Item = (&'a str, &'a AccountState)>,
) -> Arc<Policy> {
    Arc::new(policy.seen_from(accounts.flat_map(|(name, state)| {
        state.snapshot.iter().flat_map(move |s| {
            s.sites()
                .map(move |(site, v)| (name, site, v.group.as_deref()))
        })
    })))
}

/// Admits a request to a data surface with its [`Viewer`], or answers 403
/// when the rules give its user no account.
pub(crate) async fn admit(State(web): State<Arc<Web>>, mut req: Request, next: Next) -> Response {
    let scope = match web.access.current() {
        None => Some(Arc::clone(&ALL)),
        Some(access) => req
            .extensions()
            .get::<Identity>()
            .and_then(|id| access.scope(&id.0)),
    };
    match scope {
        Some(scope) if !scope.is_empty() => {
            req.extensions_mut().insert(Viewer { scope });
            next.run(req).await
        }
        _ => {
            tracing::debug!(
                user = req.extensions().get::<Identity>().map(|id| &*id.0),
                path = req.uri().path(),
                "refused: the access rules give this user no account"
            );
            (StatusCode::FORBIDDEN, "Forbidden\n").into_response()
        }
    }
}

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
