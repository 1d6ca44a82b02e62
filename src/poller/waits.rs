//! Shows the source's waits for GridPane's rate limit in the account's
//! state while a poll runs: the client reports them, the poller copies each
//! change into the store, and the renderers say "waiting for GridPane's
//! rate limit until ...".

use std::future::Future;

use tokio::sync::watch;

use crate::gridpane::RateLimitWait;
use crate::store::{AccountSlot, Store};

/// Runs `fetch`, keeping the account's `rate_limit_wait` equal to what
/// `waits` says until it ends. Without `waits`, just `fetch`.
pub(super) async fn showing_waits<T>(
    fetch: impl Future<Output = T>,
    waits: Option<watch::Receiver<Option<RateLimitWait>>>,
    store: &Store,
    slot: &AccountSlot,
) -> T {
    let Some(mut waits) = waits else {
        return fetch.await;
    };
    let show = |wait: Option<RateLimitWait>| {
        if slot.load().rate_limit_wait != wait {
            store.update(slot, |s| s.rate_limit_wait = wait);
        }
    };
    // A wait begun before this poll (by the per-site detail task) is one
    // this poll's requests wait for too.
    show(waits.borrow_and_update().clone());
    tokio::pin!(fetch);
    loop {
        tokio::select! {
            out = &mut fetch => return out,
            changed = waits.changed() => match changed {
                Ok(()) => show(waits.borrow_and_update().clone()),
                // The client is gone: nothing more to show.
                Err(_) => return fetch.await,
            },
        }
    }
}
