//! The rate-limit budget: it keeps under GridPane's limits whatever the
//! request mix, follows GridPane's headers, makes a 429 wait carry over to
//! the next poll; the `/site` sweep spans polls without removing sites; and
//! per-site detail covers every site within its own budget and publishes its
//! results in batches.

use crate::support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridpane_backup_exporter::gridpane::history::Unreadable;

use gridpane_backup_exporter::config::{DetailConfig, PollConfig, Secret};
use gridpane_backup_exporter::fake::{
    FakeEndpoint, FakeGridPane, FakeHistory, FakeOptions, Fault, FaultCount, Fleet, FleetSpec,
    HistoryShape, RateLimit, SiteFault,
};
use gridpane_backup_exporter::gridpane::budget::{self, Budget, BudgetOptions};
use gridpane_backup_exporter::gridpane::{Client, ClientOptions, Endpoint, Sleeper};
use gridpane_backup_exporter::poller::{self, SweepLimits, SweepingSource};
use gridpane_backup_exporter::store::Store;
use proptest::prelude::*;
use support::*;
use tokio::time::Instant;

const ENDPOINTS: [Endpoint; 6] = [
    Endpoint::Sites,
    Endpoint::Servers,
    Endpoint::Schedules,
    Endpoint::BackupIntegrations,
    Endpoint::PruneSchedule,
    Endpoint::SiteIntegrations,
];

/// The most any 60 s span holds, per endpoint (units) and for the account
/// (requests). Fixed windows of any phase hold at most as much.
fn busiest_minute(sent: &[(Duration, Endpoint)]) -> (HashMap<Endpoint, u32>, u32) {
    let mut per_endpoint: HashMap<Endpoint, u32> = HashMap::new();
    let mut account = 0;
    for (i, (start, _)) in sent.iter().enumerate() {
        let window: Vec<_> = sent[i..]
            .iter()
            .take_while(|(t, _)| *t < *start + budget::WINDOW)
            .collect();
        account = account.max(window.len() as u32);
        for ep in ENDPOINTS {
            let units: u32 = window
                .iter()
                .filter(|(_, e)| *e == ep)
                .map(|(_, e)| budget::cost(*e))
                .sum();
            let best = per_endpoint.entry(ep).or_default();
            *best = (*best).max(units);
        }
    }
    (per_endpoint, account)
}

proptest! {
    /// Several senders (the poller, the detail task) share one budget; each
    /// sends whatever it likes as soon as the budget lets it, and spends
    /// 0–3 s on each answer.
    #[test]
    fn the_default_budget_never_exceeds_gridpanes_limits(
        plan in prop::collection::vec((0usize..3, 0usize..6, 0u64..3000), 50..400)
    ) {
        let b = Budget::new(BudgetOptions {
            account_per_minute: PollConfig::default().requests_per_minute,
            endpoint_units_per_minute: PollConfig::default().endpoint_units_per_minute,
        });
        let t0 = Instant::now();
        let mut clocks = [Duration::ZERO; 3];
        let mut sent = Vec::new();
        for (who, ep, think_ms) in plan {
            // Requests are reserved in time order: whoever is earliest goes.
            let earliest = (0..3).min_by_key(|i| clocks[*i]).unwrap_or(0);
            let sender = if clocks[who] == clocks[earliest] { who } else { earliest };
            let now = t0 + clocks[sender];
            let ep = ENDPOINTS[ep];
            let wait = b.reserve(ep, now, true);
            let at = clocks[sender] + wait;
            sent.push((at, ep));
            clocks[sender] = at + Duration::from_millis(think_ms);
        }
        sent.sort_by_key(|(t, _)| *t);
        let (per_endpoint, account) = busiest_minute(&sent);
        let limit = RateLimit::gridpane();
        prop_assert!(account <= limit.account_per_minute, "{account} requests in a minute");
        for (ep, units) in per_endpoint {
            prop_assert!(units <= limit.endpoint_per_minute, "{ep}: {units} units in a minute");
        }
    }
}

