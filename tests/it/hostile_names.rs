//! Hostile site names (quotes, backslashes, newlines, unicode, `<script>`)
//! survive a real Prometheus scrape byte for byte, and stay inert text in
//! HTML. (promtool's check of the same exposition is in tests/it/exporter.rs.)

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gridpane_backup_exporter::fake::FleetSpec;
use support::*;

const HOSTILE: &str = "<script>alert(1)</script>";

struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's `prometheus`, scraping `target` every second; `None` (SKIPPED)
/// when it is not installed, a failure when CI=true.
fn prometheus(target: std::net::SocketAddr) -> Option<Prometheus> {
    if !require(has_command("prometheus"), "prometheus", "prometheus") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: gridpane\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Some(Prometheus {
        child,
        port,
        _dir: dir,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_site_urls_round_trip_exactly_through_a_real_prometheus_scrape() {
    let fake = fake(FleetSpec::demo()).await;
    let mut want: Vec<String> = fake.fleet().sites.iter().map(|s| s.url.clone()).collect();
    want.sort();
    assert!(
        want.iter()
            .any(|u| u.contains(HOSTILE) && u.contains('\n') && u.contains('"')),
        "the demo fleet carries a hostile name"
    );
    let app = start(vec![account("demo", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;
    let Some(prom) = prometheus(app.addr) else {
        return;
    };
    let http = reqwest::Client::new();
    let url = format!(
        "http://127.0.0.1:{}/api/v1/query?query=gridpane_site_info",
        prom.port
    );
    let fetch = |http: reqwest::Client, url: String| async move {
        let text = http.get(&url).send().await.ok()?.text().await.ok()?;
        let body: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(
            body["data"]["result"]
                .as_array()?
                .iter()
                .filter_map(|s| s["metric"]["site_url"].as_str().map(str::to_string))
                .collect::<Vec<String>>(),
        )
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut got = loop {
        let urls = fetch(http.clone(), url.clone()).await.unwrap_or_default();
        if urls.len() == want.len() {
            break urls;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus never had every site: {urls:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    got.sort();
    assert_eq!(got, want);
    // The scrape itself was healthy.
    let up = http
        .get(format!(
            "http://127.0.0.1:{}/api/v1/query?query=up{{job=\"gridpane\"}}",
            prom.port
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let up: serde_json::Value = serde_json::from_str(&up).unwrap();
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    drop(prom);
    app.shutdown().await;
}

#[tokio::test]
async fn hostile_site_urls_are_inert_text_in_every_html_page() {
    let fake = fake(FleetSpec::demo()).await;
    let app = start(vec![account("demo", &fake, TOKEN)], fast_poll()).await;
    wait_first_poll(&app).await;
    let http = reqwest::Client::new();
    let mut pages = 0;
    for path in ["/", "/?q=script", "/?problems=1&sort=url"] {
        let resp = http
            .get(format!("http://{}{path}", app.addr))
            .send()
            .await
            .unwrap();
        let html = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if resp.status().as_u16() != 200 || !html {
            continue;
        }
        pages += 1;
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains(HOSTILE),
            "{path} renders markup from a site name"
        );
        // The page's one script is its own file; nothing inline, nothing else.
        let scripts = body.matches("<script").count();
        let own = body
            .matches("<script src=\"static/status.js\" defer></script>")
            .count();
        assert_eq!(scripts, own, "{path} has a script element besides its own");
    }
    assert!(pages >= 1, "the landing page at least");
    app.shutdown().await;
}
