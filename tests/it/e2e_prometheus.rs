//! End to end with the real servers from Debian's packages: the demo
//! exporter, Prometheus scraping it every 2 s with the rule file loaded
//! (every `for` shortened to 6 s), Alertmanager, and a webhook receiver in
//! this test.
//!
//! It checks that every dashboard query returns data, that the demo fleet's
//! planted problems raise exactly the expected alerts, that Alertmanager
//! delivers them naming the site, and that killing the exporter raises
//! GridPaneExporterDown.
//!
//! Needs `prometheus` and `prometheus-alertmanager` (or `alertmanager`) on
//! PATH: skipped with a loud message when they are missing, failed under
//! CI=true.

use crate::support::prom;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use gridpane_backup_exporter::fake::{FakeFrequency, Fleet, FleetSpec, SiteFault};
use serde_json::Value;

/// Scrape and rule evaluation interval of the test's Prometheus.
const INTERVAL: &str = "2s";
/// What every `for:` and `keep_firing_for:` of the rule file becomes.
const SHORT_FOR: &str = "6s";
const SHORT_KEEP: &str = "10s";
const JOB: &str = "gridpane";
const ACCOUNT: &str = "demo";

/// Problems judged from GridPane's backup record. The demo reads the
/// records at GridPane's pace (minutes for its 40 sites), so its test may
/// not see them; the policy test reads every record at once and checks
/// them on every surface and in the alerts.
const READ_FROM_THE_RECORD: &[&str] = &["never_backed_up", "backup_overdue"];

/// Dashboard queries that may return no series on the demo fleet:
/// (dashboard uid, panel title, refId, reason). They must still be valid.
const MAY_BE_EMPTY: &[(&str, &str, &str, &str)] = &[
    (
        "gridpane-exporter",
        "Polls and failed polls",
        "B",
        "no poll of the demo fails, and the query keeps only reasons that occurred",
    ),
    (
        "gridpane-exporter",
        "API answers other than 2xx",
        "A",
        "the demo's fake GridPane answers every request with 200",
    ),
    (
        "gridpane-exporter",
        "Per-site detail: sites detailed, without integration, failed fetches",
        "B",
        "no per-site detail fetch of the demo fails",
    ),
    (
        "gridpane-exporter",
        "Per-site detail: sites detailed, without integration, failed fetches",
        "C",
        "the sites detailed in the test's first seconds may all have an integration attached",
    ),
    (
        "gridpane-backups",
        "Sites whose status is unknown",
        "A",
        "the demo fleet's records and schedules are all understood",
    ),
    (
        "gridpane-backups",
        "What each source says, per site",
        "D",
        "no probe runs here; probe:: checks the server's columns with one",
    ),
    (
        "gridpane-backups",
        "What each source says, per site",
        "E",
        "no probe runs here; probe:: checks the server's columns with one",
    ),
    (
        "gridpane-backups",
        "What each source says, per site",
        "F",
        "no probe runs here; probe:: checks the server's columns with one",
    ),
    (
        "gridpane-backups",
        "What each source says, per site",
        "G",
        "no probe runs here; probe:: checks the server's columns with one",
    ),
];

/// Alerts about the exporter or the API, which must stay silent while the
/// demo runs.
const HEALTH_ALERTS: &[&str] = &[
    "GridPaneAPIDown",
    "GridPaneDataStale",
    "GridPaneAPIRateLimited",
    "GridPaneExporterDown",
    "GridPaneExporterAbsent",
];

/// (alertname, site_id, problem)
type AlertKey = (String, String, String);

#[derive(Debug, Clone)]
struct SiteRef {
    url: String,
    server_label: String,
    severity: String,
}

