//! The GridPane client against the fake GridPane, over real HTTP on loopback.

use crate::support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridpane_backup_exporter::config::{Secret, TokenSource};
use gridpane_backup_exporter::domain::{self, Frequency, Storage};
use gridpane_backup_exporter::fake::{
    FakeEndpoint, FakeGridPane, FakeOptions, Fault, FaultCount, Fleet, FleetSpec,
    SECRET_SECRET_SENTINEL, SECRET_TOKEN_SENTINEL, SiteFault,
};
use gridpane_backup_exporter::gridpane::budget::BudgetOptions;
use gridpane_backup_exporter::gridpane::{ApiError, Client, ClientOptions, Sleeper};
use gridpane_backup_exporter::poller::{self, GridPaneSource, Source};
use gridpane_backup_exporter::store::Store;
use support::{capture_logs, free_port};
use url::Url;

const TOKEN: &str = "test-token-7f3a";

fn options(fake: &FakeGridPane) -> ClientOptions {
    ClientOptions {
        base_url: Url::parse(&fake.base_url()).unwrap(),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        budget: BudgetOptions::UNPACED,
        per_page: 200,
        max_pages: 50,
        max_body_bytes: 8 * 1024 * 1024,
        max_items: 250_000,
        max_retries: 3,
    }
}

/// A client whose waits are recorded instead of slept.
fn client(opts: ClientOptions) -> (Client, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&waits);
    let sleeper: Sleeper = Arc::new(move |d| {
        record.lock().unwrap().push(d);
        Box::pin(async {})
    });
    (Client::new(opts).unwrap().with_sleeper(sleeper), waits)
}

async fn fake(spec: FleetSpec) -> FakeGridPane {
    let opts = FakeOptions {
        token: TOKEN.to_string(),
        ..FakeOptions::default()
    };
    FakeGridPane::start(Fleet::generate(&spec), opts)
        .await
        .unwrap()
}

fn token() -> Secret {
    Secret::from(TOKEN)
}

fn spec(sites: usize) -> FleetSpec {
    FleetSpec {
        seed: 7,
        servers: 3,
        sites,
    }
}

fn site_requests(fake: &FakeGridPane) -> usize {
    requests_to(fake, FakeEndpoint::Sites)
}

fn requests_to(fake: &FakeGridPane, endpoint: FakeEndpoint) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.endpoint == Some(endpoint))
        .count()
}

#[tokio::test]
async fn pagination_reads_every_page_whether_there_are_one_two_or_seven() {
    let fake = fake(spec(14)).await;
    for (per_page, pages) in [(14, 1), (7, 2), (2, 7)] {
        fake.clear_requests();
        let (client, _) = client(ClientOptions {
            per_page,
            ..options(&fake)
        });
        let sites = client.sites(&token()).await.unwrap();
        let mut ids: Vec<u64> = sites.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        let mut want: Vec<u64> = fake.fleet().sites.iter().map(|s| s.id).collect();
        want.sort_unstable();
        assert_eq!(ids, want, "per_page {per_page}");
        assert_eq!(
            site_requests(&fake),
            pages,
            "per_page {per_page}: one request per page"
        );
    }
}

#[tokio::test]
async fn requests_carry_the_token_json_accept_and_a_user_agent() {
    let fake = fake(spec(3)).await;
    let (client, _) = client(options(&fake));
    client.backup_schedules(&token()).await.unwrap();
    let r = fake.requests().pop().unwrap();
    assert!(r.authorized);
    assert!(r.accept_json);
    assert!(
        r.user_agent
            .unwrap()
            .starts_with("gridpane-backup-exporter/")
    );
    assert_eq!(r.path, "/oauth/api/v1/backups/schedules");
}

