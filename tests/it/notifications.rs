//! The shipped notification setup, end to end with the real servers: the
//! demo exporter, Prometheus with the rule file (every `for` shortened), and
//! Alertmanager with the quickstart's own configuration
//! (deploy/compose/alertmanager/alertmanager.yml: its route, grouping and
//! inhibit rules) and the shipped templates (alerts/notifications.tmpl).
//! Its receiver gets a webhook (the raw groups) and a Slack integration
//! (the templated text), both pointed at a recorder in this test.
//!
//! Checks: one notification per account and alert, whatever the number of
//! sites; and the templated text lists every site of the group with its
//! URL, server, storage and runbook link.

use crate::support::prom;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

const COMPOSE_ALERTMANAGER: &str = "deploy/compose/alertmanager/alertmanager.yml";
const TEMPLATES: &str = "alerts/notifications.tmpl";

#[derive(Default)]
struct Recorded {
    webhook: Vec<Value>,
    slack: Vec<Value>,
}

type Recorder = Arc<Mutex<Recorded>>;

async fn webhook(State(r): State<Recorder>, body: Bytes) {
    let v: Value = serde_json::from_slice(&body).expect("webhook body is JSON");
    r.lock().unwrap().webhook.push(v);
}

async fn slack(State(r): State<Recorder>, body: Bytes) -> &'static str {
    let v: Value = serde_json::from_slice(&body).expect("slack body is JSON");
    r.lock().unwrap().slack.push(v);
    "ok"
}

/// The quickstart's Alertmanager configuration with its receivers pointed at
/// the recorder and the templates at the repository's file; route, grouping
/// and inhibit rules unchanged, but for a one-second group_wait.
fn alertmanager_config(hook: std::net::SocketAddr) -> String {
    let shipped = prom::read_repo_file(COMPOSE_ALERTMANAGER);
    let (head, _) = shipped
        .split_once("\nreceivers:\n")
        .expect("the compose configuration ends with its receivers");
    let head = head
        .replace(
            "/etc/alertmanager/templates/*.tmpl",
            &prom::repo_path(TEMPLATES).to_string_lossy(),
        )
        .replace("group_wait: 10s", "group_wait: 1s")
        .replace("group_interval: 1m", "group_interval: 2s");
    assert!(head.contains("group_wait: 1s") && head.contains("notifications.tmpl"));
    format!(
        "{head}\nreceivers:\n  - name: log\n    webhook_configs:\n      - url: http://{hook}/hook\n        send_resolved: false\n    \
         slack_configs:\n      - api_url: http://{hook}/slack\n        channel: '#backups'\n        send_resolved: false\n        \
         title: '{{{{ template \"gridpane.title\" . }}}}'\n        text: '{{{{ template \"gridpane.text\" . }}}}'\n"
    )
}

