//! The JSON API's list answers, serialised once and shared by every
//! request for the same snapshots, scope and query: a client that reads
//! slowly (or never) holds a reference to a shared body, not a copy of its
//! own. Every body, cached or still being sent, holds permits for its
//! bytes from one budget, so all of them together never exceed it. The
//! answers are built by [`crate::render::api`] and sent by `crate::http`;
//! the kind of answer is the caller's key (`K`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use crate::config::access::Scope;
use crate::domain::Assessed;

/// Distinct answers kept for reuse, at most.
const SHARED_ANSWERS: usize = 16;
/// Bytes that serialised list answers may hold at once, by default.
pub(crate) const DEFAULT_ANSWER_BYTES: usize = 64 << 20;

/// The snapshots an answer is built from, per account in the viewer's
/// order (`None`: the account has none yet).
pub(crate) type Sources<'a> = [Option<&'a Arc<Assessed>>];

/// Serialised list answers of kind `K` (the endpoint), shared and budgeted.
/// An answer that finds no room in the budget is not kept (the caller
/// answers 503).
#[derive(Debug)]
pub(crate) struct SharedAnswers<K> {
    entries: Mutex<VecDeque<Arc<SharedAnswer<K>>>>,
    /// Concurrent misses build an answer once between them.
    building: tokio::sync::Mutex<()>,
    budget: Arc<Semaphore>,
    budget_bytes: u32,
}

#[derive(Debug)]
pub(crate) struct SharedAnswer<K> {
    key: K,
    query: Option<String>,
    /// The accounts it was built for: an answer serves only viewers who
    /// may see exactly these.
    scope: Arc<Scope>,
    /// The snapshots it was built from, per account (as in the exposition
    /// cache: weak, and compared by address).
    sources: Vec<Option<Weak<Assessed>>>,
    built_at: DateTime<Utc>,
    /// The earliest next run in the answer (unix seconds): from then on a
    /// fresh answer differs.
    valid_until: Option<i64>,
    body: Arc<Held>,
    /// Compressed on first use, then sent to every gzip client; `None`
    /// when the budget had no room for it. Kept rather than compressing
    /// each response as it streams out (tower-http's `CompressionLayer`,
    /// which the page and the answers built per request use): measured at
    /// 10k sites, that served the whole site list 25 times less often
    /// (32 against 804 requests/s) and a 100-site page 4.5 times less
    /// often, and 150 gzip clients that never read took 133 MiB at peak
    /// against 83 MiB, each holding its own compressor outside the budget
    /// (docs/performance.md, "Compression of the page and the API").
    gzip: OnceCell<Option<Arc<Held>>>,
}

/// What an answer is: its kind, query and scope, and when it was built
/// from which snapshots.
pub(crate) struct AnswerKey<'a, K> {
    pub key: K,
    pub query: Option<&'a str>,
    pub scope: &'a Arc<Scope>,
    pub sources: &'a Sources<'a>,
    pub now: DateTime<Utc>,
}

impl<K: Copy + PartialEq> SharedAnswer<K> {
    fn serves(&self, want: &AnswerKey<'_, K>) -> bool {
        self.key == want.key
            && self.query.as_deref() == want.query
            && *self.scope == **want.scope
            && self.sources.len() == want.sources.len()
            && self
                .sources
                .iter()
                .zip(want.sources)
                .all(|(cached, a)| cached.as_ref().map(Weak::as_ptr) == a.map(Arc::as_ptr))
            && self.built_at <= want.now
            && self
                .valid_until
                .is_none_or(|until| want.now.timestamp() < until)
    }
}

impl<K> SharedAnswer<K> {
    /// A response is still sending its body.
    fn in_use(&self) -> bool {
        Arc::strong_count(&self.body) > 1
            || self
                .gzip
                .get()
                .and_then(Option::as_ref)
                .is_some_and(|gz| Arc::strong_count(gz) > 1)
    }

    /// Length of the plain body.
    pub(crate) fn len(&self) -> usize {
        self.body.bytes.len()
    }

    /// The plain body, for one response: the shared allocation itself.
    pub(crate) fn body(&self) -> Bytes {
        Sending::bytes(&self.body)
    }