#[tokio::test]
async fn the_drifting_demo_fleet_decodes_into_the_fleet_it_was_made_from() {
    let fake = fake(FleetSpec::demo()).await;
    let (client, _) = client(options(&fake));
    let source = GridPaneSource {
        client,
        token: TokenSource::Inline(token()).into(),
    };
    let fetched = source.fetch().await.unwrap();
    let snap = poller::build_snapshot("demo", 0.0, fetched);
    let fleet = fake.fleet();

    assert_eq!(snap.sites.len(), fleet.sites.len());
    assert_eq!(snap.servers.len(), fleet.servers.len());
    assert_eq!(snap.integrations.len(), fleet.integrations.len());
    for want in &fleet.sites {
        let got = snap.sites.iter().find(|s| s.id == want.id).unwrap();
        assert_eq!(got.url, want.url);
        assert_eq!(got.server_id, Some(want.server_id), "site {}", want.id);
        assert_eq!(
            got.local.automatic,
            Some(want.local_bup),
            "site {}",
            want.id
        );
        assert_eq!(
            got.remote.automatic,
            Some(want.remote_bup),
            "site {}",
            want.id
        );
        assert_eq!(
            got.local.retain_days,
            Some(want.local_retain_days),
            "site {}",
            want.id
        );
        assert_eq!(
            got.remote.retain_days,
            Some(want.remote_retain_days),
            "site {}",
            want.id
        );
        assert_eq!(
            got.local.prune_schedule,
            Some(u32::from(want.local_prune_schedule))
        );
        for (storage, fake_schedule) in [
            (Storage::Local, &want.local_schedule),
            (Storage::Remote, &want.remote_schedule),
        ] {
            let schedule = got.storage(storage).schedule.as_ref();
            assert_eq!(
                schedule.is_some(),
                fake_schedule.is_some(),
                "site {} {storage:?}",
                want.id
            );
            if let (Some(s), Some(f)) = (schedule, fake_schedule) {
                assert_eq!(s.frequency.as_str(), f.frequency.as_str());
                assert_eq!(s.hour, Some(u32::from(f.hour)));
                assert_eq!(s.minute, Some(u32::from(f.minute)));
                assert_eq!(s.day, f.day.map(u32::from));
                assert_eq!(s.integration_id, f.integration_id);
            }
        }
    }
    for f in [
        Frequency::Hourly,
        Frequency::Daily,
        Frequency::Weekly,
        Frequency::Monthly,
    ] {
        assert!(
            snap.sites
                .iter()
                .any(|s| s.local.schedule.as_ref().is_some_and(|x| x.frequency == f))
        );
    }
    let v2 = snap
        .servers
        .iter()
        .filter(|s| s.backups_version == domain::BackupsVersion::V2)
        .count();
    assert_eq!(v2, fleet.servers.iter().filter(|s| s.backups_v2).count());
}

#[tokio::test]
async fn a_rejected_token_fails_at_once_without_a_retry() {
    let fake = fake(spec(3)).await;
    let (client, waits) = client(options(&fake));
    let err = client.sites(&Secret::from("wrong")).await.unwrap_err();
    assert!(
        matches!(err.kind(), ApiError::Auth { status: 401, .. }),
        "{err}"
    );
    assert_eq!(err.reason(), "auth");
    assert_eq!(fake.requests().len(), 1);
    assert!(waits.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_429_waits_as_retry_after_endpoint_says_then_succeeds() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::RateLimited {
            retry_after_endpoint_secs: 27,
        },
        FaultCount::Times(1),
    );
    let (client, waits) = client(options(&fake));
    let schedules = client.backup_schedules(&token()).await.unwrap();
    assert!(!schedules.is_empty());
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(
        waits[0] >= Duration::from_secs(27) && waits[0] <= Duration::from_secs(30),
        "{waits:?}"
    );
    let tally = client.take_tally();
    assert_eq!(tally.rate_limited.get("/backups/schedules"), Some(&1));
    assert_eq!(
        tally
            .requests
            .get(&("/backups/schedules", "429".to_string())),
        Some(&1)
    );
    assert_eq!(
        tally
            .requests
            .get(&("/backups/schedules", "200".to_string())),
        Some(&1)
    );
}

