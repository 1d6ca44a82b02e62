//! `access:` who may see which accounts.
//!
//! ```yaml
//! access:
//!   - users: [alice]          # basic-auth users, or client-certificate subjects (CN)
//!     accounts: [client-a]
//!   - users: [prometheus, ops]
//!     accounts: ["*"]
//! ```
//!
//! Without `access`, everyone who authenticates sees every account. With it,
//! a user sees the union of the accounts of the rules that list them; a user
//! that no rule lists, or whose rules list no account, sees nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::Deserialize;

/// The account name that stands for every account.
pub(crate) const WILDCARD: &str = "*";

/// One rule as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    pub users: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
}

/// The accounts one viewer may see. Equal scopes are one key for the
/// caches, whoever holds them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    /// Never every configured account (that is [`Scope::All`]).
    Accounts(BTreeSet<String>),
}

impl Scope {
    pub(crate) fn permits(&self, account: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Accounts(names) => names.contains(account),
        }
    }

    /// Sees no account.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Scope::Accounts(names) if names.is_empty())
    }
}

/// The validated rules: each user's scope.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Access {
    users: HashMap<String, Arc<Scope>>,
}

/// A rule that names what does not exist: the key and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("key \"{key}\": {message}")]
pub struct AccessError {
    pub key: String,
    pub message: String,
}

impl Access {
    /// Validates `rules` against the configured account names.
    pub fn new<'a>(
        rules: &[AccessRule],
        accounts: impl IntoIterator<Item = &'a str>,
    ) -> Result<Access, AccessError> {
        let configured: BTreeSet<&str> = accounts.into_iter().collect();
        let mut wanted: HashMap<String, Option<BTreeSet<String>>> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            let err = |key: String, message: String| AccessError { key, message };
            if rule.users.is_empty() {
                return Err(err(
                    format!("access[{i}].users"),
                    "must list at least one user".to_string(),
                ));
            }
            let mut all = false;
            let mut names = BTreeSet::new();
            for (j, a) in rule.accounts.iter().enumerate() {
                if a == WILDCARD {
                    all = true;
                } else if configured.contains(a.as_str()) {
                    names.insert(a.clone());
                } else {
                    return Err(err(
                        format!("access[{i}].accounts[{j}]"),
                        format!("no account named \"{a}\" is configured"),
                    ));
                }
            }
            for (j, user) in rule.users.iter().enumerate() {
                if user.trim().is_empty() {
                    return Err(err(
                        format!("access[{i}].users[{j}]"),
                        "must not be empty".to_string(),
                    ));
                }
                let entry = wanted
                    .entry(user.clone())
                    .or_insert_with(|| Some(BTreeSet::new()));
                match entry {
                    Some(set) if !all => set.extend(names.iter().cloned()),
                    _ => *entry = None,
                }
            }
        }
        // Users with the same accounts share one scope.
        let mut scopes: HashMap<Scope, Arc<Scope>> = HashMap::new();
        let users = wanted
            .into_iter()
            .map(|(user, names)| {
                let scope = match names {
                    Some(n) if n.len() < configured.len() => Scope::Accounts(n),
                    _ => Scope::All,
                };
                let shared = scopes
                    .entry(scope.clone())
                    .or_insert_with(|| Arc::new(scope));
                (user, Arc::clone(shared))
            })
            .collect();
        Ok(Access { users })
    }

    /// What `user` may see; `None` when no rule lists them.
    pub(crate) fn scope(&self, user: &str) -> Option<Arc<Scope>> {
        self.users.get(user).cloned()
    }

    /// No rule lists any user (`access: []`).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Distinct scopes among the users.
    pub(crate) fn scopes(&self) -> usize {
        let mut seen: Vec<&Scope> = Vec::new();
        for s in self.users.values() {
            if !seen.contains(&s.as_ref()) {
                seen.push(s);
            }
        }
        seen.len()
    }
}

impl Access {
    /// Every user the rules name.
    pub(crate) fn users(&self) -> impl Iterator<Item = &str> {
        let mut users: Vec<&str> = self.users.keys().map(String::as_str).collect();
        users.sort_unstable();
        users.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(users: &[&str], accounts: &[&str]) -> AccessRule {
        AccessRule {
            users: users.iter().map(|s| s.to_string()).collect(),
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
        }
    }

    const ACCOUNTS: [&str; 3] = ["a", "b", "c"];

    #[test]
    fn a_user_sees_the_union_of_the_rules_that_list_them() {
        let access = Access::new(
            &[rule(&["alice"], &["a"]), rule(&["alice", "bob"], &["b"])],
            ACCOUNTS,
        )
        .unwrap();
        let alice = access.scope("alice").unwrap();
        assert!(alice.permits("a") && alice.permits("b") && !alice.permits("c"));
        let bob = access.scope("bob").unwrap();
        assert!(!bob.permits("a") && bob.permits("b"));
        assert_eq!(access.scope("mallory"), None);
    }

    #[test]
    fn the_wildcard_and_a_list_of_every_account_are_one_scope() {
        let access = Access::new(
            &[rule(&["ops"], &["*"]), rule(&["prom"], &["c", "a", "b"])],
            ACCOUNTS,
        )
        .unwrap();
        assert_eq!(*access.scope("ops").unwrap(), Scope::All);
        assert_eq!(*access.scope("prom").unwrap(), Scope::All);
        assert_eq!(access.scopes(), 1);
    }

    #[test]
    fn a_user_listed_without_accounts_sees_nothing() {
        let access = Access::new(&[rule(&["nobody"], &[])], ACCOUNTS).unwrap();
        assert!(access.scope("nobody").unwrap().is_empty());
    }

    #[test]
    fn an_account_that_is_not_configured_is_an_error_naming_the_key() {
        let err = Access::new(
            &[rule(&["u"], &["a"]), rule(&["v"], &["b", "zz"])],
            ACCOUNTS,
        )
        .unwrap_err();
        assert_eq!(err.key, "access[1].accounts[1]");
        assert!(err.message.contains("\"zz\""), "{err}");
        let err = Access::new(&[rule(&[], &["a"])], ACCOUNTS).unwrap_err();
        assert_eq!(err.key, "access[0].users");
    }
}