    /// The body compressed by `compress`, once, on first use (off the
    /// workers that answer other requests), then shared like the plain
    /// one; `None` when the budget has no room for it.
    pub(crate) async fn gzip(
        &self,
        cache: &SharedAnswers<K>,
        compress: fn(&[u8]) -> Vec<u8>,
    ) -> Option<Bytes> {
        self.gzip
            .get_or_init(|| async {
                let body = Arc::clone(&self.body);
                let gz = tokio::task::spawn_blocking(move || compress(&body.bytes))
                    .await
                    .unwrap_or_else(|_| compress(&self.body.bytes));
                cache.hold(gz)
            })
            .await
            .as_ref()
            .map(Sending::bytes)
    }
}

/// A body and the budget permits for its bytes, released with its last
/// reference.
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    _permit: OwnedSemaphorePermit,
}

/// A response's reference to a shared body.
struct Sending(Arc<Held>);

impl AsRef<[u8]> for Sending {
    fn as_ref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl Sending {
    fn bytes(held: &Arc<Held>) -> Bytes {
        Bytes::from_owner(Sending(Arc::clone(held)))
    }
}

impl<K> Default for SharedAnswers<K> {
    fn default() -> Self {
        SharedAnswers::new(DEFAULT_ANSWER_BYTES)
    }
}

impl<K> SharedAnswers<K> {
    /// `budget_bytes`: what all bodies together may hold (at most 4 GiB).
    /// An answer larger than the budget is served alone.
    pub(crate) fn new(budget_bytes: usize) -> Self {
        let budget_bytes = u32::try_from(budget_bytes.max(1)).unwrap_or(u32::MAX);
        SharedAnswers {
            entries: Mutex::new(VecDeque::new()),
            building: tokio::sync::Mutex::new(()),
            budget: Arc::new(Semaphore::new(budget_bytes as usize)),
            budget_bytes,
        }
    }

    fn with_entries<R>(&self, f: impl FnOnce(&mut VecDeque<Arc<SharedAnswer<K>>>) -> R) -> R {
        match self.entries.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Held while building an answer that was not found: concurrent
    /// misses build it once between them (look again once it is held).
    pub(crate) async fn building(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.building.lock().await
    }

    /// `bytes` as a body that holds budget for its size; `None` when the
    /// budget has no room, even after dropping the cached answers no
    /// response is sending.
    fn hold(&self, bytes: Vec<u8>) -> Option<Arc<Held>> {
        let need = u32::try_from(bytes.len())
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_bytes);
        let permit = match Arc::clone(&self.budget).try_acquire_many_owned(need) {
            Ok(p) => p,
            Err(_) => {
                self.with_entries(|e| e.retain(|a| a.in_use()));
                Arc::clone(&self.budget).try_acquire_many_owned(need).ok()?
            }
        };
        Some(Arc::new(Held {
            bytes,
            _permit: permit,
        }))
    }
}

impl<K: Copy + PartialEq> SharedAnswers<K> {
    /// The kept answer that is what building `want` now would give.
    pub(crate) fn find(&self, want: &AnswerKey<'_, K>) -> Option<Arc<SharedAnswer<K>>> {
        self.with_entries(|e| {
            e.retain(|a| a.sources.iter().flatten().all(|w| w.strong_count() > 0));
            e.iter().find(|a| a.serves(want)).cloned()
        })
    }

    /// Keeps `json`, built for `built` and valid until `valid_until` (unix
    /// seconds), and returns it as a shared answer; `None` when the budget
    /// has no room for it.
    pub(crate) fn share(
        &self,
        built: &AnswerKey<'_, K>,
        valid_until: Option<i64>,
        json: Vec<u8>,
    ) -> Option<Arc<SharedAnswer<K>>> {
        let body = self.hold(json)?;
        let answer = Arc::new(SharedAnswer {
            key: built.key,
            query: built.query.map(str::to_string),
            scope: Arc::clone(built.scope),
            sources: built
                .sources
                .iter()
                .map(|s| s.map(Arc::downgrade))
                .collect(),
            built_at: built.now,
            valid_until,
            body,
            gzip: OnceCell::new(),
        });
        self.with_entries(|e| {
            if e.len() >= SHARED_ANSWERS {
                e.pop_front();
            }
            e.push_back(Arc::clone(&answer));
        });
        Some(answer)
    }
}