#[tokio::test]
async fn a_beep_beep_429_without_headers_waits_thirty_one_seconds() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::BackupIntegrations,
        Fault::RateLimitedBodyOnly,
        FaultCount::Times(1),
    );
    let (client, waits) = client(options(&fake));
    client.backup_integrations(&token()).await.unwrap();
    let waits = waits.lock().unwrap().clone();
    assert!(
        waits[0] >= Duration::from_secs(31) && waits[0] <= Duration::from_secs(34),
        "{waits:?}"
    );
}

#[tokio::test]
async fn a_429_storm_gives_up_after_a_bounded_number_of_retries() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Servers,
        Fault::RateLimited {
            retry_after_endpoint_secs: 5,
        },
        FaultCount::Always,
    );
    let (client, waits) = client(ClientOptions {
        max_retries: 2,
        ..options(&fake)
    });
    let err = client.servers(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "rate_limited");
    assert_eq!(fake.requests().len(), 3, "one try and two retries");
    assert_eq!(waits.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_backoff() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::Status(503),
        FaultCount::Times(2),
    );
    let (client, waits) = client(options(&fake));
    assert_eq!(client.sites(&token()).await.unwrap().len(), 3);
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(
        waits[0] >= Duration::from_secs(1) && waits[0] <= Duration::from_millis(1250),
        "{waits:?}"
    );
    assert!(
        waits[1] >= Duration::from_secs(2) && waits[1] <= Duration::from_millis(2500),
        "{waits:?}"
    );
}

#[tokio::test]
async fn a_client_error_other_than_auth_is_not_retried() {
    let fake = fake(spec(3)).await;
    fake.set_fault(FakeEndpoint::Sites, Fault::Status(404), FaultCount::Always);
    let (client, _) = client(options(&fake));
    let err = client.sites(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "http_4xx");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_timeout() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::Delay(Duration::from_secs(3)),
        FaultCount::Always,
    );
    let (client, _) = client(ClientOptions {
        timeout: Duration::from_millis(300),
        max_retries: 1,
        ..options(&fake)
    });
    let err = client.backup_schedules(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "timeout", "{err}");
    assert_eq!(fake.requests().len(), 2, "timeouts are retried");
}

#[tokio::test]
async fn truncated_json_is_a_decode_error_naming_the_endpoint() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::TruncatedJson,
        FaultCount::Always,
    );
    let (client, _) = client(options(&fake));
    let err = client.backup_schedules(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "decode");
    assert!(
        err.to_string().starts_with(&format!(
            "GET {}/oauth/api/v1/backups/schedules: unexpected response",
            fake.base_url()
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_connection_names_the_url_without_credentials_and_says_what_to_check() {
    let port = free_port();
    let (client, _) = client(ClientOptions {
        base_url: Url::parse(&format!("http://user:hunter2@127.0.0.1:{port}")).unwrap(),
        max_retries: 0,
        ..options(&fake(spec(1)).await)
    });
    let err = client.sites(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "network");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "GET http://127.0.0.1:{port}/oauth/api/v1/site?page=1&per_page=200: network error: connection failed: "
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with(&format!(
            "; is base_url right? the exporter reached no server at 127.0.0.1:{port}"
        )),
        "{msg}"
    );
    assert!(!msg.contains("hunter2") && !msg.contains("user"), "{msg}");
}

#[tokio::test]
async fn an_html_page_in_a_200_answer_is_named_as_html_with_status_and_url_never_quoted() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::Body("<!DOCTYPE html><title>Log in to Wi-Fi secret-portal</title>".to_string()),
        FaultCount::Always,
    );
    let (client, _) = client(options(&fake));
    let err = client.backup_schedules(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "decode");
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/oauth/api/v1/backups/schedules: HTTP 200 with an HTML page (the body starts with <), not JSON: is accounts[].base_url the GridPane API's host?",
            fake.base_url()
        )
    );
    assert_eq!(fake.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn a_request_that_will_be_retried_is_logged_at_once_with_account_and_url() {
    let (log, _guard) = capture_logs();
    let port = free_port();
    // Each wait records what the log said before it began.
    let logged_before_wait = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&logged_before_wait);
    let path = log.path().to_path_buf();
    let sleeper: Sleeper = Arc::new(move |_| {
        record
            .lock()
            .unwrap()
            .push(std::fs::read_to_string(&path).unwrap());
        Box::pin(async {})
    });
    let client = Client::new(ClientOptions {
        base_url: Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        max_retries: 2,
        ..options(&fake(spec(1)).await)
    })
    .unwrap()
    .with_account("acme")
    .with_sleeper(sleeper);
    let err = client.backup_integrations(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "network");
    let seen = logged_before_wait.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "two retries, two waits");
    let first: Vec<&str> = seen[0].lines().collect();
    assert_eq!(first.len(), 1, "{first:?}");
    for needle in [
        "request failed, retrying",
        "account=acme",
        &format!("url=http://127.0.0.1:{port}/oauth/api/v1/backups/integrations"),
        "reason=\"network\"",
        "attempt=1",
        "retry_in_ms=",
        "reached no server",
    ] {
        assert!(first[0].contains(needle), "{needle}: {}", first[0]);
    }
}

