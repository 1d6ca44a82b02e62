//! Judges every snapshot again when time alone changes a verdict (a mute
//! ends), whether or not polls succeed, and logs each mute's end once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::domain::Policy;
use crate::store::Store;

/// Runs until `shutdown`: sleeps until the store's next change
/// ([`Store::next_change`]), then judges every snapshot again at `clock()`.
/// A new snapshot or policy wakes it to look again.
pub async fn run(
    store: Arc<Store>,
    clock: impl Fn() -> DateTime<Utc>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = store.subscribe();
    let mut logged = HashSet::new();
    loop {
        changes.borrow_and_update();
        let now = clock();
        log_ended(&store.policy(), now, &mut logged);
        let wait = store
            .next_change()
            .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO));
        tokio::select! {
            () = sleep_for(wait) => store.rejudge(clock()),
            changed = changes.changed() => if changed.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

async fn sleep_for(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Logs every mute that has ended and was not logged yet (a reload that
/// keeps a mute does not log it again).
fn log_ended(policy: &Policy, now: DateTime<Utc>, logged: &mut HashSet<String>) {
    for m in policy.mutes.iter().filter(|m| !m.active(now)) {
        let key = format!("{:?} {:?} {} {}", m.sites, m.problems, m.until, m.reason);
        if logged.insert(key) {
            let problems = m
                .problems
                .as_ref()
                .map_or("every problem".to_string(), |ps| {
                    ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
                });
            tracing::warn!(
                sites = ?m.sites,
                problems = %problems,
                until = %m.until.to_rfc3339(),
                reason = %m.reason,
                "mute expired: its problems count again"
            );
        }
    }
}
