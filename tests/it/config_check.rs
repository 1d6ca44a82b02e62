//! `--config.check` says what start would say: the same configuration run
//! both ways gives the same warnings, and the check's summary names what
//! start will do. Also the words for a misplaced token.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gridpane-backup-exporter");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A configuration with every start warning the exporter knows of: access
/// rules naming a user the web configuration lacks, a base URL with a path,
/// a state file in a folder that does not exist, a pace above GridPane's,
/// and a base URL naming the API root.
fn warning_config(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "state_file: {}/missing/state.json\n\
             poll:\n  requests_per_minute: 100\n\
             accounts:\n  - name: acme\n    token: x\n    base_url: http://127.0.0.1:1/api\n\
             \x20 - name: beta\n    token: y\n    base_url: http://127.0.0.1:1/oauth/api/v1\n\
             access:\n  - users: [alice, bob]\n    accounts: [acme]\n",
            dir.display()
        ),
    )
    .unwrap();
    let web = dir.join("web.yml");
    let hash = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    (config, web)
}

fn check_warnings(args: &[&str]) -> (Vec<String>, String) {
    let out = Command::new(BIN)
        .env_clear()
        .args(args)
        .arg("--config.check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mut warnings: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .map(str::to_owned)
        .collect();
    warnings.sort();
    (warnings, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The warnings start logs (JSON logs, the configuration's own targets),
/// read until the server listens.
fn start_warnings(args: &[&str]) -> Vec<String> {
    let mut child = Running(
        Command::new(BIN)
            .env_clear()
            .args(args)
            .args(["--web.listen-address=127.0.0.1:0", "--log.format=json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut warnings = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let message = v["fields"]["message"]
            .as_str()
            .or(v["message"].as_str())
            .unwrap_or_default();
        if message.contains("listening") {
            break;
        }
        let target = v["target"].as_str().unwrap_or_default();
        if v["level"] == "WARN" && target.starts_with("gridpane_backup_exporter::config") {
            warnings.push(message.to_owned());
        }
    }
    drop(child);
    warnings.sort();
    warnings
}

#[test]
fn the_check_prints_every_warning_that_start_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (config, web) = warning_config(dir.path());
    let args = [
        "--config.file",
        config.to_str().unwrap(),
        "--web.config.file",
        web.to_str().unwrap(),
    ];
    let (checked, _) = check_warnings(&args);
    let started = start_warnings(&args);
    assert_eq!(checked, started, "--config.check and start disagree");
    for needle in [
        "user \"bob\" is not in the web configuration's basic_auth_users",
        "base_url has the path \"/api\"",
        "missing does not exist",
        "poll.requests_per_minute: 100 is above the 60",
        "is GridPane's API root",
    ] {
        assert!(
            checked.iter().any(|w| w.contains(needle)),
            "no warning says {needle:?}: {checked:#?}"
        );
    }
}

#[test]
fn access_rules_without_any_user_source_are_a_warning_of_the_check_and_of_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        "accounts:\n  - name: acme\n    token: x\n    base_url: http://127.0.0.1:1/\n\
         access:\n  - users: [alice]\n    accounts: [acme]\n",
    )
    .unwrap();
    let args = ["--config.file", config.to_str().unwrap()];
    let (checked, _) = check_warnings(&args);
    assert_eq!(checked, start_warnings(&args));
    assert!(
        checked
            .iter()
            .any(|w| w.contains("every data page answers 403")),
        "{checked:#?}"
    );
}

#[test]
fn the_check_summary_names_the_state_file_the_detail_pace_and_the_access_rules() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "state_file: {}/state.json\n\
             poll:\n  detail:\n    enabled: true\n    history: true\n    requests_per_minute: 10\n\
             accounts:\n  - name: acme\n    token: x\n    base_url: http://127.0.0.1:1/\n\
             access:\n  - users: [alice]\n    accounts: [acme]\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let (_, summary) = check_warnings(&["--config.file", config.to_str().unwrap()]);
    for needle in [
        &format!("state file: {}/state.json", dir.path().display()) as &str,
        "per-site detail: on, 10 requests a minute per account, 3 per site (backup record read: history on)",
        "a full pass over 1,000 sites takes about 5h",
        "access rules: on, 1 user(s): alice",
        "policy: minimum retention",
    ] {
        assert!(summary.contains(needle), "{needle:?} not in:\n{summary}");
    }
}

fn check_error(yaml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(&config, yaml).unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .args(["--config.file", config.to_str().unwrap(), "--config.check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_top_level_token_is_told_where_it_belongs_whatever_its_type() {
    for value in ["abcdef", "123456789"] {
        let err = check_error(&format!(
            "token: {value}\naccounts:\n  - name: acme\n    token: x\n"
        ));
        assert!(
            err.contains(
                "unknown key `token`: the token belongs under `accounts[]` (or in GRIDPANE_API_TOKEN_FILE)"
            ),
            "{err}"
        );
        assert!(
            !err.contains("must be a string") && !err.contains(value),
            "{err}"
        );
    }
}

#[test]
fn a_token_file_holding_a_token_says_so_without_echoing_it() {
    let token = "gpTOKENabcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    let err = check_error(&format!(
        "accounts:\n  - name: acme\n    token_file: {token}\n"
    ));
    assert!(err.contains("looks like a token, not a path"), "{err}");
    assert!(!err.contains(token), "{err}");
}