#[tokio::test]
async fn success_false_inside_a_200_is_an_error() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::BackupIntegrations,
        Fault::SuccessFalse,
        FaultCount::Always,
    );
    let (client, _) = client(options(&fake));
    let err = client.backup_integrations(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "unsuccessful");
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_decode_errors_with_a_path() {
    let fake = fake(spec(3)).await;
    let (client, _) = client(options(&fake));
    fake.set_fault(FakeEndpoint::Sites, Fault::WrongTypes, FaultCount::Times(1));
    let err = client.sites(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "decode");
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::MissingFields,
        FaultCount::Times(1),
    );
    let err = client.sites(&token()).await.unwrap_err();
    assert!(err.to_string().contains("data[0]"), "{err}");
}

#[tokio::test]
async fn pagination_that_never_ends_is_cut_off() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::EndlessPagination,
        FaultCount::Always,
    );
    let (client, _) = client(ClientOptions {
        per_page: 2,
        ..options(&fake)
    });
    let err = client.sites(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "pagination");
    assert!(site_requests(&fake) <= 50);
}

#[tokio::test]
async fn schedule_pages_that_repeat_the_first_are_cut_off_at_the_second() {
    // The schedules endpoint pages with the same loop as /site: a page that
    // brings no site not seen before ends it at once, not after max_pages.
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::EndlessPagination,
        FaultCount::Always,
    );
    let (client, _) = client(options(&fake));
    let err = client.backup_schedules(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "pagination");
    assert_eq!(requests_to(&fake, FakeEndpoint::Schedules), 2);
}

#[tokio::test]
async fn a_body_over_the_limit_is_rejected() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::HugeBody(4 * 1024 * 1024),
        FaultCount::Always,
    );
    let (client, _) = client(ClientOptions {
        max_body_bytes: 1024 * 1024,
        ..options(&fake)
    });
    let err = client.backup_schedules(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "too_large");
}

/// A log writer that keeps everything written to it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn provider_secrets_and_the_token_appear_nowhere_the_client_returns_or_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = fake(FleetSpec::demo()).await;
    assert!(
        fake.fleet()
            .site_with(SiteFault::IntegrationDeleted)
            .is_some()
    );
    let (client, _) = client(options(&fake));
    let integrations = client.backup_integrations(&token()).await.unwrap();
    let per_site = client
        .site_integrations(&token(), fake.fleet().sites[0].id)
        .await;
    let store = Store::new(["demo".to_string()]);
    let slot = store.accounts()[0].clone();
    let source = GridPaneSource {
        client,
        token: TokenSource::Inline(token()).into(),
    };
    poller::poll_once(&source, &store, &slot).await.unwrap();
    fake.set_fault(
        FakeEndpoint::BackupIntegrations,
        Fault::WrongTypes,
        FaultCount::Always,
    );
    let failed = poller::poll_once(&source, &store, &slot).await.unwrap_err();

    let returned = format!(
        "{integrations:?} {per_site:?} {:?} {failed} {failed:?}",
        slot.load().snapshot
    );
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("poll finished"),
        "logs were captured: {logged}"
    );
    for secret in [SECRET_TOKEN_SENTINEL, SECRET_SECRET_SENTINEL, TOKEN] {
        assert!(!returned.contains(secret), "{secret} in returned values");
        assert!(!logged.contains(secret), "{secret} in logs");
    }
}