/// The line alerts/notifications.tmpl writes for a per-site alert.
fn site_line(alert: &Value) -> String {
    let l = |k: &str| alert["labels"][k].as_str().unwrap_or_default().to_owned();
    let storage = match l("storage") {
        s if s.is_empty() => String::new(),
        s => format!(", {s} storage"),
    };
    let problem = match l("problem") {
        p if p.is_empty() => String::new(),
        p => format!(": {p}"),
    };
    // Line breaks in a label become one space: no label adds lines.
    let one_line = |s: String| {
        s.split(['\r', '\n'])
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "- {} (site {}) on server {}{storage}{problem}; runbook {}",
        one_line(l("site_url")),
        l("site_id"),
        one_line(l("server_label")),
        alert["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or_default()
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_notification_per_account_and_alert_lists_its_sites_with_url_server_storage_and_runbook()
 {
    let (Some(prometheus), Some(alertmanager)) = (prom::prometheus(), prom::alertmanager()) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let exporter = prom::start_demo_exporter(dir).await;

    let recorded: Recorder = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind recorder");
    let hook = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/hook", post(webhook))
        .route("/slack", post(slack))
        .with_state(recorded.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    write(dir, "alertmanager.yml", &alertmanager_config(hook));
    let mut am = prom::start_alertmanager(&alertmanager, dir).await;
    let am_addr = am.addr.clone();

    let rules = prom::shorten_durations(&prom::read_repo_file(prom::RULES), "4s", "10s");
    write(dir, "rules.yml", &rules);
    write(
        dir,
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\n\
             rule_files: [rules.yml]\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\n\
             scrape_configs:\n  - job_name: gridpane\n    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        ),
    );
    let (mut prometheus, _p) = prom::start_prometheus(&prometheus, dir).await;

    // Wait until every group delivered by the webhook has a templated Slack
    // message listing exactly its firing sites.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (groups, texts) = loop {
        am.assert_running();
        prometheus.assert_running();
        let (groups, texts) = {
            let r = recorded.lock().unwrap();
            // The latest notification of each group.
            let mut groups: BTreeMap<String, Value> = BTreeMap::new();
            for n in &r.webhook {
                groups.insert(n["groupKey"].as_str().unwrap_or_default().into(), n.clone());
            }
            let texts: BTreeMap<String, String> = r
                .slack
                .iter()
                .filter_map(|m| {
                    let a = &m["attachments"][0];
                    Some((
                        a["title"].as_str()?.to_owned(),
                        a["text"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            (groups, texts)
        };
        let site_groups = groups
            .values()
            .filter(|n| {
                n["commonLabels"]["alertname"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("GridPaneSite"))
            })
            .count();
        let all_listed = groups.values().all(|n| {
            let alerts = n["alerts"].as_array().cloned().unwrap_or_default();
            let account = match n["commonLabels"]["account"].as_str() {
                Some(a) => format!(", account {a}"),
                None => String::new(),
            };
            let title = format!(
                "[FIRING:{}] {}{account}",
                alerts.len(),
                n["commonLabels"]["alertname"].as_str().unwrap_or_default(),
            );
            texts.get(&title).is_some_and(|text| {
                alerts.iter().all(|a| {
                    a["labels"]["site_url"].is_null() || text.lines().any(|l| l == site_line(a))
                })
            })
        });
        if site_groups >= 3 && all_listed {
            break (groups, texts);
        }
        assert!(
            Instant::now() < deadline,
            "no templated notification for every group within 60 s\nwebhook groups: {:#?}\nslack: {:#?}",
            groups.keys().collect::<Vec<_>>(),
            texts
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // One notification per account and alert: every group is keyed by
    // exactly those two labels, and holds every site with that alert.
    let mut per_site_alerts = 0;
    let mut storages = BTreeSet::new();
    for n in groups.values() {
        let keys: BTreeSet<&str> = n["groupLabels"]
            .as_object()
            .expect("groupLabels")
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.is_subset(&BTreeSet::from(["alertname", "account"])) && keys.contains("alertname"),
            "grouped by {keys:?}: {n}"
        );
        for a in n["alerts"].as_array().into_iter().flatten() {
            assert_eq!(
                a["labels"]["alertname"], n["groupLabels"]["alertname"],
                "{n}"
            );
            if !a["labels"]["site_url"].is_null() {
                per_site_alerts += 1;
                if let Some(s) = a["labels"]["storage"].as_str() {
                    storages.insert(s.to_owned());
                }
            }
        }
    }
    assert!(
        per_site_alerts > groups.len(),
        "the demo should give groups of several sites: {per_site_alerts} site alerts in {} groups",
        groups.len()
    );
    assert!(
        storages.contains("local") && storages.contains("remote"),
        "{storages:?}"
    );
    // The template names the group in its title and each site once.
    for text in texts.values() {
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("- ")).collect();
        let unique: BTreeSet<&&str> = lines.iter().collect();
        assert_eq!(lines.len(), unique.len(), "a site listed twice:\n{text}");
    }
}

fn yaml(text: &str, what: &str) -> Value {
    use figment::providers::Format as _;
    figment::Figment::from(figment::providers::Yaml::string(text))
        .extract()
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The runbook's recommended `route:` (its first YAML block that starts
/// with one), the quickstart's Alertmanager and the Kubernetes example
/// group notifications the same way.
#[test]
fn the_runbook_the_compose_stack_and_kubernetes_recommend_one_grouping() {
    let runbook = prom::read_repo_file(prom::RUNBOOK);
    let block = runbook
        .split("```yaml\n")
        .skip(1)
        .map(|b| &b[..b.find("```").expect("end of a yaml block")])
        .find(|b| b.starts_with("route:"))
        .expect("docs/runbook.md recommends a route");
    let recommended = yaml(block, "runbook route")["route"]["group_by"].clone();
    assert_eq!(recommended, serde_json::json!(["alertname", "account"]));
    let compose = yaml(&prom::read_repo_file(COMPOSE_ALERTMANAGER), "compose");
    assert_eq!(
        compose["route"]["group_by"], recommended,
        "{COMPOSE_ALERTMANAGER}"
    );
    assert!(
        compose["templates"][0]
            .as_str()
            .is_some_and(|t| t.ends_with(".tmpl")),
        "{COMPOSE_ALERTMANAGER} loads no templates"
    );
    let k8s = yaml(
        &prom::read_repo_file("deploy/kubernetes/alertmanagerconfig.yaml"),
        "kubernetes",
    );
    assert_eq!(k8s["spec"]["route"]["groupBy"], recommended);
    // Every route of the runbook's two-route example groups the same way.
    for b in runbook.split("```yaml\n").skip(1) {
        let b = &b[..b.find("```").unwrap()];
        if b.starts_with("route:") {
            let r = yaml(b, "runbook route");
            assert_eq!(r["route"]["group_by"], recommended, "{b}");
        }
    }
}
