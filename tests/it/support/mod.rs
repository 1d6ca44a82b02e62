//! Shared helpers for black-box tests: start the exporter in-process on
//! port 0 against the fake GridPane, and read its endpoints.
#![allow(dead_code)]

pub mod gridpane_dir;
pub mod prom;
pub mod s3;
pub mod status;

use std::time::Duration;

use gridpane_backup_exporter::app::{App, WebOptions};
use gridpane_backup_exporter::config::{Account, Config, PollConfig, Secret, TokenSource};
use gridpane_backup_exporter::demo;
use gridpane_backup_exporter::fake::{FakeGridPane, FakeOptions, Fleet, FleetSpec};
use url::Url;

pub const TOKEN: &str = "black-box-token-41c9";

pub fn fleet_of(seed: u64, servers: usize, sites: usize) -> FleetSpec {
    FleetSpec {
        seed,
        servers,
        sites,
    }
}

pub async fn fake(spec: FleetSpec) -> FakeGridPane {
    let opts = FakeOptions {
        token: TOKEN.to_string(),
        ..FakeOptions::default()
    };
    FakeGridPane::start(Fleet::generate(&spec), opts)
        .await
        .unwrap()
}

pub fn account(name: &str, fake: &FakeGridPane, token: &str) -> Account {
    Account {
        name: name.to_string(),
        base_url: Url::parse(&fake.base_url()).unwrap(),
        token: TokenSource::Inline(Secret::from(token)),
        time_zone: None,
        remote_storage: Vec::new(),
    }
}

/// Polls quickly, without pacing, with few retries: for tests only.
pub fn fast_poll() -> PollConfig {
    PollConfig {
        interval: Duration::from_millis(300),
        timeout: Duration::from_secs(5),
        requests_per_minute: 0,
        max_retries: 0,
        ..PollConfig::default()
    }
}

/// A first sweep slow enough to watch (on a paused clock): one request a
/// second, `/site` pages of `per_page` sites 10 s apart, no second poll
/// within the hour.
pub fn paced_poll(per_page: u32) -> PollConfig {
    PollConfig {
        interval: Duration::from_secs(3600),
        requests_per_minute: 60,
        endpoint_units_per_minute: 12,
        per_page,
        ..fast_poll()
    }
}

pub async fn start(accounts: Vec<Account>, poll: PollConfig) -> App {
    start_config(Config {
        accounts,
        poll,
        state_file: None,
        policy: Default::default(),
        access: None,
    })
    .await
}

/// How the tests serve: port 0 on loopback, `/metrics`, the exposition
/// cache on.
pub fn test_web() -> WebOptions {
    WebOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        telemetry_path: "/metrics".to_string(),
        disable_exposition_cache: false,
    }
}

/// The exporter with this configuration, served as [`test_web`] says.
pub async fn start_config(config: Config) -> App {
    App::start(config, test_web()).await.unwrap()
}

pub async fn get(app: &App, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{}{}", app.addr, path))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Waits until `check` holds, failing after `secs` seconds.
pub async fn wait_for<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_ready(app: &App) {
    wait_for(10, "/-/ready", || async {
        get(app, "/-/ready").await.0 == 200
    })
    .await;
}

/// Waits until every account's first poll has ended (its first `/site`
/// sweep complete, or failed). Readiness comes earlier, with the first data
/// a sweep publishes.
pub async fn wait_first_poll(app: &App) {
    wait_ready(app).await;
    wait_for(60, "the end of every first poll", || async {
        let (_, body) = get(app, "/api/v1/status").await;
        serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v["accounts"]
                    .as_array()
                    .map(|a| a.iter().all(|a| !a["last_poll"].is_null()))
            })
            .unwrap_or(false)
    })
    .await;
}

/// The value of the one series whose line starts with `selector` (name and
/// labels exactly as rendered).
pub fn value(exposition: &str, selector: &str) -> Option<String> {
    exposition.lines().find_map(|l| {
        l.strip_prefix(selector)?
            .strip_prefix(' ')
            .map(str::to_string)
    })
}

/// The current value of one series of the exporter's /metrics.
pub async fn metric(app: &App, selector: &str) -> Option<String> {
    value(&get(app, "/metrics").await.1, selector)
}

