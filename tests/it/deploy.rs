//! Packaging and deployment files (Dockerfile, deploy/), checked the way they
//! can be without a container engine: real validators where they exist
//! (promtool, amtool, systemd-analyze, kubectl kustomize), the exporter's own
//! CLI and config loader for the flags and variables the files pass it, and
//! structural checks for the rest.
//!
//! deploy/kubernetes/prometheusrule.yaml and dashboards.yaml are generated
//! from alerts/ and dashboards/ by this file:
//! `UPDATE_GENERATED=1 cargo test --test it deploy::` rewrites them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser as _;
use figment::Figment;
use figment::providers::{Format, Yaml};
use gridpane_backup_exporter::cli::Cli;
use gridpane_backup_exporter::config::{self, Sources};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gridpane-backup-exporter");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const RULES_GENERATED: &str = "deploy/kubernetes/prometheusrule.yaml";
const DASHBOARDS_GENERATED: &str = "deploy/kubernetes/dashboards.yaml";

// ---------------------------------------------------------------- helpers

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses one YAML document (a mapping at the top) into JSON values.
fn yaml(text: &str, what: &str) -> Value {
    Figment::from(Yaml::string(text))
        .extract::<Value>()
        .unwrap_or_else(|e| panic!("{what}: not valid YAML: {e}"))
}

/// Parses a file of YAML documents separated by `---` lines.
fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let last = docs.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    docs.iter()
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .enumerate()
        .map(|(i, d)| yaml(d, &format!("{what} (document {})", i + 1)))
        .collect()
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

/// A tool every CI machine has (.ci/run installs it): missing is a failure
/// with CI=true, else the test is skipped.
fn required_tool(name: &str, package: &str) -> bool {
    if on_path(name) {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{name} is missing: apt-get install {package}"
    );
    skipped(&format!("{name} not installed (apt-get install {package})"));
    false
}

/// A tool used when present, on CI too.
fn optional_tool(name: &str) -> bool {
    let found = on_path(name);
    if !found {
        skipped(&format!("{name} not installed"));
    }
    found
}