#[tokio::test]
async fn a_single_resource_reads_as_an_object_or_a_one_element_list() {
    let fake = fake(spec(6)).await;
    let (client, _) = client(options(&fake));
    let fleet = fake.fleet();
    // The fake wraps even ids as {"data": {...}} and odd ids as {"data": [{...}]}.
    let mut parities = std::collections::BTreeSet::new();
    for server in &fleet.servers {
        let got = client.server(&token(), server.id).await.unwrap();
        assert_eq!(got.id, server.id);
        assert_eq!(got.label.as_deref(), Some(server.label.as_str()));
        parities.insert(server.id % 2);
    }
    for site in &fleet.sites {
        let got = client.site(&token(), site.id).await.unwrap();
        assert_eq!((got.id, got.url.as_str()), (site.id, site.url.as_str()));
        parities.insert(site.id % 2);
    }
    assert_eq!(parities.len(), 2, "both wrappings were exercised");
    let err = client.site(&token(), 1).await.unwrap_err();
    assert_eq!(err.reason(), "http_4xx");
}

/// The largest wait a 429 may cause: the five-minute cap plus jitter.
const MAX_WAIT: Duration = Duration::from_secs(303);

#[tokio::test]
async fn an_absurd_reset_header_neither_panics_nor_stops_the_next_request() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::Headers(vec![
            ("x-ratelimit-endpoint-remaining", "0".to_string()),
            ("x-ratelimit-endpoint-reset", "1e300".to_string()),
        ]),
        FaultCount::Times(1),
    );
    let (client, waits) = client(options(&fake));
    assert_eq!(client.sites(&token()).await.unwrap().len(), 3);
    // The endpoint is blocked for at most the cap, then read again.
    assert_eq!(client.sites(&token()).await.unwrap().len(), 3);
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1, "the second request waited once: {waits:?}");
    assert!(
        waits[0] > Duration::ZERO && waits[0] <= MAX_WAIT,
        "{waits:?}"
    );
    assert_eq!(site_requests(&fake), 2);
}

#[tokio::test]
async fn a_429_asking_to_wait_1e20_seconds_waits_at_most_the_cap_and_retries() {
    let fake = fake(spec(3)).await;
    for header in ["retry-after-endpoint", "retry-after"] {
        fake.set_fault(
            FakeEndpoint::Sites,
            Fault::RateLimitedWith(vec![(header, "1e20".to_string())]),
            FaultCount::Times(1),
        );
        let (client, waits) = client(options(&fake));
        assert_eq!(client.sites(&token()).await.unwrap().len(), 3, "{header}");
        let waits = waits.lock().unwrap().clone();
        assert!(
            !waits.is_empty() && waits.iter().all(|w| *w <= MAX_WAIT),
            "{header}: {waits:?}"
        );
    }
}

#[tokio::test]
async fn beep_beep_in_a_json_200_is_data_not_a_rate_limit() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::BackupIntegrations,
        Fault::Body(
            r#"{"success":true,"integrations":[{"id":7,"integration_name":"Beep, Beep backups","integrated_service":"wasabi"}]}"#
                .to_string(),
        ),
        FaultCount::Always,
    );
    fake.set_fault(
        FakeEndpoint::Servers,
        Fault::Body(
            r#"{"data":[{"id":4,"label":"Beep, Beep, you're going too fast..."}],"meta":{"current_page":1,"last_page":1}}"#
                .to_string(),
        ),
        FaultCount::Always,
    );
    let (client, waits) = client(options(&fake));
    let integrations = client.backup_integrations(&token()).await.unwrap();
    assert_eq!(
        integrations[0].integration_name.as_deref(),
        Some("Beep, Beep backups")
    );
    let servers = client.servers(&token()).await.unwrap();
    assert_eq!(servers[0].id, 4);
    assert!(waits.lock().unwrap().is_empty());
    assert!(client.take_tally().rate_limited.is_empty());
}

