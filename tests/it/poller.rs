//! The poller against a scripted source, on tokio's paused clock; its
//! supervision; the `/site` sweep against the fake GridPane.

use crate::support;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridpane_backup_exporter::app;
use gridpane_backup_exporter::config::PollConfig;
use gridpane_backup_exporter::fake::FakeGridPane;
use gridpane_backup_exporter::gridpane::{ApiError, Client, Endpoint, RequestTally};
use gridpane_backup_exporter::poller::Fetched;
use gridpane_backup_exporter::poller::{self, Source, SweepLimits, SweepingSource};
use gridpane_backup_exporter::render::metrics;
use gridpane_backup_exporter::store::{AccountSlot, Store, Task};
use serde_json::json;
use support::{TOKEN, account, capture_logs, fake, fleet_of};
use tokio::sync::watch;

/// One scripted fetch: an answer, or a panic (a bug on some input).
enum Step {
    Answer(Result<Fetched, ApiError>),
    Panic,
}

/// Answers each fetch with the next scripted step, after `delay`.
struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    calls: Arc<Mutex<u32>>,
    delay: Duration,
}

impl Scripted {
    fn new(results: Vec<Result<Fetched, ApiError>>) -> Self {
        Self::steps(results.into_iter().map(Step::Answer).collect())
    }

    fn steps(steps: Vec<Step>) -> Self {
        Scripted {
            steps: Mutex::new(steps.into()),
            calls: Arc::new(Mutex::new(0)),
            delay: Duration::ZERO,
        }
    }
}

impl Source for Scripted {
    async fn fetch(&self) -> Result<Fetched, ApiError> {
        *self.calls.lock().unwrap() += 1;
        tokio::time::sleep(self.delay).await;
        let next = self.steps.lock().unwrap().pop_front();
        match next {
            Some(Step::Answer(result)) => result,
            Some(Step::Panic) => panic!("cannot convert float seconds to Duration"),
            None => Ok(fleet(&[1])),
        }
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
    let tasks = metrics::task_text(store.tasks());
    String::from_utf8(metrics::render(store, &tasks, chrono::Utc::now())).unwrap()
}

fn calls(counter: &Arc<Mutex<u32>>) -> u32 {
    *counter.lock().unwrap()
}

/// One account, `acme`.
fn acme() -> (Arc<Store>, Arc<AccountSlot>) {
    let store = Arc::new(Store::new(["acme".to_string()]));
    let slot = Arc::clone(&store.accounts()[0]);
    (store, slot)
}

/// A background task a test started, and its stop signal.
struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn spawn<F>(start: impl FnOnce(watch::Receiver<bool>) -> F) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stop_rx) = watch::channel(false);
        Running {
            stop,
            task: tokio::spawn(start(stop_rx)),
        }
    }

    /// Sends the stop signal; the task must end within a second.
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

fn run_poller(
    source: Scripted,
    store: &Arc<Store>,
    slot: &Arc<AccountSlot>,
    interval: Duration,
    start_after: Duration,
) -> Running {
    let (store, slot) = (Arc::clone(store), Arc::clone(slot));
    Running::spawn(|stop| poller::run(source, store, slot, interval, start_after, stop))
}

/// The poller as the exporter runs it, every 60 s, under its supervisor.
fn supervised(source: Arc<Scripted>, store: &Arc<Store>, slot: &Arc<AccountSlot>) -> Running {
    let (store, slot) = (Arc::clone(store), Arc::clone(slot));
    Running::spawn(|stop| {
        app::supervised_poller(
            source,
            store,
            slot,
            Duration::from_secs(60),
            Duration::ZERO,
            stop,
        )
    })
}

