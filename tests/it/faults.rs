//! Every fault the upstream can throw, against the whole exporter: no panic,
//! the last good data keeps being served, `gridpane_up` drops to 0 within
//! one poll, the reason is counted, and the exporter recovers by itself once
//! the fault ends.

use crate::support;

use std::time::Duration;

use gridpane_backup_exporter::app::App;
use gridpane_backup_exporter::config::PollConfig;
use gridpane_backup_exporter::fake::{FakeEndpoint, FakeGridPane, Fault, FaultCount, FleetSpec};
use support::*;

fn poll() -> PollConfig {
    PollConfig {
        interval: Duration::from_millis(300),
        timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        requests_per_minute: 0,
        max_retries: 0,
        max_pages: 5,
        per_page: 5,
        max_body_bytes: 1024 * 1024,
        ..PollConfig::default()
    }
}

fn metric(text: &str, selector: &str) -> f64 {
    value(text, selector)
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn site_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("gridpane_site_info{"))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

const UP: &str = "gridpane_up{account=\"acme\"}";
const POLLS: &str = "gridpane_polls_total{account=\"acme\"}";
const ERRORS: &str = "gridpane_poll_errors_total{account=\"acme\",";

async fn healthy_app(fake: &FakeGridPane) -> App {
    let app = start(vec![account("acme", fake, TOKEN)], poll()).await;
    wait_for(10, "up 1", || async {
        value(&get(&app, "/metrics").await.1, UP).as_deref() == Some("1")
    })
    .await;
    app
}

