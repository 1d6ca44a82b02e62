//! The snapshot part of `/metrics`, rendered once per change of the
//! snapshots and served to every scrape while a fresh render would give
//! the same bytes; its gzip form is compressed once, on first use.

use std::sync::{Arc, RwLock, Weak};

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use crate::domain::{Assessed, Policy};
use crate::render::copies::JudgedCopies;
use crate::render::metrics::{self, GzipHead, SnapshotText};
use crate::store::AccountState;

/// The snapshot part of the exposition, rendered once and served to every
/// scrape while it is still what a fresh render would produce.
#[derive(Debug)]
pub struct CachedSnapshot {
    /// The snapshots it was rendered from, per account in configuration
    /// order. Weak: an entry never keeps a replaced snapshot's data alive,
    /// and the allocation it pins keeps its address from being reused.
    sources: Vec<Option<Weak<Assessed>>>,
    rendered_at: DateTime<Utc>,
    text: SnapshotText,
    /// The copy series judged with the same snapshots: served in the tail
    /// (their place in the exposition), rendered with the text.
    copies: JudgedCopies,
    gzip: OnceCell<GzipHead>,
}

impl CachedSnapshot {
    /// The plain text, in chunks.
    pub fn text(&self) -> &SnapshotText {
        &self.text
    }

    /// The compressed snapshot part, computed once, on first use.
    pub async fn gzip(&self) -> &GzipHead {
        self.gzip
            .get_or_init(|| async {
                let chunks = self.text.chunks.clone();
                match tokio::task::spawn_blocking(move || GzipHead::new(&chunks)).await {
                    Ok(gz) => gz,
                    Err(_) => GzipHead::new(&self.text.chunks),
                }
            })
            .await
    }

    /// The part rendered on every scrape to serve after this entry, as
    /// [`metrics::render_tail`], with the copy series rendered with the
    /// entry's snapshots instead of rendered now.
    pub fn render_tail(
        &self,
        states: &[(&str, &AccountState)],
        policy: &Policy,
        extra: &[u8],
        now: DateTime<Utc>,
    ) -> Vec<u8> {
        metrics::tail(states, policy, &self.copies, extra, now)
    }

    /// True when a fresh render at `now` from `states` would give the same
    /// bytes: the same snapshots, and no schedule's next run has come (the
    /// only way the snapshot part depends on the time).
    fn serves(&self, states: &[Arc<AccountState>], now: DateTime<Utc>) -> bool {
        self.sources.len() == states.len()
            && self.sources.iter().zip(states).all(|(cached, state)| {
                match (cached, &state.snapshot) {
                    (None, None) => true,
                    (Some(w), Some(a)) => std::ptr::eq(w.as_ptr(), Arc::as_ptr(a)),
                    _ => false,
                }
            })
            && self.rendered_at <= now
            && self.text.valid_until.is_none_or(|until| now < until)
    }

    /// Entries rendered apart (one per account, say), as one: byte for byte
    /// what rendering their snapshots together, in this order, gives
    /// ([`SnapshotText::merged`]: the parts' chunks are shared, not
    /// copied). The gzip form is the merged entry's own.
    pub fn merged(parts: &[Arc<CachedSnapshot>]) -> CachedSnapshot {
        CachedSnapshot {
            sources: parts.iter().flat_map(|p| p.sources.clone()).collect(),
            rendered_at: parts
                .iter()
                .map(|p| p.rendered_at)
                .max()
                .unwrap_or(DateTime::UNIX_EPOCH),
            text: SnapshotText::merged(parts.iter().map(|p| &p.text)),
            copies: JudgedCopies::merged(parts.iter().map(|p| &p.copies)),
            gzip: OnceCell::new(),
        }
    }
}

/// Caches the snapshot part of the exposition between scrapes. Concurrent
/// scrapes that find it stale render it once between them.
#[derive(Debug, Default)]
pub struct ExpositionCache {
    current: RwLock<Option<Arc<CachedSnapshot>>>,
    render_lock: tokio::sync::Mutex<()>,
}

/// The last entry's text, for the next render to take its buffers from.
enum Previous {
    None,
    /// Nothing else holds it: its buffers are written again.
    Unused(SnapshotText),
    /// A response still sends it: new buffers, sized from it (its sizes
    /// alone, not its chunks, are kept for the render).
    Shared(SnapshotText),
}

impl Previous {
    /// Renders `snapshots` at `now` (the production path, as
    /// [`metrics::snapshot_text`] and its two variants are benchmarked).
    fn render(self, snapshots: &[&Assessed], now: DateTime<Utc>) -> SnapshotText {
        match self {
            Previous::None => metrics::snapshot_text(snapshots, now),
            Previous::Unused(text) => metrics::snapshot_text_recycled(snapshots, now, text),
            Previous::Shared(sizes) => metrics::snapshot_text_sized(snapshots, now, Some(&sizes)),
        }
    }
}

impl ExpositionCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn current(&self) -> Option<Arc<CachedSnapshot>> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, entry: Option<Arc<CachedSnapshot>>) {
        match self.current.write() {
            Ok(mut g) => *g = entry,
            Err(poisoned) => *poisoned.into_inner() = entry,
        }
    }

    /// The snapshot part for `states` (as loaded for this scrape) and the
    /// instant it is valid for, read from `clock` once the entry is known to
    /// be current. Render the per-scrape part with that instant.
    pub async fn get(
        &self,
        states: &[Arc<AccountState>],
        clock: impl Fn() -> DateTime<Utc>,
    ) -> (Arc<CachedSnapshot>, DateTime<Utc>) {
        let now = clock();
        if let Some(entry) = self.current().filter(|e| e.serves(states, now)) {
            return (entry, now);
        }
        let _rendering = self.render_lock.lock().await;
        // Another scrape may have rendered it while this one waited.
        let now = clock();
        if let Some(entry) = self.current().filter(|e| e.serves(states, now)) {
            return (entry, now);
        }
        let snapshots: Vec<Arc<Assessed>> =
            states.iter().filter_map(|s| s.snapshot.clone()).collect();
        // The stale entry goes now, not after the render: responses still
        // sending it hold their own references, and the two never need to
        // be in memory together. When none does, its buffers take the new
        // render.
        let previous = self.current();
        self.set(None);
        let previous = match previous.map(Arc::try_unwrap) {
            Some(Ok(unused)) => Previous::Unused(unused.text),
            Some(Err(shared)) => Previous::Shared(shared.text.sizes_only()),
            None => Previous::None,
        };
        let render = move || {
            let refs: Vec<&Assessed> = snapshots.iter().map(Arc::as_ref).collect();
            (previous.render(&refs, now), JudgedCopies::render(&refs))
        };
        // Rendering a large fleet takes a while: keep it off the workers
        // that answer other requests.
        let (text, copies) = match tokio::task::spawn_blocking(render).await {
            Ok(rendered) => rendered,
            Err(_) => {
                let refs: Vec<&Assessed> = states
                    .iter()
                    .filter_map(|s| s.snapshot.as_deref())
                    .collect();
                (
                    metrics::snapshot_text(&refs, now),
                    JudgedCopies::render(&refs),
                )
            }
        };
        let entry = Arc::new(CachedSnapshot {
            sources: states
                .iter()
                .map(|s| s.snapshot.as_ref().map(Arc::downgrade))
                .collect(),
            rendered_at: now,
            text,
            copies,
            gzip: OnceCell::new(),
        });
        self.set(Some(Arc::clone(&entry)));
        (entry, now)
    }
}