#[tokio::test]
async fn failed_poll_keeps_last_good_snapshot() {
    let (store, slot) = acme();
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
    let (store, slot) = acme();
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
    let (store, slot) = acme();
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
    let (store, slot) = acme();
    let source = Scripted::new(Vec::new());
    let calls = Arc::clone(&source.calls);
    let interval = Duration::from_secs(300);
    let running = run_poller(source, &store, &slot, interval, Duration::ZERO);

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(*calls.lock().unwrap(), 1, "polled at start");
    // Jitter adds at most 30 s to a 300 s interval.
    tokio::time::sleep(Duration::from_secs(298)).await;
    assert_eq!(*calls.lock().unwrap(), 1, "not before the interval");
    tokio::time::sleep(Duration::from_secs(32)).await;
    assert_eq!(*calls.lock().unwrap(), 2, "once the interval has passed");

    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_poll_that_overruns_the_interval_is_not_doubled() {
    let (store, slot) = acme();
    let mut source = Scripted::new(Vec::new());
    source.delay = Duration::from_secs(700);
    let calls = Arc::clone(&source.calls);
    let running = run_poller(
        source,
        &store,
        &slot,
        Duration::from_secs(300),
        Duration::ZERO,
    );

    tokio::time::sleep(Duration::from_secs(650)).await;
    assert_eq!(*calls.lock().unwrap(), 1, "still in the first poll");
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(
        *calls.lock().unwrap(),
        2,
        "the next poll starts right after the overrun one"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stop_signal_ends_a_poller_in_the_middle_of_a_poll() {
    let (store, slot) = acme();
    let mut source = Scripted::new(Vec::new());
    source.delay = Duration::from_secs(3600);
    let running = run_poller(
        source,
        &store,
        &slot,
        Duration::from_secs(300),
        Duration::ZERO,
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_poller_whose_fetch_panics_is_restarted_counted_and_reads_up_zero_until_it_polls_again() {
    let (store, slot) = acme();
    let source = Arc::new(Scripted::steps(vec![
        Step::Answer(Ok(fleet(&[1, 2]))),
        Step::Panic,
    ]));
    let counter = Arc::clone(&source.calls);
    let running = supervised(source, &store, &slot);

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(slot.load().up());
    // The second poll, 60 to 66 s later, panics.
    tokio::time::sleep(Duration::from_secs(58)).await;
    for _ in 0..100 {
        if calls(&counter) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(calls(&counter), 2);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let state = slot.load();
    assert_eq!(store.tasks().restarts(Task::Poller), 1);
    assert!(!state.up(), "up 0 while the poller is not running");
    assert!(!state.polling, "the status must not say it is polling");
    let text = exposition(&store);
    assert!(text.contains("gridpane_up{account=\"acme\"} 0\n"), "{text}");
    assert!(
        text.contains("gridpane_exporter_task_restarts_total{task=\"poller\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("site_id=\"2\""),
        "the last good snapshot is still served"
    );

    // Restarted after a second, it polls at once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(calls(&counter), 3);
    assert!(slot.load().up(), "polling resumed");
    assert!(store.tasks().healthy());

    running.stop().await;
    assert_eq!(
        store.tasks().restarts(Task::Poller),
        1,
        "a stop is not a restart"
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_that_keeps_ending_is_restarted_with_doubling_backoff_then_the_exporter_is_unhealthy()
 {
    let (store, _) = acme();
    let starts = Arc::new(Mutex::new(0u32));
    let counter = Arc::clone(&starts);
    let t0 = tokio::time::Instant::now();
    let running = Running::spawn(|stop| {
        app::supervise(
            Task::StateWriter,
            Arc::clone(&store),
            None,
            stop,
            move || {
                *counter.lock().unwrap() += 1;
                async {}
            },
        )
    });
    // Starts at 0, 1, 3, 7, 15, 31, 63, 127, 255, 511 s, then every 300 s.
    for (at_ms, want, healthy) in [
        (500, 1, true),
        (1_500, 2, true),
        (2_500, 2, true),
        (3_500, 3, true),
        (6_500, 3, true),
        (7_500, 4, true),
        (510_000, 9, true),
        (512_000, 10, false),
        (810_000, 10, false),
        (812_000, 11, false),
    ] {
        tokio::time::sleep_until(t0 + Duration::from_millis(at_ms)).await;
        assert_eq!(calls(&starts), want, "starts at {at_ms} ms");
        assert_eq!(
            store.tasks().restarts(Task::StateWriter),
            u64::from(want),
            "restarts at {at_ms} ms"
        );
        assert_eq!(store.tasks().healthy(), healthy, "healthy at {at_ms} ms");
    }
    assert_eq!(store.tasks().restarts(Task::Poller), 0);
    running.stop().await;
}

#[tokio::test]
async fn a_404_on_the_first_poll_asks_whether_base_url_is_right_and_a_later_one_does_not() {
    let http_404 = || ApiError::Http {
        endpoint: Endpoint::Servers,
        status: 404,
    };
    let (store, slot) = acme();
    let message = |slot: &AccountSlot| {
        slot.load()
            .last_poll
            .as_ref()
            .and_then(|p| p.error.as_ref())
            .map(|e| e.message.clone())
            .unwrap_or_default()
    };
    let source = Scripted::new(vec![Err(http_404()), Ok(fleet(&[1])), Err(http_404())]);
    let _ = poller::poll_once(&source, &store, &slot).await;
    assert_eq!(
        message(&slot),
        "account \"acme\": /server: HTTP 404; is base_url right? the server answered but has no such GridPane API path"
    );
    let _ = poller::poll_once(&source, &store, &slot).await;
    let _ = poller::poll_once(&source, &store, &slot).await;
    assert_eq!(message(&slot), "account \"acme\": /server: HTTP 404");
}

#[tokio::test(start_paused = true)]
async fn a_failed_first_poll_is_retried_after_five_seconds_doubling_up_to_the_interval() {
    let (store, slot) = acme();
    let mut script: Vec<_> = (0..4).map(|_| Err(http_503())).collect();
    script.push(Ok(fleet(&[1])));
    script.push(Err(http_503()));
    let source = Scripted::new(script);
    let counter = Arc::clone(&source.calls);
    let t0 = tokio::time::Instant::now();
    let running = run_poller(
        source,
        &store,
        &slot,
        Duration::from_secs(30),
        Duration::ZERO,
    );
    // Failures at 0, 5, 15 and 35 s (waits of 5, 10, 20, then 30 = the
    // interval), success at 65 s; with data, the failure at 95 to 98 s
    // waits a whole interval again.
    for (at_ms, want) in [
        (500, 1),
        (4_500, 1),
        (5_500, 2),
        (14_500, 2),
        (15_500, 3),
        (34_500, 3),
        (35_500, 4),
        (64_500, 4),
        (65_500, 5),
        (99_500, 6),
        (124_500, 6),
    ] {
        tokio::time::sleep_until(t0 + Duration::from_millis(at_ms)).await;
        assert_eq!(calls(&counter), want, "polls at {at_ms} ms");
    }
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_staggered_poller_polls_first_after_its_delay_and_says_when() {
    let (store, slot) = acme();
    let source = Scripted::new(Vec::new());
    let counter = Arc::clone(&source.calls);
    let running = run_poller(
        source,
        &store,
        &slot,
        Duration::from_secs(300),
        Duration::from_secs(7),
    );
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    assert_eq!(calls(&counter), 0);
    assert!(
        slot.load().next_poll_at.is_some(),
        "the first poll is announced"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(calls(&counter), 1);
    running.stop().await;
}

#[test]
fn first_polls_of_many_accounts_start_twenty_milliseconds_apart_within_the_interval() {
    let five_minutes = Duration::from_secs(300);
    assert_eq!(
        poller::first_poll_delay(0, 1500, five_minutes),
        Duration::ZERO
    );
    assert_eq!(
        poller::first_poll_delay(1, 1500, five_minutes),
        Duration::from_millis(20)
    );
    assert_eq!(
        poller::first_poll_delay(1499, 1500, five_minutes),
        Duration::from_millis(29_980)
    );
    let short = Duration::from_secs(3);
    assert_eq!(
        poller::first_poll_delay(1499, 1500, short),
        Duration::from_millis(2_998),
        "a short interval squeezes them, still inside it"
    );
    assert_eq!(poller::first_poll_delay(0, 0, short), Duration::ZERO);
}

#[tokio::test]
async fn a_failed_poll_records_a_message_that_names_its_account() {
    let (store, slot) = acme();
    let source = Scripted::new(vec![Err(http_503())]);
    let _ = poller::poll_once(&source, &store, &slot).await;
    let state = slot.load();
    let error = state.last_poll.as_ref().and_then(|p| p.error.as_ref());
    assert_eq!(
        error.map(|e| e.message.as_str()),
        Some("account \"acme\": /site: HTTP 503")
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_first_poll_logs_when_it_is_tried_again_and_a_later_failure_does_not() {
    let (log, _guard) = capture_logs();
    let (store, slot) = acme();
    let source = Scripted::new(vec![
        Err(http_503()),
        Err(http_503()),
        Ok(fleet(&[1])),
        Err(http_503()),
    ]);
    let running = run_poller(
        source,
        &store,
        &slot,
        Duration::from_secs(30),
        Duration::ZERO,
    );
    // Failures at 0 and 5 s, success at 15 s, failure at 45 to 48 s.
    tokio::time::sleep(Duration::from_secs(50)).await;
    running.stop().await;
    let text = std::fs::read_to_string(log.path()).unwrap();
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("poll failed")).collect();
    assert_eq!(failed.len(), 3, "{text}");
    for (line, want) in failed.iter().zip(["5", "10"]) {
        assert!(line.contains(&format!("next try in {want}s")), "{line}");
        assert!(line.contains(&format!("next_try_in_s={want}")), "{line}");
    }
    assert!(
        !failed[2].contains("next try") && failed[2].contains("keeping the last good snapshot"),
        "{}",
        failed[2]
    );
}

#[tokio::test]
async fn a_failed_poll_without_a_snapshot_says_there_is_none_yet_instead_of_keeping_one() {
    let (log, _guard) = capture_logs();
    let (store, slot) = acme();
    let source = Scripted::new(vec![Err(http_503()), Ok(fleet(&[1])), Err(http_503())]);
    for _ in 0..3 {
        let _ = poller::poll_once(&source, &store, &slot).await;
    }
    let text = std::fs::read_to_string(log.path()).unwrap();
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("poll failed")).collect();
    assert_eq!(failed.len(), 2, "{text}");
    assert!(
        !failed[0].contains("keeping the last good snapshot")
            && failed[0].contains("no snapshot yet"),
        "{}",
        failed[0]
    );
    assert!(
        failed[1].contains("keeping the last good snapshot"),
        "{}",
        failed[1]
    );
}

/// The production source for one account of the fake.
fn sweeping(fake: &FakeGridPane, poll: &PollConfig) -> SweepingSource {
    let acct = account("acme", fake, TOKEN);
    let client = Client::new(poll.client_options(&acct)).unwrap();
    SweepingSource::new(
        Arc::new(client),
        acct.token.clone(),
        poll.interval,
        SweepLimits::from_poll(poll),
    )
}

fn site_count(store: &Store) -> usize {
    store.accounts()[0]
        .load()
        .snapshot
        .as_ref()
        .map_or(0, |s| s.sites.len())
}

#[tokio::test]
async fn an_empty_site_list_after_a_good_poll_keeps_every_site_until_the_next_sweep_confirms_it() {
    let fake = fake(fleet_of(5, 2, 12)).await;
    let source = sweeping(&fake, &support::fast_poll());
    let (store, slot) = acme();
    poller::poll_once(&source, &store, &slot).await.unwrap();
    assert_eq!(site_count(&store), 12);

    fake.update_fleet(|f| f.sites.clear());
    poller::poll_once(&source, &store, &slot).await.unwrap();
    assert_eq!(site_count(&store), 12, "one empty answer wipes nothing");
    let text = exposition(&store);
    assert!(
        text.contains("gridpane_sites_unconfirmed_removals{account=\"acme\"} 12\n"),
        "{text}"
    );
    assert!(
        text.contains("gridpane_sites{account=\"acme\"} 12\n"),
        "{text}"
    );
    assert!(text.contains("gridpane_up{account=\"acme\"} 1\n"), "{text}");

    poller::poll_once(&source, &store, &slot).await.unwrap();
    assert_eq!(site_count(&store), 0, "confirmed by the next sweep");
    assert!(
        exposition(&store).contains("gridpane_sites_unconfirmed_removals{account=\"acme\"} 0\n")
    );
}

#[tokio::test]
async fn a_drop_of_more_than_half_the_sites_is_held_then_applied_when_the_next_sweep_confirms_it() {
    let fake = fake(fleet_of(5, 2, 12)).await;
    let source = sweeping(&fake, &support::fast_poll());
    let (store, slot) = acme();
    poller::poll_once(&source, &store, &slot).await.unwrap();

    fake.update_fleet(|f| f.sites.truncate(5));
    poller::poll_once(&source, &store, &slot).await.unwrap();
    assert_eq!(site_count(&store), 12);
    assert_eq!(slot.load().unconfirmed_removals, 7);
    poller::poll_once(&source, &store, &slot).await.unwrap();
    assert_eq!(site_count(&store), 5);
    assert_eq!(slot.load().unconfirmed_removals, 0);

    fake.update_fleet(|f| f.sites.truncate(3));
    poller::poll_once(&source, &store, &slot).await.unwrap();
    assert_eq!(
        site_count(&store),
        3,
        "a drop of less than half goes at once"
    );
}

#[tokio::test]
async fn a_site_list_past_the_item_cap_fails_the_poll_as_too_large_and_keeps_the_last_good_snapshot()
 {
    let fake = fake(fleet_of(5, 2, 6)).await;
    let poll = PollConfig {
        per_page: 5,
        max_items_per_account: 8,
        ..support::fast_poll()
    };
    let source = sweeping(&fake, &poll);
    let (store, slot) = acme();
    poller::poll_once(&source, &store, &slot).await.unwrap();
    assert_eq!(site_count(&store), 6);

    fake.update_fleet(|f| {
        let more: Vec<_> = f
            .sites
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.id += 100_000;
                s.url = format!("more-{}", s.url);
                s
            })
            .collect();
        f.sites.extend(more);
    });
    let err = poller::poll_once(&source, &store, &slot).await.unwrap_err();
    assert_eq!(err.reason(), "too_large", "{err}");
    assert_eq!(site_count(&store), 6, "the last good snapshot stays");
    assert!(!slot.load().up());
}

#[tokio::test(start_paused = true)]
async fn a_first_poll_that_panics_still_makes_the_account_ready_with_up_zero() {
    let (store, slot) = acme();
    let source = Arc::new(Scripted::steps(vec![Step::Panic]));
    let running = supervised(source, &store, &slot);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(store.ready(), "/-/ready must not stay 503 for ever");
    let state = slot.load();
    assert!(!state.up());
    let error = state.last_poll.as_ref().and_then(|p| p.error.as_ref());
    assert_eq!(error.map(|e| e.reason.as_str()), Some("internal"));
    assert_eq!(
        error.map(|e| e.message.as_str()),
        Some("account \"acme\": the poller stopped unexpectedly (panic); restarting it")
    );
    running.stop().await;
}

/// What the fake fleet says of each site: OK under the default policy (no
/// problem but a hostile name, and no backups on that run less than weekly),
/// and whether each storage is on (flag on and a schedule row).
fn fleet_truth(fleet: &gridpane_backup_exporter::fake::Fleet) -> HashMap<u64, [bool; 3]> {
    use gridpane_backup_exporter::fake::SiteFault;
    use gridpane_backup_exporter::fake::fleet::FakeFrequency;
    fleet
        .sites
        .iter()
        .map(|s| {
            let local = s.local_bup && s.local_schedule.is_some();
            let remote = s.remote_bup && s.remote_schedule.is_some();
            let monthly =
                |on: bool, schedule: &Option<gridpane_backup_exporter::fake::FakeSchedule>| {
                    on && schedule
                        .as_ref()
                        .is_some_and(|s| s.frequency == FakeFrequency::Monthly)
                };
            let ok = s.problems.iter().all(|p| *p == SiteFault::HostileName)
                && !monthly(local, &s.local_schedule)
                && !monthly(remote, &s.remote_schedule);
            (s.id, [ok, local, remote])
        })
        .collect()
}

/// The status page's site rows: (site id, health, local pill on, remote pill on).
fn page_rows(html: &str) -> Vec<(u64, String, bool, bool)> {
    let cell = |row: &str, label: &str| {
        row.split(&format!("data-label=\"{label}\">"))
            .nth(1)
            .and_then(|c| c.split("</td>").next())
            .is_some_and(|c| c.contains("pill on"))
    };
    html.split("<tr class=\"site ")
        .skip(1)
        .map(|row| {
            let health = row.split('"').next().unwrap().to_string();
            let id = row
                .split("data-site-id=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap()
                .parse()
                .unwrap();
            (
                id,
                health,
                cell(row, "Local backups"),
                cell(row, "Remote backups"),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn across_a_first_sweep_no_surface_says_ok_or_on_before_the_fleet_does() {
    // Every kind of problem (a local schedule row whose local_bup is off
    // included), on 8 pages of 5 sites, read 10 s apart.
    let fake = fake(fleet_of(5, 2, 40)).await;
    let truth = fleet_truth(&fake.fleet());
    let pages = 8;
    let app = support::start(vec![account("acme", &fake, TOKEN)], support::paced_poll(5)).await;
    let get = |path: &'static str| support::get(&app, path);
    let mut pages_seen = std::collections::BTreeSet::new();
    let mut published_mid_sweep = false;
    let mut pending_with_local_off = false;
    let mut last_pending = usize::MAX;
    let served = || {
        fake.requests()
            .iter()
            .filter(|r| r.endpoint == Some(gridpane_backup_exporter::fake::FakeEndpoint::Sites))
            .count()
    };
    let polled = loop {
        let status: serde_json::Value =
            serde_json::from_str(&get("/api/v1/status").await.1).unwrap();
        let account = &status["accounts"][0];
        let has_data = !account["data"].is_null();
        let (ready, _) = get("/-/ready").await;
        let metrics = get("/metrics").await.1;
        assert_eq!(
            ready == 200,
            has_data,
            "readiness follows the first publication"
        );
        assert_eq!(
            support::value(&metrics, "gridpane_up{account=\"acme\"}").as_deref() == Some("1"),
            has_data,
            "gridpane_up follows the first publication"
        );
        let served = served();
        pages_seen.insert(served);
        published_mid_sweep |= has_data && served < pages;

        for line in metrics
            .lines()
            .filter(|l| l.starts_with("gridpane_backup_schedule_enabled{") && l.ends_with(" 1"))
        {
            let id: u64 = line
                .split("site_id=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let on = truth[&id];
            let storage_on = if line.contains("storage=\"local\"") {
                on[1]
            } else {
                on[2]
            };
            assert!(storage_on, "after {served} pages /metrics says on: {line}");
        }
        let sites: serde_json::Value = serde_json::from_str(&get("/api/v1/sites").await.1).unwrap();
        let mut pending = 0;
        for site in sites["sites"].as_array().unwrap() {
            let id = site["id"].as_u64().unwrap();
            let [ok, local, remote] = truth[&id];
            let status = site["status"].as_str().unwrap();
            assert!(
                ok || status != "ok",
                "after {served} pages the API says site {id} is ok"
            );
            assert!(
                local || site["local"]["enabled"] == false,
                "after {served} pages the API says site {id}'s local backups are on"
            );
            assert!(
                remote || site["remote"]["enabled"] == false,
                "after {served} pages the API says site {id}'s remote backups are on"
            );
            if site["pending"] == true {
                pending += 1;
                assert_ne!(status, "ok");
                pending_with_local_off |= !local && !site["local"]["schedule"].is_null();
            }
        }
        for (id, health, local_on, remote_on) in page_rows(&get("/?per_page=1000").await.1) {
            let [ok, local, remote] = truth[&id];
            assert!(
                ok || health != "ok",
                "after {served} pages the page says site {id} is OK"
            );
            assert!(
                local || !local_on,
                "after {served} pages the page says site {id}'s local backups are on"
            );
            assert!(
                remote || !remote_on,
                "after {served} pages the page says site {id}'s remote backups are on"
            );
        }
        if has_data {
            assert_eq!(
                support::value(&metrics, "gridpane_sites_pending{account=\"acme\"}"),
                Some(pending.to_string()),
                "the pending count is the pending sites"
            );
            assert!(pending <= last_pending, "pending sites only ever get read");
            last_pending = pending;
        }
        if !account["last_poll"].is_null() {
            break status;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert_eq!(
        pages_seen,
        (0..=pages).collect(),
        "sampled after every page the fake served"
    );
    assert!(published_mid_sweep, "data before the sweep's end");
    assert!(
        pending_with_local_off,
        "a site whose local_bup is off was pending"
    );
    assert_eq!(
        last_pending, 0,
        "the pending count reaches 0 when the sweep completes"
    );
    assert!(
        polled["accounts"][0].get("sweep").is_none(),
        "no sweep in progress: {polled}"
    );
    // Every site judged once read: what the fleet says.
    let sites: serde_json::Value = serde_json::from_str(&get("/api/v1/sites").await.1).unwrap();
    for site in sites["sites"].as_array().unwrap() {
        let [ok, local, remote] = truth[&site["id"].as_u64().unwrap()];
        assert_eq!(site["status"] == "ok", ok, "{site}");
        assert_eq!(site["local"]["enabled"], local, "{site}");
        assert_eq!(site["remote"]["enabled"], remote, "{site}");
    }
}

#[tokio::test(start_paused = true)]
async fn on_a_warm_start_the_saved_sites_are_served_fully_known_while_the_sweep_refreshes_them_page_by_page()
 {
    let fake = fake(fleet_of(5, 2, 40)).await;
    let (store, slot) = acme();
    // The saved snapshot: the whole fleet, read without pacing.
    poller::poll_once(&sweeping(&fake, &support::fast_poll()), &store, &slot)
        .await
        .unwrap();
    // Since then, local backups of the last site were switched off.
    let last = fake.fleet().sites.iter().map(|s| s.id).max().unwrap();
    fake.update_fleet(|f| {
        if let Some(s) = f.sites.iter_mut().find(|s| s.id == last) {
            s.local_bup = false;
        }
    });
    let local_on = |store: &Store| {
        let state = store.accounts()[0].load();
        let snap = state.snapshot.as_ref().unwrap();
        let site = snap.sites.iter().find(|s| s.id == last).unwrap();
        site.local.automatic
    };
    assert_eq!(local_on(&store), Some(true));

    // A new process: a new sweep, 8 pages 10 s apart.
    let source = sweeping(&fake, &support::paced_poll(5));
    let generation = store.generation();
    let poll = tokio::spawn({
        let (store, slot) = (Arc::clone(&store), Arc::clone(&slot));
        async move { poller::poll_once(&source, &store, &slot).await }
    });
    let mut generations = std::collections::BTreeSet::new();
    let mut saved_state_served_mid_sweep = false;
    while !poll.is_finished() {
        let state = slot.load();
        let snap = state.snapshot.as_ref().unwrap();
        assert_eq!(snap.sites.len(), 40, "every saved site is served");
        assert!(
            snap.sites.iter().all(|s| !s.pending),
            "saved sites are fully known"
        );
        if store.generation() > generation {
            generations.insert(store.generation());
            saved_state_served_mid_sweep |= local_on(&store) == Some(true);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    poll.await.unwrap().unwrap();
    assert!(
        generations.len() >= 8,
        "published page by page: {generations:?}"
    );
    assert!(saved_state_served_mid_sweep);
    assert_eq!(local_on(&store), Some(false), "its page was read");
}

#[tokio::test(start_paused = true)]
async fn a_first_sweep_publishes_before_the_server_pages_are_read() {
    // Many servers take many pages; here their one page takes 4 s.
    let fake = fake(fleet_of(5, 2, 10)).await;
    fake.set_fault(
        gridpane_backup_exporter::fake::FakeEndpoint::Servers,
        gridpane_backup_exporter::fake::Fault::Delay(Duration::from_secs(4)),
        gridpane_backup_exporter::fake::FaultCount::Always,
    );
    let app = support::start(vec![account("acme", &fake, TOKEN)], support::paced_poll(5)).await;
    // Schedules at 0 s, integrations at 1 s, the servers from 2 s to 6 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(support::get(&app, "/-/ready").await.0, 200);
    let metrics = support::get(&app, "/metrics").await.1;
    assert_eq!(
        support::value(&metrics, "gridpane_servers{account=\"acme\"}").as_deref(),
        Some("0"),
        "no server read yet"
    );
    assert!(
        support::value(&metrics, "gridpane_sites_pending{account=\"acme\"}")
            .is_some_and(|n| n != "0"),
        "{metrics}"
    );
}

/// Fast pages and a slow publication: each publication builds and judges the
/// whole fleet read so far, so a first sweep whose pages come faster than it
/// can publish them publishes a few times (at most a tenth of its time), not
/// after every page, and still ends with every site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sweep_of_fast_pages_does_not_publish_after_every_page() {
    let fake = fake(fleet_of(21, 2, 200)).await;
    let source = sweeping(
        &fake,
        &PollConfig {
            per_page: 5,
            ..support::fast_poll()
        },
    );
    let publications = std::sync::atomic::AtomicUsize::new(0);
    let fetched = source
        .fetch_publishing(&|_| {
            publications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // A publication of a large fleet: judging and serving it.
            std::thread::sleep(Duration::from_millis(20));
        })
        .await
        .unwrap();
    assert_eq!(fetched.sites.len(), 200, "every site, after 40 pages");
    let published = publications.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        published >= 2,
        "the bulk answers and the servers are published at once: {published}"
    );
    assert!(
        published <= 20,
        "not after each of the 40 pages: {published} publications"
    );
}
