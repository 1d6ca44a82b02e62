//! `basic_auth_users`: users and their bcrypt hashes, checked at load;
//! verification bounded in concurrency, each success remembered as a keyed
//! hash, and unknown users as slow to reject as known ones.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher as _;
use std::path::Path;
use std::sync::Mutex;

use axum::http::HeaderValue;
use base64::Engine as _;

use super::WebConfigError;

/// Successful verifications remembered, at most.
const AUTH_CACHE_MAX: usize = 1024;
/// bcrypt verifications running at once, at most: unauthenticated requests
/// cannot take every core.
const AUTH_CONCURRENCY: usize = 2;

/// Basic auth against bcrypt hashes. bcrypt is slow on purpose, so a
/// successful (user, password) pair is remembered as a keyed hash (never
/// the password) and later requests with it cost nothing.
pub struct BasicAuth {
    pub(super) users: BTreeMap<String, String>,
    /// Verified against for unknown users, so they take as long as known
    /// ones: its cost is the highest in the file.
    dummy_hash: String,
    keys: RandomState,
    verified: Mutex<HashSet<u64>>,
    running: tokio::sync::Semaphore,
}

impl BasicAuth {
    pub(super) fn new(
        path: &Path,
        users: BTreeMap<String, String>,
    ) -> Result<Self, WebConfigError> {
        // The highest cost in the file: an unknown user must never be
        // cheaper to reject than a known one.
        let mut cost = 0;
        for (user, hash) in &users {
            let key = format!("basic_auth_users.{user}");
            if user.is_empty() || user.contains(':') {
                return Err(WebConfigError::at(
                    path,
                    &key,
                    "a user name must be non-empty and without ':'",
                ));
            }
            let parts: bcrypt::HashParts = hash
                .trim()
                .parse()
                .map_err(|_| WebConfigError::at(path, &key, "not a bcrypt hash"))?;
            cost = cost.max(parts.get_cost());
        }
        let dummy_hash = bcrypt::hash("not a password", cost)
            .map_err(|e| WebConfigError::at(path, "basic_auth_users", e))?;
        Ok(BasicAuth {
            users: users
                .into_iter()
                .map(|(u, h)| (u, h.trim().to_string()))
                .collect(),
            dummy_hash,
            keys: RandomState::new(),
            verified: Mutex::new(HashSet::new()),
            running: tokio::sync::Semaphore::new(AUTH_CONCURRENCY),
        })
    }

    /// The user, when the `Authorization` header carries a configured user
    /// and the right password.
    pub(crate) async fn authenticate(&self, authorization: Option<&HeaderValue>) -> Option<String> {
        let (user, password) = authorization.and_then(parse_basic)?;
        let key = self.keys.hash_one((&user, &password));
        if self.with_cache(|c| c.contains(&key)) {
            return Some(user);
        }
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let _permit = self.running.acquire().await.ok()?;
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if ok && known {
            self.with_cache(|c| {
                if c.len() >= AUTH_CACHE_MAX {
                    c.clear();
                }
                c.insert(key);
            });
        }
        (ok && known).then_some(user)
    }

    fn with_cache<R>(&self, f: impl FnOnce(&mut HashSet<u64>) -> R) -> R {
        match self.verified.lock() {
            Ok(mut c) => f(&mut c),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// `Basic base64(user:password)` -> (user, password).
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let text = value.to_str().ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

impl BasicAuth {
    /// Whether the file defines `user` (its password is not checked).
    pub(crate) fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::web::load;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn unknown_users_are_checked_against_a_hash_at_the_highest_cost_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // The costliest user first: the last one in the file is the cheapest.
        let yaml = format!(
            "basic_auth_users:\n  alice: '{}'\n  bob: '{}'\n  carol: '{}'\n",
            bcrypt::hash("a", 6).unwrap(),
            bcrypt::hash("b", 5).unwrap(),
            bcrypt::hash("c", 4).unwrap(),
        );
        let auth = load(&write(&dir, "web.yml", &yaml)).unwrap().auth.unwrap();
        let dummy: bcrypt::HashParts = auth.dummy_hash.parse().unwrap();
        assert_eq!(dummy.get_cost(), 6);
    }

    #[tokio::test]
    async fn basic_auth_accepts_the_right_password_only_and_caches_it() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let c = load(&write(
            &dir,
            "web.yml",
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
        ))
        .unwrap();
        let auth = c.auth.unwrap();
        let header = |u: &str, p: &str| {
            HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            ))
            .unwrap()
        };
        assert!(
            auth.authenticate(Some(&header("alice", "s3cret")))
                .await
                .is_some()
        );
        assert!(auth.with_cache(|c| c.len()) == 1);
        assert!(
            auth.authenticate(Some(&header("alice", "s3cret")))
                .await
                .is_some()
        );
        assert!(
            auth.authenticate(Some(&header("alice", "wrong")))
                .await
                .is_none()
        );
        assert!(
            auth.authenticate(Some(&header("bob", "s3cret")))
                .await
                .is_none()
        );
        assert!(auth.authenticate(None).await.is_none());
        assert!(
            auth.authenticate(Some(&HeaderValue::from_static("Bearer x")))
                .await
                .is_none()
        );
        assert!(
            auth.authenticate(Some(&HeaderValue::from_static("Basic !!!")))
                .await
                .is_none()
        );
    }
}
