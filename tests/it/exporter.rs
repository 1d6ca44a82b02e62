//! The whole exporter (pollers, store, HTTP) against the fake GridPane.

use crate::support;

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use gridpane_backup_exporter::app::App;
use gridpane_backup_exporter::config::{PollConfig, Secret, TokenSource};
use gridpane_backup_exporter::domain::{Assessed, Policy};
use gridpane_backup_exporter::fake::{
    FakeEndpoint, FakeGridPane, Fault, FaultCount, FleetSpec, SiteFault,
};
use gridpane_backup_exporter::gridpane::{Client, ClientOptions};
use gridpane_backup_exporter::poller::{self, GridPaneSource, Source};
use gridpane_backup_exporter::render::metrics;
use support::*;

fn sel(name: &str, labels: &[(&str, &str)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

#[tokio::test]
async fn metrics_carry_every_contract_metric_with_the_values_the_fleet_implies() {
    // The demo's fake sends rate-limit headers, so every documented metric shows.
    let (fake, app) = start_demo().await;
    let fleet = fake.fleet();
    wait_for(30, "the demo's first per-site detail", || async {
        get(&app, "/metrics")
            .await
            .1
            .contains("\ngridpane_site_detail_age_seconds{")
    })
    .await;
    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    let documented = documented_metrics();
    for name in documented
        .iter()
        .map(String::as_str)
        .chain(["process_resident_memory_bytes"])
    {
        assert!(
            text.contains(&format!("\n# TYPE {name} ")),
            "{name} is documented but not emitted"
        );
    }
    for line in text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE gridpane_"))
    {
        let name = format!("gridpane_{}", line.split(' ').next().unwrap());
        assert!(
            documented.contains(&name),
            "{name} is emitted but not in docs/metrics.md"
        );
    }

    let enabled = |site: u64, storage: &str| {
        value(
            &text,
            &sel(
                "gridpane_backup_schedule_enabled",
                &[
                    ("account", "demo"),
                    ("site_id", &site.to_string()),
                    ("storage", storage),
                ],
            ),
        )
    };
    let configured = |site: u64| {
        value(
            &text,
            &sel(
                "gridpane_backup_remote_configured",
                &[("account", "demo"), ("site_id", &site.to_string())],
            ),
        )
    };
    let missing = |site: u64| {
        value(
            &text,
            &sel(
                "gridpane_backup_remote_integration_missing",
                &[("account", "demo"), ("site_id", &site.to_string())],
            ),
        )
    };
    let id = |p: SiteFault| fleet.site_with(p).unwrap().id;

    let local_off = id(SiteFault::LocalOff);
    assert_eq!(enabled(local_off, "local").as_deref(), Some("0"));
    assert_eq!(enabled(local_off, "remote").as_deref(), Some("1"));

    let remote_off = id(SiteFault::RemoteOff);
    assert_eq!(enabled(remote_off, "remote").as_deref(), Some("0"));
    assert_eq!(configured(remote_off).as_deref(), Some("0"));

    let never = id(SiteFault::RemoteNeverSetUp);
    assert_eq!(enabled(never, "remote").as_deref(), Some("0"));
    assert_eq!(configured(never).as_deref(), Some("0"));
    assert_eq!(
        missing(never),
        None,
        "no remote schedule, nothing to point at"
    );

    let deleted = id(SiteFault::IntegrationDeleted);
    assert_eq!(
        enabled(deleted, "remote").as_deref(),
        Some("1"),
        "the schedule itself is on"
    );
    assert_eq!(configured(deleted).as_deref(), Some("0"));
    assert_eq!(missing(deleted).as_deref(), Some("1"));

    for site in fleet
        .sites
        .iter()
        .filter(|s| s.problems.contains(&SiteFault::NoSchedule))
    {
        assert_eq!(enabled(site.id, "local").as_deref(), Some("0"));
        assert_eq!(enabled(site.id, "remote").as_deref(), Some("0"));
    }

    let short = fleet.site_with(SiteFault::ShortRetention).unwrap();
    let seconds = (short.local_retain_days * 86_400).to_string();
    assert_eq!(
        value(
            &text,
            &sel(
                "gridpane_backup_retention_seconds",
                &[
                    ("account", "demo"),
                    ("site_id", &short.id.to_string()),
                    ("storage", "local")
                ]
            )
        ),
        Some(seconds)
    );
    let keep_all = fleet
        .sites
        .iter()
        .find(|s| s.local_retain_days == 0)
        .unwrap();
    assert_eq!(
        value(
            &text,
            &sel(
                "gridpane_backup_retention_seconds",
                &[
                    ("account", "demo"),
                    ("site_id", &keep_all.id.to_string()),
                    ("storage", "local")
                ]
            )
        )
        .as_deref(),
        Some("inf")
    );

    let healthy = fleet.sites.iter().find(|s| s.problems.is_empty()).unwrap();
    assert_eq!(enabled(healthy.id, "local").as_deref(), Some("1"));
    assert_eq!(enabled(healthy.id, "remote").as_deref(), Some("1"));
    assert_eq!(configured(healthy.id).as_deref(), Some("1"));

    let unused = fleet
        .integrations
        .iter()
        .find(|i| {
            !fleet
                .sites
                .iter()
                .any(|s| s.remote_schedule.as_ref().and_then(|r| r.integration_id) == Some(i.id))
        })
        .unwrap();
    assert_eq!(
        value(
            &text,
            &sel(
                "gridpane_backup_integration_sites",
                &[
                    ("account", "demo"),
                    ("integration_id", &unused.id.to_string())
                ]
            )
        )
        .as_deref(),
        Some("0")
    );
    assert_eq!(
        value(&text, "gridpane_sites{account=\"demo\"}").as_deref(),
        Some("40")
    );
    assert_eq!(
        value(&text, "gridpane_up{account=\"demo\"}").as_deref(),
        Some("1")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn hostile_site_names_are_escaped_as_the_exposition_format_demands() {
    let fake = fake(FleetSpec::demo()).await;
    let app = start(vec![account("demo", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;
    let (_, text) = get(&app, "/metrics").await;
    assert!(
        text.contains(r#"site_url="<script>alert(1)</script>\n\"evil\\\"-ünï.example.net""#),
        "{text}"
    );
    for line in text.lines() {
        assert!(
            line.starts_with('#') || line.starts_with("gridpane_") || line.starts_with("process_"),
            "broken line: {line:?}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn promtool_finds_nothing_to_complain_about_in_the_exposition() {
    let fake = fake(FleetSpec::demo()).await;
    let app = start(vec![account("demo", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;
    let (_, text) = get(&app, "/metrics").await;
    promtool_check_metrics(text.as_bytes());
    app.shutdown().await;
}

#[tokio::test]
async fn the_demo_exposition_matches_the_golden_file() {
    let fake = fake(FleetSpec::demo()).await;
    let opts = ClientOptions {
        base_url: url::Url::parse(&fake.base_url()).unwrap(),
        ..fast_poll().client_options(&account("demo", &fake, TOKEN))
    };
    let source = GridPaneSource {
        client: Client::new(opts).unwrap(),
        token: TokenSource::Inline(Secret::from(TOKEN)).into(),
    };
    let snapshot = poller::build_snapshot("demo", 1_795_000_000.0, source.fetch().await.unwrap());
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    // Judged as the store judges it: the assessment's entry, with the
    // policy (the default here) and the time.
    let assessed = Assessed::new(snapshot, &Policy::default(), now);
    let rendered = String::from_utf8(metrics::snapshot_text(&[&assessed], now).to_vec()).unwrap();

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/demo.prom");
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .expect("tests/fixtures/demo.prom (UPDATE_GOLDEN=1 writes it)");
    assert!(
        rendered == golden,
        "exposition differs from tests/fixtures/demo.prom; rerun with UPDATE_GOLDEN=1 and review the diff"
    );
}

#[tokio::test]
async fn an_upstream_failure_keeps_the_last_values_with_up_zero_then_recovers() {
    let fake = fake(fleet_of(3, 2, 12)).await;
    let app = start(vec![account("acme", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;
    let (_, before) = get(&app, "/metrics").await;
    assert_eq!(
        value(&before, "gridpane_up{account=\"acme\"}").as_deref(),
        Some("1")
    );

    fake.set_fault(FakeEndpoint::Sites, Fault::Status(502), FaultCount::Always);
    wait_for(10, "up 0", || async {
        value(
            &get(&app, "/metrics").await.1,
            "gridpane_up{account=\"acme\"}",
        )
        .as_deref()
            == Some("0")
    })
    .await;
    let (_, during) = get(&app, "/metrics").await;
    assert_eq!(
        value(&during, "gridpane_sites{account=\"acme\"}").as_deref(),
        Some("12")
    );
    let site_lines = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("gridpane_site_info{"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        site_lines(&during),
        site_lines(&before),
        "the last good sites are still served"
    );
    assert_ne!(
        value(
            &during,
            "gridpane_poll_errors_total{account=\"acme\",reason=\"http_5xx\"}"
        )
        .as_deref(),
        Some("0")
    );

    fake.clear_faults();
    wait_for(10, "up 1 again", || async {
        value(
            &get(&app, "/metrics").await.1,
            "gridpane_up{account=\"acme\"}",
        )
        .as_deref()
            == Some("1")
    })
    .await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_removed_site_disappears_after_the_next_successful_poll() {
    let fake = fake(fleet_of(3, 2, 12)).await;
    let gone = fake.fleet().sites[11].id;
    let app = start(vec![account("acme", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;
    let marker = format!("site_id=\"{gone}\"");
    assert!(get(&app, "/metrics").await.1.contains(&marker));
    fake.update_fleet(|f| f.remove_site(gone));
    wait_for(10, "the site to disappear", || async {
        !get(&app, "/metrics").await.1.contains(&marker)
    })
    .await;
    assert_eq!(
        metric(&app, "gridpane_sites{account=\"acme\"}")
            .await
            .as_deref(),
        Some("11")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn readiness_is_503_until_the_first_poll_has_finished() {
    let fake = fake(fleet_of(3, 1, 3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::Delay(Duration::from_millis(1500)),
        FaultCount::Times(1),
    );
    let app = start(vec![account("acme", &fake, TOKEN)], fast_poll()).await;
    let (status, body) = get(&app, "/-/ready").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(get(&app, "/-/healthy").await.0, 200);
    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(&text, "gridpane_up{account=\"acme\"}").as_deref(),
        Some("0"),
        "never an empty 200"
    );
    wait_first_poll(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn healthy_fails_once_a_background_task_cannot_be_kept_running() {
    let fake = fake(fleet_of(3, 1, 3)).await;
    let app = start(vec![account("acme", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;
    assert_eq!(get(&app, "/-/healthy").await.0, 200);
    let (_, text) = get(&app, "/metrics").await;
    for task in ["poller", "detail", "state_writer"] {
        let selector = format!("gridpane_exporter_task_restarts_total{{task=\"{task}\"}}");
        assert_eq!(value(&text, &selector).as_deref(), Some("0"), "{text}");
    }
    app.store.tasks().give_up();
    let (status, body) = get(&app, "/-/healthy").await;
    assert_eq!(status, 503, "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_broken_account_is_up_zero_and_ready_while_the_other_is_unaffected() {
    let good = fake(fleet_of(1, 1, 4)).await;
    let bad = fake(fleet_of(2, 1, 5)).await;
    let app = start(
        vec![
            account("good", &good, TOKEN),
            account("bad", &bad, "revoked-token"),
        ],
        fast_poll(),
    )
    .await;
    wait_first_poll(&app).await;
    let (_, text) = get(&app, "/metrics").await;
    assert_eq!(
        value(&text, "gridpane_up{account=\"good\"}").as_deref(),
        Some("1")
    );
    assert_eq!(
        value(&text, "gridpane_up{account=\"bad\"}").as_deref(),
        Some("0")
    );
    assert_eq!(
        value(&text, "gridpane_sites{account=\"good\"}").as_deref(),
        Some("4")
    );
    assert_eq!(value(&text, "gridpane_sites{account=\"bad\"}"), None);
    assert_ne!(
        value(
            &text,
            "gridpane_poll_errors_total{account=\"bad\",reason=\"auth\"}"
        )
        .as_deref(),
        Some("0")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn metrics_are_gzipped_when_the_scraper_asks() {
    let fake = fake(fleet_of(3, 1, 3)).await;
    let app = start(vec![account("acme", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;
    let resp = reqwest::Client::new()
        .get(format!("http://{}/metrics", app.addr))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut text = String::new();
    use std::io::Read as _;
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("gridpane_up{account=\"acme\"} 1"));
    app.shutdown().await;
}

#[test]
fn sigterm_stops_the_demo_exporter_cleanly_within_five_seconds() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridpane-backup-exporter"))
        .args([
            "--demo",
            "--log.level",
            "warn",
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
            use std::io::{Read as _, Write as _};
            let _ = s.write_all(b"GET /-/ready HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200")
        });
        if ready {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "demo never became ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    // Cleanly: every background task (pollers, detail, bucket listers,
    // the state writer...) stopped by itself, none was aborted at the end
    // of the grace period.
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(
        !log.contains("shutdown grace period over"),
        "a task had to be aborted: {log}"
    );
}

/// 1,500 accounts on one fake, 60 s interval: the fake, the running
/// exporter, and when it was started.
async fn fifteen_hundred_accounts() -> (FakeGridPane, App, std::time::Instant) {
    let fake = fake(fleet_of(3, 1, 3)).await;
    let accounts: Vec<_> = (0..1500)
        .map(|i| account(&format!("acct-{i}"), &fake, TOKEN))
        .collect();
    let poll = PollConfig {
        interval: Duration::from_secs(60),
        ..fast_poll()
    };
    let started = std::time::Instant::now();
    let app = start(accounts, poll).await;
    (fake, app, started)
}

/// Accounts with the same transport settings share one HTTP client:
/// building one per account (each loads the system's root certificates)
/// made 1,500 accounts take about half a minute to start in a debug build.
#[tokio::test]
async fn fifteen_hundred_accounts_start_within_seconds() {
    let (_fake, app, started) = fifteen_hundred_accounts().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "started in {took:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn accounts_sharing_one_http_client_each_send_their_own_token() {
    let fake = fake(fleet_of(3, 1, 3)).await;
    let app = start(
        vec![
            account("good", &fake, TOKEN),
            account("stale", &fake, "revoked-token"),
        ],
        fast_poll(),
    )
    .await;
    wait_for(10, "both accounts polled", || async {
        let text = get(&app, "/metrics").await.1;
        value(&text, "gridpane_up{account=\"good\"}").as_deref() == Some("1")
            && value(
                &text,
                "gridpane_poll_errors_total{account=\"stale\",reason=\"auth\"}",
            )
            .is_some_and(|v| v != "0")
    })
    .await;
    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.authorized));
    assert!(requests.iter().any(|r| !r.authorized));
    app.shutdown().await;
}

/// Too slow for every run: the first polls of 1,500 accounts are staggered
/// over 30 s, and a debug build polls about 50 accounts a second on two
/// cores; run by hand, see docs/operations.md:
/// `cargo test --test it exporter::fifteen_hundred -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "about 35 s; run by hand"]
async fn fifteen_hundred_accounts_all_come_up_without_errors_and_a_scrape_succeeds() {
    let (_fake, app, started) = fifteen_hundred_accounts().await;
    eprintln!("started in {:?}", started.elapsed());
    let up = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("gridpane_up{") && l.ends_with(" 1"))
            .count()
    };
    wait_for(120, "every account up", || async {
        let (status, text) = get(&app, "/metrics").await;
        status == 200 && up(&text) == 1500
    })
    .await;
    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    let errors: f64 = text
        .lines()
        .filter(|l| l.starts_with("gridpane_poll_errors_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(errors, 0.0, "no poll failed");
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    eprintln!(
        "all up in {:?}; {fds} open files (exporter and fake together)",
        started.elapsed()
    );
    app.shutdown().await;
}

#[test]
fn every_metric_row_of_the_docs_sits_in_a_table() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    let lines: Vec<&str> = doc.lines().collect();
    for pair in lines.windows(2) {
        if let [before, row] = pair {
            if row.starts_with("| `") {
                assert!(
                    before.starts_with('|'),
                    "a row outside any table, after {before:?}: {row}"
                );
            }
        }
    }
}

/// Sites by status (problem, warning, ok) as the page's cards, the API's
/// totals and `gridpane_sites_by_status` say; asserts that the three agree.
async fn counts_on_every_surface(base: &str) -> [usize; 3] {
    let (_, _, html) = support::status::get(&format!("{base}/")).await;
    let card = |id: &str| -> usize {
        let start = html.find(&format!("id=\"count-{id}\"")).unwrap();
        let n = &html[start..];
        let n = &n[n.find("class=\"n\">").unwrap() + 10..];
        n[..n.find('<').unwrap()].parse().unwrap()
    };
    let page = [card("problem"), card("warning"), card("ok")];
    let (_, _, body) = support::status::get(&format!("{base}/api/v1/status")).await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let totals = &status["totals"];
    let api = ["sites_with_problem", "sites_with_warning", "sites_ok"]
        .map(|k| totals[k].as_u64().unwrap() as usize);
    let (_, _, text) = support::status::get(&format!("{base}/metrics")).await;
    let metric = ["problem", "warning", "ok"].map(|s| {
        value(
            &text,
            &format!("gridpane_sites_by_status{{account=\"acme\",status=\"{s}\"}}"),
        )
        .unwrap()
        .parse::<usize>()
        .unwrap()
    });
    assert_eq!(page, api, "page and API");
    assert_eq!(api, metric, "API and metrics");
    page
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_changed_policy_everywhere_and_a_broken_file_changes_nothing() {
    let fake = fake(fleet_of(3, 2, 30)).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let config = dir.path().join("config.yml");
    let accounts = format!(
        "accounts:\n  - name: acme\n    base_url: {}\n    token_file: {}\n",
        fake.base_url(),
        token.display()
    );
    let write = |rest: &str| std::fs::write(&config, format!("{accounts}{rest}")).unwrap();
    write("poll:\n  interval: 1h\n  requests_per_minute: 0\n");
    let exporter = Spawned::start(&config, dir.path(), &[]);
    let base = exporter.base.clone();
    let logged = || exporter.logged();
    let hangup = || exporter.hangup();
    wait_for(10, "the first poll", || async {
        reqwest::get(format!("{base}/-/ready"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let before = counts_on_every_surface(&base).await;
    assert!(before[0] > 0, "the fleet has unprotected sites: {before:?}");

    // Nothing is required any more but a year of retention: every site
    // that keeps backups less long is a warning, none is a problem.
    write(
        "poll:\n  interval: 2h\n  requests_per_minute: 0\npolicy:\n  min_retention_days: 365\n  require_remote: false\n  max_interval: 31d\n  groups:\n    - name: all\n      match: {}\n      min_retention_days: 365\n      require_remote: false\n      max_interval: 31d\n",
    );
    hangup();
    wait_for(10, "the reload", || async {
        logged().contains("configuration reloaded")
    })
    .await;
    let after = counts_on_every_surface(&base).await;
    assert_ne!(after, before, "the counts follow the new policy");
    assert_eq!(after.iter().sum::<usize>(), before.iter().sum::<usize>());
    let (_, _, sites) = support::status::get(&format!("{base}/api/v1/sites")).await;
    let sites: serde_json::Value = serde_json::from_str(&sites).unwrap();
    for site in sites["sites"].as_array().unwrap() {
        assert_eq!(site["group"], "all", "{site}");
        for p in site["problems"].as_array().unwrap() {
            let code = p["code"].as_str().unwrap();
            assert!(
                !code.starts_with("remote") && code != "integration_missing",
                "remote backups are not required: {site}"
            );
        }
    }
    assert!(
        logged().contains("needs a restart") && logged().contains("poll"),
        "the changed poll interval is not applied: {}",
        logged()
    );

    write("policy:\n  min_retention_dayz: 1\n");
    hangup();
    wait_for(10, "the failed reload", || async {
        logged().contains("configuration reload failed")
    })
    .await;
    assert_eq!(
        counts_on_every_surface(&base).await,
        after,
        "nothing changed"
    );
    let failure: Vec<String> = logged()
        .lines()
        .filter(|l| l.contains("configuration reload failed"))
        .map(str::to_string)
        .collect();
    assert_eq!(failure.len(), 1, "{failure:?}");
    assert!(
        failure[0].contains("min_retention_dayz"),
        "says why: {}",
        failure[0]
    );
}

/// The exporter binary run with a configuration file; killed when dropped.
pub(crate) struct Spawned {
    pub(crate) child: std::process::Child,
    log: std::path::PathBuf,
    pub(crate) base: String,
}

impl Spawned {
    pub(crate) fn start(config: &std::path::Path, dir: &std::path::Path, args: &[&str]) -> Spawned {
        let log = dir.join("stderr.log");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_gridpane-backup-exporter"))
            .args([
                "--config.file",
                config.to_str().unwrap(),
                "--web.listen-address",
                &format!("127.0.0.1:{port}"),
            ])
            .args(args)
            .env_clear()
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Spawned {
            child,
            log,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub(crate) fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn hangup(&self) {
        let sent = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sighup_applies_changed_access_rules_from_the_next_request() {
    let fake = fake(fleet_of(3, 1, 4)).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    let config = dir.path().join("config.yml");
    let write = |alice_sees: &str| {
        let yaml = format!(
            "accounts:\n  - name: acme\n    base_url: {}\n    token_file: {}\npoll:\n  interval: 1h\n  requests_per_minute: 0\naccess:\n  - users: [alice]\n    accounts: {alice_sees}\n",
            fake.base_url(),
            token.display()
        );
        std::fs::write(&config, yaml).unwrap();
    };
    write("[acme]");
    let exporter = Spawned::start(
        &config,
        dir.path(),
        &["--web.config.file", web.to_str().unwrap()],
    );
    let sites = format!("{}/api/v1/sites", exporter.base);
    let alice = || async {
        reqwest::Client::new()
            .get(&sites)
            .basic_auth("alice", Some("pw"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    wait_for(10, "alice sees acme", || async { alice().await == 200 }).await;

    write("[]");
    exporter.hangup();
    wait_for(10, "the reload", || async {
        exporter.logged().contains("configuration reloaded")
    })
    .await;
    assert_eq!(alice().await, 403, "alice may see no account any more");
}

#[tokio::test(start_paused = true)]
async fn the_status_api_and_page_show_the_first_sweeps_progress_until_it_ends() {
    let fake = fake(fleet_of(3, 2, 40)).await;
    let app = start(vec![account("acme", &fake, TOKEN)], paced_poll(5)).await;
    // Four pages in: after the bulk endpoints and 35 s of pages 10 s apart.
    tokio::time::sleep(Duration::from_secs(36)).await;
    let status: serde_json::Value =
        serde_json::from_str(&get(&app, "/api/v1/status").await.1).unwrap();
    let sweep = &status["accounts"][0]["sweep"];
    let pending = sweep["sites_pending"].as_u64().unwrap();
    assert_eq!(sweep["pages_read"], 4, "{sweep}");
    assert_eq!(sweep["pages_total"], 8, "{sweep}");
    assert_eq!(sweep["sites_total"], 40, "{sweep}");
    assert!(pending > 0 && pending < 40, "{sweep}");
    assert_eq!(
        metric(&app, "gridpane_sites_pending{account=\"acme\"}").await,
        Some(pending.to_string())
    );
    let (_, page) = get(&app, "/").await;
    assert!(
        page.contains(&format!(
            "data-sweep-account=\"acme\">Checking 40 sites of account acme\u{2026} 4 of 8 pages read, {pending} sites not read yet."
        )),
        "{page}"
    );

    // The eighth page comes 73 s after the start.
    tokio::time::sleep(Duration::from_secs(45)).await;
    let status: serde_json::Value =
        serde_json::from_str(&get(&app, "/api/v1/status").await.1).unwrap();
    assert!(!status["accounts"][0]["last_poll"].is_null(), "{status}");
    assert!(status["accounts"][0].get("sweep").is_none(), "{status}");
    assert_eq!(
        metric(&app, "gridpane_sites_pending{account=\"acme\"}")
            .await
            .as_deref(),
        Some("0")
    );
    assert!(!get(&app, "/").await.1.contains("data-sweep-account"));
}
