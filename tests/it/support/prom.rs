//! Helpers shared by the `alerts`, `dashboards` and `e2e_prometheus`
//! suites: finding and starting the real servers, small parsers for the rule
//! file, PromQL selectors and the exposition format.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const RULES: &str = "alerts/gridpane-backups.rules.yml";
pub const RULE_TESTS_DIR: &str = "alerts/tests";
pub const RUNBOOK: &str = "docs/runbook.md";
pub const DASHBOARDS_DIR: &str = "dashboards";

/// A file of the crate, by path relative to its root.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn read_repo_file(rel: &str) -> String {
    let p = repo_path(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

// ---------------------------------------------------------------------------
// External tools
// ---------------------------------------------------------------------------

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The first of `names` found on PATH (or given as an absolute path).
///
/// When none is found: under `CI=true` the test fails; elsewhere it prints a
/// loud SKIPPED line and the caller returns.
pub fn require_tool(names: &[&str], why: &str) -> Option<PathBuf> {
    for name in names {
        let candidate = Path::new(name);
        if candidate.is_absolute() && candidate.is_file() {
            return Some(candidate.to_path_buf());
        }
        if let Some(paths) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&paths) {
                let p = dir.join(name);
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    let msg = format!(
        "none of {names:?} found on PATH; needed {why}. \
         Install the Debian packages `prometheus` and `prometheus-alertmanager`."
    );
    if in_ci() {
        panic!("CI=true and {msg}");
    }
    // Written to the stderr handle directly, which the test harness does not
    // capture, so the skip shows in a plain `cargo test` run.
    use std::io::Write;
    let bar = "=".repeat(72);
    let _ = writeln!(std::io::stderr(), "\n{bar}\nSKIPPED: {msg}\n{bar}\n");
    None
}

pub fn promtool() -> Option<PathBuf> {
    require_tool(&["promtool"], "to check and unit-test the alert rules")
}

pub fn prometheus() -> Option<PathBuf> {
    require_tool(&["prometheus"], "to run the end-to-end test")
}

pub fn alertmanager() -> Option<PathBuf> {
    require_tool(
        &["prometheus-alertmanager", "alertmanager"],
        "to run the end-to-end test",
    )
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A child process that is killed when dropped. Its stdout and stderr go to
/// a log file, shown when the process dies early.
pub struct Server {
    pub name: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    child: Child,
    log: PathBuf,
}

impl Server {
    pub fn spawn(name: &str, program: &Path, args: &[String], addr: String, dir: &Path) -> Server {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
        Server {
            name: name.to_owned(),
            addr,
            child,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Panics with the log if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early with {status}; last log lines:\n{}",
                self.name,
                self.log_tail()
            );
        }
    }

    /// Polls `path` until it answers 200, or panics after `timeout`.
    pub async fn wait_ready(&mut self, path: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let url = self.url(path);
        loop {
            self.assert_running();
            if let Ok((200, _)) = get(&url).await {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} not ready at {url} after {timeout:?}; last log lines:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub const EXPORTER_BIN: &str = env!("CARGO_BIN_EXE_gridpane-backup-exporter");

/// A real Prometheus (`program`) run in `dir` with the `prometheus.yml`
/// already written there, on a free port, ready; with its base URL.
pub async fn start_prometheus(program: &Path, dir: &Path) -> (Server, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = Server::spawn(
        "prometheus",
        program,
        &[
            "--config.file=prometheus.yml".into(),
            "--storage.tsdb.path=prom-data".into(),
            format!("--web.listen-address={addr}"),
        ],
        addr.clone(),
        dir,
    );
    server.wait_ready("/-/ready", Duration::from_secs(30)).await;
    (server, format!("http://{addr}"))
}

/// The exporter with its built-in demo fleet, ready (GET /-/ready == 200).
pub async fn start_demo_exporter(dir: &Path) -> Server {
    let addr = format!("127.0.0.1:{}", free_port());
    let args = vec![
        "--demo".to_owned(),
        "--web.listen-address".to_owned(),
        addr.clone(),
        "--log.level".to_owned(),
        "warn".to_owned(),
    ];
    let mut s = Server::spawn("exporter", Path::new(EXPORTER_BIN), &args, addr, dir);
    s.wait_ready("/-/ready", Duration::from_secs(30)).await;
    // The demo runs the per-site detail too; wait for its first site so
    // every family the demo emits is there.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, text)) = get(&s.url("/metrics")).await {
            // And the first listing of its bucket.
            if text.contains("\ngridpane_site_detail_age_seconds{")
                && text.contains("\ngridpane_remote_copy_newest_timestamp_seconds{")
            {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo's per-site detail or bucket listing never arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

pub async fn get(url: &str) -> Result<(u16, String), reqwest::Error> {
    let resp = client().get(url).send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

/// `GET url` that must answer 200; returns the body.
pub async fn get_ok(url: &str) -> String {
    let (status, body) = get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(status, 200, "GET {url} answered {status}: {body}");
    body
}

/// `GET url?params` decoded as JSON; any status.
pub async fn get_json(base: &str, params: &[(&str, &str)]) -> serde_json::Value {
    let url = url::Url::parse_with_params(base, params).expect("url");
    let resp = client()
        .get(url.as_str())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = resp.bytes().await.expect("body");
    serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "GET {url}: not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    })
}

// ---------------------------------------------------------------------------
// The rule file
// ---------------------------------------------------------------------------

/// One rule of a Prometheus rule file, as far as these tests need it.
#[derive(Debug, Default, Clone)]
pub struct Rule {
    pub group: String,
    /// `alert:` or `record:` name.
    pub name: String,
    pub is_alert: bool,
    pub expr: String,
    pub for_: Option<String>,
    pub keep_firing_for: Option<String>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

impl Rule {
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn annotation(&self, k: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Reads a scalar that starts after `key:` on `lines[*i]`: plain, quoted,
/// `|` literal or `>-` folded block. Advances `*i` past it.
fn read_scalar(lines: &[&str], i: &mut usize, rest: &str) -> String {
    let key_indent = indent_of(lines[*i]);
    let rest = rest.trim();
    *i += 1;
    if rest == "|" || rest == "|-" || rest == ">" || rest == ">-" {
        let mut block = Vec::new();
        while *i < lines.len() {
            let l = lines[*i];
            if !l.trim().is_empty() && indent_of(l) <= key_indent {
                break;
            }
            block.push(l.trim());
            *i += 1;
        }
        while block.last().is_some_and(|l| l.is_empty()) {
            block.pop();
        }
        if rest.starts_with('|') {
            block.join("\n")
        } else {
            block.join(" ")
        }
    } else if let Some(q) = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        q.replace("\\\"", "\"").replace("\\\\", "\\")
    } else if let Some(q) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        q.replace("''", "'")
    } else {
        rest.to_owned()
    }
}

/// Parses the block-style YAML this project's rule file is written in
/// (groups → rules → alert/record, expr, for, keep_firing_for, labels,
/// annotations). tests/it/alerts.rs checks that it finds as many rules as
/// `promtool check rules` does.
pub fn parse_rules(text: &str) -> Vec<Rule> {
    let lines: Vec<&str> = text.lines().collect();
    let mut rules: Vec<Rule> = Vec::new();
    let mut group = String::new();
    let mut section: Option<(&str, usize)> = None; // ("labels"|"annotations", indent)
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let ind = indent_of(line);
        if let Some((_, sind)) = section {
            if ind <= sind {
                section = None;
            }
        }
        let item = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let Some((key, rest)) = item.split_once(':') else {
            i += 1;
            continue;
        };
        let key = key.trim();
        if let Some((kind, _)) = section {
            let value = read_scalar(&lines, &mut i, rest);
            let r = rules.last_mut().expect("labels outside a rule");
            if kind == "labels" {
                r.labels.push((key.to_owned(), value));
            } else {
                r.annotations.push((key.to_owned(), value));
            }
            continue;
        }
        match key {
            "name" if trimmed.starts_with("- ") => {
                group = rest.trim().to_owned();
                i += 1;
            }
            "alert" | "record" => {
                rules.push(Rule {
                    group: group.clone(),
                    name: rest.trim().to_owned(),
                    is_alert: key == "alert",
                    ..Rule::default()
                });
                i += 1;
            }
            "expr" | "for" | "keep_firing_for" => {
                let value = read_scalar(&lines, &mut i, rest);
                let r = rules.last_mut().expect("expr outside a rule");
                match key {
                    "expr" => r.expr = value,
                    "for" => r.for_ = Some(value),
                    _ => r.keep_firing_for = Some(value),
                }
            }
            "labels" | "annotations" => {
                section = Some((
                    if key == "labels" {
                        "labels"
                    } else {
                        "annotations"
                    },
                    ind,
                ));
                i += 1;
            }
            _ => i += 1,
        }
    }
    rules
}

/// The rule file's alerting rules.
pub fn alert_rules() -> Vec<Rule> {
    parse_rules(&read_repo_file(RULES))
        .into_iter()
        .filter(|r| r.is_alert)
        .collect()
}

/// Rewrites every `for:` to `for_` and every `keep_firing_for:` to `keep`, so
/// that a real Prometheus fires the alerts within seconds. Nothing else in
/// the file changes.
pub fn shorten_durations(rules_yaml: &str, for_: &str, keep: &str) -> String {
    rules_yaml
        .lines()
        .map(|l| {
            let t = l.trim_start();
            let ind = &l[..l.len() - t.len()];
            if t.starts_with("for:") {
                format!("{ind}for: {for_}")
            } else if t.starts_with("keep_firing_for:") {
                format!("{ind}keep_firing_for: {keep}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

// ---------------------------------------------------------------------------
// PromQL
// ---------------------------------------------------------------------------

/// A vector selector found in a PromQL expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub metric: String,
    /// (label, operator, value) with the value unquoted.
    pub matchers: Vec<(String, String, String)>,
    /// The range, if the selector is followed by `[...]`.
    pub range: Option<String>,
}

impl Selector {
    pub fn has_matcher(&self, label: &str, op: &str, value: &str) -> bool {
        self.matchers
            .iter()
            .any(|(l, o, v)| l == label && o == op && v == value)
    }
}

const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
];

/// Aggregation operators, which may be followed by `by (...)` before their `(`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Reads a quoted string starting at `chars[*i]` (a quote); returns its
/// unescaped content.
fn read_string(chars: &[char], i: &mut usize) -> String {
    let quote = chars[*i];
    *i += 1;
    let mut s = String::new();
    while *i < chars.len() && chars[*i] != quote {
        if chars[*i] == '\\' && *i + 1 < chars.len() {
            *i += 1;
        }
        s.push(chars[*i]);
        *i += 1;
    }
    *i += 1;
    s
}

fn skip_ws(chars: &[char], i: &mut usize) {
    while *i < chars.len() && chars[*i].is_whitespace() {
        *i += 1;
    }
}

fn parse_matchers(chars: &[char], i: &mut usize) -> Vec<(String, String, String)> {
    // chars[*i] == '{'
    *i += 1;
    let mut out = Vec::new();
    loop {
        skip_ws(chars, i);
        if *i >= chars.len() || chars[*i] == '}' {
            *i += 1;
            return out;
        }
        if chars[*i] == ',' {
            *i += 1;
            continue;
        }
        let start = *i;
        while *i < chars.len() && is_ident_char(chars[*i]) {
            *i += 1;
        }
        let label: String = chars[start..*i].iter().collect();
        skip_ws(chars, i);
        let op_start = *i;
        while *i < chars.len() && "=!~".contains(chars[*i]) {
            *i += 1;
        }
        let op: String = chars[op_start..*i].iter().collect();
        skip_ws(chars, i);
        let value =
            if *i < chars.len() && (chars[*i] == '"' || chars[*i] == '\'' || chars[*i] == '`') {
                read_string(chars, i)
            } else {
                String::new()
            };
        assert!(
            !label.is_empty() && !op.is_empty(),
            "cannot parse label matchers near {:?}",
            chars[start..].iter().take(40).collect::<String>()
        );
        out.push((label, op, value));
    }
}

/// Every vector selector of a PromQL expression (Grafana variables such as
/// `$__rate_interval` are allowed inside ranges). A small scanner, not a full
/// parser: it knows functions and aggregations by the `(` that follows them,
/// and skips label lists after by/without/on/ignoring/group_left/group_right.
pub fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            read_string(&chars, &mut i);
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '$' {
            // A Grafana variable outside a selector, e.g. `$min_retention_days`.
            i += 1;
            while i < chars.len() && (is_ident_char(chars[i]) || "{}".contains(chars[i])) {
                i += 1;
            }
            continue;
        }
        if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '{' {
            // A selector without a metric name.
            let matchers = parse_matchers(&chars, &mut i);
            out.push(Selector {
                metric: String::new(),
                matchers,
                range: None,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // Numbers, including 1e3, 0x1f and durations like 5m.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            let mut j = i;
            skip_ws(&chars, &mut j);
            let next = chars.get(j).copied();
            let lower = ident.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if next == Some('(') {
                    while j < chars.len() && chars[j] != ')' {
                        j += 1;
                    }
                    i = j + 1;
                }
                continue;
            }
            if KEYWORDS.contains(&lower.as_str())
                || AGGREGATIONS.contains(&lower.as_str())
                || ["inf", "nan"].contains(&lower.as_str())
                || next == Some('(')
            {
                continue;
            }
            let mut matchers = Vec::new();
            if next == Some('{') {
                i = j;
                matchers = parse_matchers(&chars, &mut i);
            }
            let mut k = i;
            skip_ws(&chars, &mut k);
            let range = if chars.get(k) == Some(&'[') {
                let rs = k + 1;
                while k < chars.len() && chars[k] != ']' {
                    k += 1;
                }
                let r: String = chars[rs..k].iter().collect();
                i = k + 1;
                Some(r)
            } else {
                None
            };
            out.push(Selector {
                metric: ident,
                matchers,
                range,
            });
            continue;
        }
        i += 1;
    }
    out
}

/// Names of the range functions whose range argument must be `$__rate_interval`
/// in a dashboard.
pub const RATE_FUNCTIONS: &[&str] = &["rate", "irate", "increase"];

/// For every `rate(` / `irate(` / `increase(` in `expr`, the range of the
/// selector it wraps.
pub fn rate_ranges(expr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in RATE_FUNCTIONS {
        let pat = format!("{f}(");
        let mut from = 0;
        while let Some(pos) = expr[from..].find(&pat) {
            let at = from + pos;
            from = at + pat.len();
            let before = expr[..at].chars().last();
            if before.is_some_and(is_ident_char) {
                continue; // e.g. `irate(` when looking for `rate(`
            }
            let inner = &expr[from..];
            if let (Some(open), Some(close)) = (inner.find('['), inner.find(']')) {
                if open < close {
                    out.push((f.to_string(), inner[open + 1..close].to_owned()));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Exposition format
// ---------------------------------------------------------------------------

/// Metric families declared by `# TYPE` lines, and the names of all samples.
pub fn exposition_names(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut families = BTreeSet::new();
    let mut samples = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.split_whitespace().next() {
                families.insert(name.to_owned());
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            samples.insert(line[..end].to_owned());
        }
    }
    (families, samples)
}

/// Label names seen on each sample name.
pub fn exposition_labels(text: &str) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = out.entry(line[..end].to_owned()).or_default();
        if line[end..].starts_with('{') {
            let chars: Vec<char> = line[end..].chars().collect();
            let mut i = 0;
            for (name, _, _) in parse_matchers(&chars, &mut i) {
                labels.insert(name);
            }
        }
    }
    out
}

/// The family a sample name belongs to (`x_bucket` → `x` for histograms).
pub fn family_of<'a>(name: &'a str, families: &BTreeSet<String>) -> Option<&'a str> {
    if families.contains(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count", "_created", "_total"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if families.contains(base) {
                return Some(base);
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Dashboards
// ---------------------------------------------------------------------------

/// Every dashboard JSON file, by file name.
pub fn dashboards() -> Vec<(String, serde_json::Value)> {
    let dir = repo_path(DASHBOARDS_DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read dashboard");
            let v = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect()
}

/// All panels of a dashboard, including those nested in collapsed rows.
pub fn panels(dashboard: &serde_json::Value) -> Vec<&serde_json::Value> {
    fn walk<'a>(list: &'a serde_json::Value, out: &mut Vec<&'a serde_json::Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            if let Some(nested) = p.get("panels") {
                walk(nested, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// A panel's query expressions, with their refId.
pub fn panel_queries(panel: &serde_json::Value) -> Vec<(String, String)> {
    panel["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let expr = t["expr"].as_str()?;
            Some((
                t["refId"].as_str().unwrap_or("?").to_owned(),
                expr.to_owned(),
            ))
        })
        .collect()
}

/// Replaces Grafana variables in a query the way Grafana would for one
/// selection: `vars` maps a variable name to its value, and the built-in
/// interval variables get fixed values.
pub fn substitute(expr: &str, vars: &[(&str, &str)]) -> String {
    let mut all: Vec<(String, String)> = vec![
        ("__rate_interval".into(), "1m".into()),
        ("__interval".into(), "15s".into()),
        ("__range".into(), "5m".into()),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    // Longest names first, so `$__range` does not eat `$__range_s`.
    all.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut out = expr.to_owned();
    for (k, v) in &all {
        out = out.replace(&format!("${{{k}}}"), v);
        out = out.replace(&format!("${k}"), v);
    }
    out
}

/// A real Alertmanager (`program`) run in `dir` with the `alertmanager.yml`
/// already written there, on a free port, without clustering, ready.
pub async fn start_alertmanager(program: &Path, dir: &Path) -> Server {
    let addr = format!("127.0.0.1:{}", free_port());
    std::fs::create_dir_all(dir.join("am-data")).expect("create am-data");
    let mut am = Server::spawn(
        "alertmanager",
        program,
        &[
            "--config.file=alertmanager.yml".into(),
            "--storage.path=am-data".into(),
            format!("--web.listen-address={addr}"),
            "--cluster.listen-address=".into(),
        ],
        addr.clone(),
        dir,
    );
    am.wait_ready("/-/ready", Duration::from_secs(20)).await;
    am
}
