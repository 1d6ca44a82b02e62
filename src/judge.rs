//! Judges every snapshot again when time alone changes a verdict (a mute
//! ends), whether or not polls succeed, and logs each mute's end once. It
//! judges through the store, at the instant its clock gives; a new snapshot
//! is judged where the store installs it.

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
pub(crate) async fn run(
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
                account = m.account.as_deref().unwrap_or(""),
                problems = %problems,
                until = %m.until.to_rfc3339(),
                reason = %m.reason,
                "mute expired: its problems count again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{Mute, SiteRef};
    use crate::domain::{AccountSnapshot, Health, Problem};
    use crate::store::Install;

    fn snapshot() -> AccountSnapshot {
        crate::store::bare_snapshot("acme", [(1, "shop.example".to_string())])
    }

    fn verdict(store: &Store) -> (Health, usize) {
        let state = store.accounts()[0].load();
        let assessed = state.snapshot.as_ref().unwrap();
        let v = &assessed.assessment().sites()[0];
        (v.health, v.muted.len())
    }

    /// Wall time that moves with tokio's clock, so that a paused test can
    /// advance it.
    fn paused_clock(start: DateTime<Utc>) -> impl Fn() -> DateTime<Utc> {
        let origin = tokio::time::Instant::now();
        move || start + chrono::Duration::from_std(origin.elapsed()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn an_ended_mute_stops_muting_without_any_poll_and_is_logged_once() {
        let start: DateTime<Utc> = "2026-11-22T00:00:00Z".parse().unwrap();
        let store = Arc::new(Store::new(["acme".to_string()]));
        let policy = Policy {
            mutes: vec![Mute {
                sites: vec![SiteRef::parse("shop.example")],
                problems: None,
                until: start + chrono::Duration::seconds(60),
                reason: Arc::from("migrating"),
                ..Mute::default()
            }],
            ..Policy::default()
        };
        store.set_policy(policy.clone(), start);
        let log = tempfile::NamedTempFile::new().unwrap();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(log.reopen().unwrap())
            .finish();
        let _logs = tracing::subscriber::set_default(subscriber);
        let slot = Arc::clone(&store.accounts()[0]);
        store.install(&slot, Install::snapshot(snapshot(), start), |_| {});
        assert_eq!(verdict(&store), (Health::Ok, 2), "both problems muted");
        assert_eq!(
            store.next_change(),
            Some(start + chrono::Duration::seconds(60))
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(Arc::clone(&store), paused_clock(start), stopped));

        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(
            verdict(&store),
            (Health::Ok, 2),
            "still muted before the end"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            verdict(&store),
            (Health::Problem, 0),
            "judged again at the mute's end"
        );
        assert_eq!(store.next_change(), None);
        let problems: Vec<Problem> = store.accounts()[0]
            .load()
            .snapshot
            .as_ref()
            .unwrap()
            .assessment()
            .sites()[0]
            .problems()
            .collect();
        assert_eq!(
            problems,
            [Problem::LocalNotScheduled, Problem::RemoteNotSetUp]
        );
        // The same policy again (a reload): the task looks again, and the
        // mute's end is not logged a second time.
        store.set_policy(policy, start + chrono::Duration::seconds(61));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let logged = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(
            logged.matches("mute expired").count(),
            1,
            "logged once: {logged}"
        );
        let _ = stop.send(true);
        task.await.unwrap();
    }
}
