//! Configuration errors as a user sees them: `--config.check` on the real
//! binary, with a clean environment. Each error is one line naming the file
//! (or variable) and the key, with exit code 2.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gridpane-backup-exporter");

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn check(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Run {
    let file = dir.join("config.yml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .args(["--config.check", "--config.file", "config.yml"])
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_error(yaml: &str, env: &[(&str, &str)], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let run = check(dir.path(), yaml, env);
    assert_eq!(run.code, Some(2), "stderr: {}", run.stderr);
    assert_eq!(run.stderr, format!("error: {expected}\n"));
    assert!(run.stdout.is_empty());
}

#[test]
fn an_unknown_key_is_named_with_the_keys_that_exist() {
    assert_error(
        "accounts:\n  - name: a\n    token: x\npoll:\n  intervall: 5m\n",
        &[],
        "config.yml: key \"poll.intervall\": unknown field: found `intervall`, expected `one of `interval`, `timeout`, `connect_timeout`, `requests_per_minute`, `endpoint_units_per_minute`, `per_page`, `max_pages`, `max_body_bytes`, `max_items_per_account`, `max_retries`, `max_site_removal_share`, `detail``",
    );
    assert_error(
        "accounts:\n  - name: a\n    tokn: x\n",
        &[],
        "config.yml: key \"accounts[0].tokn\": unknown field: found `tokn`, expected `one of `name`, `base_url`, `token`, `token_file``",
    );
}

#[test]
fn duplicate_account_names_are_rejected() {
    assert_error(
        "accounts:\n  - name: a\n    token: x\n  - name: a\n    token: y\n",
        &[],
        "config.yml: key \"accounts[1].name\": duplicate account name \"a\"",
    );
}

#[test]
fn an_account_needs_exactly_one_non_empty_token() {
    assert_error(
        "accounts:\n  - name: a\n",
        &[],
        "config.yml: key \"accounts[0]\": missing token: set token or token_file",
    );
    assert_error(
        "accounts:\n  - name: a\n    token: \"  \"\n",
        &[],
        "config.yml: key \"accounts[0].token\": must not be empty",
    );
    assert_error(
        "accounts:\n  - name: a\n    token: x\n    token_file: /run/secrets/gp\n",
        &[],
        "config.yml: key \"accounts[0]\": set either token or token_file, not both",
    );
}

#[test]
fn an_unreadable_or_empty_token_file_is_named() {
    assert_error(
        "accounts:\n  - name: a\n    token_file: /nonexistent/gridpane-token\n",
        &[],
        "config.yml: key \"accounts[0].token_file\": cannot read token file /nonexistent/gridpane-token: No such file or directory (os error 2)",
    );
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "\n").unwrap();
    let run = check(
        dir.path(),
        &format!(
            "accounts:\n  - name: a\n    token_file: {}\n",
            token.display()
        ),
        &[],
    );
    assert_eq!(run.code, Some(2));
    assert_eq!(
        run.stderr,
        format!(
            "error: config.yml: key \"accounts[0].token_file\": token file {} is empty\n",
            token.display()
        )
    );
}

#[test]
fn a_bad_url_or_duration_is_named() {
    assert_error(
        "accounts:\n  - name: a\n    token: x\n    base_url: not a url\n",
        &[],
        "config.yml: key \"accounts[0].base_url\": invalid URL \"not a url\": relative URL without a base",
    );
    assert_error(
        "accounts:\n  - name: a\n    token: x\n    base_url: ftp://gridpane.example\n",
        &[],
        "config.yml: key \"accounts[0].base_url\": invalid URL \"ftp://gridpane.example\": scheme must be http or https",
    );
    assert_error(
        "accounts:\n  - name: a\n    token: x\npoll:\n  interval: 5x\n",
        &[],
        "config.yml: key \"poll.interval\": invalid value string \"5x\", expected a duration",
    );
}

#[test]
fn a_site_removal_share_outside_zero_to_one_is_rejected() {
    for share in ["0", "-0.5", "1.5", ".nan"] {
        assert_error(
            &format!(
                "accounts:\n  - name: a\n    token: x\npoll:\n  max_site_removal_share: {share}\n"
            ),
            &[],
            "config.yml: key \"poll.max_site_removal_share\": must be > 0 and <= 1",
        );
    }
}

#[test]
fn an_environment_override_is_named_by_its_variable() {
    assert_error(
        "accounts:\n  - name: a\n    token: x\n",
        &[("GRIDPANE_EXPORTER_POLL__INTERVAL", "bogus")],
        "GRIDPANE_EXPORTER_POLL__INTERVAL: key \"poll.interval\": invalid value string \"bogus\", expected a duration",
    );
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = check(
        dir.path(),
        "accounts:\n  - name: a\n    token: x\npoll:\n  interval: 5m\n",
        &[("GRIDPANE_EXPORTER_POLL__INTERVAL", "10m")],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("poll interval 10m"), "{}", run.stdout);
}

#[test]
fn a_token_in_the_environment_gives_one_default_account() {
    let dir = tempfile::tempdir().unwrap();
    let run = check(dir.path(), "", &[("GRIDPANE_API_TOKEN", "abc")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "configuration OK: 1 account(s), poll interval 5m\n  account \"default\": https://my.gridpane.com/\n"
    );
    assert!(
        !run.stdout.contains("abc") && !run.stderr.contains("abc"),
        "the token is never printed"
    );
}

#[test]
fn no_account_at_all_is_an_error_that_says_how_to_add_one() {
    assert_error(
        "",
        &[],
        "config.yml: no accounts configured: add accounts to the config file, or set GRIDPANE_API_TOKEN or GRIDPANE_API_TOKEN_FILE",
    );
}

#[test]
fn a_missing_config_file_is_an_error() {
    let out = Command::new(BIN)
        .env_clear()
        .args(["--config.check", "--config.file", "/nonexistent/config.yml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot read config file /nonexistent/config.yml: No such file or directory (os error 2)\n"
    );
}

#[test]
fn the_example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config.yml");
    let out = Command::new(BIN)
        .env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--config.check", "--config.file"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `--config.check` and asserts it fails with `expected` and that no
/// `secret` appears anywhere in its output.
fn assert_error_hiding(yaml: &str, env: &[(&str, &str)], expected: &str, secrets: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let run = check(dir.path(), yaml, env);
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret:?} printed: {}{}",
            run.stdout,
            run.stderr
        );
    }
    assert_eq!(run.code, Some(2), "stderr: {}", run.stderr);
    assert_eq!(run.stderr, format!("error: {expected}\n"));
}

#[test]
fn a_token_that_is_not_a_string_is_refused_without_being_printed() {
    for (value, secret) in [
        ("123456789012345", "123456789012345"),
        ("-98765432109", "98765432109"),
        ("31415.9e2", "3141590"),
    ] {
        assert_error_hiding(
            &format!("accounts:\n  - name: a\n    token: {value}\n"),
            &[],
            "config.yml: key \"accounts[0].token\": must be a string: put the token in quotes (the value is not shown)",
            &[secret],
        );
    }
}

#[test]
fn credentials_in_a_base_url_are_refused_without_being_printed() {
    assert_error_hiding(
        "accounts:\n  - name: a\n    token: x\n    base_url: https://SECRETUSER:PASSWORD@gridpane.example/\n",
        &[],
        "config.yml: key \"accounts[0].base_url\": invalid URL \"https://<redacted>@gridpane.example/\": credentials (user:password@) are not allowed; the token authenticates",
        &["PASSWORD", "SECRETUSER"],
    );
    // Also when the URL does not parse, and for a query string.
    assert_error_hiding(
        "accounts:\n  - name: a\n    token: x\n    base_url: https://user:PASSWORD@bad host/\n",
        &[],
        "config.yml: key \"accounts[0].base_url\": invalid URL \"https://<redacted>@bad host/\": invalid international domain name",
        &["PASSWORD"],
    );
    assert_error_hiding(
        "",
        &[
            ("GRIDPANE_API_TOKEN", "x"),
            (
                "GRIDPANE_API_URL",
                "https://gridpane.example/?api_key=QUERYSECRET",
            ),
        ],
        "environment: GRIDPANE_API_URL: invalid URL \"https://gridpane.example/?<redacted>\": no query string allowed",
        &["QUERYSECRET"],
    );
}

#[test]
fn a_token_holding_a_character_no_header_can_carry_is_refused_at_load() {
    let refused = |at: usize, what: &str| {
        format!(
            "the token holds {what} at character {at}; a token is visible ASCII only (the value is not shown)"
        )
    };
    for (yaml_value, at, what) in [
        ("\"SECRET\\r\\nX-Evil: 1\"", 7, "a control character"),
        ("\"SECRET\\0tail\"", 7, "a control character"),
        ("\"SECRET tail\"", 7, "a space"),
        ("\"SECRET\u{e9}tail\"", 7, "a non-ASCII character"),
    ] {
        assert_error_hiding(
            &format!("accounts:\n  - name: a\n    token: {yaml_value}\n"),
            &[],
            &format!(
                "config.yml: key \"accounts[0].token\": {}",
                refused(at, what)
            ),
            &["SECRET", "tail", "Evil"],
        );
    }
    assert_error_hiding(
        "",
        &[("GRIDPANE_API_TOKEN", "SECRET\rtail")],
        &format!(
            "environment: GRIDPANE_API_TOKEN: {}",
            refused(7, "a control character")
        ),
        &["SECRET", "tail"],
    );
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, b"SECRET\0tail\n").unwrap();
    assert_error_hiding(
        &format!(
            "accounts:\n  - name: a\n    token_file: {}\n",
            token.display()
        ),
        &[],
        &format!(
            "config.yml: key \"accounts[0].token_file\": token file {}: {}",
            token.display(),
            refused(7, "a control character")
        ),
        &["SECRET", "tail"],
    );
}