#[tokio::test]
async fn beep_beep_in_a_200_that_is_not_json_is_a_rate_limit() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::BackupIntegrations,
        Fault::Body("Beep, Beep, you're going too fast...".to_string()),
        FaultCount::Times(1),
    );
    let (client, waits) = client(options(&fake));
    client.backup_integrations(&token()).await.unwrap();
    let waits = waits.lock().unwrap().clone();
    assert!(waits[0] >= Duration::from_secs(31), "{waits:?}");
    assert_eq!(
        client
            .take_tally()
            .rate_limited
            .get("/backups/integrations"),
        Some(&1)
    );
}

#[tokio::test]
async fn a_page_of_a_million_items_fails_as_too_large_while_it_is_decoded() {
    let fake = fake(spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::ManyItems(1_000_000),
        FaultCount::Always,
    );
    let (client, _) = client(ClientOptions {
        max_body_bytes: 64 * 1024 * 1024,
        max_items: 1000,
        max_retries: 0,
        ..options(&fake)
    });
    let err = client.sites(&token()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ApiError::TooManyItems { limit: 1000, .. }),
        "{err}"
    );
    assert_eq!(err.reason(), "too_large");
    // The page-by-page read of the /site sweep is held to the same cap.
    let err = client.sites_page(&token(), 1).await.unwrap_err();
    assert_eq!(err.reason(), "too_large", "{err}");
}

#[tokio::test]
async fn items_past_the_cap_across_pages_fail_as_too_large() {
    let fake = fake(spec(10)).await;
    let capped = |max_items| {
        client(ClientOptions {
            per_page: 3,
            max_items,
            ..options(&fake)
        })
        .0
    };
    let err = capped(9).sites(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "too_large", "{err}");
    assert_eq!(capped(10).sites(&token()).await.unwrap().len(), 10);
}

#[tokio::test]
async fn a_redirect_is_its_own_error_and_neither_the_token_nor_the_location_goes_anywhere() {
    let fake = fake(spec(3)).await;
    let elsewhere = self::fake(spec(3)).await;
    let location = format!(
        "http://user:hunter2@{}/oauth/api/v1/site?key=abc123",
        elsewhere.addr()
    );
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::Redirect(location),
        FaultCount::Always,
    );
    let (client, waits) = client(options(&fake));
    let err = client.sites(&token()).await.unwrap_err();
    assert_eq!(err.reason(), "redirect");
    let message = err.to_string();
    assert!(message.contains("redirect (HTTP 302)"), "{message}");
    for leaked in ["hunter2", "abc123", &elsewhere.addr().to_string()] {
        assert!(!message.contains(leaked), "{message}");
    }
    assert!(elsewhere.requests().is_empty());
    assert_eq!(fake.requests().len(), 1, "not retried");
    assert!(waits.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_token_no_header_can_carry_fails_without_sending_or_claiming_an_http_status() {
    let fake = fake(spec(3)).await;
    let (client, _) = client(options(&fake));
    for bad in ["abc\r\ndef", "abc\0def"] {
        let err = client.sites(&Secret::from(bad)).await.unwrap_err();
        let message = err.to_string();
        assert_eq!(err.reason(), "auth");
        assert!(!message.contains("HTTP 0"), "{message}");
        assert!(!message.contains("rejected"), "{message}");
        assert!(message.contains("nothing was sent"), "{message}");
    }
    assert!(fake.requests().is_empty());
}

fn utc_plus(hours: i32) -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(hours * 3600).unwrap()
}