/// The problem codes of one site of `/api/v1/sites` (entries are codes, or
/// objects with a `code`).
fn api_problems(site: &Value) -> BTreeSet<String> {
    site["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().or(p["code"].as_str()))
        .map(str::to_owned)
        .collect()
}

/// The per-site alerts the exporter's own verdict calls for: one per
/// active problem of each site in its JSON API (what the status page
/// shows), named by the rule file's alert for that problem.
async fn expected_site_alerts(exporter: &prom::Server) -> BTreeMap<AlertKey, SiteRef> {
    let alerts = crate::alerts::problem_alerts();
    let v = prom::get_json(&exporter.url("/api/v1/sites"), &[]).await;
    let sites = v["sites"].as_array().cloned().unwrap_or_default();
    assert!(!sites.is_empty(), "{v}");
    let mut out = BTreeMap::new();
    for site in &sites {
        for problem in api_problems(site) {
            let rule = alerts
                .get(&problem)
                .unwrap_or_else(|| panic!("no alert for problem {problem} of {site}"));
            out.insert(
                (rule.name.clone(), site["id"].to_string(), problem),
                SiteRef {
                    url: site["url"].as_str().unwrap_or_default().to_owned(),
                    server_label: site["server_label"].as_str().unwrap_or_default().to_owned(),
                    severity: rule.label("severity").unwrap_or_default().to_owned(),
                },
            );
        }
    }
    out
}

/// The problems the fake planted in the demo fleet, as (site_id, problem),
/// under the default policy: what the verdict must include.
fn planted_problems(fleet: &Fleet) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for site in &fleet.sites {
        let id = site.id.to_string();
        let mut add = |p: &str| {
            out.insert((id.clone(), p.to_owned()));
        };
        for p in &site.problems {
            match p {
                SiteFault::LocalOff => add("local_disabled"),
                SiteFault::RemoteOff => add("remote_disabled"),
                SiteFault::RemoteNeverSetUp => add("remote_not_set_up"),
                SiteFault::IntegrationDeleted => add("integration_missing"),
                SiteFault::NoSchedule => {
                    add("local_not_scheduled");
                    add("remote_not_set_up");
                }
                SiteFault::ShortRetention => add("short_retention"),
                SiteFault::HostileName => {}
            }
        }
        // A monthly schedule that is on is longer than the default 7 days.
        let monthly = |on: bool, s: &Option<gridpane_backup_exporter::fake::FakeSchedule>| {
            on && s
                .as_ref()
                .is_some_and(|s| s.frequency == FakeFrequency::Monthly)
        };
        if monthly(site.local_bup, &site.local_schedule)
            || monthly(site.remote_bup, &site.remote_schedule)
        {
            add("interval_too_long");
        }
    }
    out
}

/// Site alerts that the runbook's inhibit rule suppresses in Alertmanager:
/// the warnings of a site that has a critical alert.
fn inhibited(expected: &BTreeMap<AlertKey, SiteRef>) -> BTreeSet<AlertKey> {
    let critical: BTreeSet<&String> = expected
        .iter()
        .filter(|(_, r)| r.severity == "critical")
        .map(|((_, id, _), _)| id)
        .collect();
    expected
        .iter()
        .filter(|((_, id, _), r)| r.severity == "warning" && critical.contains(id))
        .map(|(k, _)| k.clone())
        .collect()
}

fn key_of(alert: &Value) -> AlertKey {
    let l = &alert["labels"];
    let s = |k: &str| l[k].as_str().unwrap_or_default().to_owned();
    (s("alertname"), s("site_id"), s("problem"))
}

/// The `inhibit_rules:` YAML block the runbook recommends, used as it is.
fn runbook_inhibit_rules() -> String {
    let runbook = prom::read_repo_file(prom::RUNBOOK);
    let start = runbook
        .find("```yaml\ninhibit_rules:")
        .expect("runbook has an inhibit_rules example")
        + "```yaml\n".len();
    let len = runbook[start..].find("```").expect("end of the yaml block");
    runbook[start..start + len].to_owned()
}

type Received = Arc<Mutex<Vec<Value>>>;

async fn hook(State(received): State<Received>, body: Bytes) {
    let v: Value = serde_json::from_slice(&body).expect("webhook body is JSON");
    received.lock().unwrap().push(v);
}

/// Alerts delivered so far (firing ones), flattened out of the notifications.
fn delivered(received: &Received) -> Vec<Value> {
    received
        .lock()
        .unwrap()
        .iter()
        .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["status"] == "firing")
        .collect()
}

async fn prometheus_alerts(prom: &str) -> Vec<Value> {
    let v = prom::get_json(&format!("{prom}/api/v1/alerts"), &[]).await;
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["alerts"].as_array().cloned().unwrap_or_default()
}

async fn query(prom: &str, q: &str) -> Value {
    prom::get_json(&format!("{prom}/api/v1/query"), &[("query", q)]).await
}

/// Polls `check` every 500 ms until it returns `Ok`, or panics with its last
/// error after `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(e) if Instant::now() > deadline => {
                panic!("{what}: not reached within {timeout:?}:\n{e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
}

