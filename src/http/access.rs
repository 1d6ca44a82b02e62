//! Who sees what: the identity the server authenticated and the accounts
//! the `access` rules let it see (the caches kept per set of accounts are
//! in [`crate::render::cache`]).
//! Every data surface (`/metrics`, the page, the JSON API) loads the store
//! through a [`Viewer`], so an account outside the scope is simply absent,
//! as if it were not configured.

use std::sync::{Arc, LazyLock, RwLock};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Web;
use crate::config::access::{Access, Scope};
use crate::domain::Policy;
use crate::render::api::View;
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
