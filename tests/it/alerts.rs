//! The alert rule file: `promtool check rules`, `promtool test rules`, and
//! the monitoring-mixin conventions (names, severities, annotations,
//! runbook links, unit-test coverage of every alert).

use crate::support::prom;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn rule_test_files() -> Vec<String> {
    let dir = prom::repo_path(prom::RULE_TESTS_DIR);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no promtool tests in {}", dir.display());
    files
}

#[test]
fn rule_file_passes_promtool_check_rules() {
    let Some(promtool) = prom::promtool() else {
        return;
    };
    let out = Command::new(promtool)
        .arg("check")
        .arg("rules")
        .arg(prom::repo_path(prom::RULES))
        .output()
        .expect("run promtool");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "promtool check rules failed:\n{stdout}\n{stderr}"
    );
    // The same number of rules as this crate's parser sees, so the
    // convention checks below look at every rule.
    let parsed = prom::parse_rules(&prom::read_repo_file(prom::RULES)).len();
    assert!(
        stdout.contains(&format!("SUCCESS: {parsed} rules found")),
        "promtool and the test parser disagree on the rule count ({parsed}):\n{stdout}"
    );
}

#[test]
fn rule_unit_tests_pass_promtool_test_rules() {
    let Some(promtool) = prom::promtool() else {
        return;
    };
    let out = Command::new(promtool)
        .arg("test")
        .arg("rules")
        .args(rule_test_files())
        .current_dir(prom::repo_path(prom::RULE_TESTS_DIR))
        .output()
        .expect("run promtool");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "promtool test rules failed:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

/// For each alert name, whether the unit tests hold a case where it must not
/// fire (`exp_alerts: []`) and one where it fires with exact labels and
/// annotations.
#[derive(Default, Debug)]
struct Coverage {
    not_firing: bool,
    firing_with_annotations: bool,
    firing_without_annotations: bool,
}

fn unit_test_coverage() -> BTreeMap<String, Coverage> {
    let mut cov: BTreeMap<String, Coverage> = BTreeMap::new();
    for file in rule_test_files() {
        let text = std::fs::read_to_string(&file).expect("read test file");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(name) = line.trim().strip_prefix("alertname:") else {
                continue;
            };
            let c = cov.entry(name.trim().to_owned()).or_default();
            let exp = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
            if exp == "exp_alerts: []" {
                c.not_firing = true;
                continue;
            }
            assert_eq!(exp, "exp_alerts:", "{file}: unexpected line after {line}");
            // Every alert of this case has labels and annotations.
            let mut j = i + 2;
            let mut alerts = 0;
            let mut annotated = 0;
            while let Some(l) = lines.get(j) {
                let t = l.trim();
                if t.starts_with("- eval_time") || t.starts_with("- interval") || t.is_empty() {
                    break;
                }
                if t.starts_with("- exp_labels") {
                    alerts += 1;
                }
                if t.starts_with("exp_annotations:") {
                    annotated += 1;
                }
                j += 1;
            }
            if alerts > 0 && annotated == alerts {
                c.firing_with_annotations = true;
            } else {
                c.firing_without_annotations = true;
            }
        }
    }
    cov
}