/// Written to the stderr handle directly, which the test harness does not
/// capture, so that a skip shows in a plain `cargo test` run.
fn skipped(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let p = dir.join(name);
            p.is_file()
                && std::fs::metadata(&p).is_ok_and(|m| {
                    use std::os::unix::fs::PermissionsExt as _;
                    m.permissions().mode() & 0o111 != 0
                })
        })
    })
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn copy_recursively(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_recursively(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

/// Files of `dir` (relative to the repository) whose names end with `suffix`,
/// sorted.
fn files_in(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(repo().join(dir)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

pub(crate) fn parses_as_flags(args: &[&str]) -> Result<Cli, String> {
    Cli::try_parse_from(std::iter::once("gridpane-backup-exporter").chain(args.iter().copied()))
        .map_err(|e| e.to_string())
}

// ------------------------------------------------------------- Dockerfile

/// One Dockerfile instruction: keyword (upper case), arguments, stage index.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
    stage: usize,
}

fn dockerfile() -> (String, Vec<Instruction>) {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut stage = 0usize;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let full = std::mem::take(&mut pending);
        let (keyword, args) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM" {
            stage += 1;
        }
        out.push(Instruction {
            keyword,
            args: args.split_whitespace().collect::<Vec<_>>().join(" "),
            stage,
        });
    }
    (text, out)
}

/// The exec form `["a", "b"]` as a list, or None for the shell form.
fn exec_form(args: &str) -> Option<Vec<String>> {
    serde_json::from_str::<Vec<String>>(args.trim()).ok()
}

#[test]
fn dockerfile_builds_locked_in_stages_and_runs_unprivileged_with_a_shell_free_healthcheck() {
    let (text, ins) = dockerfile();
    let last = ins.iter().map(|i| i.stage).max().unwrap();
    let of = |kw: &'static str| ins.iter().filter(move |i| i.keyword == kw);
    let final_of = |kw: &str| {
        ins.iter()
            .filter(|i| i.keyword == kw && i.stage == last)
            .collect::<Vec<_>>()
    };

    // Multi-stage: a named build stage, a runtime stage that copies from it.
    let froms: Vec<_> = of("FROM").collect();
    assert!(froms.len() >= 2, "not multi-stage: {froms:?}");
    let build = froms[0].args.rsplit_once(" AS ").map(|(_, n)| n.trim());
    let build = build.expect("the first stage has a name (FROM ... AS build)");
    for from in &froms {
        let image = from.args.split_whitespace().next().unwrap();
        assert!(
            image.contains(':') && !image.ends_with(":latest"),
            "base image not pinned to a tag: {image}"
        );
    }
    assert!(
        final_of("COPY")
            .iter()
            .any(|c| c.args.contains(&format!("--from={build}"))),
        "the runtime stage does not copy from {build}"
    );

    // A locked release build, in the build stage.
    let cargo = of("RUN")
        .find(|r| r.args.contains("cargo build"))
        .expect("a RUN with cargo build");
    assert!(cargo.stage < last, "cargo runs in the runtime stage");
    for flag in ["--release", "--locked"] {
        assert!(cargo.args.contains(flag), "cargo build without {flag}");
    }
    if text.contains("--mount=") {
        assert!(
            text.starts_with("# syntax=docker/dockerfile:1"),
            "RUN --mount needs the dockerfile:1 syntax directive"
        );
    }

    // The runtime image has CA certificates: distroless carries them,
    // anything else must install them.
    let runtime = froms.last().unwrap().args.as_str();
    assert!(
        runtime.starts_with("gcr.io/distroless/")
            || final_of("RUN")
                .iter()
                .any(|r| r.args.contains("ca-certificates")),
        "no CA certificates in the runtime image {runtime}"
    );

    // A numeric, non-root user (Kubernetes' runAsNonRoot can only verify a
    // number).
    let user = final_of("USER");
    let user = user.last().expect("the runtime stage sets USER");
    let uid = user.args.split(':').next().unwrap();
    let uid: u32 = uid.parse().expect("USER is numeric");
    assert_ne!(uid, 0, "runs as root");

    let expose = final_of("EXPOSE");
    assert!(
        expose
            .iter()
            .any(|e| e.args.split_whitespace().any(|p| p == "9878")),
        "EXPOSE 9878 missing"
    );

    // The binary, in exec form everywhere (there is no shell to run a string).
    let entry = final_of("ENTRYPOINT");
    let entry = exec_form(&entry.last().expect("ENTRYPOINT").args).expect("ENTRYPOINT exec form");
    assert_eq!(entry.len(), 1);
    let binary = &entry[0];
    assert!(
        final_of("COPY")
            .iter()
            .any(|c| c.args.ends_with(&format!(" {binary}"))),
        "ENTRYPOINT {binary} is not what the build stage copied in"
    );
    let health = final_of("HEALTHCHECK");
    let health = &health.last().expect("HEALTHCHECK").args;
    let cmd = health
        .split_once("CMD ")
        .map(|(_, c)| c)
        .expect("HEALTHCHECK CMD");
    let cmd = exec_form(cmd).expect("HEALTHCHECK CMD in exec form: no shell in the image");
    assert_eq!(&cmd[0], binary);
    assert_eq!(cmd[1], "healthcheck");
    parses_as_flags(&cmd[1..].iter().map(String::as_str).collect::<Vec<_>>()).unwrap();

    // OCI labels, and defaults that agree with Cargo.toml.
    let labels: String = final_of("LABEL").iter().map(|l| l.args.clone()).collect();
    for key in [
        "title",
        "description",
        "licenses",
        "version",
        "revision",
        "created",
        "source",
    ] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{key}=")),
            "OCI label {key} missing"
        );
    }
    assert!(labels.contains(&format!(
        "org.opencontainers.image.licenses=\"{}\"",
        env!("CARGO_PKG_LICENSE")
    )));
    assert!(
        final_of("ARG")
            .iter()
            .any(|a| a.args == format!("VERSION={VERSION}")),
        "ARG VERSION in the runtime stage must default to {VERSION}"
    );
    // build.rs reads GIT_REVISION: the build stage must declare it.
    assert!(
        ins.iter()
            .any(|i| i.keyword == "ARG" && i.stage < last && i.args.starts_with("GIT_REVISION"))
    );
}

#[test]
fn dockerignore_lets_in_exactly_what_the_build_copies() {
    let ignore = read(".dockerignore");
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(rules.first(), Some(&"*"), "an allow-list starts with *");
    let allowed: Vec<&str> = rules[1..]
        .iter()
        .map(|r| {
            r.strip_prefix('!')
                .unwrap_or_else(|| panic!("{r}: not an exception"))
        })
        .map(|r| r.trim_end_matches('/'))
        .collect();
    // Every context source of a COPY is allowed in, and exists.
    let (_, ins) = dockerfile();
    let mut copied = Vec::new();
    for c in ins
        .iter()
        .filter(|i| i.keyword == "COPY" && !i.args.contains("--from="))
    {
        let parts: Vec<&str> = c
            .args
            .split_whitespace()
            .filter(|p| !p.starts_with("--"))
            .collect();
        for src in &parts[..parts.len() - 1] {
            let src = src.trim_start_matches("./").trim_end_matches('/');
            assert!(
                allowed.contains(&src),
                "COPY {src} but .dockerignore drops it"
            );
            assert!(repo().join(src).exists(), "COPY {src}: no such file");
            copied.push(src.to_string());
        }
    }
    for a in &allowed {
        assert!(
            copied.iter().any(|c| c == a),
            "{a} is let in but never copied"
        );
    }
    // Nothing under src/ reaches outside the build context.
    fn scan(dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("include_") {
                    let rest = &text[i..];
                    if let Some(arg) = rest
                        .strip_prefix("include_str!(\"")
                        .or_else(|| rest.strip_prefix("include_bytes!(\""))
                    {
                        let rel = &arg[..arg.find('"').unwrap()];
                        let target = path.parent().unwrap().join(rel);
                        let target = target.canonicalize().unwrap();
                        assert!(
                            target.starts_with(repo().join("src").canonicalize().unwrap()),
                            "{} includes {rel}, outside src/ and the image's build context",
                            path.display()
                        );
                    }
                }
            }
        }
    }
    scan(&repo().join("src"));
}

