//! Waits for GridPane's rate limit, while they last: a 429 that asked the
//! client to wait, or a request held back until GridPane's window ends. The
//! client reports them here; whoever drives it (the poller) subscribes and
//! shows them. Each wait is logged once, when it starts and no other wait
//! is shown, never per retry.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::Endpoint;

/// A wait for GridPane's rate limit in progress.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimitWait {
    /// The endpoint whose request waits (its route template).
    pub endpoint: &'static str,
    /// Unix seconds when the wait began.
    pub since: f64,
    /// Unix seconds when it ends.
    pub until: f64,
    /// GridPane answered 429; otherwise its counts said its window is spent.
    pub rate_limited: bool,
}

/// The waits of one client in progress; the latest-ending is the one shown.
#[derive(Debug)]
pub(crate) struct Waits {
    next_id: AtomicU64,
    active: Mutex<BTreeMap<u64, RateLimitWait>>,
    shown: watch::Sender<Option<RateLimitWait>>,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            next_id: AtomicU64::new(0),
            active: Mutex::new(BTreeMap::new()),
            shown: watch::Sender::new(None),
        }
    }
}

/// A wait in progress; it ends when dropped (slept out or cancelled).
pub(crate) struct Waiting<'a> {
    waits: &'a Waits,
    id: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.waits.change(|active| {
            active.remove(&self.id);
        });
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Waits {
    /// The wait shown now, and its changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<RateLimitWait>> {
        self.shown.subscribe()
    }

    /// A request of `account` to `endpoint` waits `wait` for GridPane's
    /// rate limit (`rate_limited`: after a 429). Logged when no wait was
    /// shown before it: a 429 as a warning, a spent window at debug level
    /// (it is how a large sweep is paced).
    pub(crate) fn begin(
        &self,
        account: &str,
        endpoint: Endpoint,
        wait: Duration,
        rate_limited: bool,
    ) -> Waiting<'_> {
        let since = unix_now();
        let until = since + wait.as_secs_f64();
        let entry = RateLimitWait {
            endpoint: endpoint.route(),
            since,
            until,
            rate_limited,
        };
        let was_shown = self.shown.borrow().is_some();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.change(|active| {
            active.insert(id, entry);
        });
        if !was_shown {
            let until_text = chrono::DateTime::from_timestamp_millis((until * 1000.0) as i64)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            if rate_limited {
                tracing::warn!(
                    account = %account,
                    endpoint = endpoint.route(),
                    wait_s = wait.as_secs(),
                    until = %until_text,
                    "GridPane's rate limit answered 429: waiting before the next request"
                );
            } else {
                tracing::debug!(
                    account = %account,
                    endpoint = endpoint.route(),
                    wait_s = wait.as_secs(),
                    until = %until_text,
                    "GridPane's rate limit window is spent: waiting for it to end"
                );
            }
        }
        Waiting { waits: self, id }
    }

    fn change(&self, f: impl FnOnce(&mut BTreeMap<u64, RateLimitWait>)) {
        let mut guard = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard);
        let latest = guard
            .values()
            .max_by(|a, b| a.until.total_cmp(&b.until))
            .cloned();
        self.shown.send_if_modified(|shown| {
            let changed = *shown != latest;
            *shown = latest;
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_ending_wait_is_shown_until_every_wait_has_ended() {
        let waits = Waits::default();
        let shown = waits.subscribe();
        let long = waits.begin("acme", Endpoint::Sites, Duration::from_secs(120), true);
        let short = waits.begin("acme", Endpoint::Servers, Duration::from_secs(5), false);
        assert_eq!(shown.borrow().as_ref().map(|w| w.endpoint), Some("/site"));
        drop(long);
        assert_eq!(shown.borrow().as_ref().map(|w| w.endpoint), Some("/server"));
        drop(short);
        assert_eq!(*shown.borrow(), None);
    }

    /// A writer of log lines into a shared buffer.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_wait_is_logged_when_it_starts_not_again_for_requests_that_wait_with_it() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let waits = Waits::default();
        let first = waits.begin("acme", Endpoint::Sites, Duration::from_secs(90), true);
        let retry = waits.begin("acme", Endpoint::Sites, Duration::from_secs(95), true);
        drop((first, retry));
        let later = waits.begin("acme", Endpoint::Servers, Duration::from_secs(31), true);
        drop(later);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let logged: Vec<&str> = text.lines().collect();
        assert_eq!(logged.len(), 2, "{text}");
        assert!(logged[0].contains("endpoint=\"/site\" wait_s=90"), "{text}");
        assert!(
            logged[1].contains("endpoint=\"/server\" wait_s=31"),
            "{text}"
        );
    }
}