#[test]
fn a_ten_thousand_site_sweep_is_spread_over_at_least_eight_minutes() {
    let b = Budget::new(PollConfig::default().budget_options());
    let t0 = Instant::now();
    let mut now = t0;
    for _ in 0..50 {
        now += b.reserve(Endpoint::Sites, now, true);
    }
    let took = now - t0;
    assert!(
        took >= Duration::from_secs(8 * 60) && took <= Duration::from_secs(10 * 60),
        "{took:?}"
    );
}

fn client_options(fake: &FakeGridPane) -> ClientOptions {
    ClientOptions {
        base_url: url::Url::parse(&fake.base_url()).unwrap(),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        budget: BudgetOptions::UNPACED,
        per_page: 2,
        max_pages: 100,
        max_body_bytes: 8 * 1024 * 1024,
        max_items: 250_000,
        max_retries: 0,
    }
}

async fn limited_fake(sites: usize) -> FakeGridPane {
    FakeGridPane::start(
        Fleet::generate(&FleetSpec {
            seed: 1,
            servers: 3,
            sites,
        }),
        FakeOptions {
            token: TOKEN.to_string(),
            ..FakeOptions::default()
        }
        .with_rate_limit(RateLimit::gridpane()),
    )
    .await
    .unwrap()
}

// The next two tests run on tokio's paused clock: the fake's rate-limit
// windows and the client's waits share it, so minutes pass in milliseconds.
// Loopback answers are ready as soon as they are written, so the clock does
// not jump over a request in flight.

