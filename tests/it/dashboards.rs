//! Lint of the Grafana dashboards (dashboards/*.json) and of the metric
//! names that dashboards and alert rules use.
//!
//! The structure checks need nothing but the files. The metric checks start
//! the exporter with its demo fleet and compare against its real /metrics.

use crate::support;
use crate::support::prom;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// The dashboards this project ships, by file name: (uid, title).
const DASHBOARDS: &[(&str, &str, &str)] = &[
    (
        "gridpane-backups.json",
        "gridpane-backups",
        "GridPane Backups",
    ),
    (
        "gridpane-exporter.json",
        "gridpane-exporter",
        "GridPane Exporter",
    ),
];

/// Metrics the exporter emits that no dashboard or alert uses, on purpose.
/// (name, reason)
const DELIBERATELY_UNUSED: &[(&str, &str)] = &[
    (
        "gridpane_backup_remote_integration_missing",
        "a raw fact for people's own rules; dashboards and alerts read the verdict's \
         integration_missing problem (gridpane_site_problem)",
    ),
    (
        "gridpane_sites_pending",
        "progress of a first sweep, 0 within minutes of a start; the status page and API show it while it lasts",
    ),
    (
        "gridpane_probe_info",
        "names the server's UUID, for people's own joins (a bucket's name holds it)",
    ),
    (
        "gridpane_backup_log_unknown_date_lines",
        "the probe's own diagnostics of the monitoring log, read on the server",
    ),
    (
        "gridpane_probe_skipped_entries",
        "the probe's own diagnostics of the snapshots folder and the log, read on the server",
    ),
];

/// Metrics of `gridpane-backup-exporter probe`, which runs on each GridPane
/// server and reaches Prometheus through node_exporter: checked against the
/// probe's own exposition (see [`probe_exposition`]), not the demo's. Their
/// series carry node_exporter's job and instance and no account, so a
/// dashboard query reads a per-site one only joined on `site_url` to
/// `gridpane_site_info`, which carries the variables.
const PROBE_PREFIXES: &[&str] = &[
    "gridpane_probe_",
    "gridpane_local_backup_",
    "gridpane_backup_failures",
    "gridpane_backup_last_failure_",
    "gridpane_backup_log_",
];

