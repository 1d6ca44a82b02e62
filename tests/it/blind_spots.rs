//! What the exporter cannot see is said on every surface: an account never
//! read (critical after 15 minutes), a site list held back after a sharp
//! drop, a failed poll that newer data has superseded, and a wait for
//! GridPane's rate limit. Each driven against the fake GridPane.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gridpane_backup_exporter::app;
use gridpane_backup_exporter::config::PollConfig;
use gridpane_backup_exporter::fake::{FakeEndpoint, FakeGridPane, Fault, FaultCount};
use gridpane_backup_exporter::gridpane::{Client, Sleeper};
use gridpane_backup_exporter::poller::{self, SweepLimits, SweepingSource};
use gridpane_backup_exporter::render::api::{self, View};
use gridpane_backup_exporter::render::{metrics, status_page};
use gridpane_backup_exporter::store::{AccountSlot, Store};
use serde_json::Value;
use support::{TOKEN, account, fake, fleet_of};
use tokio::sync::{Notify, watch};

/// One account, `acme`.
fn acme() -> (Arc<Store>, Arc<AccountSlot>) {
    let store = Arc::new(Store::new(["acme".to_string()]));
    let slot = Arc::clone(&store.accounts()[0]);
    (store, slot)
}

/// The production source for `acme` on the fake, its client built by `f`.
fn sweeping(
    fake: &FakeGridPane,
    poll: &PollConfig,
    f: impl FnOnce(Client) -> Client,
) -> SweepingSource {
    let acct = account("acme", fake, TOKEN);
    let client = f(Client::new(poll.client_options(&acct))
        .unwrap()
        .with_account("acme"));
    SweepingSource::new(
        Arc::new(client),
        acct.token.clone(),
        poll.interval,
        SweepLimits::from_poll(poll),
    )
}

fn at(unix: f64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis((unix * 1000.0) as i64).unwrap()
}

/// The account's entry in `/api/v1/status` at `now`.
fn status_entry(store: &Store, now: DateTime<Utc>) -> Value {
    let answer = api::status(&View::load(store), now);
    serde_json::to_value(&answer).unwrap()["accounts"][0].clone()
}

fn page(store: &Store, now: DateTime<Utc>) -> String {
    status_page::page(&View::load(store), None, now, "/metrics").html
}

/// The markup of the banner carrying `attribute`, if the page has one.
fn banner<'h>(html: &'h str, attribute: &str) -> Option<&'h str> {
    let at = html.find(attribute)?;
    let start = html[..at].rfind("<div ")?;
    Some(&html[start..at + html[at..].find("</div>")?])
}

#[tokio::test(start_paused = true)]
async fn an_account_never_read_is_critical_after_fifteen_minutes_on_the_page_the_api_and_the_metrics()
 {
    let fake = fake(fleet_of(5, 2, 6)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::Unauthorized,
        FaultCount::Always,
    );
    let (store, slot) = acme();
    let source = Arc::new(sweeping(&fake, &support::fast_poll(), |c| c));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(app::supervised_poller(
        source,
        Arc::clone(&store),
        Arc::clone(&slot),
        Duration::from_secs(60),
        Duration::ZERO,
        stopped,
    ));
    while slot.load().counters.poll_errors.is_empty() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let since = slot
        .load()
        .watched_since
        .expect("the poller says since when");

    // Five minutes in: failing, not yet critical.
    let early = at(since + 300.0);
    let entry = status_entry(&store, early);
    assert_eq!(entry["never_polled"], true, "{entry}");
    assert_eq!(entry["never_polled_since_unix"], since.floor() as i64);
    assert_eq!(entry["never_polled_critical"], false);
    let html = page(&store, early);
    assert!(banner(&html, "data-never-read-account").is_none(), "{html}");

    // Sixteen minutes in: critical on every surface.
    let late = at(since + 990.0);
    let entry = status_entry(&store, late);
    assert_eq!(entry["never_polled"], true);
    assert_eq!(entry["never_polled_critical"], true, "{entry}");
    let html = page(&store, late);
    let never = banner(&html, "data-never-read-account=\"acme\"").expect("a banner");
    assert!(
        never.contains("class=\"banner bad\" role=\"alert\""),
        "{never}"
    );
    assert!(
        never.contains("Account acme has never been read") && never.contains("(16 min ago)"),
        "{never}"
    );
    assert!(never.contains("This is critical"), "{never}");
    assert!(html.contains("<span class=\"badge bad\">Never read</span>"));
    let text = String::from_utf8(metrics::render(&store, b"", late)).unwrap();
    let series = support::value(
        &text,
        "gridpane_polled_since_timestamp_seconds{account=\"acme\"}",
    )
    .expect("the series an alert reads");
    assert_eq!(series.parse::<f64>().unwrap(), since);
    assert!(!text.contains("gridpane_last_successful_poll_timestamp_seconds{account=\"acme\"}"));

    // Once a poll succeeds, every surface drops it.
    fake.clear_faults();
    while slot.load().snapshot.is_none() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    let entry = status_entry(&store, late);
    assert_eq!(entry["never_polled"], false, "{entry}");
    assert!(entry.get("never_polled_since").is_none(), "{entry}");
    assert!(entry.get("never_polled_critical").is_none(), "{entry}");
    assert!(banner(&page(&store, late), "data-never-read-account").is_none());
    let text = String::from_utf8(metrics::render(&store, b"", late)).unwrap();
    assert!(text.contains("gridpane_last_successful_poll_timestamp_seconds{account=\"acme\"}"));
}