/// Regex-escapes a value the way Grafana does for a `=~` matcher, as it
/// appears inside a PromQL string literal.
fn grafana_regex(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_fleet_through_prometheus_and_alertmanager() {
    let (Some(prometheus), Some(alertmanager)) = (prom::prometheus(), prom::alertmanager()) else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();

    // --- the exporter and the webhook receiver ------------------------------
    let mut exporter = prom::start_demo_exporter(dir).await;
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let hook_addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // --- Alertmanager -------------------------------------------------------
    write(
        dir,
        "alertmanager.yml",
        &format!(
            "route:\n  receiver: hook\n  group_by: [alertname, account, site_id, problem, instance]\n  \
             group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{hook_addr}/hook\n        \
             send_resolved: false\n{}",
            runbook_inhibit_rules()
        ),
    );
    let mut am = prom::start_alertmanager(&alertmanager, dir).await;
    let am_addr = am.addr.clone();

    // --- Prometheus ---------------------------------------------------------
    // The rule file as users load it, with every `for` and `keep_firing_for`
    // shortened so that alerts fire within seconds (see
    // prom::shorten_durations); thresholds and expressions are unchanged.
    let rules = prom::shorten_durations(&prom::read_repo_file(prom::RULES), SHORT_FOR, SHORT_KEEP);
    write(dir, "rules.yml", &rules);
    write(
        dir,
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: {INTERVAL}\n  evaluation_interval: {INTERVAL}\n\
             rule_files: [rules.yml]\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        ),
    );
    let (mut prometheus, p) = prom::start_prometheus(&prometheus, dir).await;

    // Loaded every rule of the file?
    let loaded = prom::get_json(&format!("{p}/api/v1/rules"), &[]).await;
    let loaded_rules: usize = loaded["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .map(|g| g["rules"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(loaded_rules, prom::parse_rules(&rules).len(), "{loaded}");

    // Enough scrapes for rate() over 1m.
    eventually(
        "three scrapes of the exporter",
        Duration::from_secs(30),
        || {
            let p = p.clone();
            async move {
                let v = query(&p, "count_over_time(gridpane_polls_total[1m])").await;
                let n = v["data"]["result"][0]["value"][1]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .unwrap_or(0.0);
                if n >= 3.0 {
                    Ok(())
                } else {
                    Err(format!("{v}"))
                }
            }
        },
    )
    .await;

    // --- every dashboard query returns data ----------------------------------
    let specific_instance = grafana_regex(&exporter.addr);
    let selections: [Vec<(&str, &str)>; 2] = [
        vec![
            ("job", JOB),
            ("instance", &specific_instance),
            ("account", ACCOUNT),
        ],
        vec![("job", ".+"), ("instance", ".+"), ("account", ".+")],
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, d) in prom::dashboards() {
        let uid = d["uid"].as_str().unwrap_or_default().to_owned();
        // Text variables at their defaults.
        let texts: Vec<(String, String)> = d["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["type"] == "textbox")
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_owned(),
                    v["query"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for selection in &selections {
            let mut vars: Vec<(&str, &str)> = selection.clone();
            vars.extend(texts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            for panel in prom::panels(&d) {
                let title = panel["title"].as_str().unwrap_or_default();
                for (ref_id, expr) in prom::panel_queries(panel) {
                    let q = prom::substitute(&expr, &vars);
                    let v = query(&p, &q).await;
                    checked += 1;
                    let what = format!("{file} panel {title:?} query {ref_id}");
                    if v["status"] != "success" {
                        failures.push(format!("{what}: {}\n{q}", v["error"]));
                        continue;
                    }
                    let empty = v["data"]["result"].as_array().is_some_and(Vec::is_empty);
                    let allowed = MAY_BE_EMPTY
                        .iter()
                        .any(|(u, t, r, _)| *u == uid && *t == title && *r == ref_id);
                    if empty && !allowed {
                        failures.push(format!("{what}: no data\n{q}"));
                    }
                }
            }
            // Variable queries: label_values(selector, label).
            for var in d["templating"]["list"].as_array().into_iter().flatten() {
                if var["type"] != "query" {
                    continue;
                }
                let name = var["name"].as_str().unwrap();
                let raw = var["query"]["query"]
                    .as_str()
                    .or(var["query"].as_str())
                    .unwrap();
                let inner = raw
                    .strip_prefix("label_values(")
                    .and_then(|r| r.strip_suffix(')'))
                    .expect("label_values query");
                let (sel, label) = inner.rsplit_once(',').unwrap();
                let sel = prom::substitute(sel.trim(), &vars);
                let v = prom::get_json(&format!("{p}/api/v1/series"), &[("match[]", &sel)]).await;
                let values: BTreeSet<&str> = v["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s[label.trim()].as_str())
                    .collect();
                let want = match name {
                    "job" => JOB,
                    "instance" => exporter.addr.as_str(),
                    _ => ACCOUNT,
                };
                if !values.contains(want) {
                    failures.push(format!(
                        "{file} variable ${name}: {values:?} lacks {want} ({sel})"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} queries failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!(
        "{checked} dashboard queries returned data ({:?})",
        started.elapsed()
    );

    // --- the demo's problems raise exactly the expected alerts --------------
    // The alerts, the gridpane_site_problem series and the JSON API (the
    // status page's verdict) name the same sites and problems, and those
    // include every problem the fake planted.
    let fleet = Fleet::generate(&FleetSpec::demo());
    let planted = planted_problems(&fleet);
    let (expected, firing) = eventually(
        "the expected site alerts firing",
        Duration::from_secs(45),
        || {
            let p = p.clone();
            let exporter = &exporter;
            let planted = &planted;
            async move {
                let expected = expected_site_alerts(exporter).await;
                let verdict: BTreeSet<(String, String)> = expected
                    .keys()
                    .map(|(_, id, problem)| (id.clone(), problem.clone()))
                    .collect();
                let missed: Vec<_> = planted.difference(&verdict).collect();
                if !missed.is_empty() {
                    return Err(format!("planted but not in /api/v1/sites: {missed:#?}"));
                }
                let series = query(&p, "gridpane_site_problem").await;
                let metric: BTreeSet<(String, String)> = series["data"]["result"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        let l = |k: &str| s["metric"][k].as_str().unwrap_or_default().to_owned();
                        (l("site_id"), l("problem"))
                    })
                    .collect();
                if metric != verdict {
                    return Err(format!(
                        "gridpane_site_problem {metric:?}\n/api/v1/sites {verdict:?}"
                    ));
                }
                let alerts = prometheus_alerts(&p).await;
                let firing: Vec<Value> = alerts
                    .into_iter()
                    .filter(|a| a["state"] == "firing")
                    .collect();
                let site_keys: BTreeSet<AlertKey> = firing
                    .iter()
                    .map(key_of)
                    .filter(|(n, _, _)| n.starts_with("GridPaneSite"))
                    .collect();
                let want: BTreeSet<AlertKey> = expected.keys().cloned().collect();
                if site_keys == want {
                    Ok((expected, firing))
                } else {
                    Err(format!(
                        "missing: {:#?}\nunexpected: {:#?}",
                        want.difference(&site_keys).collect::<Vec<_>>(),
                        site_keys.difference(&want).collect::<Vec<_>>()
                    ))
                }
            }
        },
    )
    .await;
    for (problem, rule) in crate::alerts::problem_alerts() {
        if READ_FROM_THE_RECORD.contains(&problem.as_str())
            || crate::alerts::UNKNOWN_PROBLEMS.contains(&problem.as_str())
        {
            continue;
        }
        assert!(
            expected.keys().any(|(n, _, _)| *n == rule.name),
            "the demo fleet has no site with {problem}; the test would prove nothing for {}",
            rule.name
        );
    }
    for a in &firing {
        let (name, site_id, problem) = key_of(a);
        assert!(
            !HEALTH_ALERTS.contains(&name.as_str()),
            "{name} fires while the demo exporter is healthy: {a}"
        );
        if let Some(site) = expected.get(&(name.clone(), site_id.clone(), problem.clone())) {
            let l = &a["labels"];
            assert_eq!(l["site_url"], site.url.as_str(), "{a}");
            assert_eq!(l["server_label"], site.server_label.as_str(), "{a}");
            assert_eq!(l["account"], ACCOUNT, "{a}");
            assert!(
                l.get("instance").is_none() && l.get("job").is_none(),
                "not aggregated: {a}"
            );
            let description = a["annotations"]["description"].as_str().unwrap_or_default();
            assert!(description.contains(&site.url), "{a}");
            assert!(description.contains(&site.server_label), "{a}");
        }
    }
    eprintln!(
        "{} site alerts firing as expected ({:?})",
        expected.len(),
        started.elapsed()
    );

    // --- Alertmanager delivers them, naming the site ------------------------
    let inhibit = inhibited(&expected);
    let deliverable: BTreeMap<&AlertKey, &SiteRef> = expected
        .iter()
        .filter(|(k, _)| !inhibit.contains(*k))
        .collect();
    eventually(
        "notifications for every site alert",
        Duration::from_secs(30),
        || {
            let got = delivered(&received);
            let deliverable = &deliverable;
            async move {
                let mut missing = Vec::new();
                for (key, site) in deliverable {
                    let ok = got.iter().any(|a| {
                        key_of(a) == **key
                            && a["labels"]["site_url"] == site.url.as_str()
                            && a["annotations"]["description"]
                                .as_str()
                                .is_some_and(|d| d.contains(&site.url))
                    });
                    if !ok {
                        missing.push(format!("{key:?} {:?}", site.url));
                    }
                }
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(missing.join("\n"))
                }
            }
        },
    )
    .await;
    // The runbook's inhibit rule held back the warnings of sites that have
    // a critical alert. (Alertmanager checks
    // inhibition when a group is flushed, after group_wait; source and
    // targets are evaluated in the same rule group and sent together.)
    assert!(
        !inhibit.is_empty(),
        "the demo has no site with a warning and a critical problem"
    );
    let leaked: Vec<AlertKey> = delivered(&received)
        .iter()
        .map(key_of)
        .filter(|k| inhibit.contains(k))
        .collect();
    assert!(
        leaked.is_empty(),
        "inhibited alerts were delivered: {leaked:#?}"
    );
    // The hostile site names made it through byte for byte.
    for site in fleet
        .sites
        .iter()
        .filter(|s| s.problems.contains(&SiteFault::HostileName))
    {
        if deliverable.values().any(|r| r.url == site.url) {
            assert!(
                delivered(&received)
                    .iter()
                    .any(|a| a["labels"]["site_url"] == site.url.as_str()),
                "no notification names {:?}",
                site.url
            );
        }
    }
    eprintln!(
        "Alertmanager delivered every site alert ({:?})",
        started.elapsed()
    );

    // --- a dead exporter does not look like "no problems" --------------------
    exporter.kill();
    let instance = exporter.addr.clone();
    eventually(
        "GridPaneExporterDown delivered",
        Duration::from_secs(40),
        || {
            let got = delivered(&received);
            let instance = instance.clone();
            async move {
                let ok = got.iter().any(|a| {
                    a["labels"]["alertname"] == "GridPaneExporterDown"
                        && a["labels"]["instance"] == instance.as_str()
                        && a["labels"]["severity"] == "critical"
                });
                if ok { Ok(()) } else { Err("not yet".into()) }
            }
        },
    )
    .await;
    am.assert_running();
    prometheus.assert_running();
    eprintln!("GridPaneExporterDown delivered ({:?})", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "the end-to-end test took {:?}, over its 90 s budget",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// One policy, the same verdict on every surface
// ---------------------------------------------------------------------------

use gridpane_backup_exporter::fake::{FakeHistory, FakeSchedule, FakeSite, HostileRecord};

/// The minimum retention of [`policy_names_the_same_sites_on_the_page_the_api_the_metrics_and_the_alerts`].
const POLICY_MIN_RETENTION_DAYS: u32 = 90;
/// The problem that test mutes on one site.
const MUTED_PROBLEM: &str = "remote_not_set_up";
/// Problems that make a site "not protected"; the others are warnings.
const CRITICAL_PROBLEMS: &[&str] = &[
    "local_disabled",
    "local_not_scheduled",
    "remote_disabled",
    "remote_not_set_up",
    "integration_missing",
    "never_backed_up",
    "backup_overdue",
];

/// (site id, problem code)
type SiteProblem = (u64, String);

/// Seconds in a schedule period, as docs/api.md gives `interval_seconds`.
fn period_seconds(f: FakeFrequency) -> i64 {
    match f {
        FakeFrequency::Hourly => 3_600,
        FakeFrequency::Daily => 86_400,
        FakeFrequency::Weekly => 7 * 86_400,
        FakeFrequency::Monthly => 30 * 86_400,
    }
}

/// What a storage's backups in the fake's record say at `now` under the
/// default `overdue_after` (2 periods) and `overdue_grace` (1 hour): no
/// backup at all, or the newest too old.
fn record_findings(site: &FakeSite, now: i64) -> Vec<&'static str> {
    if matches!(site.history, FakeHistory::Hostile(h) if !matches!(h, HostileRecord::DateElsewhere { .. }))
    {
        // Not a record: its outcome is unknown, nothing else is judged.
        return vec!["record_unreadable"];
    }
    let record = gridpane_backup_exporter::fake::history::backups(site, now);
    let mut out = Vec::new();
    for (on, schedule, local) in [
        (site.local_bup, &site.local_schedule, true),
        (site.remote_bup, &site.remote_schedule, false),
    ] {
        let Some(schedule) = schedule.as_ref().filter(|_| on) else {
            continue;
        };
        let newest = record
            .iter()
            .filter(|b| (b.source == "local") == local)
            .map(|b| b.at)
            .max();
        let found = match newest {
            None => "never_backed_up",
            Some(at) if now >= at + 2 * period_seconds(schedule.frequency) + 3_600 => {
                "backup_overdue"
            }
            Some(_) => continue,
        };
        // One problem per site, whichever storage has it.
        if !out.contains(&found) {
            out.push(found);
        }
    }
    out
}

/// What a site's own data shows wrong under a minimum retention of
/// `min_retention_days`, before groups and mutes: read from the fake's
/// ground truth (switches, schedules, retention, integrations and, when
/// `record_at` is given, its backup record read then), as docs/policy.md
/// defines each problem.
fn fleet_findings(
    fleet: &Fleet,
    site: &FakeSite,
    min_retention_days: u32,
    record_at: Option<i64>,
) -> Vec<&'static str> {
    let from_record = record_at
        .map(|now| record_findings(site, now))
        .unwrap_or_default();
    let local_on = site.local_bup && site.local_schedule.is_some();
    let remote_on = site.remote_bup && site.remote_schedule.is_some();
    let short = |on: bool, days: u32| on && days > 0 && days < min_retention_days;
    let monthly = |on: bool, s: &Option<FakeSchedule>| {
        on && s
            .as_ref()
            .is_some_and(|s| s.frequency == FakeFrequency::Monthly)
    };
    let deleted_integration = site
        .remote_schedule
        .as_ref()
        .and_then(|s| s.integration_id)
        .is_some_and(|id| fleet.integration(id).is_none());
    [
        (
            "local_disabled",
            site.local_schedule.is_some() && !site.local_bup,
        ),
        ("local_not_scheduled", site.local_schedule.is_none()),
        (
            "remote_disabled",
            site.remote_schedule.is_some() && !site.remote_bup,
        ),
        ("remote_not_set_up", site.remote_schedule.is_none()),
        ("integration_missing", deleted_integration),
        (
            "short_retention",
            short(local_on, site.local_retain_days) || short(remote_on, site.remote_retain_days),
        ),
        (
            "interval_too_long",
            monthly(local_on, &site.local_schedule) || monthly(remote_on, &site.remote_schedule),
        ),
    ]
    .into_iter()
    .filter_map(|(p, found)| found.then_some(p))
    .chain(from_record)
    .collect()
}

/// The active problems the test's policy gives the fleet, its backup
/// records read at `now`: 90 days of retention, no remote backups required
/// of staging sites, and `muted` left out.
fn policy_verdict(fleet: &Fleet, muted: &SiteProblem, now: i64) -> BTreeSet<SiteProblem> {
    let mut out = BTreeSet::new();
    for site in &fleet.sites {
        let staging = site.site_type == "staging";
        for p in fleet_findings(fleet, site, POLICY_MIN_RETENTION_DAYS, Some(now)) {
            let remote = p.starts_with("remote_") || p == "integration_missing";
            let pair = (site.id, p.to_owned());
            if !(staging && remote) && pair != *muted {
                out.insert(pair);
            }
        }
    }
    out
}

/// The status each site gets from its active problems.
fn statuses(fleet: &Fleet, active: &BTreeSet<SiteProblem>) -> BTreeMap<u64, &'static str> {
    fleet
        .sites
        .iter()
        .map(|site| {
            let mut status = "ok";
            for (_, p) in active.iter().filter(|(id, _)| *id == site.id) {
                if CRITICAL_PROBLEMS.contains(&p.as_str()) {
                    status = "problem";
                } else if crate::alerts::UNKNOWN_PROBLEMS.contains(&p.as_str()) {
                    if status != "problem" {
                        status = "unknown";
                    }
                } else if status == "ok" {
                    status = "warning";
                }
            }
            (site.id, status)
        })
        .collect()
}

/// The number in one of the status page's summary cards (`count-problem`...).
fn card_count(html: &str, card: &str) -> usize {
    let start = html
        .find(&format!("id=\"count-{card}\""))
        .unwrap_or_else(|| panic!("no card count-{card}"));
    let rest = &html[start..];
    let n = &rest[rest.find("class=\"n\">").expect("card number") + "class=\"n\">".len()..];
    n[..n.find('<').expect("end of the number")]
        .parse()
        .expect("a count")
}

/// The sites the status page lists under `filter` (`status=...` or
/// `problem=...`), all on one page.
async fn page_sites(base: &str, filter: &str) -> BTreeSet<u64> {
    let (code, _, html) =
        crate::support::status::get(&format!("{base}/?{filter}&per_page=1000")).await;
    assert_eq!(code, 200, "/?{filter}: {html}");
    crate::support::status::site_ids(&html)
        .into_iter()
        .collect()
}

/// (site_id, problem) of every series of a PromQL answer.
fn series_pairs(v: &Value) -> BTreeSet<SiteProblem> {
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let l = |k: &str| s["metric"][k].as_str().unwrap_or_default().to_owned();
            (l("site_id").parse().unwrap_or(0), l("problem"))
        })
        .collect()
}

/// The shipped rule file, unchanged, evaluated every second by a real
/// Prometheus scraping the exporter with this configuration every second:
/// the page's counts and lists, `/api/v1/sites`, the `gridpane_site_problem`
/// series Prometheus stores and the site alerts pending or firing name the
/// same sites and problems, and those are what the policy says of the fake
/// fleet's own data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_names_the_same_sites_on_the_page_the_api_the_metrics_and_the_alerts() {
    let Some(prometheus) = prom::prometheus() else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();

    // --- the fleet, and what the policy says of it ---------------------------
    let spec = FleetSpec::demo();
    let mut fleet = Fleet::generate(&spec);
    // One healthy primary site whose record GridPane answers with an HTML
    // page: unknown on every surface, and its alert.
    let unreadable = fleet
        .sites
        .iter()
        .position(|s| {
            s.problems.is_empty()
                && s.site_type != "staging"
                && s.history == FakeHistory::Regular
                && s.local_retain_days >= POLICY_MIN_RETENTION_DAYS
        })
        .expect("a healthy primary site");
    fleet.sites[unreadable].history = FakeHistory::Hostile(HostileRecord::Html);
    let unreadable_id = fleet.sites[unreadable].id;
    let muted_site = fleet
        .site_with(SiteFault::RemoteNeverSetUp)
        .filter(|s| s.site_type != "staging")
        .expect("a primary site without remote backups");
    let muted: SiteProblem = (muted_site.id, MUTED_PROBLEM.to_owned());
    let expected = policy_verdict(&fleet, &muted, chrono::Utc::now().timestamp());
    let expected_status = statuses(&fleet, &expected);
    // The policy changes something on each count, or the test proves nothing.
    assert!(
        fleet_findings(&fleet, muted_site, POLICY_MIN_RETENTION_DAYS, None)
            .contains(&MUTED_PROBLEM),
        "the mute mutes nothing"
    );
    assert!(
        fleet.sites.iter().any(|s| s.site_type == "staging"
            && fleet_findings(&fleet, s, POLICY_MIN_RETENTION_DAYS, None)
                .iter()
                .any(|p| p.starts_with("remote_") || *p == "integration_missing")),
        "no staging site has a remote problem for the group to waive"
    );
    assert!(
        fleet.sites.iter().any(|s| {
            fleet_findings(&fleet, s, POLICY_MIN_RETENTION_DAYS, None).contains(&"short_retention")
                && !fleet_findings(&fleet, s, 7, None).contains(&"short_retention")
        }),
        "no site is short of 90 days' retention only"
    );
    for code in ["never_backed_up", "backup_overdue"] {
        assert!(
            expected.iter().any(|(_, p)| p == code),
            "no site has {code}: the record's problems would go unchecked"
        );
    }
    assert_eq!(expected_status[&unreadable_id], "unknown");
    for status in ["problem", "unknown", "warning", "ok"] {
        assert!(
            expected_status.values().any(|s| *s == status),
            "no site is {status}: {expected_status:?}"
        );
    }

    // --- the exporter, configured as an operator would -----------------------
    let fake = crate::support::fake(spec).await;
    fake.update_fleet(|f| f.sites[unreadable].history = FakeHistory::Hostile(HostileRecord::Html));
    let until = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d");
    let config_file = dir.join("config.yml");
    write(
        dir,
        "config.yml",
        &format!(
            "accounts:\n  - name: {ACCOUNT}\n    base_url: {}\n    token: {}\n\
             poll:\n  interval: 1h\n  requests_per_minute: 0\n  detail:\n    enabled: true\n    history: true\n    requests_per_minute: 6000\n    publish_every: 1s\n\
             policy:\n  min_retention_days: {POLICY_MIN_RETENTION_DAYS}\n  groups:\n    \
             - name: staging\n      match: {{ site_type: staging }}\n      require_remote: false\n  \
             mutes:\n    - sites: [\"{}\"]\n      problems: [{MUTED_PROBLEM}]\n      \
             until: {until}\n      reason: moving to a new server\n",
            fake.base_url(),
            crate::support::TOKEN,
            muted_site.url,
        ),
    );
    let config =
        gridpane_backup_exporter::config::load(&gridpane_backup_exporter::config::Sources {
            file: Some(config_file),
            env: Vec::new(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let app = crate::support::start_config(config).await;
    crate::support::wait_ready(&app).await;
    let base = format!("http://{}", app.addr);
    // Every site's backup record read and judged.
    crate::support::wait_for(30, "every site's backup record", || async {
        let api = prom::get_json(&format!("{base}/api/v1/sites"), &[]).await;
        api["sites"].as_array().is_some_and(|s| {
            s.len() == fleet.sites.len()
                && s.iter()
                    .all(|s| s["backups"].is_object() || s["record_error"].is_object())
        })
    })
    .await;

    // --- (b) the JSON API --------------------------------------------------------
    let api = prom::get_json(&format!("{base}/api/v1/sites"), &[]).await;
    let sites = api["sites"].as_array().cloned().unwrap_or_default();
    assert_eq!(sites.len(), fleet.sites.len(), "{api}");
    let mut api_pairs = BTreeSet::new();
    let mut api_status = BTreeMap::new();
    for site in &sites {
        let id = site["id"].as_u64().expect("site id");
        api_status.insert(id, site["status"].as_str().unwrap_or_default());
        api_pairs.extend(api_problems(site).into_iter().map(|p| (id, p)));
        let muted_here: Vec<&str> = site["muted_problems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["problem"].as_str())
            .collect();
        if id == muted.0 {
            assert_eq!(muted_here, [MUTED_PROBLEM], "the muted site: {site}");
        } else {
            assert!(muted_here.is_empty(), "muted without a mute: {site}");
        }
    }
    assert_eq!(api_pairs, expected, "/api/v1/sites problems");
    assert_eq!(api_status, expected_status, "/api/v1/sites statuses");

    // --- (a) the status page -------------------------------------------------
    let (code, _, html) = crate::support::status::get(&format!("{base}/")).await;
    assert_eq!(code, 200);
    for status in ["problem", "unknown", "warning", "ok"] {
        let want: BTreeSet<u64> = expected_status
            .iter()
            .filter(|(_, s)| **s == status)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(card_count(&html, status), want.len(), "card count-{status}");
        assert_eq!(
            page_sites(&base, &format!("status={status}")).await,
            want,
            "the sites the page's {status} card leads to"
        );
    }
    let mut page_pairs = BTreeSet::new();
    for code in CRITICAL_PROBLEMS
        .iter()
        .chain(&crate::alerts::UNKNOWN_PROBLEMS)
        .chain(&["short_retention", "interval_too_long"])
    {
        let ids = page_sites(&base, &format!("problem={code}")).await;
        page_pairs.extend(ids.into_iter().map(|id| (id, (*code).to_owned())));
    }
    assert_eq!(page_pairs, expected, "the page's problem filters");

    // --- Prometheus with the shipped rules ----------------------------------------
    write(
        dir,
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: ['{}']\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{}']\n",
            prom::repo_path(prom::RULES).display(),
            app.addr
        ),
    );
    let (mut prometheus, p) = prom::start_prometheus(&prometheus, dir).await;

    // --- (c) the series and (d) the alerts pending or firing ---------------
    // Every per-site alert waits an hour (`for:`) before it fires; pending
    // is the rule file's verdict already.
    let mut rule_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (problem, rule) in crate::alerts::problem_alerts() {
        rule_of.entry(rule.name).or_default().insert(problem);
    }
    eventually(
        "gridpane_site_problem and the site alerts agree with the policy",
        Duration::from_secs(40),
        || {
            let p = p.clone();
            let expected = &expected;
            let rule_of = &rule_of;
            async move {
                let stored = series_pairs(&query(&p, "gridpane_site_problem").await);
                if stored != *expected {
                    return Err(format!(
                        "gridpane_site_problem: missing {:?}, unexpected {:?}",
                        expected.difference(&stored).collect::<Vec<_>>(),
                        stored.difference(expected).collect::<Vec<_>>()
                    ));
                }
                let mut alerted = BTreeSet::new();
                for a in prometheus_alerts(&p).await {
                    let l = &a["labels"];
                    let name = l["alertname"].as_str().unwrap_or_default();
                    let Some(problems) = rule_of.get(name) else {
                        continue;
                    };
                    let Some(problem) = l["problem"].as_str().filter(|p| problems.contains(*p))
                    else {
                        return Err(format!("{name} labels: {a}"));
                    };
                    if l["account"] != ACCOUNT {
                        return Err(format!("{name} labels: {a}"));
                    }
                    if a["state"] == "pending" || a["state"] == "firing" {
                        let id = l["site_id"].as_str().and_then(|s| s.parse().ok());
                        alerted.insert((id.unwrap_or(0), problem.to_owned()));
                    }
                }
                if alerted == *expected {
                    Ok(())
                } else {
                    Err(format!(
                        "alerts pending or firing: missing {:?}, unexpected {:?}",
                        expected.difference(&alerted).collect::<Vec<_>>(),
                        alerted.difference(expected).collect::<Vec<_>>()
                    ))
                }
            }
        },
    )
    .await;
    prometheus.assert_running();
    eprintln!(
        "{} site problems agree on every surface ({:?})",
        expected.len(),
        started.elapsed()
    );
}