fn is_probe_metric(name: &str) -> bool {
    PROBE_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Metrics a dashboard uses that another change of this project emits and
/// documents; not in this tree's contract yet. The test fails once the
/// demo emits one, so that it is taken off this list. (name, reason)
const NOT_YET_EMITTED: &[(&str, &str)] = &[];

/// Contract metrics the demo does not emit, so their names cannot be checked
/// against its output. The test fails once the demo emits one of them, so
/// that it is taken off this list. (name, reason)
const ABSENT_FROM_DEMO: &[(&str, &str)] = &[];

/// Series that Prometheus makes itself, not the exporter (ALERTS: the
/// account rollup counts the per-site alerts that fire).
const SYNTHETIC: &[&str] = &["up", "ALERTS"];

/// The exporter's own metrics without an `account` label: dashboards filter
/// them by `job` and `instance` only.
const WITHOUT_ACCOUNT: &[&str] = &[
    "gridpane_exporter_build_info",
    "gridpane_policy_info",
    "gridpane_policy_groups",
    "gridpane_policy_mutes",
];

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// Every `"datasource"` value in the JSON tree, with a path to it.
fn datasources<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{path}.{k}");
                if k == "datasource" {
                    out.push((p.clone(), child));
                }
                datasources(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                datasources(child, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn variables(d: &Value) -> Vec<&Value> {
    d["templating"]["list"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn variable<'a>(d: &'a Value, name: &str) -> Option<&'a Value> {
    variables(d).into_iter().find(|v| v["name"] == name)
}

/// The query text of a query variable (string or object form).
fn variable_query(v: &Value) -> String {
    match &v["query"] {
        Value::String(s) => s.clone(),
        q => q["query"].as_str().unwrap_or_default().to_owned(),
    }
}

/// `label_values(<selector>, <label>)` split in its parts.
fn label_values_parts(q: &str) -> Option<(String, String)> {
    let inner = q.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    let (sel, label) = inner.rsplit_once(',')?;
    Some((sel.trim().to_owned(), label.trim().to_owned()))
}

/// Every PromQL expression of a dashboard: panel targets and variable
/// queries, each with a name for messages.
fn expressions(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in prom::panels(d) {
        for (ref_id, expr) in prom::panel_queries(p) {
            out.push((
                format!(
                    "panel {:?} query {ref_id}",
                    p["title"].as_str().unwrap_or("?")
                ),
                expr,
            ));
        }
    }
    for v in variables(d) {
        if v["type"] == "query" {
            let q = variable_query(v);
            let expr = label_values_parts(&q).map(|(s, _)| s).unwrap_or(q);
            out.push((
                format!("variable ${}", v["name"].as_str().unwrap_or("?")),
                expr,
            ));
        }
    }
    out
}

fn names_of_variables(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let mut j = i + 1;
            if j < b.len() && b[j] == b'{' {
                j += 1;
            }
            let start = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let name = &expr[start..j];
            if !name.is_empty() && !name.chars().all(|c| c.is_ascii_digit()) {
                out.insert(name.to_owned());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn the_expected_dashboards_exist_with_stable_uids() {
    let found = prom::dashboards();
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    for (file, uid, title) in DASHBOARDS {
        let d = found
            .iter()
            .find(|(n, _)| n == file)
            .map(|(_, d)| d)
            .unwrap_or_else(|| panic!("dashboards/{file} missing; found {names:?}"));
        assert_eq!(d["uid"], *uid, "{file}: uid");
        assert_eq!(d["title"], *title, "{file}: title");
    }
    assert_eq!(found.len(), DASHBOARDS.len(), "unexpected files: {names:?}");
}

#[test]
fn dashboards_follow_the_grafana_conventions() {
    let mut problems: Vec<String> = Vec::new();
    let mut uids = BTreeSet::new();
    for (file, d) in prom::dashboards() {
        let mut bad = |m: String| problems.push(format!("{file}: {m}"));
        let raw = serde_json::to_string(&d).unwrap();

        // Portable: loadable by file provisioning as well as the import UI.
        for forbidden in ["__inputs", "__requires", "${DS_", "$DS_"] {
            if raw.contains(forbidden) {
                bad(format!("contains {forbidden}"));
            }
        }
        if !d["id"].is_null() {
            bad(format!("id must be null, is {}", d["id"]));
        }
        let uid = d["uid"].as_str().unwrap_or_default();
        if uid.is_empty()
            || uid.len() > 40
            || !uid
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            bad(format!("uid {uid:?} is not a stable slug"));
        }
        if !uids.insert(uid.to_owned()) {
            bad(format!("uid {uid} used twice"));
        }
        // Grafana 10.0 writes schemaVersion 38; older schemas are migrated.
        if d["schemaVersion"].as_u64().unwrap_or(0) < 36 {
            bad(format!("schemaVersion {}", d["schemaVersion"]));
        }
        if d["title"].as_str().unwrap_or_default().is_empty()
            || d["description"].as_str().unwrap_or_default().is_empty()
        {
            bad("no title or description".into());
        }

        // Every datasource reference is the variable, apart from Grafana's
        // own built-in annotation.
        let mut refs = Vec::new();
        datasources(&d, String::new(), &mut refs);
        for (path, v) in refs {
            let builtin = path.starts_with(".annotations") && v["type"] == "grafana";
            if !builtin && *v != datasource() {
                bad(format!("{path} = {v}, want {}", datasource()));
            }
        }

        // Variables.
        let ds_vars: Vec<_> = variables(&d)
            .into_iter()
            .filter(|v| v["type"] == "datasource")
            .collect();
        if ds_vars.len() != 1
            || ds_vars[0]["name"] != "datasource"
            || ds_vars[0]["query"] != "prometheus"
        {
            bad("needs exactly one Prometheus datasource variable named `datasource`".into());
        }
        for name in ["job", "instance", "account"] {
            let Some(v) = variable(&d, name) else {
                bad(format!("no `{name}` variable"));
                continue;
            };
            let ok = v["type"] == "query"
                && v["multi"] == true
                && v["includeAll"] == true
                && v["allValue"] == ".+"
                && v["refresh"] == 2
                && label_values_parts(&variable_query(v)).is_some_and(|(_, l)| l == name);
            if !ok {
                bad(format!(
                    "variable `{name}`: want a multi-value label_values(…, {name}) query with All = .+, \
                     refreshed on time range change"
                ));
            }
        }
        let defined: BTreeSet<String> = variables(&d)
            .into_iter()
            .filter_map(|v| v["name"].as_str().map(str::to_owned))
            .collect();

        // Panels.
        let mut ids = BTreeSet::new();
        let mut cells: Vec<(String, [i64; 4])> = Vec::new();
        for p in prom::panels(&d) {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            let id = p["id"].as_i64();
            if id.is_none() || !ids.insert(id) {
                bad(format!(
                    "panel {title:?}: missing or duplicate id {:?}",
                    p["id"]
                ));
            }
            let g = &p["gridPos"];
            let pos = ["x", "y", "w", "h"].map(|k| g[k].as_i64().unwrap_or(-1));
            if pos.iter().any(|n| *n < 0) || pos[0] + pos[2] > 24 {
                bad(format!("panel {title:?}: gridPos {g}"));
            }
            for (other, o) in &cells {
                let overlap = pos[0] < o[0] + o[2]
                    && o[0] < pos[0] + pos[2]
                    && pos[1] < o[1] + o[3]
                    && o[1] < pos[1] + pos[3];
                if overlap {
                    bad(format!("panel {title:?} overlaps {other:?}"));
                }
            }
            cells.push((title.clone(), pos));
            if p["type"] == "row" {
                continue;
            }
            if title.is_empty() {
                bad(format!("panel {}: no title", p["id"]));
            }
            if p["description"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .is_empty()
            {
                bad(format!("panel {title:?}: no description"));
            }
            let defaults = &p["fieldConfig"]["defaults"];
            let has_unit = defaults["unit"].as_str().is_some_and(|u| !u.is_empty());
            let has_mappings = defaults["mappings"]
                .as_array()
                .is_some_and(|m| !m.is_empty());
            if !has_unit && !has_mappings {
                bad(format!("panel {title:?}: no unit and no value mappings"));
            }
            let queries = prom::panel_queries(p);
            if queries.is_empty() {
                bad(format!("panel {title:?}: no query"));
            }
            let refs: BTreeSet<_> = queries.iter().map(|(r, _)| r.clone()).collect();
            if refs.len() != queries.len() {
                bad(format!("panel {title:?}: duplicate refIds"));
            }
        }

        // Queries.
        for (what, expr) in expressions(&d) {
            let sels = prom::selectors(&expr);
            if sels.is_empty() {
                bad(format!("{what}: no metric selector in {expr:?}"));
            }
            let joins_site_info = sels.iter().any(|s| {
                s.metric == "gridpane_site_info"
                    && ["job", "instance", "account"]
                        .iter()
                        .all(|l| s.has_matcher(l, "=~", &format!("${l}")))
            }) && expr.contains("on (site_url)");
            for s in sels {
                if s.metric.is_empty() {
                    bad(format!("{what}: selector without a metric name"));
                    continue;
                }
                if is_probe_metric(&s.metric) {
                    if !joins_site_info {
                        bad(format!(
                            "{what}: {} comes from the probe: join it on (site_url) to \
                             gridpane_site_info selected by $job, $instance and $account",
                            s.metric
                        ));
                    }
                    continue;
                }
                let is_var_query = what.starts_with("variable");
                let needs: &[(&str, &str)] = if is_var_query {
                    // A variable may only depend on the variables before it.
                    match what.as_str() {
                        "variable $job" => &[],
                        "variable $instance" => &[("job", "$job")],
                        _ => &[("job", "$job"), ("instance", "$instance")],
                    }
                } else if s.metric.starts_with("gridpane_")
                    && !WITHOUT_ACCOUNT.contains(&s.metric.as_str())
                {
                    &[
                        ("job", "$job"),
                        ("instance", "$instance"),
                        ("account", "$account"),
                    ]
                } else {
                    &[("job", "$job"), ("instance", "$instance")]
                };
                for (label, value) in needs {
                    if !s.has_matcher(label, "=~", value) {
                        bad(format!("{what}: {} lacks {label}=~\"{value}\"", s.metric));
                    }
                }
            }
            for (f, range) in prom::rate_ranges(&expr) {
                if range != "$__rate_interval" {
                    bad(format!(
                        "{what}: {f}() over [{range}], want [$__rate_interval]"
                    ));
                }
            }
            for v in names_of_variables(&expr) {
                let builtin = ["__rate_interval", "__interval", "__range"].contains(&v.as_str());
                if !builtin && !defined.contains(&v) {
                    bad(format!("{what}: uses undefined variable ${v}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn selector_scanner_finds_metrics_and_ignores_the_rest() {
    let e = r#"sum by (account, site_id) (rate(gridpane_polls_total{job=~"$job", a="x}y"}[$__rate_interval]))
        / on (account) group_left (site_url) max(gridpane_site_info) or vector(0)
        unless foo:bar:baz offset 5m > bool 1e3"#;
    let sels = prom::selectors(e);
    let names: Vec<&str> = sels.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(
        names,
        ["gridpane_polls_total", "gridpane_site_info", "foo:bar:baz"]
    );
    assert!(sels[0].has_matcher("job", "=~", "$job"));
    assert!(sels[0].has_matcher("a", "=", "x}y"));
    assert_eq!(sels[0].range.as_deref(), Some("$__rate_interval"));
    assert_eq!(
        prom::rate_ranges("irate(x[5m]) + rate(y[$__rate_interval])"),
        [
            ("rate".to_owned(), "$__rate_interval".to_owned()),
            ("irate".to_owned(), "5m".to_owned())
        ]
    );
    assert_eq!(
        prom::substitute(
            r#"rate(x{job=~"$job", i=~"${instance}"}[$__rate_interval]) < $min * 86400"#,
            &[("job", "a"), ("instance", ".+"), ("min", "7")]
        ),
        r#"rate(x{job=~"a", i=~".+"}[1m]) < 7 * 86400"#
    );
}

/// Metric names used by the dashboards and by the alert rules (recording
/// rule outputs, which contain `:`, excluded), with where each is used.
fn used_metric_names() -> BTreeMap<String, BTreeSet<String>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, d) in prom::dashboards() {
        for (_, expr) in expressions(&d) {
            for s in prom::selectors(&expr) {
                used.entry(s.metric).or_default().insert(file.clone());
            }
        }
    }
    let rules = prom::parse_rules(&prom::read_repo_file(prom::RULES));
    let recorded: BTreeSet<&str> = rules
        .iter()
        .filter(|r| !r.is_alert)
        .map(|r| r.name.as_str())
        .collect();
    for r in &rules {
        for s in prom::selectors(&r.expr) {
            if s.metric.contains(':') {
                // Threshold overrides are recorded by users, not by this file.
                assert!(
                    recorded.contains(s.metric.as_str()) || s.metric.ends_with(":override"),
                    "rule {} uses {} which no rule records",
                    r.name,
                    s.metric
                );
                continue;
            }
            used.entry(s.metric)
                .or_default()
                .insert(prom::RULES.to_owned());
        }
    }
    used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_names_match_what_the_demo_exporter_emits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exporter = prom::start_demo_exporter(dir.path()).await;
    let text = prom::get_ok(&exporter.url("/metrics")).await;
    let (mut families, mut samples) = prom::exposition_names(&text);
    let mut labels = prom::exposition_labels(&text);
    assert!(
        families.len() > 20,
        "demo /metrics has {} families",
        families.len()
    );
    let demo_families = families.clone();
    // The probe's metrics, from its own exposition.
    let probe = probe_exposition();
    let (probe_families, probe_samples) = prom::exposition_names(&probe);
    for f in &probe_families {
        assert!(is_probe_metric(f), "{f}: add its prefix to PROBE_PREFIXES");
        assert!(
            !demo_families.contains(f),
            "{f} is both the demo's and the probe's"
        );
    }
    families.extend(probe_families);
    samples.extend(probe_samples);
    labels.extend(prom::exposition_labels(&probe));

    let used = used_metric_names();
    let contract = support::documented_metrics();
    let absent: BTreeSet<&str> = ABSENT_FROM_DEMO.iter().map(|(n, _)| *n).collect();
    let unused: BTreeSet<&str> = DELIBERATELY_UNUSED.iter().map(|(n, _)| *n).collect();
    let mut problems = Vec::new();

    // Every name a dashboard or alert uses is emitted (or known absent).
    for (name, wheres) in &used {
        let emitted = samples.contains(name) || families.contains(name);
        let coming = NOT_YET_EMITTED.iter().any(|(n, _)| n == name);
        if !emitted
            && !coming
            && !SYNTHETIC.contains(&name.as_str())
            && !absent.contains(name.as_str())
        {
            problems.push(format!(
                "{name} (used in {wheres:?}) is not in the demo's /metrics"
            ));
        }
    }
    // Label matchers name labels the metric has.
    for (file, d) in prom::dashboards() {
        for (what, expr) in expressions(&d) {
            for s in prom::selectors(&expr) {
                let Some(have) = labels.get(&s.metric) else {
                    continue;
                };
                for (l, _, _) in &s.matchers {
                    if !["job", "instance"].contains(&l.as_str()) && !have.contains(l) {
                        problems.push(format!("{file}: {what}: {} has no label {l}", s.metric));
                    }
                }
            }
        }
    }
    for r in prom::parse_rules(&prom::read_repo_file(prom::RULES)) {
        for s in prom::selectors(&r.expr) {
            if let Some(have) = labels.get(&s.metric) {
                for (l, _, _) in &s.matchers {
                    if !have.contains(l) {
                        problems.push(format!("rule {}: {} has no label {l}", r.name, s.metric));
                    }
                }
            }
        }
    }
    // Every emitted metric family, and every contract metric, is used
    // somewhere or deliberately not.
    let used_families: BTreeSet<&str> = used
        .keys()
        .filter_map(|n| prom::family_of(n, &families).or(Some(n.as_str())))
        .collect();
    for f in families
        .iter()
        .map(String::as_str)
        .chain(contract.iter().map(String::as_str))
    {
        if !used_families.contains(f) && !unused.contains(f) {
            problems.push(format!(
                "{f} is used by no dashboard or alert and not listed as deliberately unused"
            ));
        }
    }
    // Keep the exception lists honest.
    for (name, reason) in ABSENT_FROM_DEMO {
        assert!(!reason.is_empty());
        if !contract.iter().any(|c| c == name) {
            problems.push(format!(
                "{name} is listed as absent from the demo but is not in the contract"
            ));
        }
        if families.contains(*name) {
            problems.push(format!(
                "{name} is listed as absent from the demo, but the demo emits it now: remove it from ABSENT_FROM_DEMO"
            ));
        }
    }
    for (name, reason) in NOT_YET_EMITTED {
        assert!(!reason.is_empty());
        if families.contains(*name) {
            problems.push(format!(
                "{name} is listed as not yet emitted, but the demo emits it now: remove it from NOT_YET_EMITTED"
            ));
        }
    }
    for (name, reason) in DELIBERATELY_UNUSED {
        assert!(!reason.is_empty());
        if used_families.contains(name) {
            problems.push(format!("{name} is listed as unused but is used"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The probe's textfile for a GridPane folder where every family has a
/// series: a site with revisions and a logged failure, a line with an
/// unknown date.
fn probe_exposition() -> String {
    use crate::support::gridpane_dir::{GridPaneDir, log_date};
    let gp = GridPaneDir::new();
    gp.revision("example.com", 1, std::time::Duration::from_secs(3600));
    gp.write_log(format!(
        "{} | example.com | Duplicacy Fail {{1}}\nreason\n\
         2021-07-01T01:00:11Z | example.com | Duplicacy Success {{0}}\n",
        log_date(std::time::Duration::from_secs(60))
    ));
    let text = gp.textfile();
    assert!(text.contains("gridpane_probe_success 1"), "{text}");
    text
}