#[test]
fn every_alert_has_a_firing_and_a_not_firing_unit_test() {
    let cov = unit_test_coverage();
    let alerts: BTreeSet<String> = prom::alert_rules().into_iter().map(|r| r.name).collect();
    assert!(alerts.len() >= 10, "only {} alerts parsed", alerts.len());
    let mut problems = Vec::new();
    for a in &alerts {
        match cov.get(a) {
            None => problems.push(format!("{a}: no unit test")),
            Some(c) => {
                if !c.not_firing {
                    problems.push(format!("{a}: no case where it must not fire"));
                }
                if !c.firing_with_annotations {
                    problems.push(format!("{a}: no firing case with exact annotations"));
                }
                if c.firing_without_annotations {
                    problems.push(format!("{a}: a firing case lacks exp_annotations"));
                }
            }
        }
    }
    for name in cov.keys() {
        if !alerts.contains(name) {
            problems.push(format!("{name}: tested but not in the rule file"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// GitHub's heading anchor for a runbook section.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn alerts_follow_the_mixin_conventions() {
    let runbook = prom::read_repo_file(prom::RUNBOOK);
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
        .map(anchor)
        .collect();
    let mut problems = Vec::new();
    for r in prom::alert_rules() {
        let n = &r.name;
        let camel = n.starts_with("GridPane")
            && n.len() > "GridPane".len()
            && n.chars().all(|c| c.is_ascii_alphanumeric())
            && n["GridPane".len()..].starts_with(|c: char| c.is_ascii_uppercase());
        if !camel {
            problems.push(format!("{n}: not CamelCase starting with GridPane"));
        }
        match r.label("severity") {
            Some("critical" | "warning" | "info") => {}
            other => problems.push(format!("{n}: severity {other:?}")),
        }
        match r.annotation("summary") {
            Some(s) if s.contains("{{") => problems.push(format!("{n}: templated summary")),
            Some(s) if !s.ends_with('.') => problems.push(format!("{n}: summary lacks a period")),
            Some(s) if !s.starts_with(|c: char| c.is_uppercase()) => {
                problems.push(format!("{n}: summary not capitalised"))
            }
            Some(_) => {}
            None => problems.push(format!("{n}: no summary")),
        }
        let description = r.annotation("description").unwrap_or_default();
        // absent() has no labels to name; every other alert names its object.
        if !r.expr.contains("absent(") && !description.contains("{{ $labels.") {
            problems.push(format!("{n}: description names no object"));
        }
        // The account rollup counts sites (by site_id) but names none.
        let per_site = r.expr.contains("site_id") && !n.starts_with("GridPaneAccount");
        if per_site {
            for needed in ["$labels.site_url", "$labels.server_label"] {
                if !description.contains(needed) {
                    problems.push(format!("{n}: description lacks {needed}"));
                }
            }
            if !r.expr.contains("group_left (site_url, server_label)") {
                problems.push(format!("{n}: does not join gridpane_site_info"));
            }
            // Every metric selector sits inside an aggregation that keeps
            // only account/site_id/storage, so instance and pod go away.
            for line in r.expr.lines() {
                if line.contains("gridpane_") && !line.trim_start().starts_with("account_site_id:")
                {
                    let aggregated = line.contains("max by (account, site_id")
                        || line.contains("min by (account, site_id");
                    if !aggregated {
                        problems.push(format!("{n}: selector not aggregated: {line}"));
                    }
                }
            }
            if r.keep_firing_for.is_none() {
                problems.push(format!("{n}: no keep_firing_for"));
            }
        }
        if r.for_.is_none() {
            problems.push(format!("{n}: no `for`"));
        }
        let expected = format!("docs/runbook.md#{}", n.to_lowercase());
        match r.annotation("runbook_url") {
            Some(u) if u == expected => {}
            other => problems.push(format!("{n}: runbook_url {other:?}, want {expected}")),
        }
        if !anchors.contains(&n.to_lowercase()) {
            problems.push(format!("{n}: no section `## {n}` in {}", prom::RUNBOOK));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_only_thresholds_left_in_the_rules_are_data_and_probe_staleness() {
    // What a protected site needs is the exporter's policy; the rule file
    // keeps only the thresholds the exporter cannot judge: how stale its
    // own data, and a server's probe, may be.
    let rules = prom::parse_rules(&prom::read_repo_file(prom::RULES));
    let thresholds: Vec<&str> = rules
        .iter()
        .filter(|r| !r.is_alert && r.expr.contains(":override"))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        thresholds,
        [
            "gridpane:data_stale_after_seconds",
            "gridpane:probe_stale_after_seconds"
        ]
    );
    for (threshold, default, alerts) in [
        (
            "gridpane:data_stale_after_seconds",
            3600,
            &["GridPaneDataStale"][..],
        ),
        (
            "gridpane:probe_stale_after_seconds",
            1800,
            &["GridPaneServerLocalBackupsStopped", "GridPaneProbeStale"][..],
        ),
    ] {
        let def = rules.iter().find(|r| r.name == threshold).expect("defined");
        assert_eq!(
            def.expr,
            format!("max({threshold}:override) or vector({default})")
        );
        let users: Vec<&str> = rules
            .iter()
            .filter(|r| r.is_alert && r.expr.contains(threshold))
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(users, alerts);
    }
    // No alert hard-codes a default of its own.
    for r in rules.iter().filter(|r| r.is_alert) {
        for number in ["604800", "86400", "3600", "1800"] {
            assert!(
                !r.expr.contains(number),
                "{} hard-codes {number}; compare against the threshold rule",
                r.name
            );
        }
    }
}

/// The problem kinds of severity `unknown` (docs/policy.md): one alert,
/// GridPaneSiteBackupStatusUnknown, reads them all by their severity.
pub(crate) const UNKNOWN_PROBLEMS: [&str; 4] = [
    "record_unreadable",
    "record_stale",
    "schedule_unreadable",
    "remote_copy_unknown",
];

/// The per-site alerts by the `problem` of `gridpane_site_problem` each
/// reads. Panics unless every alert about sites reads that metric for
/// exactly one problem kind (or for every kind of severity unknown, by
/// `severity="unknown"`), and no other metric than the recorded site info
/// it joins for the site's name.
pub(crate) fn problem_alerts() -> BTreeMap<String, prom::Rule> {
    let mut out = BTreeMap::new();
    for r in prom::alert_rules() {
        if !r.expr.contains("site_id") || !r.name.starts_with("GridPaneSite") {
            continue;
        }
        let mut problems = Vec::new();
        for s in prom::selectors(&r.expr) {
            match s.metric.as_str() {
                "gridpane_site_problem"
                    if s.matchers == [("severity".into(), "=".into(), "unknown".into())] =>
                {
                    problems.extend(UNKNOWN_PROBLEMS.map(str::to_owned));
                }
                "gridpane_site_problem" | "gridpane_site_storage_problem" => {
                    let kinds: Vec<&str> = s
                        .matchers
                        .iter()
                        .filter(|(l, op, _)| l == "problem" && op == "=")
                        .map(|(_, _, v)| v.as_str())
                        .collect();
                    assert_eq!(
                        kinds.len(),
                        1,
                        "{}: want one problem=\"...\" matcher: {}",
                        r.name,
                        r.expr
                    );
                    assert_eq!(
                        s.matchers.len(),
                        1,
                        "{}: selects on more than the problem: {}",
                        r.name,
                        r.expr
                    );
                    problems.extend(kinds.into_iter().map(str::to_owned));
                }
                "account_site_id:gridpane_site_info:first" => {}
                other => panic!(
                    "{}: a per-site alert reads {other}; it must read only the exporter's \
                     verdict (gridpane_site_problem), as the status page does",
                    r.name
                ),
            }
        }
        assert!(!problems.is_empty(), "{}: {}", r.name, r.expr);
        for problem in problems {
            if let Some(other) = out.insert(problem, r.clone()) {
                panic!("{} and {} alert on the same problem", r.name, other.name);
            }
        }
    }
    out
}

#[test]
fn per_site_alerts_read_only_the_exporters_verdict_one_alert_per_problem() {
    // problem_alerts() panics on an alert that reads anything else.
    let alerts = problem_alerts();
    assert!(alerts.len() >= 7, "{:?}", alerts.keys());
    for r in alerts.values() {
        // The alert keeps the problem as a label, for routing and silences.
        assert!(
            r.expr.contains("max by (account, site_id, problem)")
                || r.expr
                    .contains("max by (account, site_id, storage, problem)"),
            "{}: {}",
            r.name,
            r.expr
        );
    }
}

/// Problems that concern one storage carry it as a label: those fixed to a
/// storage by a static label, overdue and never-backed-up from
/// gridpane_site_storage_problem, whose `storage` the alert keeps.
#[test]
fn alerts_on_a_storage_name_it_as_a_label() {
    let alerts = problem_alerts();
    for (problem, storage) in [
        ("local_disabled", "local"),
        ("local_not_scheduled", "local"),
        ("remote_disabled", "remote"),
        ("remote_not_set_up", "remote"),
        ("integration_missing", "remote"),
        ("remote_copy_missing", "remote"),
        ("remote_copy_stale", "remote"),
    ] {
        let r = &alerts[problem];
        assert_eq!(r.label("storage"), Some(storage), "{}", r.name);
    }
    for problem in ["never_backed_up", "backup_overdue"] {
        let r = &alerts[problem];
        assert!(
            r.expr.contains(&format!(
                "max by (account, site_id, storage, problem) (gridpane_site_storage_problem{{problem=\"{problem}\"}})"
            )),
            "{}: {}",
            r.name,
            r.expr
        );
        let description = r.annotation("description").unwrap_or_default();
        assert!(description.contains("$labels.storage"), "{}", r.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_problem_kind_the_exporter_reports_has_its_alert_with_the_same_severity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exporter = prom::start_demo_exporter(dir.path()).await;
    let text = prom::get_ok(&exporter.url("/metrics")).await;
    // gridpane_site_problems has every kind, 0 when none; the severity of a
    // kind shows on its gridpane_site_problem series, where the demo has one.
    let mut kinds = BTreeSet::new();
    let mut severities: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(s) = prom::selectors(line).into_iter().next() else {
            continue;
        };
        let value = |label: &str| {
            s.matchers
                .iter()
                .find(|(l, _, _)| l == label)
                .map(|(_, _, v)| v.clone())
        };
        match (s.metric.as_str(), value("problem")) {
            ("gridpane_site_problems", Some(p)) => {
                kinds.insert(p);
            }
            ("gridpane_site_problem", Some(p)) => {
                severities.entry(p).or_default().extend(value("severity"));
            }
            _ => {}
        }
    }
    assert!(kinds.len() >= 6, "problem kinds in /metrics: {kinds:?}");
    let alerts = problem_alerts();
    let alerted: BTreeSet<String> = alerts.keys().cloned().collect();
    assert_eq!(
        alerted, kinds,
        "every problem kind the exporter reports needs exactly one alert, and no alert may \
         wait for a kind the exporter does not report"
    );
    for (problem, seen) in &severities {
        let rule = &alerts[problem];
        if UNKNOWN_PROBLEMS.contains(&problem.as_str()) {
            // Unknown is a severity of the exporter's, not of alerts.
            assert_eq!(seen, &BTreeSet::from(["unknown".to_owned()]), "{problem}");
            assert_eq!(rule.label("severity"), Some("warning"), "{}", rule.name);
            continue;
        }
        let want: BTreeSet<String> = rule
            .label("severity")
            .map(str::to_owned)
            .into_iter()
            .collect();
        assert_eq!(
            seen, &want,
            "{} has severity {want:?}, the exporter reports {problem} as {seen:?}",
            rule.name
        );
    }
}

#[test]
fn the_documented_sed_makes_every_runbook_url_absolute() {
    // docs/runbook.md gives one command for the rule file and the generated
    // PrometheusRule; run it as written on copies of both.
    let runbook = prom::read_repo_file(prom::RUNBOOK);
    let command = runbook
        .lines()
        .find(|l| l.starts_with("sed -i 's|runbook_url: "))
        .expect("runbook gives a sed command for runbook_url");
    let base = "https://wiki.example.com/gridpane-runbook#";
    let files = [prom::RULES, "deploy/kubernetes/prometheusrule.yaml"];
    let dir = tempfile::tempdir().expect("tempdir");
    for file in files {
        let copy = dir.path().join(file);
        std::fs::create_dir_all(copy.parent().expect("parent")).expect("mkdir");
        std::fs::write(&copy, prom::read_repo_file(file)).expect("write");
    }
    let out = Command::new("sh")
        .args(["-c", command])
        .current_dir(dir.path())
        .output()
        .expect("run sh");
    assert!(out.status.success(), "{command}: {out:?}");
    let anchors: BTreeSet<String> = prom::alert_rules()
        .iter()
        .map(|r| r.name.to_lowercase())
        .collect();
    for file in files {
        let text = std::fs::read_to_string(dir.path().join(file)).expect("read");
        let urls: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("runbook_url: "))
            .collect();
        assert_eq!(urls.len(), anchors.len(), "{file}");
        for u in urls {
            let anchor = u
                .strip_prefix(base)
                .unwrap_or_else(|| panic!("{file}: {u} is not absolute"));
            assert!(anchors.contains(anchor), "{file}: {u}");
        }
    }
}

#[test]
fn shortened_rule_file_for_the_e2e_test_still_passes_promtool() {
    // The e2e test loads the rule file with every `for` shortened; make sure
    // that transform keeps a valid file with the same rules.
    let Some(promtool) = prom::promtool() else {
        return;
    };
    let original = prom::read_repo_file(prom::RULES);
    let short = prom::shorten_durations(&original, "6s", "10s");
    assert_ne!(original, short);
    assert_eq!(
        prom::parse_rules(&original).len(),
        prom::parse_rules(&short).len()
    );
    assert!(!short.contains("for: 1h") && !short.contains("keep_firing_for: 15m"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, short).expect("write");
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn rule_parser_reads_blocks_and_annotations() {
    let text = r#"
groups:
  - name: g
    rules:
      - record: r:x
        expr: vector(1)
      - alert: GridPaneX
        expr: |
          a
          > b
        for: 5m
        labels:
          severity: info
        annotations:
          summary: Plain.
          description: >-
            Folded {{ $labels.x }}
            text.
          runbook_url: "docs/runbook.md#gridpanex"
"#;
    let rules = prom::parse_rules(text);
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].name, "r:x");
    assert!(!rules[0].is_alert);
    let a = &rules[1];
    assert_eq!(a.group, "g");
    assert_eq!(a.expr, "a\n> b");
    assert_eq!(a.for_.as_deref(), Some("5m"));
    assert_eq!(a.label("severity"), Some("info"));
    assert_eq!(a.annotation("summary"), Some("Plain."));
    assert_eq!(
        a.annotation("description"),
        Some("Folded {{ $labels.x }} text.")
    );
    assert_eq!(
        a.annotation("runbook_url"),
        Some("docs/runbook.md#gridpanex")
    );
}
