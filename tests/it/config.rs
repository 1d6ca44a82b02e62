//! Configuration errors as a user sees them: `--config.check` on the real
//! binary, with a clean environment. Each error is one line naming the file
//! (or variable) and the key, with exit code 2. Also what the command line
//! says at start: warnings, the demo's page, a port already taken, `--help`.

use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gridpane-backup-exporter");

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn check(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Run {
    let file = dir.join("config.yml");
    std::fs::write(&file, yaml).unwrap();
    run(
        env,
        &["--config.check", "--config.file", "config.yml"],
        Some(dir),
    )
}

/// Runs the binary to its end with a clean environment.
fn run(env: &[(&str, &str)], args: &[&str], dir: Option<&Path>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().envs(env.iter().copied()).args(args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `--config.check` and asserts it passes.
fn check_ok(yaml: &str, env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let run = check(dir.path(), yaml, env);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run
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
        "config.yml: key \"poll.intervall\": unknown key `intervall`, expected one of `interval`, `timeout`, `connect_timeout`, `requests_per_minute`, `endpoint_units_per_minute`, `per_page`, `max_pages`, `max_body_bytes`, `max_items_per_account`, `max_retries`, `max_site_removal_share`, `detail`, `remote_storage`",
    );
    assert_error(
        "accounts:\n  - name: a\n    tokn: x\n",
        &[],
        "config.yml: key \"accounts[0].tokn\": unknown key `tokn`, expected one of `name`, `base_url`, `token`, `token_file`, `time_zone`, `remote_storage`",
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
fn access_rules_naming_an_account_that_is_not_configured_are_rejected() {
    let accounts =
        "accounts:\n  - name: client-a\n    token: x\n  - name: client-b\n    token: y\n";
    check_ok(
        &format!(
            "{accounts}access:\n  - users: [alice]\n    accounts: [client-a]\n  - users: [ops]\n    accounts: [\"*\"]\n  - users: [nobody]\n    accounts: []\n"
        ),
        &[],
    );
    assert_error(
        &format!(
            "{accounts}access:\n  - users: [alice]\n    accounts: [client-a]\n  - users: [bob]\n    accounts: [client-b, client-c]\n"
        ),
        &[],
        "config.yml: key \"access[1].accounts[1]\": no account named \"client-c\" is configured",
    );
    assert_error(
        &format!("{accounts}access:\n  - user: [alice]\n    accounts: [client-a]\n"),
        &[],
        "config.yml: key \"access[0].user\": unknown key `user`, expected one of `users`, `accounts`",
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
        &format!("config.yml: key \"poll.interval\": found string \"5x\", {DURATION_HINT}"),
    );
}

const DURATION_HINT: &str =
    "expected a duration with its unit such as `5m`, `90s` or `1h30m` (units: ms, s, m, h, d)";

#[test]
fn a_duration_without_a_unit_is_refused_with_an_example() {
    assert_error(
        "accounts:\n  - name: a\n    token: x\npoll:\n  interval: 300\n",
        &[],
        &format!("config.yml: key \"poll.interval\": found unsigned int `300`, {DURATION_HINT}"),
    );
    assert_error(
        "accounts:\n  - name: a\n    token: x\n",
        &[("GRIDPANE_EXPORTER_POLL__TIMEOUT", "30")],
        &format!(
            "GRIDPANE_EXPORTER_POLL__TIMEOUT: key \"poll.timeout\": found unsigned int `30`, {DURATION_HINT}"
        ),
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
fn a_zero_detail_publish_period_is_rejected_when_detail_is_on() {
    assert_error(
        "accounts:\n  - name: a\n    token: x\npoll:\n  detail:\n    enabled: true\n    publish_every: 0s\n",
        &[],
        "config.yml: key \"poll.detail.publish_every\": must be > 0 when poll.detail.enabled is true",
    );
}

#[test]
fn an_environment_override_is_named_by_its_variable() {
    assert_error(
        "accounts:\n  - name: a\n    token: x\n",
        &[("GRIDPANE_EXPORTER_POLL__INTERVAL", "bogus")],
        &format!(
            "GRIDPANE_EXPORTER_POLL__INTERVAL: key \"poll.interval\": found string \"bogus\", {DURATION_HINT}"
        ),
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
        "configuration OK: 1 account(s), poll interval 5m\n  account \"default\": https://my.gridpane.com/\nstate file: none (a restart serves no data until its first polls finish)\nper-site detail: off (retention and integrations from the bulk endpoints, no backup records read)\naccess rules: none (every viewer sees every account)\npolicy: minimum retention 7 days, longest interval 7days, remote backups required, overdue after 2 periods + 1h, record read at most 7days ago, 0 group(s), 0 mute(s)\nweb: listen on 0.0.0.0:9878, metrics at /metrics\n"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
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

#[test]
fn a_base_url_given_as_the_api_root_is_used_as_its_host_and_the_check_says_so() {
    let run = check_ok(
        "accounts:\n  - name: a\n    token: x\n    base_url: https://my.gridpane.com/oauth/api/v1\n  - name: b\n    token: y\n    base_url: https://gp.example/proxy/oauth/api/v1/\n",
        &[],
    );
    assert!(
        run.stdout
            .contains("  account \"a\": https://my.gridpane.com/\n")
            && run
                .stdout
                .contains("  account \"b\": https://gp.example/proxy/\n"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        "warning: config.yml: key \"accounts[0].base_url\": \"https://my.gridpane.com/oauth/api/v1\" is GridPane's API root; using https://my.gridpane.com/ (the exporter adds /oauth/api/v1 itself)\n\
         warning: config.yml: key \"accounts[1].base_url\": \"https://gp.example/proxy/oauth/api/v1/\" is GridPane's API root; using https://gp.example/proxy/ (the exporter adds /oauth/api/v1 itself)\n"
    );

    let run = check_ok(
        "",
        &[
            ("GRIDPANE_API_TOKEN", "x"),
            ("GRIDPANE_API_URL", "https://gp.example/oauth/api/v1"),
        ],
    );
    assert!(
        run.stdout
            .contains("  account \"default\": https://gp.example/\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .starts_with("warning: environment: GRIDPANE_API_URL: \"https://gp.example/oauth/api/v1\" is GridPane's API root"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_token_in_the_environment_beside_listed_accounts_is_reported_as_ignored() {
    let run = check_ok(
        "accounts:\n  - name: a\n    token: x\n",
        &[("GRIDPANE_API_TOKEN", "SECRET-ENV-TOKEN")],
    );
    assert_eq!(
        run.stderr,
        "warning: environment: GRIDPANE_API_TOKEN is ignored because config.yml lists accounts, each with its own token; unset it, or remove accounts from config.yml\n"
    );
    assert!(!run.stdout.contains("SECRET") && !run.stdout.contains("default"));

    let run = check_ok(
        "accounts:\n  - name: a\n    token: x\n",
        &[
            ("GRIDPANE_API_TOKEN_FILE", "/run/secrets/gp"),
            ("GRIDPANE_API_URL", "https://gp.example"),
        ],
    );
    assert!(
        run.stderr.starts_with(
            "warning: environment: GRIDPANE_API_TOKEN_FILE and GRIDPANE_API_URL are ignored because config.yml lists accounts"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn an_interval_under_a_minute_is_reported_by_the_check() {
    let run = check_ok(
        "accounts:\n  - name: a\n    token: x\npoll:\n  interval: 10s\n",
        &[],
    );
    assert_eq!(
        run.stderr,
        "warning: poll.interval: 10s polls account \"a\" more than once a minute, which risks GridPane's rate limits (the default is 5m)\n"
    );
}

#[test]
fn the_check_of_the_demo_says_what_it_checked() {
    let out = run(&[], &["--config.check", "--demo"], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "demo: no configuration file or token is read; a built-in fake GridPane on a loopback port serves a generated fleet as the account \"demo\", polled every 15s\n\
         web: listen on 127.0.0.1:9878, metrics at /metrics\n"
    );
}

#[test]
fn the_check_also_checks_the_web_flags() {
    let out = run(
        &[],
        &["--config.check", "--demo", "--web.telemetry-path=/api/v1/x"],
        None,
    );
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr,
        "error: --web.telemetry-path: \"/api/v1/x\" is taken by another endpoint\n"
    );
}

#[test]
fn help_names_the_token_variables_and_where_the_docs_are() {
    let out = run(&[], &["--help"], None);
    assert_eq!(out.code, Some(0));
    let help = out.stdout;
    for needle in [
        "GRIDPANE_API_TOKEN ",
        "GRIDPANE_API_TOKEN_FILE ",
        "GRIDPANE_API_URL ",
        "README.md",
        "docs/operations.md",
    ] {
        assert!(
            help.contains(needle),
            "{needle:?} missing from --help:\n{help}"
        );
    }
}

/// The binary, running until dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with a clean environment, port 0 on loopback, and
/// returns it with the first line of its stdout (or stderr) holding each
/// needle, waiting at most 10 s in all.
fn start_and_read(
    args: &[&str],
    env: &[(&str, &str)],
    stdout: bool,
    needles: &[&str],
) -> (Running, Vec<Option<String>>) {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .envs(env.iter().copied())
        .args(args)
        .arg("--web.listen-address=127.0.0.1:0")
        .stdin(Stdio::null());
    if stdout {
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    }
    let mut child = Running(cmd.spawn().unwrap());
    let stream: Box<dyn Read + Send> = match (child.0.stdout.take(), child.0.stderr.take()) {
        (Some(out), _) => Box::new(out),
        (None, Some(err)) => Box::new(err),
        (None, None) => unreachable!("one stream is piped"),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut found: Vec<Option<String>> = vec![None; needles.len()];
    let deadline = Instant::now() + Duration::from_secs(10);
    while found.iter().any(Option::is_none) {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        for (slot, needle) in found.iter_mut().zip(needles) {
            if slot.is_none() && line.contains(needle) {
                *slot = Some(line.clone());
            }
        }
    }
    (child, found)
}

#[test]
fn the_demo_says_it_is_the_demo_and_which_page_to_open() {
    let (_demo, lines) = start_and_read(&["--demo", "--log.level=warn"], &[], true, &["open http"]);
    let line = lines[0].clone().expect("the demo printed no page to open");
    assert!(line.starts_with("demo: "), "{line}");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap();
    let addr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not http://HOST:PORT/: {url}"));
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{url}"
    );
    // The page it names is the status page.
    use std::io::Write as _;
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    let _ = conn.read_to_string(&mut page);
    assert!(page.starts_with("HTTP/1.0 200"), "{page:.200}");
    assert!(page.contains("<html"), "{page:.200}");
}

#[test]
fn the_warnings_of_the_check_are_logged_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    std::fs::write(
        &file,
        "accounts:\n  - name: a\n    token: x\n    base_url: http://127.0.0.1:1/oauth/api/v1\n",
    )
    .unwrap();
    let (_exporter, lines) = start_and_read(
        &["--config.file", file.to_str().unwrap()],
        &[("GRIDPANE_API_TOKEN", "SECRET-ENV-TOKEN")],
        false,
        &["is ignored because", "is GridPane's API root"],
    );
    let [ignored, api_root] = [&lines[0], &lines[1]].map(|l| l.clone().unwrap_or_default());
    assert!(
        ignored.starts_with("ts=")
            && ignored.contains("level=warn")
            && ignored.contains("variables=GRIDPANE_API_TOKEN "),
        "{ignored:?}"
    );
    assert!(
        api_root.contains("level=warn") && api_root.contains("base_url=http://127.0.0.1:1/ "),
        "{api_root:?}"
    );
    assert!(!ignored.contains("SECRET") && !api_root.contains("SECRET"));
}

#[test]
fn a_port_already_in_use_is_one_line_naming_the_address_with_exit_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut child = Running(
        Command::new(BIN)
            .env_clear()
            .env("GRIDPANE_API_TOKEN", "x")
            .env("GRIDPANE_API_URL", "http://127.0.0.1:1")
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running with its port taken"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::io::read_to_string(child.0.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("ts=")).collect();
    assert_eq!(
        errors,
        [format!(
            "error: cannot listen on {addr}: the address is already in use (another process holds the port); choose another with --web.listen-address"
        )],
        "{stderr}"
    );
    drop(taken);
}

#[test]
fn an_unknown_key_of_the_web_config_is_named_with_the_keys_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        "tls_server_config:\n  certfile: x\n",
    )
    .unwrap();
    let out = run(
        &[],
        &["--config.check", "--demo", "--web.config.file", "web.yml"],
        Some(dir.path()),
    );
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr,
        "error: web.yml: key \"tls_server_config.certfile\": unknown key `certfile`, expected one of `cert_file`, `key_file`, `cert`, `key`, `client_auth_type`, `client_ca_file`, `client_ca`, `cipher_suites`, `curve_preferences`, `min_version`, `max_version`, `prefer_server_cipher_suites`, `client_allowed_sans`\n"
    );
}

#[test]
fn an_account_time_zone_is_a_utc_offset_and_a_zone_name_is_an_error() {
    check_ok(
        "accounts:\n  - name: a\n    token: x\n    time_zone: \"+02:00\"\n  - name: b\n    token: y\n    time_zone: UTC\n",
        &[],
    );
    assert_error(
        "accounts:\n  - name: a\n    token: x\n    time_zone: Europe/Paris\n",
        &[],
        "config.yml: key \"accounts[0].time_zone\": \"Europe/Paris\" is not a UTC offset such as \"+02:00\", \"-05:00\" or \"UTC\"",
    );
}

const ACCOUNT: &str = "accounts:\n  - name: a\n    token: x\n";

#[test]
fn a_policy_with_groups_and_mutes_passes_the_check_and_is_summarised() {
    let run = check_ok(
        &format!(
            "{ACCOUNT}policy:\n  min_retention_days: 30\n  max_interval: 1d\n  require_remote: true\n  overdue_after: 3\n  overdue_grace: 30m\n  groups:\n    - name: staging\n      match: {{ site_type: staging }}\n      require_remote: false\n    - name: web-2\n      match: {{ server: 12, url: \"*.example.com\", account: a }}\n      max_interval: 7d\n  mutes:\n    - sites: [\"shop.example.com\", 1234]\n      account: a\n      problems: [remote_not_set_up]\n      until: 2027-01-31\n      reason: migrating to a new server\n    - sites: [\"blog.example.com\"]\n      until: 2027-01-31T18:00:00Z\n"
        ),
        &[],
    );
    assert!(
        run.stdout.contains(
            "policy: minimum retention 30 days, longest interval 1day, remote backups required, overdue after 3 periods + 30m, record read at most 7days ago, 2 group(s), 2 mute(s)"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn backup_history_needs_per_site_detail_and_a_refresh_needs_history() {
    let account = "accounts:\n  - name: a\n    token: x\n";
    check_ok(
        &format!(
            "{account}poll:\n  detail:\n    enabled: true\n    history: true\n    refresh_every: 7d\n"
        ),
        &[],
    );
    assert_error(
        &format!("{account}poll:\n  detail:\n    history: true\n"),
        &[],
        "config.yml: key \"poll.detail.history\": needs poll.detail.enabled: true",
    );
    assert_error(
        &format!("{account}poll:\n  detail:\n    enabled: true\n    refresh_every: 1d\n"),
        &[],
        "config.yml: key \"poll.detail.refresh_every\": needs poll.detail.history: true",
    );
    assert_error(
        &format!(
            "{account}poll:\n  detail:\n    enabled: true\n    history: true\n    refresh_every: 0s\n"
        ),
        &[],
        "config.yml: key \"poll.detail.refresh_every\": must be > 0 (leave it out to never refresh)",
    );
}

#[test]
fn policy_errors_are_one_line_naming_the_key() {
    let policy = |yaml: &str| format!("{ACCOUNT}policy:\n{yaml}");
    let cases = [
        (
            "  mutes:\n    - sites: [a.example]\n      problems: [remote_not_set_up, backups_missing]\n      until: 2027-01-31\n",
            "config.yml: key \"policy.mutes[0].problems[1]\": unknown problem \"backups_missing\", expected one of local_disabled, local_not_scheduled, remote_disabled, remote_not_set_up, integration_missing, never_backed_up, backup_overdue, remote_copy_missing, remote_copy_stale, record_unreadable, record_stale, schedule_unreadable, remote_copy_unknown, short_retention, interval_too_long",
        ),
        (
            "  mutes:\n    - sites: [a.example]\n",
            "config.yml: key \"policy.mutes[0]\": missing field `until`",
        ),
        (
            "  mutes:\n    - sites: [1234]\n      account: nope\n      until: 2027-01-31\n",
            "config.yml: key \"policy.mutes[0].account\": no account named \"nope\" is configured",
        ),
        (
            "  mutes:\n    - sites: [1234]\n      account: \" \"\n      until: 2027-01-31\n",
            "config.yml: key \"policy.mutes[0].account\": must not be empty",
        ),
        (
            "  mutes:\n    - sites: [a.example]\n      until: next friday\n",
            "config.yml: key \"policy.mutes[0].until\": \"next friday\" is not a date (2027-01-31) or an RFC 3339 time (2027-01-31T18:00:00Z)",
        ),
        (
            "  mutes:\n    - sites: []\n      until: 2027-01-31\n",
            "config.yml: key \"policy.mutes[0].sites\": must name at least one site (URL or id)",
        ),
        (
            "  mutes:\n    - sites: [a.example]\n      problems: []\n      until: 2027-01-31\n",
            "config.yml: key \"policy.mutes[0].problems\": must list at least one problem, or be left out to mute every problem",
        ),
        (
            "  max_interval: 0s\n",
            "config.yml: key \"policy.max_interval\": must be > 0 and at most 366d",
        ),
        (
            "  max_interval: 7\n",
            &format!(
                "config.yml: key \"policy.max_interval\": found unsigned int `7`, {DURATION_HINT}"
            ),
        ),
        (
            "  groups:\n    - name: s\n      match: { site_type: staging }\n    - name: s\n      match: { account: a }\n",
            "config.yml: key \"policy.groups[1].name\": duplicate group name \"s\"",
        ),
        (
            "  groups:\n    - name: s\n      match: { type: staging }\n",
            "config.yml: key \"policy.groups[0].match.type\": unknown key `type`, expected one of `site_type`, `account`, `server`, `url`",
        ),
        (
            "  min_retention: 7\n",
            "config.yml: key \"policy.min_retention\": unknown key `min_retention`, expected one of `min_retention_days`, `max_interval`, `require_remote`, `overdue_after`, `overdue_grace`, `record_max_age`, `groups`, `mutes`",
        ),
        (
            "  overdue_after: 0.5\n",
            "config.yml: key \"policy.overdue_after\": must be a number of schedule periods, at least 1 and at most 100",
        ),
        (
            "  groups:\n    - name: s\n      match: { site_type: staging }\n      overdue_after: .nan\n",
            "config.yml: key \"policy.groups[0].overdue_after\": must be a number of schedule periods, at least 1 and at most 100",
        ),
        (
            "  record_max_age: 0s\n",
            "config.yml: key \"policy.record_max_age\": must be > 0 and at most 365d",
        ),
        (
            "  groups:\n    - name: s\n      match: { site_type: staging }\n      record_max_age: 366d\n",
            "config.yml: key \"policy.groups[0].record_max_age\": must be > 0 and at most 365d",
        ),
        (
            "  overdue_grace: 1\n",
            &format!(
                "config.yml: key \"policy.overdue_grace\": found unsigned int `1`, {DURATION_HINT}"
            ),
        ),
    ];
    for (yaml, expected) in cases {
        assert_error(&policy(yaml), &[], expected);
    }
}

#[test]
fn policy_values_past_their_upper_limits_are_errors_naming_the_key() {
    let policy = |yaml: &str| format!("{ACCOUNT}policy:\n{yaml}");
    let group = |key: &str| {
        format!("  groups:\n    - name: g\n      match: {{ site_type: staging }}\n      {key}\n")
    };
    let cases = [
        (
            "  overdue_after: 1e308\n".to_string(),
            "config.yml: key \"policy.overdue_after\": must be a number of schedule periods, at least 1 and at most 100",
        ),
        (
            "  overdue_grace: 100000000d\n".to_string(),
            "config.yml: key \"policy.overdue_grace\": must be at most 30d",
        ),
        (
            "  max_interval: 367d\n".to_string(),
            "config.yml: key \"policy.max_interval\": must be > 0 and at most 366d",
        ),
        (
            "  min_retention_days: 3651\n".to_string(),
            "config.yml: key \"policy.min_retention_days\": must be at most 3650 (ten years)",
        ),
        (
            group("overdue_after: 101"),
            "config.yml: key \"policy.groups[0].overdue_after\": must be a number of schedule periods, at least 1 and at most 100",
        ),
        (
            group("overdue_grace: 31d"),
            "config.yml: key \"policy.groups[0].overdue_grace\": must be at most 30d",
        ),
        (
            group("max_interval: 1000d"),
            "config.yml: key \"policy.groups[0].max_interval\": must be > 0 and at most 366d",
        ),
        (
            group("min_retention_days: 100000"),
            "config.yml: key \"policy.groups[0].min_retention_days\": must be at most 3650 (ten years)",
        ),
    ];
    for (yaml, expected) in &cases {
        assert_error(&policy(yaml), &[], expected);
    }
    // At the limits, the policy loads.
    let dir = tempfile::tempdir().unwrap();
    let limits = policy(
        "  overdue_after: 100\n  overdue_grace: 30d\n  max_interval: 366d\n  min_retention_days: 3650\n",
    );
    let run = check(dir.path(), &limits, &[]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);

    let run = check(
        dir.path(),
        &policy("  mutes:\n    - sites: [a.example]\n      until: 9999-12-31\n"),
        &[],
    );
    assert_eq!(run.code, Some(2), "stderr: {}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: config.yml: key \"policy.mutes[0].until\": ends ")
            && run
                .stderr
                .contains("more than 366 days after the configuration is loaded"),
        "{}",
        run.stderr
    );
}