#[tokio::test]
async fn the_backup_record_is_read_in_every_shape_the_fake_serves_with_source_type_and_time_zone() {
    let now: i64 = 1_780_000_000;
    for shape in [
        gridpane_backup_exporter::fake::HistoryShape::Production,
        gridpane_backup_exporter::fake::HistoryShape::BySource,
        gridpane_backup_exporter::fake::HistoryShape::Objects,
    ] {
        let fake = fake(FleetSpec::demo()).await;
        fake.update_fleet(|f| {
            f.history_shape = shape;
            f.history_now = Some(now);
        });
        let (c, _) = client(options(&fake));
        // A site with a manual backup (ids divisible by 3) and both storages on.
        let fleet = fake.fleet();
        let site = fleet
            .sites
            .iter()
            .find(|s| s.id % 3 == 0 && s.problems.is_empty())
            .unwrap();
        let truth = gridpane_backup_exporter::fake::history::backups(site, now);
        let found = c
            .backup_history(&token(), site.id, utc_plus(0))
            .await
            .unwrap();
        let mut got: Vec<(i64, String, bool)> = found
            .backups
            .iter()
            .map(|b| {
                let source = b.source.unwrap().as_str().to_string();
                let automatic = b.kind.unwrap()
                    == gridpane_backup_exporter::gridpane::history::BackupType::Automatic;
                (b.at, source, automatic)
            })
            .collect();
        let mut want: Vec<(i64, String, bool)> = truth
            .iter()
            .map(|b| (b.at, b.source.clone(), b.automatic))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{shape:?}");
        assert!(want.iter().any(|b| !b.2), "the site has a manual backup");

        // The same names read two hours east of UTC are two hours earlier.
        let east = c
            .backup_history(&token(), site.id, utc_plus(2))
            .await
            .unwrap();
        let newest = |f: &gridpane_backup_exporter::gridpane::history::Found| {
            f.backups.iter().map(|b| b.at).max().unwrap()
        };
        assert_eq!(newest(&east), newest(&found) - 7200, "{shape:?}");
    }
}

#[tokio::test]
async fn an_unreadable_record_is_an_error_with_its_reason_and_only_a_record_of_empty_lists_no_backups()
 {
    let fake = fake(FleetSpec::demo()).await;
    let (c, _) = client(options(&fake));
    let site = fake.fleet().sites[0].id;
    // The record read once with this fault.
    let read = async |fault: Fault| {
        fake.set_fault(FakeEndpoint::BackupHistory, fault, FaultCount::Times(1));
        c.backup_history(&token(), site, utc_plus(0)).await
    };
    let body = r#"{"success":true,"backups":{"local":{"automatic":[{"path":"/PLANTED/x.tar","bytes":98765}]}}}"#;
    let err = read(Fault::Body(body.into())).await.unwrap_err();
    assert_eq!(err.reason(), "unknown_shape");
    let text = err.to_string();
    assert!(
        !text.contains("PLANTED") && !text.contains("98765"),
        "{text}"
    );
    for (says_nothing, reason) in [
        (
            r#"{"success":true,"data":{"local":{"automatic":[]}}}"#,
            "empty",
        ),
        ("[]", "empty"),
        ("{}", "empty"),
        ("null", "empty"),
        (r#"{"success":"false","backups":{}}"#, "unsuccessful"),
    ] {
        let err = read(Fault::Body(says_nothing.into())).await.unwrap_err();
        assert_eq!(err.reason(), reason, "{says_nothing}");
    }
    for empty in [
        r#"{"success":true,"backups":[]}"#,
        r#"{"success":true,"backups":{"local":{"automatic":"","manual":[]}}}"#,
    ] {
        let found = read(Fault::Body(empty.into())).await.unwrap();
        assert!(found.backups.is_empty(), "{empty}");
    }

    let err = read(Fault::SuccessFalse).await.unwrap_err();
    assert_eq!(err.reason(), "unsuccessful");
}

#[tokio::test]
async fn a_refresh_is_one_get_on_its_own_route() {
    let fake = fake(FleetSpec::demo()).await;
    let (c, _) = client(options(&fake));
    let site = fake.fleet().sites[0].id;
    c.refresh_backups(&token(), site).await.unwrap();
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(FakeEndpoint::BackupRefresh))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "GET");
    assert_eq!(
        sent[0].path,
        format!("/oauth/api/v1/backups/refresh/{site}")
    );
}