#[tokio::test(start_paused = true)]
async fn with_pacing_off_the_client_still_follows_gridpanes_remaining_headers() {
    let fake = limited_fake(40).await;
    let client = Client::new(client_options(&fake)).unwrap();
    let started = Instant::now();
    // 20 pages of 2 units against 12 a minute: three full windows.
    let sites = client.sites(&Secret::from(TOKEN)).await.unwrap();
    assert_eq!(sites.len(), 40);
    assert_eq!(fake.rate_limited_count(), 0, "no 429 at all");
    let took = started.elapsed();
    assert!(
        took >= 3 * budget::WINDOW && took < 4 * budget::WINDOW,
        "blocked after pages 6, 12 and 18: {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_refresh_at_gridpanes_limits_spends_each_window_and_sees_no_429() {
    let fake = limited_fake(1000).await;
    let poll = PollConfig::default();
    let client = Arc::new(
        Client::new(ClientOptions {
            budget: poll.budget_options(),
            per_page: 50,
            ..client_options(&fake)
        })
        .unwrap()
        .with_budget(Arc::new(Budget::new(poll.budget_options()))),
    );
    let token = Secret::from(TOKEN);
    let started = Instant::now();
    client.backup_schedules(&token).await.unwrap();
    client.backup_integrations(&token).await.unwrap();
    client.servers(&token).await.unwrap();
    let sites = client.sites(&token).await.unwrap();
    let swept = started.elapsed();
    assert_eq!(sites.len(), 1000);
    // Detail requests from a second sender, sharing the account budget.
    for site in sites.iter().take(15) {
        client.prune_schedule(&token, site.id).await.unwrap();
        client.site_integrations(&token, site.id).await.unwrap();
    }
    assert_eq!(fake.rate_limited_count(), 0);
    // 20 pages of 2 units against 12 a window: 6 pages in each of three
    // windows, the last 2 in a fourth. GridPane's headers let each window
    // be spent at once, so the sweep ends just after the fourth opens; the
    // spacing alone (120/11 s a page) would take 207 s.
    assert!(
        swept >= 3 * budget::WINDOW && swept < 3 * budget::WINDOW + Duration::from_secs(10),
        "{swept:?}"
    );
}

/// GridPane's fixed windows, as the fake keeps them: each opens with the
/// first request after the previous one ran out.
#[derive(Default)]
struct FixedWindows {
    endpoints: HashMap<Endpoint, (Duration, u32)>,
    account: Option<(Duration, u32)>,
}

impl FixedWindows {
    /// Charges a request sent at `at`; the remaining counts, or `None` for
    /// a 429.
    fn charge(&mut self, ep: Endpoint, at: Duration) -> Option<(u32, u32)> {
        let limit = RateLimit::gridpane();
        let open = |w: &mut (Duration, u32)| {
            if at >= w.0 + budget::WINDOW {
                *w = (at, 0);
            }
        };
        let e = self.endpoints.entry(ep).or_insert((at, 0));
        open(e);
        let a = self.account.get_or_insert((at, 0));
        open(a);
        let cost = budget::cost(ep);
        if e.1 + cost > limit.endpoint_per_minute || a.1 + 1 > limit.account_per_minute {
            return None;
        }
        e.1 += cost;
        a.1 += 1;
        Some((
            limit.endpoint_per_minute - e.1,
            limit.account_per_minute - a.1,
        ))
    }
}

/// What a sender of [`the_budget_with_gridpanes_headers_never_draws_a_429`]
/// does next, and when.
#[derive(Clone, Copy)]
enum Next {
    Reserve(Duration),
    /// The request goes out; GridPane answers `latency` later, and the
    /// sender thinks `think` before its next request.
    Send {
        at: Duration,
        ep: Endpoint,
        id: u64,
        latency: Duration,
        think: Duration,
    },
    Answer {
        at: Duration,
        ep: Endpoint,
        id: u64,
        left: Option<(u32, u32)>,
        think: Duration,
    },
}

impl Next {
    fn at(self) -> Duration {
        match self {
            Next::Reserve(at) | Next::Send { at, .. } | Next::Answer { at, .. } => at,
        }
    }
}

proptest! {
    /// As above, but GridPane answers with its counts and limits 0–2 s
    /// later while the other senders go on, and the budget spends what the
    /// counts say is left: whatever the mix and the timing, no request
    /// exceeds one of GridPane's fixed windows.
    #[test]
    fn the_budget_with_gridpanes_headers_never_draws_a_429(
        plan in prop::collection::vec((0usize..6, 0u64..2000, 0u64..3000), 50..300)
    ) {
        let b = Budget::new(PollConfig::default().budget_options());
        let limit = RateLimit::gridpane();
        let t0 = Instant::now();
        let mut gridpane = FixedWindows::default();
        let mut senders = [Next::Reserve(Duration::ZERO); 3];
        let mut plan = plan.into_iter();
        let mut answered = 0;
        // Events happen in time order, whichever sender they belong to.
        while let Some((i, next)) = senders.iter().copied().enumerate().min_by_key(|(_, n)| n.at()) {
            senders[i] = match next {
                Next::Reserve(now) => {
                    let Some((ep, latency, think)) = plan.next() else { break };
                    let ep = ENDPOINTS[ep];
                    let slot = b.reserve_slot(ep, t0 + now, true);
                    Next::Send {
                        at: now + slot.wait,
                        ep,
                        id: slot.id,
                        latency: Duration::from_millis(latency),
                        think: Duration::from_millis(think),
                    }
                }
                Next::Send { at, ep, id, latency, think } => {
                    let left = gridpane.charge(ep, at);
                    prop_assert!(left.is_some(), "{ep} refused at {at:?}");
                    Next::Answer { at: at + latency, ep, id, left, think }
                }
                Next::Answer { at, ep, id, left, think } => {
                    let seen = left.map(|(endpoint_left, account_left)| budget::Observation {
                        endpoint_remaining: Some(f64::from(endpoint_left)),
                        endpoint_limit: Some(f64::from(limit.endpoint_per_minute)),
                        total_remaining: Some(f64::from(account_left)),
                        total_limit: Some(f64::from(limit.account_per_minute)),
                        endpoint_reset_in: None,
                    });
                    b.answered(ep, id, seen, t0 + at);
                    answered += 1;
                    Next::Reserve(at + think)
                }
            };
        }
        prop_assert!(answered >= 40, "{answered} answers");
    }
}

#[tokio::test]
async fn a_429_makes_the_next_poll_wait_too() {
    let fake = fake(FleetSpec {
        seed: 1,
        servers: 1,
        sites: 3,
    })
    .await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::RateLimited {
            retry_after_endpoint_secs: 27,
        },
        FaultCount::Times(1),
    );
    let waits = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&waits);
    let sleeper: Sleeper = Arc::new(move |d| {
        record.lock().unwrap().push(d);
        Box::pin(async {})
    });
    let client = Client::new(client_options(&fake))
        .unwrap()
        .with_sleeper(sleeper);
    let token = Secret::from(TOKEN);
    let err = client.backup_schedules(&token).await.unwrap_err();
    assert_eq!(err.reason(), "rate_limited");
    assert!(waits.lock().unwrap().is_empty(), "no retry");
    // Other endpoints are not held up.
    client.servers(&token).await.unwrap();
    assert!(waits.lock().unwrap().is_empty());
    // The next request to the endpoint waits out the 429 first.
    client.backup_schedules(&token).await.unwrap();
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(
        waits[0] >= Duration::from_secs(26) && waits[0] <= Duration::from_secs(30),
        "{waits:?}"
    );
    let schedule_requests = fake
        .requests()
        .iter()
        .filter(|r| r.endpoint == Some(FakeEndpoint::Schedules))
        .count();
    assert_eq!(schedule_requests, 2);
}