/// Injects `fault` on `endpoint` and checks the whole contract.
async fn survives(endpoint: FakeEndpoint, fault: Fault, reason: &str) {
    let fake = fake(FleetSpec {
        seed: 5,
        servers: 2,
        sites: 12,
    })
    .await;
    let app = healthy_app(&fake).await;
    let (_, before) = get(&app, "/metrics").await;
    let polls_before = metric(&before, POLLS);
    let errors_before = sum(&before, ERRORS);

    fake.set_fault(endpoint, fault, FaultCount::Always);
    wait_for(15, "up 0", || async {
        value(&get(&app, "/metrics").await.1, UP).as_deref() == Some("0")
    })
    .await;
    let (status, during) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    let polls = metric(&during, POLLS) - polls_before;
    let failed = sum(&during, ERRORS) - errors_before;
    assert!(
        polls - failed <= 1.0,
        "{reason}: {polls} polls, {failed} failed: more than the poll in flight succeeded"
    );
    assert!(
        metric(&during, &format!("{ERRORS}reason=\"{reason}\"}}")) >= 1.0,
        "{reason} not counted:\n{}",
        during
            .lines()
            .filter(|l| l.starts_with("gridpane_poll_errors_total"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        site_lines(&during),
        site_lines(&before),
        "{reason}: the last good sites are served"
    );
    assert_eq!(
        value(&during, "gridpane_sites{account=\"acme\"}").as_deref(),
        Some("12")
    );
    assert_eq!(get(&app, "/-/ready").await.0, 200);
    assert_eq!(get(&app, "/").await.0, 200);

    fake.clear_faults();
    wait_for(15, "recovery", || async {
        value(&get(&app, "/metrics").await.1, UP).as_deref() == Some("1")
    })
    .await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_500_is_survived() {
    survives(FakeEndpoint::Sites, Fault::Status(500), "http_5xx").await;
}

#[tokio::test]
async fn a_502_from_the_proxy_is_survived() {
    survives(FakeEndpoint::Schedules, Fault::Status(502), "http_5xx").await;
}

#[tokio::test]
async fn a_503_is_survived() {
    survives(
        FakeEndpoint::BackupIntegrations,
        Fault::Status(503),
        "http_5xx",
    )
    .await;
}

#[tokio::test]
async fn a_timeout_is_survived() {
    survives(
        FakeEndpoint::Servers,
        Fault::Delay(Duration::from_secs(3)),
        "timeout",
    )
    .await;
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_is_survived() {
    survives(FakeEndpoint::Sites, Fault::Refuse, "network").await;
}

#[tokio::test]
async fn truncated_json_is_survived() {
    survives(FakeEndpoint::Schedules, Fault::TruncatedJson, "decode").await;
}

#[tokio::test]
async fn wrong_types_are_survived() {
    survives(FakeEndpoint::Sites, Fault::WrongTypes, "decode").await;
}

#[tokio::test]
async fn missing_fields_are_survived() {
    survives(FakeEndpoint::Servers, Fault::MissingFields, "decode").await;
}

#[tokio::test]
async fn success_false_inside_a_200_is_survived() {
    survives(
        FakeEndpoint::BackupIntegrations,
        Fault::SuccessFalse,
        "unsuccessful",
    )
    .await;
}

#[tokio::test]
async fn a_fifty_megabyte_body_is_rejected_without_being_buffered() {
    survives(
        FakeEndpoint::Sites,
        Fault::HugeBody(50 * 1024 * 1024),
        "too_large",
    )
    .await;
}

#[tokio::test]
async fn an_upstream_that_trickles_bytes_is_survived() {
    survives(
        FakeEndpoint::Schedules,
        Fault::Trickle { bytes_per_sec: 200 },
        "timeout",
    )
    .await;
}

#[tokio::test]
async fn pagination_that_never_ends_is_survived() {
    survives(FakeEndpoint::Sites, Fault::EndlessPagination, "pagination").await;
}

#[tokio::test]
async fn a_revoked_token_is_survived() {
    survives(FakeEndpoint::Schedules, Fault::Unauthorized, "auth").await;
}

#[tokio::test]
async fn a_429_storm_is_survived_without_a_retry_storm() {
    let fake = fake(FleetSpec {
        seed: 5,
        servers: 2,
        sites: 12,
    })
    .await;
    let app = healthy_app(&fake).await;
    let (_, before) = get(&app, "/metrics").await;
    fake.clear_requests();
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::RateLimited {
            retry_after_endpoint_secs: 1,
        },
        FaultCount::Always,
    );
    wait_for(10, "up 0", || async {
        value(&get(&app, "/metrics").await.1, UP).as_deref() == Some("0")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let storm: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(FakeEndpoint::Schedules))
        .collect();
    // Polls come every 300 ms, but each 429 blocks the endpoint for at least
    // the second it asks for: about 4 requests in 3.5 s, never 12.
    assert!(
        storm.len() <= 5,
        "{} requests to a rate-limited endpoint in ~3.5 s",
        storm.len()
    );
    let (_, during) = get(&app, "/metrics").await;
    assert!(
        metric(
            &during,
            "gridpane_api_rate_limited_total{account=\"acme\",endpoint=\"/backups/schedules\"}"
        ) >= 1.0
    );
    assert!(metric(&during, &format!("{ERRORS}reason=\"rate_limited\"}}")) >= 1.0);
    assert_eq!(site_lines(&during), site_lines(&before));
    fake.clear_faults();
    wait_for(15, "recovery", || async {
        value(&get(&app, "/metrics").await.1, UP).as_deref() == Some("1")
    })
    .await;
    app.shutdown().await;
}

/// A TCP forwarder on a fixed port that can be switched off (the port then
/// refuses connections) and on again.
struct Door {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
    target: std::net::SocketAddr,
}

impl Door {
    fn closed(target: std::net::SocketAddr) -> Door {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Door {
            port,
            task: None,
            target,
        }
    }

    async fn open(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            // Aborting the door drops this set, and with it every open
            // connection: pooled keep-alive connections die too.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    fn close(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[tokio::test]
async fn connection_refused_is_survived() {
    let fake = fake(FleetSpec {
        seed: 5,
        servers: 2,
        sites: 12,
    })
    .await;
    let mut door = Door::closed(fake.addr());
    door.open().await;
    let mut acme = account("acme", &fake, TOKEN);
    acme.base_url = url::Url::parse(&format!("http://127.0.0.1:{}", door.port)).unwrap();
    let app = start(vec![acme], poll()).await;
    wait_for(10, "up 1", || async {
        value(&get(&app, "/metrics").await.1, UP).as_deref() == Some("1")
    })
    .await;
    let (_, before) = get(&app, "/metrics").await;

    door.close();
    wait_for(10, "up 0", || async {
        value(&get(&app, "/metrics").await.1, UP).as_deref() == Some("0")
    })
    .await;
    let (_, during) = get(&app, "/metrics").await;
    assert!(metric(&during, &format!("{ERRORS}reason=\"network\"}}")) >= 1.0);
    assert_eq!(site_lines(&during), site_lines(&before));
    let status: serde_json::Value =
        serde_json::from_str(&get(&app, "/api/v1/status").await.1).unwrap();
    let message = status["accounts"][0]["last_poll"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "account \"acme\": GET http://127.0.0.1:{}/oauth/api/v1/",
            door.port
        )) && message.ends_with(&format!(
            "the exporter reached no server at 127.0.0.1:{}",
            door.port
        )),
        "{message}"
    );

    door.open().await;
    wait_for(10, "recovery", || async {
        value(&get(&app, "/metrics").await.1, UP).as_deref() == Some("1")
    })
    .await;
    app.shutdown().await;
}
