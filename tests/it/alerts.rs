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
        let per_site = r.expr.contains("site_id");
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
fn thresholds_are_single_recording_rules_that_alerts_use() {
    let rules = prom::parse_rules(&prom::read_repo_file(prom::RULES));
    for threshold in [
        "gridpane:backup_retention_min_seconds",
        "gridpane:backup_interval_max_seconds",
        "gridpane:data_stale_after_seconds",
    ] {
        let defs: Vec<_> = rules.iter().filter(|r| r.name == threshold).collect();
        assert_eq!(defs.len(), 1, "{threshold} must be defined exactly once");
        // A constant default, overridable by a series recorded elsewhere.
        let expected_prefix = format!("max({threshold}:override) or vector(");
        assert!(
            defs[0].expr.starts_with(&expected_prefix) && !defs[0].expr.contains("gridpane_"),
            "{threshold} must be `{expected_prefix}<default>)`: {}",
            defs[0].expr
        );
        let users = rules
            .iter()
            .filter(|r| r.is_alert && r.expr.contains(threshold))
            .count();
        assert_eq!(users, 1, "{threshold} is used by {users} alerts");
    }
    // No alert hard-codes the thresholds' default values.
    for r in rules.iter().filter(|r| r.is_alert) {
        for number in ["604800", "86400", "3600"] {
            assert!(
                !r.expr.contains(number),
                "{} hard-codes {number}; compare against the threshold rule",
                r.name
            );
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