// ---------------------------------------------------- the binary itself

#[test]
fn version_prints_the_version_and_git_revision() {
    let (ok, out) = run(Command::new(BIN).arg("--version"));
    assert!(ok, "{out}");
    let line = out.trim();
    let rest = line
        .strip_prefix(&format!("gridpane-backup-exporter {VERSION} (revision "))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected --version: {line:?}"));
    assert!(
        rest == "unknown" || (rest.len() >= 7 && rest.chars().all(|c| c.is_ascii_hexdigit())),
        "revision {rest:?}"
    );
    // Built from a git checkout: the revision is the current commit (build.rs
    // must notice new commits, in worktrees too).
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let (Some(head), None) = (head, option_env!("GIT_REVISION")) {
        assert_eq!(rest, String::from_utf8_lossy(&head.stdout).trim());
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn healthcheck_subcommand_passes_against_a_running_exporter_and_fails_once_it_stops() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let healthcheck = || {
        run(Command::new(BIN).args([
            "healthcheck",
            &format!("--web.listen-address={addr}"),
            "--timeout=2s",
        ]))
    };
    let (ok, out) = healthcheck();
    assert!(!ok, "healthy before the exporter started: {out}");
    assert!(out.contains("unhealthy"), "{out}");

    let mut exporter = Child(
        Command::new(BIN)
            .args(["--demo", &format!("--web.listen-address={addr}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (ok, out) = healthcheck();
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "never healthy: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    exporter.0.kill().unwrap();
    exporter.0.wait().unwrap();
    let (ok, out) = healthcheck();
    assert!(!ok, "healthy after the exporter stopped: {out}");
}

#[test]
fn healthcheck_ignores_proxy_variables() {
    // A "proxy" that answers 200 to whatever it is asked, and a port where
    // nothing listens: through the proxy the probe would pass.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in proxy.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut req = [0u8; 1024];
            let _ = std::io::Read::read(&mut conn, &mut req);
            let _ = std::io::Write::write_all(
                &mut conn,
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let mut cmd = Command::new(BIN);
    cmd.env_clear().args([
        "healthcheck",
        &format!("--web.listen-address=127.0.0.1:{}", free_port()),
        "--timeout=2s",
    ]);
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env(var, &proxy_url);
    }
    let (ok, out) = run(&mut cmd);
    assert!(!ok, "a proxy answered for the exporter: {out}");
    assert!(out.contains("cannot connect"), "{out}");
}

// ---------------------------------------------------------------- compose

const COMPOSE_DIR: &str = "deploy/compose";

fn compose() -> Value {
    yaml(&read("deploy/compose/compose.yaml"), "compose.yaml")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose
        .pointer(&format!("/services/{name}"))
        .unwrap_or_else(|| panic!("no service {name} in compose.yaml"))
}

/// Bind mounts of a service as (host path, container path).
fn mounts(svc: &Value) -> Vec<(PathBuf, String)> {
    svc.get("volumes")
        .and_then(Value::as_array)
        .map(|v| v.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|v| {
            let v = v.as_str().expect("short volume syntax");
            let mut parts = v.split(':');
            let (src, dst) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(
                src.starts_with('.'),
                "{v}: not a bind mount of a repository path"
            );
            (repo().join(COMPOSE_DIR).join(src), dst.to_string())
        })
        .collect()
}

/// A directory laid out as the container sees its bind mounts: each mount's
/// source copied to `<tmp><container path>`.
fn mirror(svc: &Value) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (src, dst) in mounts(svc) {
        copy_recursively(&src, &root.path().join(dst.trim_start_matches('/')));
    }
    root
}

fn at(root: &tempfile::TempDir, container_path: &str) -> PathBuf {
    root.path().join(container_path.trim_start_matches('/'))
}

#[test]
fn compose_services_are_pinned_mount_files_that_exist_and_run_the_demo() {
    let c = compose();
    let services = c["services"].as_object().unwrap();
    for want in ["exporter", "prometheus", "alertmanager", "grafana"] {
        assert!(services.contains_key(want), "service {want} missing");
    }
    for (name, svc) in services {
        match svc.get("image").and_then(Value::as_str) {
            Some(image) => assert!(
                image.contains(':') && !image.ends_with(":latest"),
                "{name}: image {image} not pinned to a version tag"
            ),
            None => assert!(
                svc.get("build").is_some(),
                "{name}: neither image nor build"
            ),
        }
        for (src, dst) in mounts(svc) {
            assert!(
                src.exists(),
                "{name}: mounts {} which does not exist",
                src.display()
            );
            assert!(dst.starts_with('/'), "{name}: {dst}");
        }
        for port in svc
            .get("ports")
            .and_then(Value::as_array)
            .map(|v| v.as_slice())
            .unwrap_or_default()
        {
            let port = port.as_str().unwrap();
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name}: {port} is published beyond loopback"
            );
        }
    }

    // The exporter is this repository's image, in demo mode, on :9878.
    let exporter = service(&c, "exporter");
    let context = s(exporter, "/build/context");
    assert!(
        repo()
            .join(COMPOSE_DIR)
            .join(context)
            .join("Dockerfile")
            .canonicalize()
            .unwrap()
            == repo().join("Dockerfile").canonicalize().unwrap()
    );
    let command: Vec<&str> = exporter["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let cli = parses_as_flags(&command).unwrap();
    assert!(cli.demo, "the quickstart needs no token: --demo");
    assert_eq!(cli.listen_address, ":9878");
    assert!(
        exporter["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().ends_with(":9878:9878"))
    );
}

#[test]
fn compose_prometheus_config_passes_promtool_with_the_rules_it_mounts() {
    let c = compose();
    let prometheus = service(&c, "prometheus");
    let root = mirror(prometheus);
    let config_path = at(&root, "/etc/prometheus/prometheus.yml");
    let config = yaml(
        &std::fs::read_to_string(&config_path).unwrap(),
        "prometheus.yml",
    );

    // Targets are services of this compose file, on their ports.
    let services = c["services"].as_object().unwrap();
    let mut jobs = Vec::new();
    for job in config["scrape_configs"].as_array().unwrap() {
        jobs.push(s(job, "/job_name").to_string());
        for sc in job["static_configs"].as_array().unwrap() {
            for t in sc["targets"].as_array().unwrap() {
                let (host, _) = t.as_str().unwrap().split_once(':').unwrap();
                assert!(
                    host == "localhost" || services.contains_key(host),
                    "target {t} is not a compose service"
                );
            }
        }
    }
    assert!(jobs.contains(&"gridpane".to_string()));
    let am = &config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0];
    assert_eq!(am, "alertmanager:9093");

    // Every rule file the glob finds in the container is the repository's.
    let rule_files = config["rule_files"].as_array().unwrap();
    let sources = files_in("alerts", ".rules.yml");
    assert!(!sources.is_empty(), "no alerts/*.rules.yml to load");
    for glob in rule_files {
        let glob = glob.as_str().unwrap();
        let (dir, pattern) = glob.rsplit_once('/').unwrap();
        assert!(
            !dir.starts_with('/'),
            "{glob}: keep it relative to prometheus.yml"
        );
        let suffix = pattern.strip_prefix('*').expect("a *suffix glob");
        let found: Vec<String> = std::fs::read_dir(config_path.parent().unwrap().join(dir))
            .unwrap_or_else(|e| panic!("{glob}: {dir}/ is not mounted in the container: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(suffix))
            .collect();
        for src in &sources {
            assert!(
                found.contains(&file_name(src)),
                "{glob} misses {}",
                src.display()
            );
        }
    }

    if !required_tool("promtool", "prometheus") {
        return;
    }
    let (ok, out) = run(Command::new("promtool")
        .args(["check", "config"])
        .arg(&config_path));
    assert!(ok, "promtool check config:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");
    for src in &sources {
        assert!(
            out.contains(&file_name(src)),
            "promtool did not check {}:\n{out}",
            file_name(src)
        );
    }
    assert!(!out.contains(" 0 rules found"), "{out}");
}

#[test]
fn compose_alertmanager_config_passes_amtool_and_routes_to_the_log_receiver() {
    let c = compose();
    let am = service(&c, "alertmanager");
    let root = mirror(am);
    let path = at(&root, "/etc/alertmanager/alertmanager.yml");
    let config = yaml(&std::fs::read_to_string(&path).unwrap(), "alertmanager.yml");
    let receiver = s(&config, "/route/receiver");
    let receivers = config["receivers"].as_array().unwrap();
    let receiver = receivers
        .iter()
        .find(|r| r["name"] == receiver)
        .expect("the route's receiver is defined");
    let url = url::Url::parse(s(receiver, "/webhook_configs/0/url")).unwrap();
    let host = url.host_str().unwrap();
    let log = service(&c, host);
    let command: Vec<&str> = log["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        command.last().copied(),
        Some(url.port().unwrap().to_string().as_str()),
        "the receiver listens where Alertmanager sends"
    );

    // The runbook's inhibit rule, as the runbook writes it.
    let runbook = read("docs/runbook.md");
    let block = runbook
        .split("```yaml\n")
        .skip(1)
        .map(|b| &b[..b.find("```").unwrap()])
        .find(|b| b.starts_with("inhibit_rules:"))
        .expect("docs/runbook.md has an inhibit_rules block");
    assert_eq!(
        config["inhibit_rules"],
        yaml(block, "runbook inhibit_rules")["inhibit_rules"],
        "alertmanager.yml and docs/runbook.md disagree on inhibit_rules"
    );

    if !required_tool("amtool", "prometheus-alertmanager") {
        return;
    }
    let (ok, out) = run(Command::new("amtool").arg("check-config").arg(&path));
    assert!(ok && out.contains("SUCCESS"), "amtool check-config:\n{out}");
}

#[test]
fn alert_log_receiver_prints_one_line_per_alert_of_a_webhook() {
    if !optional_tool("python3") {
        return;
    }
    let port = free_port();
    let mut child = Child(
        Command::new("python3")
            .args([
                "-u",
                "deploy/compose/alert-log/alert_log.py",
                &port.to_string(),
            ])
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let body = serde_json::json!({
        "version": "4", "status": "firing", "receiver": "log",
        "alerts": [
            {"status": "firing",
             "labels": {"alertname": "GridPaneSiteRemoteBackupsNotSetUp", "severity": "warning",
                        "account": "demo", "site_url": "shop.example.com"},
             "annotations": {"summary": "Remote backups of a site are not set up."}},
            {"status": "resolved",
             "labels": {"alertname": "GridPaneExporterDown", "severity": "critical"},
             "annotations": {}}
        ]
    })
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "alert_log.py never listened: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    write!(
        conn,
        "POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    child.0.kill().unwrap();
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut child.0.stdout.take().unwrap(), &mut printed).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert_eq!(
        lines[1],
        "FIRING GridPaneSiteRemoteBackupsNotSetUp severity=warning account='demo' \
         site_url='shop.example.com' :: Remote backups of a site are not set up."
    );
    assert_eq!(
        lines[2],
        "RESOLVED GridPaneExporterDown severity=critical ::"
    );
}

#[test]
fn compose_grafana_provisions_the_prometheus_service_and_every_dashboard() {
    let c = compose();
    let grafana = service(&c, "grafana");
    let root = mirror(grafana);

    // Datasources: one default Prometheus, at the compose service.
    let dir = at(&root, "/etc/grafana/provisioning/datasources");
    let mut datasources = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        let doc = yaml(
            &std::fs::read_to_string(&f).unwrap(),
            &f.display().to_string(),
        );
        datasources.extend(doc["datasources"].as_array().unwrap().clone());
    }
    let prometheus: Vec<&Value> = datasources
        .iter()
        .filter(|d| d["type"] == "prometheus")
        .collect();
    assert_eq!(prometheus.len(), 1, "{datasources:?}");
    assert_eq!(prometheus[0]["isDefault"], true);
    let url = url::Url::parse(s(prometheus[0], "/url")).unwrap();
    assert_eq!(url.host_str(), Some("prometheus"));
    assert_eq!(url.port(), Some(9090));
    service(&c, "prometheus");

    // Dashboard providers: every path exists in the container and holds
    // every dashboard of the repository.
    let dir = at(&root, "/etc/grafana/provisioning/dashboards");
    let mut paths = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        let doc = yaml(
            &std::fs::read_to_string(&f).unwrap(),
            &f.display().to_string(),
        );
        for p in doc["providers"].as_array().unwrap() {
            assert_eq!(p["type"], "file");
            paths.push(s(p, "/options/path").to_string());
        }
    }
    assert!(!paths.is_empty(), "no dashboard provider");
    let dashboards = files_in("dashboards", ".json");
    assert!(!dashboards.is_empty(), "no dashboards/*.json");
    for d in &dashboards {
        let name = file_name(d);
        let in_container = paths
            .iter()
            .map(|p| at(&root, p).join(&name))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("no provider path holds {name}"));
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(in_container).unwrap()).unwrap();
        assert!(
            json.get("uid").and_then(Value::as_str).is_some(),
            "{name}: no uid"
        );
        assert!(
            json.get("__inputs").is_none(),
            "{name}: __inputs break file provisioning"
        );
    }
    // The home dashboard is one of them.
    if let Some(home) = grafana.pointer("/environment/GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH") {
        let home = home.as_str().unwrap();
        assert!(
            at(&root, home).is_file(),
            "home dashboard {home} is not mounted"
        );
    }
}

// ---------------------------------------------------------------- systemd

const UNIT: &str = "deploy/systemd/gridpane-backup-exporter.service";

/// The values of every `key=` line among `directives`.
pub(crate) fn directive_values<'a>(directives: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    directives
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `Key=value` lines of a unit file, continuation lines joined.
pub(crate) fn unit_directives(unit: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in read(unit).lines() {
        let t = line.trim();
        if t.starts_with('#') || t.starts_with(';') || t.starts_with('[') || t.is_empty() {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let full = std::mem::take(&mut pending);
        let (k, v) = full.split_once('=').unwrap();
        out.push((
            k.trim().to_string(),
            v.split_whitespace().collect::<Vec<_>>().join(" "),
        ));
    }
    out
}

#[test]
fn systemd_unit_is_hardened_and_hands_the_token_over_as_a_credential() {
    let d = unit_directives(UNIT);
    let get = |k: &str| directive_values(&d, k);
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "gridpane-backup-exporter"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictSUIDSGID", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("RestartPreventExitStatus", "2"),
        ("LimitNOFILE", "65536"),
        (
            "LoadCredential",
            "gridpane-token:/etc/gridpane-backup-exporter/token",
        ),
        ("Environment", "GRIDPANE_API_TOKEN_FILE=%d/gridpane-token"),
    ] {
        assert!(
            get(key).contains(&value),
            "{key}={value} missing from the unit"
        );
    }
    // process_start_time_seconds reads /proc/stat: ProcSubset=pid would hide it.
    assert!(get("ProcSubset").is_empty());
    // No GRIDPANE_EXPORTER_* variable the config loader would reject.
    for env in get("Environment") {
        assert!(!env.starts_with(config::ENV_PREFIX), "{env}");
    }

    // ExecStart: the flags parse, and the config file is the example's path.
    let exec = get("ExecStart");
    let words: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(words[0], "/usr/local/bin/gridpane-backup-exporter");
    let cli = parses_as_flags(&words[1..]).unwrap();
    assert_eq!(
        cli.config_file.as_deref(),
        Some(Path::new("/etc/gridpane-backup-exporter/config.yml"))
    );
}

#[test]
fn systemd_example_config_loads_with_the_units_credential() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("gridpane-token");
    std::fs::write(&token, "token-from-the-credentials-dir\n").unwrap();
    let loaded = config::load(&Sources {
        file: Some(repo().join("deploy/systemd/config.yml")),
        env: vec![(
            "GRIDPANE_API_TOKEN_FILE".into(),
            token.display().to_string(),
        )],
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.accounts.len(), 1);
    assert_eq!(loaded.accounts[0].name, config::DEFAULT_ACCOUNT);
    assert_eq!(
        loaded.state_file.as_deref(),
        Some(Path::new("/var/lib/gridpane-backup-exporter/state.json")),
        "the state file lives in the unit's StateDirectory"
    );
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify_and_security() {
    if !optional_tool("systemd-analyze") {
        return;
    }
    // verify insists that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("gridpane-backup-exporter.service");
    std::fs::write(
        &unit,
        read(UNIT).replace("/usr/local/bin/gridpane-backup-exporter", BIN),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
    // Exposure at most 2.0 of 10 ("OK"); the threshold is in tenths.
    let (ok, text) = run(Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(&unit));
    assert!(ok, "systemd-analyze security:\n{text}");
}

// ------------------------------------------------------------- Kubernetes

fn k8s(file: &str) -> Vec<Value> {
    yaml_docs(&read(&format!("deploy/kubernetes/{file}")), file)
}

fn one(file: &str, kind: &str) -> Value {
    let docs = k8s(file);
    let found: Vec<Value> = docs.into_iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "{file}: one {kind}");
    found.into_iter().next().unwrap()
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

#[test]
fn kubernetes_deployment_runs_non_root_read_only_with_probes_and_resources() {
    let d = one("deployment.yaml", "Deployment");
    assert_eq!(d["spec"]["replicas"], 1, "one exporter per set of accounts");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"], 0);
    assert_eq!(pod["automountServiceAccountToken"], false);
    let c = container(&d);
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");

    // The image is this version's.
    let image = s(c, "/image");
    assert!(image.ends_with(&format!(":{VERSION}")), "{image}");

    // Probes on the named port, on /-/healthy and /-/ready.
    let port = &c["ports"][0];
    assert_eq!(port["containerPort"], 9878);
    let name = s(port, "/name");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], name);
    }
    for key in ["/requests/cpu", "/requests/memory", "/limits/memory"] {
        assert!(
            c["resources"].pointer(key).is_some(),
            "resources{key} missing"
        );
    }

    // The args parse, and listen on the container port.
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let cli = parses_as_flags(&args).unwrap();
    assert!(cli.listen_address.ends_with(":9878"));

    // Every path the environment names sits on a volume: the root is read-only.
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| s(m, "/mountPath"))
        .collect();
    for env in c["env"].as_array().unwrap() {
        let value = s(env, "/value");
        if value.starts_with('/') {
            assert!(
                mounts.iter().any(|m| value.starts_with(&format!("{m}/"))),
                "{value} is not on a mounted volume"
            );
        }
    }
}