fn sweeping_poll() -> PollConfig {
    PollConfig {
        interval: Duration::from_millis(300),
        timeout: Duration::from_secs(5),
        // 10 ms between requests, 200 ms between /site pages.
        requests_per_minute: 6000,
        endpoint_units_per_minute: 600,
        per_page: 3,
        max_retries: 0,
        ..PollConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_site_sweep_spans_polls_never_removes_early_and_schedules_stay_fresh() {
    let fake = fake(FleetSpec {
        seed: 12,
        servers: 2,
        sites: 30,
    })
    .await;
    let fleet = fake.fleet();
    let app = start(vec![account("acme", &fake, TOKEN)], sweeping_poll()).await;
    wait_first_poll(&app).await;
    let (_, first) = get(&app, "/metrics").await;
    assert_eq!(
        value(&first, "gridpane_sites{account=\"acme\"}").as_deref(),
        Some("30"),
        "the first sweep runs to its end"
    );

    // A site loses its local schedule, and five sites go away.
    let changed = fleet
        .sites
        .iter()
        .find(|s| s.local_schedule.is_some() && s.local_bup)
        .unwrap()
        .id;
    // The first five: every later site moves up under the sweep in progress.
    let gone: Vec<u64> = fleet
        .sites
        .iter()
        .filter(|s| s.id != changed)
        .take(5)
        .map(|s| s.id)
        .collect();
    let polls_at = |t: &str| {
        value(t, "gridpane_polls_total{account=\"acme\"}")
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let start_polls = polls_at(&get(&app, "/metrics").await.1);
    // Remove them while a sweep is past its second page, so that the later
    // pages shift under it and skip sites that still exist.
    let third_pages = || {
        fake.requests()
            .iter()
            .filter(|r| {
                r.endpoint == Some(FakeEndpoint::Sites) && r.query.split('&').any(|p| p == "page=3")
            })
            .count()
    };
    let before = third_pages();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while third_pages() == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sweep reached page 3"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    fake.update_fleet(|f| {
        if let Some(s) = f.sites.iter_mut().find(|s| s.id == changed) {
            s.local_schedule = None;
        }
        for id in &gone {
            f.remove_site(*id);
        }
    });
    let enabled = format!(
        "gridpane_backup_schedule_enabled{{account=\"acme\",site_id=\"{changed}\",storage=\"local\"}}"
    );
    let kept: Vec<String> = fleet
        .sites
        .iter()
        .filter(|s| !gone.contains(&s.id))
        .map(|s| s.id.to_string())
        .collect();
    let served_ids = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("gridpane_site_info{"))
            .filter_map(|l| l.split("site_id=\"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect()
    };
    let mut counts = Vec::new();
    let mut removed_early = Vec::new();
    let mut schedule_seen_while_partial = false;
    let mut done_polls = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        let (_, text) = get(&app, "/metrics").await;
        let sites: u64 = value(&text, "gridpane_sites{account=\"acme\"}")
            .unwrap()
            .parse()
            .unwrap();
        counts.push(sites);
        let served = served_ids(&text);
        removed_early.extend(kept.iter().filter(|id| !served.contains(id)).cloned());
        if sites == 30 && value(&text, &enabled).as_deref() == Some("0") {
            schedule_seen_while_partial = true;
        }
        if sites == 25 {
            done_polls = Some(polls_at(&text) - start_polls);
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let done_polls = done_polls.unwrap_or_else(|| panic!("never reached 25 sites: {counts:?}"));
    // Sites still listed by GridPane are never dropped, whatever the pages
    // shifted. The removed ones go in at most two steps: a removal that
    // lands between pages 1 and 2 of a sweep confirms some of them one sweep
    // before the others.
    assert!(
        removed_early.is_empty(),
        "a partial or shifted sweep removed sites GridPane still lists: {removed_early:?} (counts {counts:?})"
    );
    assert!(
        counts.windows(2).all(|w| w[1] <= w[0]) && counts.iter().all(|n| *n >= 25),
        "the count only falls, from 30 to 25: {counts:?}"
    );
    assert!(
        done_polls >= 3,
        "10 pages at 200 ms in 300 ms slices take several polls, not {done_polls}"
    );
    assert!(
        schedule_seen_while_partial,
        "the schedule change must show before the sweep completes"
    );
    let detail_requests = fake
        .requests()
        .iter()
        .filter(|r| {
            matches!(
                r.endpoint,
                Some(FakeEndpoint::PruneSchedule | FakeEndpoint::SiteIntegrations)
            )
        })
        .count();
    assert_eq!(detail_requests, 0, "per-site detail is off by default");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_site_detail_covers_every_site_within_its_own_budget() {
    let fake = fake(FleetSpec::demo()).await;
    let fleet = fake.fleet();
    let poll = PollConfig {
        detail: DetailConfig {
            enabled: true,
            // One request every 25 ms: two per site.
            requests_per_minute: 2400,
            publish_every: Duration::from_millis(100),
            ..DetailConfig::default()
        },
        ..fast_poll()
    };
    let started = tokio::time::Instant::now();
    let app = start(vec![account("demo", &fake, TOKEN)], poll).await;
    let age_lines = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("gridpane_site_detail_age_seconds{"))
            .count()
    };
    wait_for(15, "every site detailed", || async {
        age_lines(&get(&app, "/metrics").await.1) == fleet.sites.len()
    })
    .await;
    let elapsed = started.elapsed();
    let detail_requests = fake
        .requests()
        .iter()
        .filter(|r| {
            matches!(
                r.endpoint,
                Some(FakeEndpoint::PruneSchedule | FakeEndpoint::SiteIntegrations)
            )
        })
        .count();
    let allowed = (elapsed.as_secs_f64() / 0.025).ceil() as usize + 2;
    assert!(
        detail_requests <= allowed,
        "{detail_requests} detail requests in {elapsed:?}, the budget allows {allowed}"
    );
    assert!(
        detail_requests >= 2 * fleet.sites.len(),
        "two requests per site"
    );

    let (_, text) = get(&app, "/metrics").await;
    let attached = |id: u64| {
        value(
            &text,
            &format!("gridpane_site_backup_integrations{{account=\"demo\",site_id=\"{id}\"}}"),
        )
    };
    let deleted = fleet.site_with(SiteFault::IntegrationDeleted).unwrap().id;
    assert_eq!(
        attached(deleted).as_deref(),
        Some("0"),
        "its integration is gone"
    );
    let healthy = fleet.sites.iter().find(|s| s.problems.is_empty()).unwrap();
    assert_eq!(attached(healthy.id).as_deref(), Some("1"));
    let short = fleet.site_with(SiteFault::ShortRetention).unwrap();
    assert_eq!(
        value(
            &text,
            &format!(
                "gridpane_backup_retention_seconds{{account=\"demo\",site_id=\"{}\",storage=\"local\"}}",
                short.id
            )
        ),
        Some((short.local_retain_days * 86_400).to_string()),
        "detail agrees with the bulk endpoints"
    );
    app.shutdown().await;
}

/// One account polled once, with its per-site detail task running.
pub(crate) struct DetailRun {
    pub(crate) store: Arc<Store>,
    /// The store's generation after the poll, before any detail.
    polled: u64,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) async fn detail_running(fake: &FakeGridPane, poll: &PollConfig) -> DetailRun {
    let acct = account("acme", fake, TOKEN);
    let client = Arc::new(Client::new(poll.client_options(&acct)).unwrap());
    let store = Arc::new(Store::new(["acme".to_string()]));
    let slot = Arc::clone(&store.accounts()[0]);
    let source = SweepingSource::new(
        Arc::clone(&client),
        acct.token.clone(),
        poll.interval,
        SweepLimits::from_poll(poll),
    );
    poller::poll_once(&source, &store, &slot).await.unwrap();
    let polled = store.generation();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(poller::detail::run(
        client,
        acct.token.clone().into(),
        Arc::clone(&store),
        slot,
        poller::detail::DetailOptions::of(&poll.detail, &acct),
        stopped,
    ));
    DetailRun {
        store,
        polled,
        stop,
        task,
    }
}

impl DetailRun {
    fn detailed(&self) -> Vec<u64> {
        self.store.accounts()[0]
            .load()
            .detail
            .keys()
            .copied()
            .collect()
    }

    pub(crate) async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn detail_results_within_one_publish_period_make_one_generation_and_all_show_after_it() {
    let fake = fake(fleet_of(3, 2, 12)).await;
    let poll = PollConfig {
        detail: DetailConfig {
            enabled: true,
            // One request every 100 ms: every site several times a period.
            requests_per_minute: 600,
            publish_every: Duration::from_secs(10),
            ..DetailConfig::default()
        },
        ..fast_poll()
    };
    let mut site_ids: Vec<u64> = fake.fleet().sites.iter().map(|s| s.id).collect();
    site_ids.sort_unstable();
    let run = detail_running(&fake, &poll).await;
    let detail_requests = || {
        fake.requests()
            .iter()
            .filter(|r| {
                matches!(
                    r.endpoint,
                    Some(FakeEndpoint::PruneSchedule | FakeEndpoint::SiteIntegrations)
                )
            })
            .count()
    };

    tokio::time::sleep(Duration::from_millis(9_900)).await;
    assert!(
        detail_requests() >= 4 * site_ids.len(),
        "every site detailed at least twice: {} requests",
        detail_requests()
    );
    assert_eq!(run.store.generation(), run.polled, "nothing published yet");
    assert!(run.detailed().is_empty());

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        run.store.generation(),
        run.polled + 1,
        "one generation for the whole period"
    );
    assert_eq!(
        run.detailed(),
        site_ids,
        "every result of the period is laid over the snapshot"
    );
    run.stop().await;
}

/// The figure in docs/performance.md ("Per-site detail publishing").
#[tokio::test(start_paused = true)]
async fn at_the_defaults_per_site_detail_makes_at_most_one_generation_a_minute() {
    let fake = fake(FleetSpec::demo()).await;
    let sites = fake.fleet().sites.len();
    let poll = PollConfig {
        detail: DetailConfig {
            enabled: true,
            ..DetailConfig::default()
        },
        ..PollConfig::default()
    };
    let run = detail_running(&fake, &poll).await;
    let minutes = 10;
    tokio::time::sleep(Duration::from_secs(60 * minutes)).await;
    let generations = run.store.generation() - run.polled;
    let detailed = run.detailed().len();
    println!(
        "{sites} sites, default detail budget and publish period, {minutes} min: \
         {detailed} sites detailed, {generations} generations"
    );
    assert_eq!(detailed, sites, "5 sites a minute cover the demo fleet");
    assert!(
        generations <= minutes,
        "{generations} generations in {minutes} minutes"
    );
    run.stop().await;
}

/// Per-site detail with GridPane's backup record read too.
pub(crate) fn history_poll(refresh_every: Option<Duration>) -> PollConfig {
    PollConfig {
        detail: DetailConfig {
            enabled: true,
            // One request every 100 ms: three (or four) per site.
            requests_per_minute: 600,
            publish_every: Duration::from_secs(1),
            history: true,
            refresh_every,
        },
        ..fast_poll()
    }
}

fn requests_to(fake: &FakeGridPane, endpoint: FakeEndpoint) -> Vec<String> {
    fake.requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(endpoint))
        .map(|r| r.path)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn history_gives_each_site_the_newest_backup_per_storage_that_gridpanes_record_holds() {
    // The record's time: names are whole minutes in UTC.
    let now: i64 = 1_780_000_000;
    for shape in [
        HistoryShape::Production,
        HistoryShape::BySource,
        HistoryShape::Objects,
    ] {
        let fake = fake(fleet_of(3, 2, 12)).await;
        fake.update_fleet(|f| {
            f.history_shape = shape;
            f.history_now = Some(now);
        });
        let fleet = fake.fleet();
        let run = detail_running(&fake, &history_poll(None)).await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        let state = run.store.accounts()[0].load();
        for site in &fleet.sites {
            let h = state
                .detail
                .get(&site.id)
                .and_then(|d| d.history.clone())
                .unwrap_or_else(|| panic!("{shape:?}: site {} has no history", site.id));
            let truth = gridpane_backup_exporter::fake::history::backups(site, now);
            for (local, got) in [(true, &h.local), (false, &h.remote)] {
                let of_storage = || truth.iter().filter(|b| (b.source == "local") == local);
                let newest = |auto: bool| {
                    of_storage()
                        .filter(|b| b.automatic || !auto)
                        .map(|b| b.at as f64)
                        .reduce(f64::max)
                };
                let what = format!("{shape:?}, site {}, local {local}", site.id);
                assert_eq!(got.count, of_storage().count() as u64, "{what}");
                assert_eq!(got.last, newest(false), "{what}");
                assert_eq!(got.last_automatic, newest(true), "{what}");
            }
            assert!(h.unattributed.is_empty());
        }
        let stopped = fleet
            .sites
            .iter()
            .find(|s| s.history == FakeHistory::Stopped { days: 20 })
            .unwrap();
        let stopped = state.detail[&stopped.id].history.clone().unwrap();
        assert!(stopped.local.last.unwrap() <= (now - 20 * 86_400) as f64);
        let never = fleet
            .sites
            .iter()
            .find(|s| s.history == FakeHistory::Never)
            .unwrap();
        let never = state.detail[&never.id].history.clone().unwrap();
        assert_eq!((never.local.count, never.local.last), (0, None));
        assert!(
            requests_to(&fake, FakeEndpoint::BackupRefresh).is_empty(),
            "refresh is off by default"
        );
        drop(state);
        run.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_not_understood_is_counted_logged_once_by_reason_and_keeps_the_rest_of_the_detail()
{
    let (log, _guard) = capture_logs();
    let fake = fake(fleet_of(3, 2, 12)).await;
    fake.set_fault(
        FakeEndpoint::BackupHistory,
        Fault::Body(
            r#"{"success":true,"backups":{"local":{"automatic":[{"path":"/srv/PLANTED-PATH","size":1234567}]}}}"#.into(),
        ),
        FaultCount::Always,
    );
    let sites = fake.fleet().sites.len();
    let run = detail_running(&fake, &history_poll(None)).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let state = run.store.accounts()[0].load();
    assert_eq!(state.detail.len(), sites, "retention and integrations kept");
    assert!(state.detail.values().all(|d| d.history.is_none()));
    assert!(
        state.detail.values().all(|d| d
            .record_failure
            .is_some_and(|f| f.reason == Unreadable::UnknownShape)),
        "every site's record is unreadable, with its reason"
    );
    let unknown = state.counters.detail_errors.get("unknown_shape").copied();
    assert!(
        unknown.is_some_and(|n| n >= sites as u64),
        "every read counted: {unknown:?}"
    );
    drop(state);
    run.stop().await;
    let text = std::fs::read_to_string(log.path()).unwrap();
    let warned = text
        .lines()
        .filter(|l| l.contains("backup record not understood"))
        .collect::<Vec<_>>();
    assert_eq!(warned.len(), 1, "{text}");
    assert!(warned[0].contains("unknown_shape"), "{text}");
    assert!(
        !text.contains("PLANTED-PATH") && !text.contains("1234567"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_refresh_is_asked_at_most_once_per_site_per_period_even_when_the_record_is_unreadable() {
    for unreadable in [false, true] {
        let fake = fake(fleet_of(3, 2, 12)).await;
        if unreadable {
            fake.set_fault(
                FakeEndpoint::BackupHistory,
                Fault::Body(r#"{"x":1}"#.into()),
                FaultCount::Always,
            );
        }
        let sites = fake.fleet().sites.len();
        let run = detail_running(&fake, &history_poll(Some(Duration::from_secs(3600)))).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        run.stop().await;
        let reads = requests_to(&fake, FakeEndpoint::BackupHistory);
        let mut refreshes = requests_to(&fake, FakeEndpoint::BackupRefresh);
        assert!(
            reads.len() >= 3 * sites,
            "every site read several times: {}",
            reads.len()
        );
        refreshes.sort();
        let before = refreshes.len();
        refreshes.dedup();
        assert_eq!(
            before,
            refreshes.len(),
            "a site refreshed twice within the hour"
        );
        assert_eq!(refreshes.len(), sites, "every site refreshed once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_history_the_exposition_shows_each_storages_newest_backup_count_and_record_age() {
    let now: i64 = 1_780_000_000;
    let fake = fake(fleet_of(3, 2, 12)).await;
    fake.update_fleet(|f| f.history_now = Some(now));
    let fleet = fake.fleet();
    let poll = PollConfig {
        detail: DetailConfig {
            enabled: true,
            // One request every 10 ms: three per site.
            requests_per_minute: 6000,
            publish_every: Duration::from_millis(100),
            history: true,
            refresh_every: None,
        },
        ..fast_poll()
    };
    let app = start(vec![account("demo", &fake, TOKEN)], poll).await;
    let read = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("gridpane_site_backup_record_age_seconds{"))
            .count()
    };
    wait_for(15, "every site's record read", || async {
        read(&get(&app, "/metrics").await.1) == fleet.sites.len()
    })
    .await;
    let (_, text) = get(&app, "/metrics").await;
    let series = |name: &str, id: u64, storage: &str| {
        value(
            &text,
            &format!("{name}{{account=\"demo\",site_id=\"{id}\",storage=\"{storage}\"}}"),
        )
    };
    let regular = fleet
        .sites
        .iter()
        .find(|s| s.problems.is_empty() && s.history == FakeHistory::Regular)
        .unwrap();
    let truth = gridpane_backup_exporter::fake::history::backups(regular, now);
    let newest_local = truth
        .iter()
        .filter(|b| b.source == "local")
        .map(|b| b.at)
        .max()
        .unwrap();
    assert_eq!(
        series(
            "gridpane_backup_last_timestamp_seconds",
            regular.id,
            "local"
        ),
        Some(newest_local.to_string())
    );
    assert_eq!(
        series("gridpane_backups", regular.id, "remote"),
        Some(
            truth
                .iter()
                .filter(|b| b.source != "local")
                .count()
                .to_string()
        )
    );
    let never = fleet
        .sites
        .iter()
        .find(|s| s.history == FakeHistory::Never)
        .unwrap();
    assert_eq!(
        series("gridpane_backups", never.id, "local"),
        Some("0".into())
    );
    assert_eq!(
        series("gridpane_backup_last_timestamp_seconds", never.id, "local"),
        None,
        "never backed up: no last backup"
    );
    assert_eq!(
        value(
            &text,
            "gridpane_site_detail_errors_total{account=\"demo\",reason=\"unknown_shape\"}"
        ),
        Some("0".into())
    );
    app.shutdown().await;
}
