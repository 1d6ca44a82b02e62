//! The poller against a scripted source, on tokio's paused clock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridpane_backup_exporter::gridpane::{ApiError, Endpoint, RequestTally};
use gridpane_backup_exporter::model::Fetched;
use gridpane_backup_exporter::poller::{self, Source};
use gridpane_backup_exporter::render::metrics;
use gridpane_backup_exporter::store::Store;
use serde_json::json;
use tokio::sync::watch;

/// Answers each fetch with the next scripted result, after `delay`.
struct Scripted {
    results: Mutex<VecDeque<Result<Fetched, ApiError>>>,
    calls: Arc<Mutex<u32>>,
    delay: Duration,
}

impl Scripted {
    fn new(results: Vec<Result<Fetched, ApiError>>) -> Self {
        Scripted {
            results: Mutex::new(results.into()),
            calls: Arc::new(Mutex::new(0)),
            delay: Duration::ZERO,
        }
    }
}

impl Source for Scripted {
    async fn fetch(&self) -> Result<Fetched, ApiError> {
        *self.calls.lock().unwrap() += 1;
        tokio::time::sleep(self.delay).await;
        let next = self.results.lock().unwrap().pop_front();
        next.unwrap_or_else(|| Ok(fleet(&[1])))
    }
    fn take_tally(&self) -> RequestTally {
        RequestTally::default()
    }
}

fn fleet(site_ids: &[u64]) -> Fetched {
    let sites = site_ids
        .iter()
        .map(|id| json!({"id": id, "url": format!("site-{id}.example.com"), "server_id": 10, "local_bup": true, "remote_bup": true}))
        .collect::<Vec<_>>();
    let schedules = site_ids
        .iter()
        .map(|id| json!({"site_id": id, "server_id": 10, "schedule_backups": [
            {"id": id * 10, "type": "local", "bup_schedule": "daily", "hour": "05", "minute": "00", "day": null}
        ]}))
        .collect::<Vec<_>>();
    Fetched {
        sites: serde_json::from_value(json!(sites)).unwrap(),
        servers: serde_json::from_value(
            json!([{"id": 10, "label": "web-01", "update_backups": 1}]),
        )
        .unwrap(),
        schedules: serde_json::from_value(json!(schedules)).unwrap(),
        integrations: Vec::new(),
    }
}

fn http_503() -> ApiError {
    ApiError::Http {
        endpoint: Endpoint::Sites,
        status: 503,
    }
}

fn exposition(store: &Store) -> String {
    String::from_utf8(metrics::render(store, &[], chrono::Utc::now())).unwrap()
}

#[tokio::test]
async fn failed_poll_keeps_last_good_snapshot() {
    let store = Store::new(["acme".to_string()]);
    let slot = store.accounts()[0].clone();
    let source = Scripted::new(vec![Ok(fleet(&[1, 2])), Err(http_503())]);

    poller::poll_once(&source, &store, &slot).await.unwrap();
    let first = slot.load().snapshot.clone().unwrap();
    assert!(poller::poll_once(&source, &store, &slot).await.is_err());

    let state = slot.load();
    assert!(!state.up());
    assert_eq!(
        state.snapshot.as_ref().unwrap(),
        &first,
        "snapshot kept as it was"
    );
    assert_eq!(state.counters.polls, 2);
    assert_eq!(state.counters.poll_errors.get("http_5xx"), Some(&1));
    let text = exposition(&store);
    assert!(text.contains("gridpane_up{account=\"acme\"} 0\n"), "{text}");
    assert!(text.contains("gridpane_poll_errors_total{account=\"acme\",reason=\"http_5xx\"} 1\n"));
    assert!(
        text.contains("gridpane_site_info{account=\"acme\",site_id=\"2\""),
        "sites still served"
    );
}

#[tokio::test]
async fn a_site_a_successful_poll_no_longer_lists_disappears_from_metrics() {
    let store = Store::new(["acme".to_string()]);
    let slot = store.accounts()[0].clone();
    let source = Scripted::new(vec![Ok(fleet(&[1, 2])), Err(http_503()), Ok(fleet(&[1]))]);

    poller::poll_once(&source, &store, &slot).await.unwrap();
    let _ = poller::poll_once(&source, &store, &slot).await;
    assert!(
        exposition(&store).contains("site_id=\"2\""),
        "a failed poll removes nothing"
    );
    poller::poll_once(&source, &store, &slot).await.unwrap();
    let text = exposition(&store);
    assert!(!text.contains("site_id=\"2\""), "{text}");
    assert!(text.contains("gridpane_sites{account=\"acme\"} 1\n"));
    assert!(text.contains("gridpane_up{account=\"acme\"} 1\n"));
}