#[test]
fn kubernetes_environment_is_a_valid_configuration() {
    let d = one("deployment.yaml", "Deployment");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "from-the-secret").unwrap();
    let env: Vec<(String, String)> = container(&d)["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (name, value) = (s(e, "/name"), s(e, "/value"));
            let value = if name == "GRIDPANE_API_TOKEN_FILE" {
                token.display().to_string()
            } else {
                value.to_string()
            };
            (name.to_string(), value)
        })
        .collect();
    let loaded = config::load(&Sources { file: None, env }).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.accounts[0].name, config::DEFAULT_ACCOUNT);
    assert_eq!(
        loaded.state_file.as_deref(),
        Some(Path::new("/var/lib/gridpane-backup-exporter/state.json"))
    );
    // The token file lives in the Secret volume, under its key.
    let secret = one("secret.example.yaml", "Secret");
    let key = secret["stringData"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap();
    let env_path = container(&d)["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "GRIDPANE_API_TOKEN_FILE")
        .map(|e| s(e, "/value").to_string())
        .unwrap();
    let volumes = d["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
    let secret_volume = volumes
        .iter()
        .find(|v| v["secret"]["secretName"] == secret["metadata"]["name"])
        .expect("a volume of the token Secret");
    let mount = container(&d)["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == secret_volume["name"])
        .unwrap();
    assert_eq!(env_path, format!("{}/{key}", s(mount, "/mountPath")));
}

#[test]
fn kubernetes_service_and_servicemonitor_reach_the_pods_port() {
    let d = one("deployment.yaml", "Deployment");
    let pod_labels = d["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    let svc = one("service.yaml", "Service");
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(pod_labels.get(k), Some(v), "Service selector {k}");
    }
    for (k, v) in d["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(pod_labels.get(k), Some(v), "Deployment selector {k}");
    }
    let port_name = s(&container(&d)["ports"][0], "/name");
    let svc_port = &svc["spec"]["ports"][0];
    assert_eq!(svc_port["targetPort"], port_name);

    let sm = one("servicemonitor.yaml", "ServiceMonitor");
    let svc_labels = svc["metadata"]["labels"].as_object().unwrap();
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(svc_labels.get(k), Some(v), "ServiceMonitor selector {k}");
    }
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], svc_port["name"]);
    assert_eq!(endpoint["path"], "/metrics");

    // The kustomization lists every manifest but the Secret example.
    let k = yaml(
        &read("deploy/kubernetes/kustomization.yaml"),
        "kustomization",
    );
    let listed: Vec<&str> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let mut on_disk: Vec<String> = files_in("deploy/kubernetes", ".yaml")
        .iter()
        .map(|p| file_name(p))
        .filter(|n| n != "kustomization.yaml" && n != "secret.example.yaml")
        .collect();
    on_disk.sort();
    let mut listed_sorted: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
    listed_sorted.sort();
    assert_eq!(listed_sorted, on_disk);

    // Its image override names the Deployment's image, at this version.
    let image = s(container(&d), "/image");
    let override_ = &k["images"][0];
    assert_eq!(
        Some(s(override_, "/name")),
        image.split(':').next(),
        "kustomization images[0] does not name the Deployment's image"
    );
    assert_eq!(s(override_, "/newTag"), VERSION);
}