#[tokio::test]
async fn a_site_list_held_back_after_a_sharp_drop_shows_on_the_page_and_in_the_api_with_since_when()
{
    let fake = fake(fleet_of(5, 2, 12)).await;
    let source = sweeping(&fake, &support::fast_poll(), |c| c);
    let (store, slot) = acme();
    poller::poll_once(&source, &store, &slot).await.unwrap();
    let now = Utc::now();
    assert!(
        status_entry(&store, now)
            .get("unconfirmed_removals")
            .is_none()
    );
    assert!(banner(&page(&store, now), "data-held-back-account").is_none());

    fake.update_fleet(|f| f.sites.truncate(5));
    poller::poll_once(&source, &store, &slot).await.unwrap();
    let held_at = slot.load().last_poll.as_ref().unwrap().finished_at;
    assert_eq!(slot.load().unconfirmed_since, Some(held_at));

    // Held: the page and the API say so (`state` alone still reads "ok").
    let now = at(held_at + 150.0);
    let entry = status_entry(&store, now);
    assert_eq!(entry["state"], "ok");
    assert_eq!(entry["unconfirmed_removals"]["sites"], 7, "{entry}");
    assert_eq!(
        entry["unconfirmed_removals"]["since_unix"],
        held_at.floor() as i64
    );
    let html = page(&store, now);
    let held = banner(&html, "data-held-back-account=\"acme\"").expect("a banner");
    assert!(held.contains("class=\"banner warn\""), "{held}");
    assert!(
        held.contains("7 sites it no longer lists are held back since")
            && held.contains("(2 min ago)"),
        "{held}"
    );
    assert!(html.contains("<span class=\"badge warn\">7 removals held back</span>"));

    // Confirmed by the next complete list: gone from both.
    poller::poll_once(&source, &store, &slot).await.unwrap();
    assert_eq!(slot.load().unconfirmed_since, None);
    assert!(
        status_entry(&store, now)
            .get("unconfirmed_removals")
            .is_none()
    );
    assert!(banner(&page(&store, now), "data-held-back-account").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_failure_banner_never_stands_beside_data_newer_than_the_failure() {
    // The first poll fails; the retry's first sweep publishes 8 pages of 5
    // sites, 10 s apart, while the failure is still the last poll's.
    let fake = fake(fleet_of(5, 2, 40)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::Unauthorized,
        FaultCount::Times(1),
    );
    let app = support::start(vec![account("acme", &fake, TOKEN)], support::paced_poll(5)).await;
    let mut failed_alone = false;
    let mut beside_fresh_data = false;
    loop {
        let status: Value =
            serde_json::from_str(&support::get(&app, "/api/v1/status").await.1).unwrap();
        let entry = &status["accounts"][0];
        let failed = entry["last_poll"]["ok"] == false;
        let has_data = !entry["data"].is_null();
        if entry["last_poll"]["ok"] == true {
            break;
        }
        let html = support::get(&app, "/").await.1;
        let alarm = html.contains("class=\"banner bad\" role=\"alert\" data-failed-account");
        if failed && !has_data {
            failed_alone = true;
            assert!(alarm, "a failure with nothing newer is an alarm: {html}");
        }
        if failed && has_data {
            beside_fresh_data = true;
            assert!(!alarm, "a red failure banner beside newer data: {html}");
            assert_eq!(entry["failure_superseded"], true, "{entry}");
            let history =
                banner(&html, "data-superseded=\"true\"").expect("the failure as history");
            assert!(
                history.contains("class=\"banner info\" role=\"status\"")
                    && history.contains("An earlier poll of account acme failed")
                    && history.contains("(auth), before the data shown now"),
                "{history}"
            );
            assert!(html.contains("<span class=\"badge neutral\">Failed</span>"));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(failed_alone, "the failed first poll was seen on its own");
    assert!(beside_fresh_data, "the sweep after it was seen publishing");
    app.shutdown().await;
}

/// A sleeper that records each wait and holds it until `release` is
/// notified; `entered` is notified when a wait begins.
struct HeldSleeper {
    sleeper: Sleeper,
    waits: Arc<Mutex<Vec<Duration>>>,
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

fn held_sleeper() -> HeldSleeper {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (w, e, r) = (
        Arc::clone(&waits),
        Arc::clone(&entered),
        Arc::clone(&release),
    );
    let sleeper: Sleeper = Arc::new(move |d| {
        w.lock().unwrap().push(d);
        let (e, r) = (Arc::clone(&e), Arc::clone(&r));
        Box::pin(async move {
            e.notify_one();
            r.notified().await;
        })
    });
    HeldSleeper {
        sleeper,
        waits,
        entered,
        release,
    }
}

#[tokio::test]
async fn a_rate_limit_wait_shows_on_the_page_and_in_the_api_with_its_end_and_is_logged_once() {
    let fake = fake(fleet_of(5, 2, 6)).await;
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::RateLimited {
            retry_after_endpoint_secs: 180,
        },
        FaultCount::Times(1),
    );
    let poll = PollConfig {
        max_retries: 2,
        ..support::fast_poll()
    };
    let HeldSleeper {
        sleeper,
        waits,
        entered,
        release,
    } = held_sleeper();
    let source = sweeping(&fake, &poll, |c| c.with_sleeper(sleeper));
    let (store, slot) = acme();
    let (log, _guard) = support::capture_logs();
    let polling = {
        let (store, slot) = (Arc::clone(&store), Arc::clone(&slot));
        tokio::spawn(async move { poller::poll_once(&source, &store, &slot).await })
    };
    entered.notified().await;
    let asked = waits.lock().unwrap()[0];
    assert!(asked >= Duration::from_secs(180), "{asked:?}");

    let state = slot.load();
    let wait = state
        .rate_limit_wait
        .clone()
        .expect("the wait is in the state");
    assert!(state.polling);
    assert_eq!(wait.endpoint, "/site");
    assert!((wait.until - wait.since - asked.as_secs_f64()).abs() < 0.5);
    let now = at(wait.since + 10.0);
    let entry = status_entry(&store, now);
    assert_eq!(entry["rate_limit_wait"]["endpoint"], "/site", "{entry}");
    assert_eq!(entry["rate_limit_wait"]["rate_limited"], true);
    assert_eq!(
        entry["rate_limit_wait"]["until_unix"],
        wait.until.floor() as i64
    );
    let until = at(wait.until).format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let html = page(&store, now);
    assert!(
        html.contains(&format!(
            "(waiting for GridPane's rate limit until <time datetime=\"{}\">{until}</time>)",
            api_time(wait.until)
        )),
        "{html}"
    );
    assert!(!html.contains("(polling now)"), "{html}");
    let shown = banner(&html, "data-rate-limit-account=\"acme\"").expect("a banner");
    assert!(
        shown.contains(&format!(
            "until <time datetime=\"{}\">{until}</time> (in 2 min)",
            api_time(wait.until)
        )) && shown.contains("after an HTTP 429 on /site"),
        "{shown}"
    );

    release.notify_one();
    polling.await.unwrap().unwrap();
    assert_eq!(slot.load().rate_limit_wait, None, "gone once the poll ends");
    assert!(status_entry(&store, now).get("rate_limit_wait").is_none());
    assert!(banner(&page(&store, now), "data-rate-limit-account").is_none());

    let logged = std::fs::read_to_string(log.path()).unwrap();
    let lines: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("GridPane's rate limit answered 429"))
        .collect();
    assert_eq!(lines.len(), 1, "logged once: {logged}");
    for field in [
        "account=acme",
        "endpoint=\"/site\"",
        &format!("wait_s={}", asked.as_secs()),
        &format!("until={}", api_time(wait.until)),
    ] {
        assert!(lines[0].contains(field), "{field} in {}", lines[0]);
    }
}

/// A unix time as the API and `<time datetime>` write it.
fn api_time(unix: f64) -> String {
    at(unix).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