#[tokio::test]
async fn before_the_first_poll_metrics_say_up_zero_and_the_store_is_not_ready() {
    let store = Store::new(["acme".to_string()]);
    assert!(!store.ready());
    let text = exposition(&store);
    assert!(text.contains("gridpane_up{account=\"acme\"} 0\n"), "{text}");
    assert!(text.contains("gridpane_exporter_build_info{"), "{text}");
    assert!(!text.contains("gridpane_last_successful_poll_timestamp_seconds{"));
}

#[tokio::test]
async fn a_failed_first_poll_still_makes_the_account_ready() {
    let store = Store::new(["acme".to_string()]);
    let slot = store.accounts()[0].clone();
    let source = Scripted::new(vec![Err(http_503())]);
    let _ = poller::poll_once(&source, &store, &slot).await;
    assert!(store.ready());
    assert!(slot.load().snapshot.is_none());
}

#[tokio::test]
async fn one_broken_account_leaves_the_other_untouched() {
    let store = Store::new(["good".to_string(), "broken".to_string()]);
    let good = store.accounts()[0].clone();
    let broken = store.accounts()[1].clone();
    poller::poll_once(&Scripted::new(vec![Ok(fleet(&[1]))]), &store, &good)
        .await
        .unwrap();
    let _ = poller::poll_once(&Scripted::new(vec![Err(http_503())]), &store, &broken).await;
    let text = exposition(&store);
    assert!(text.contains("gridpane_up{account=\"good\"} 1\n"), "{text}");
    assert!(
        text.contains("gridpane_up{account=\"broken\"} 0\n"),
        "{text}"
    );
    assert!(text.contains("gridpane_sites{account=\"good\"} 1\n"));
}

#[tokio::test(start_paused = true)]
async fn the_poller_polls_at_start_then_once_per_interval() {
    let store = Arc::new(Store::new(["acme".to_string()]));
    let slot = store.accounts()[0].clone();
    let source = Scripted::new(Vec::new());
    let calls = Arc::clone(&source.calls);
    let (stop, stop_rx) = watch::channel(false);
    let interval = Duration::from_secs(300);
    let task = tokio::spawn(poller::run(
        source,
        Arc::clone(&store),
        slot,
        interval,
        stop_rx,
    ));

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(*calls.lock().unwrap(), 1, "polled at start");
    // Jitter adds at most 30 s to a 300 s interval.
    tokio::time::sleep(Duration::from_secs(298)).await;
    assert_eq!(*calls.lock().unwrap(), 1, "not before the interval");
    tokio::time::sleep(Duration::from_secs(32)).await;
    assert_eq!(*calls.lock().unwrap(), 2, "once the interval has passed");

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_poll_that_overruns_the_interval_is_not_doubled() {
    let store = Arc::new(Store::new(["acme".to_string()]));
    let slot = store.accounts()[0].clone();
    let mut source = Scripted::new(Vec::new());
    source.delay = Duration::from_secs(700);
    let calls = Arc::clone(&source.calls);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(poller::run(
        source,
        Arc::clone(&store),
        slot,
        Duration::from_secs(300),
        stop_rx,
    ));

    tokio::time::sleep(Duration::from_secs(650)).await;
    assert_eq!(*calls.lock().unwrap(), 1, "still in the first poll");
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(
        *calls.lock().unwrap(),
        2,
        "the next poll starts right after the overrun one"
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_stop_signal_ends_a_poller_in_the_middle_of_a_poll() {
    let store = Arc::new(Store::new(["acme".to_string()]));
    let slot = store.accounts()[0].clone();
    let mut source = Scripted::new(Vec::new());
    source.delay = Duration::from_secs(3600);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(poller::run(
        source,
        Arc::clone(&store),
        slot,
        Duration::from_secs(300),
        stop_rx,
    ));
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .unwrap()
        .unwrap();
}