#[test]
fn kubernetes_kustomization_renders_with_kubectl() {
    if !optional_tool("kubectl") {
        return;
    }
    if std::env::var("UPDATE_GENERATED").as_deref() == Ok("1") {
        skipped("kubectl kustomize: generated files are being rewritten");
        return;
    }
    let (ok, out) = run(Command::new("kubectl")
        .args(["kustomize", "deploy/kubernetes"])
        .current_dir(repo()));
    assert!(ok, "kubectl kustomize:\n{out}");
    let kinds: Vec<String> = yaml_docs(&out, "kustomize output")
        .iter()
        .map(|d| {
            assert_eq!(d["metadata"]["namespace"], "monitoring");
            s(d, "/kind").to_string()
        })
        .collect();
    for kind in [
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
}

// ----------------------------------------------- generated from sources

const GENERATED_HEADER: &str = "by tests/it/deploy.rs: do not edit.\n\
    # Regenerate with: UPDATE_GENERATED=1 cargo test --test it deploy::\n";

/// The PrometheusRule documents for every alerts/*.rules.yml: each file's
/// `groups:` and all that follows, indented under `spec:`, comments kept.
fn render_prometheus_rules() -> String {
    let mut docs = Vec::new();
    for path in files_in("alerts", ".rules.yml") {
        let name = file_name(&path);
        let stem = name.trim_end_matches(".rules.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text
            .lines()
            .position(|l| l.starts_with("groups:"))
            .unwrap_or_else(|| panic!("{name}: no top-level groups:"));
        let mut doc = format!(
            "# Generated from alerts/{name} {GENERATED_HEADER}\
             # kube-prometheus-stack selects rules by its release label unless\n\
             # ruleSelectorNilUsesHelmValues=false: add `release: <name>` if yours does.\n\
             apiVersion: monitoring.coreos.com/v1\n\
             kind: PrometheusRule\n\
             metadata:\n  name: {stem}\n  labels:\n    app.kubernetes.io/name: gridpane-backup-exporter\n\
             spec:\n"
        );
        for line in text.lines().skip(start) {
            assert!(line.trim_end() != "---", "{name}: one document only");
            if line.trim().is_empty() {
                doc.push('\n');
            } else {
                doc.push_str("  ");
                doc.push_str(line);
                doc.push('\n');
            }
        }
        docs.push(doc);
    }
    docs.join("---\n")
}

/// One ConfigMap per dashboards/*.json for Grafana's dashboard sidecar, the
/// JSON carried as a literal block, byte for byte.
fn render_dashboard_configmaps() -> String {
    let mut docs = Vec::new();
    for path in files_in("dashboards", ".json") {
        let name = file_name(&path);
        let stem = name.trim_end_matches(".json");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.starts_with(char::is_whitespace) && !text.contains('\r'),
            "{name}: starts with whitespace or has CR line ends"
        );
        let chomp = if !text.ends_with('\n') {
            "-"
        } else if text.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        let mut doc = format!(
            "# Generated from dashboards/{name} {GENERATED_HEADER}\
             # Grafana's dashboard sidecar (kube-prometheus-stack) loads ConfigMaps\n\
             # labelled grafana_dashboard: \"1\", into the folder of grafana_folder.\n\
             apiVersion: v1\n\
             kind: ConfigMap\n\
             metadata:\n  name: gridpane-dashboard-{stem}\n  labels:\n    app.kubernetes.io/name: gridpane-backup-exporter\n    grafana_dashboard: \"1\"\n  annotations:\n    grafana_folder: GridPane\n\
             data:\n  {name}: |{chomp}\n"
        );
        for line in text.lines() {
            if !line.is_empty() {
                doc.push_str("    ");
                doc.push_str(line);
            }
            doc.push('\n');
        }
        docs.push(doc);
    }
    docs.join("---\n")
}

/// Asserts that the committed file is what the sources render to; with
/// UPDATE_GENERATED=1 rewrites it instead.
fn check_generated(rel: &str, expected: &str) {
    let path = repo().join(rel);
    if std::env::var("UPDATE_GENERATED").as_deref() == Ok("1") {
        std::fs::write(&path, expected).unwrap();
        eprintln!("rewrote {rel}");
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .map(|i| i + 1)
            .unwrap_or(actual.lines().count().min(expected.lines().count()) + 1);
        panic!(
            "{rel} is out of date with its sources (first difference at line {line}): \
             run UPDATE_GENERATED=1 cargo test --test it deploy:: and commit the result"
        );
    }
}

#[test]
fn prometheusrule_is_generated_from_the_alert_rules_and_carries_the_same_groups() {
    let sources = files_in("alerts", ".rules.yml");
    assert!(!sources.is_empty(), "no alerts/*.rules.yml");
    check_generated(RULES_GENERATED, &render_prometheus_rules());

    // Independently of the rendering: parsed, the groups are the same.
    let docs = k8s("prometheusrule.yaml");
    assert_eq!(docs.len(), sources.len());
    for (doc, src) in docs.iter().zip(&sources) {
        assert_eq!(doc["apiVersion"], "monitoring.coreos.com/v1");
        assert_eq!(doc["kind"], "PrometheusRule");
        let source = yaml(&std::fs::read_to_string(src).unwrap(), &file_name(src));
        let groups = &source["groups"];
        assert!(groups.as_array().is_some_and(|g| !g.is_empty()));
        assert_eq!(&doc["spec"]["groups"], groups, "{}", file_name(src));
        assert_eq!(doc["spec"].as_object().unwrap().len(), 1);
    }
}

#[test]
fn dashboard_configmaps_are_generated_from_the_dashboards_byte_for_byte() {
    let sources = files_in("dashboards", ".json");
    assert!(!sources.is_empty(), "no dashboards/*.json");
    check_generated(DASHBOARDS_GENERATED, &render_dashboard_configmaps());

    let text = read(DASHBOARDS_GENERATED);
    let docs = yaml_docs(&text, "dashboards.yaml");
    assert_eq!(docs.len(), sources.len());
    let mut names = BTreeMap::new();
    for (doc, src) in docs.iter().zip(&sources) {
        assert_eq!(doc["kind"], "ConfigMap");
        assert_eq!(doc["metadata"]["labels"]["grafana_dashboard"], "1");
        let data = doc["data"].as_object().unwrap();
        assert_eq!(data.len(), 1);
        let source = std::fs::read_to_string(src).unwrap();
        let carried = data[&file_name(src)].as_str().unwrap();
        assert!(carried == source, "{}: content differs", file_name(src));
        let (a, b): (Value, Value) = (
            serde_json::from_str(carried).unwrap(),
            serde_json::from_str(&source).unwrap(),
        );
        assert_eq!(a, b);
        assert!(
            names
                .insert(s(doc, "/metadata/name").to_string(), ())
                .is_none()
        );
    }
    // kubectl's client-side apply keeps a copy in an annotation of at most
    // 256 KiB: each ConfigMap must fit.
    for part in text.split("\n---\n") {
        assert!(
            part.len() < 256 * 1024,
            "a dashboard ConfigMap is too large"
        );
    }
}

// ---------------------------------------------------------------- module graph

const CYCLE_CHECK: &str = "scripts/check-module-cycles.py";

#[test]
fn the_library_modules_import_one_another_without_a_cycle() {
    if !required_tool("python3", "python3") {
        return;
    }
    let (ok, out) = run(Command::new("python3").arg(repo().join(CYCLE_CHECK)));
    assert!(ok, "{CYCLE_CHECK} found import cycles:\n{out}");
    assert!(out.contains("no import cycle"), "{out}");
}

#[test]
fn the_cycle_check_names_a_cycle_through_a_reexport_and_ignores_comments_and_containment() {
    if !required_tool("python3", "python3") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = src.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n");
    // a -> b::inner through b's re-export, b::inner -> a: a cycle.
    write(
        "a.rs",
        "use crate::b::Thing;\nuse crate::c::C;\npub struct A;\n",
    );
    // b and its part b::inner use each other: containment, not a cycle.
    write(
        "b/mod.rs",
        "mod inner;\npub use inner::Thing;\npub struct Part;\nfn f() { inner::g() }\n",
    );
    write(
        "b/inner.rs",
        "use super::Part;\npub struct Thing(pub crate::a::A);\nfn f() { super::super::b::inner::g() }\npub fn g() {}\n",
    );
    // a uses c; c names a in comments and in text only: no cycle.
    write(
        "c.rs",
        "//! See [`crate::a::A`].\n/* crate::a::A */\npub struct C;\nfn f() -> &'static str { \"see crate::a::A\" }\n",
    );
    let (ok, out) = run(Command::new("python3")
        .arg(repo().join(CYCLE_CHECK))
        .arg(src.path()));
    assert!(!ok, "{out}");
    assert!(out.contains("cycle: a -> b::inner -> a"), "{out}");
    assert!(out.contains("1 import cycle(s)"), "{out}");
    assert!(!out.contains("c ->"), "{out}");
}