/// The exporter exactly as `--demo` runs it, on port 0, after its first poll.
pub async fn start_demo() -> (FakeGridPane, App) {
    let (fake, config) = demo::start().await.unwrap();
    let app = start_config(config).await;
    wait_first_poll(&app).await;
    wait_demo_bucket(&app).await;
    (fake, app)
}

/// The demo's bucket (the fake's own) has been listed in full once, so
/// that its verdicts are the same on every run.
pub async fn wait_demo_bucket(app: &App) {
    wait_for(60, "the first listing of the demo's bucket", || async {
        metric(
            app,
            "gridpane_remote_storage_up{account=\"demo\",remote_storage=\"demo-bucket\"}",
        )
        .await
        .as_deref()
            == Some("1")
    })
    .await;
}

/// The heading of docs/metrics.md's section on the `probe` subcommand's
/// metrics, which the exporter itself does not emit.
pub const PROBE_METRICS_SECTION: &str = "## What the servers say";

/// `gridpane_*` metrics in the tables of docs/metrics.md, those of the
/// probe's section (`probe`) or of every other section.
fn documented_in(probe: bool) -> Vec<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    let mut in_probe = false;
    let mut names = Vec::new();
    for l in doc.lines() {
        if l.starts_with("## ") {
            in_probe = l.starts_with(PROBE_METRICS_SECTION);
        }
        if in_probe != probe {
            continue;
        }
        if let Some(name) = l
            .strip_prefix("| `gridpane_")
            .and_then(|r| r.split('`').next())
        {
            names.push(format!("gridpane_{name}"));
        }
    }
    names
}

/// Every `gridpane_*` metric of the exporter documented in docs/metrics.md
/// (the contract).
pub fn documented_metrics() -> Vec<String> {
    let names = documented_in(false);
    assert!(
        names.len() > 20,
        "docs/metrics.md lists the metrics in tables"
    );
    names
}

/// The metrics of `probe` documented in docs/metrics.md.
pub fn documented_probe_metrics() -> Vec<String> {
    documented_in(true)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `command --version` runs.
pub fn has_command(command: &str) -> bool {
    std::process::Command::new(command)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `promtool check metrics` on an exposition: it must pass and print
/// nothing. Skipped (false) when promtool is missing and CI is not set.
pub fn promtool_check_metrics(text: &[u8]) -> bool {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    if !require(has_command("promtool"), "promtool", "prometheus") {
        return false;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert_eq!(said.trim(), "", "promtool complained");
    true
}

/// For a test that needs a program from a Debian package: true when it is
/// `found`; otherwise a failure with CI=true, else a SKIPPED line and false.
pub fn require(found: bool, what: &str, package: &str) -> bool {
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} is missing: apt-get install {package}"
        );
        eprintln!("SKIPPED: {what} not installed");
    }
    found
}

/// Log lines of this thread (tokio's current-thread tests: the test and its
/// spawned tasks) go to the returned file until the guard is dropped.
pub fn capture_logs() -> (tempfile::NamedTempFile, tracing::subscriber::DefaultGuard) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(log.reopen().unwrap())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (log, guard)
}

/// A web config file in `dir` where each of `users` logs in with the
/// password `pw` (basic auth, plain HTTP).
pub fn basic_auth_web_config(dir: &std::path::Path, users: &[&str]) -> std::path::PathBuf {
    let web = dir.join("web.yml");
    let hash = bcrypt::hash("pw", 4).unwrap();
    let lines: String = users.iter().map(|u| format!("  {u}: '{hash}'\n")).collect();
    std::fs::write(&web, format!("basic_auth_users:\n{lines}")).unwrap();
    web
}

/// A configuration file in `dir` with one account `acme` at `base_url`
/// (its token in a file beside it), then `rest`.
pub fn acme_config_file(dir: &std::path::Path, base_url: &str, rest: &str) -> std::path::PathBuf {
    let token = dir.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "accounts:\n  - name: acme\n    base_url: {base_url}\n    token_file: {}\n{rest}",
            token.display()
        ),
    )
    .unwrap();
    config
}
