//! The status page at `/`: which sites are not protected, rendered on the
//! server from the same snapshots as the JSON API. Filtering, sorting and
//! paging are query parameters, so the page works without JavaScript and a
//! view can be bookmarked; `static/status.js` only enhances it.
//!
//! Every string from GridPane or the request goes through [`esc`].

use chrono::{DateTime, Utc};
use std::cmp::Ordering;
use std::fmt::Write as _;

mod policy;

use crate::domain::{BackupsVersion, Frequency, Problem, Schedule, Storage};
use crate::render::api::{
    self, AccountView, Counts, Health, IntegrationRow, IntegrationStatus, ServerFilter, SiteRow,
    StorageRow, View,
};
use crate::render::metrics::{REVISION, VERSION};

pub const DEFAULT_PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 1000;
/// Longer searches are refused.
pub const MAX_SEARCH_CHARS: usize = 200;
/// How often the page reloads itself while it waits for a first poll.
pub const WAITING_REFRESH_SECONDS: u32 = 5;

const PER_PAGE_CHOICES: [usize; 5] = [25, 50, 100, 250, 1000];

/// The page's policy: no inline script, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'";

/// The page's only script, served at `static/status.js`.
pub const SCRIPT: &str = include_str!("status_page/status.js");
const STYLE: &str = include_str!("status_page/status.css");

// ---------------------------------------------------------------------------
// Query parameters.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Status,
    Url,
    Server,
    Account,
    LocalFrequency,
    Local,
    RemoteFrequency,
    Remote,
    Integration,
    Retention,
}

impl SortKey {
    /// In the order of the table's columns.
    pub const ALL: [SortKey; 10] = [
        SortKey::Status,
        SortKey::Url,
        SortKey::Server,
        SortKey::Account,
        SortKey::LocalFrequency,
        SortKey::Local,
        SortKey::RemoteFrequency,
        SortKey::Remote,
        SortKey::Integration,
        SortKey::Retention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Status => "status",
            SortKey::Url => "url",
            SortKey::Server => "server",
            SortKey::Account => "account",
            SortKey::LocalFrequency => "local_frequency",
            SortKey::Local => "local",
            SortKey::RemoteFrequency => "remote_frequency",
            SortKey::Remote => "remote",
            SortKey::Integration => "integration",
            SortKey::Retention => "retention",
        }
    }

    fn label(self) -> &'static str {
        match self {
            SortKey::Status => "Status",
            SortKey::Url => "Site",
            SortKey::Server => "Server",
            SortKey::Account => "Account",
            SortKey::LocalFrequency => "Local backups",
            SortKey::Local => "Local next run",
            SortKey::RemoteFrequency => "Remote backups",
            SortKey::Remote => "Remote next run",
            SortKey::Integration => "Integration",
            SortKey::Retention => "Retention",
        }
    }

    fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }

    fn apply(self, o: Ordering) -> Ordering {
        match self {
            Order::Asc => o,
            Order::Desc => o.reverse(),
        }
    }
}

/// The page's query parameters, every one optional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageQuery {
    pub account: Option<String>,
    /// A server id or label.
    pub server: Option<ServerFilter>,
    /// Only sites with a problem or a warning.
    pub problems_only: bool,
    /// Only sites with this status.
    pub status: Option<Health>,
    pub problem: Option<Problem>,
    /// The storage `frequency` and `enabled` look at; both when `None`.
    pub storage: Option<Storage>,
    /// Only sites with a schedule of this frequency.
    pub frequency: Option<Frequency>,
    /// Only sites whose automatic backups are on (`true`) or off.
    pub enabled: Option<bool>,
    /// Only sites whose remote schedule names this integration id.
    pub integration: Option<u64>,
    /// Case-insensitive substring of the site URL.
    pub q: Option<String>,
    pub sort: SortKey,
    pub order: Order,
    pub page: usize,
    pub per_page: usize,
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery {
            account: None,
            server: None,
            problems_only: false,
            status: None,
            problem: None,
            storage: None,
            frequency: None,
            enabled: None,
            integration: None,
            q: None,
            sort: SortKey::Status,
            order: Order::Asc,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

/// A parameter the page could not use: shown on the page, and its default
/// used instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidParam {
    pub parameter: &'static str,
    pub message: String,
}

fn positive(value: &str, max: usize) -> Option<usize> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
}

impl PageQuery {
    /// Parses the query string. Empty values count as absent (that is what
    /// the filter form sends); unknown names are ignored; a bad value is
    /// reported and replaced by its default, so the page still renders.
    pub fn parse(raw: Option<&str>) -> (PageQuery, Vec<InvalidParam>) {
        let mut q = PageQuery::default();
        let mut invalid = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut bad = |parameter: &'static str, message: String| {
            invalid.push(InvalidParam { parameter, message });
        };
        for (name, value) in api::query_pairs(raw) {
            if value.is_empty() {
                continue;
            }
            if seen.contains(&name) {
                if let Some(p) = KNOWN_PARAMS.iter().find(|p| **p == name) {
                    bad(p, "given more than once; the first value is used".into());
                }
                continue;
            }
            seen.push(name.clone());
            if NUMBER_PARAMS.contains(&name.as_str()) && value.contains(char::is_whitespace) {
                if let Some(p) = NUMBER_PARAMS.iter().find(|p| **p == name) {
                    bad(p, format!("not a number: {}", api::SPACE_IN_NUMBER));
                }
                continue;
            }
            let shown = truncate(&value, 60);
            match name.as_str() {
                "account" => q.account = Some(value),
                "server" => q.server = Some(ServerFilter(value)),
                "problems" => match yes_no(&value) {
                    Some(b) => q.problems_only = b,
                    None => bad("problems", format!("\"{shown}\" is not 1 or 0")),
                },
                "enabled" => match yes_no(&value) {
                    Some(b) => q.enabled = Some(b),
                    None => bad("enabled", format!("\"{shown}\" is not on or off")),
                },
                "storage" => match Storage::ALL.into_iter().find(|s| s.as_str() == value) {
                    Some(st) => q.storage = Some(st),
                    None => bad("storage", format!("\"{shown}\" is not local or remote")),
                },
                "frequency" => match FREQUENCIES.into_iter().find(|f| f.as_str() == value) {
                    Some(f) => q.frequency = Some(f),
                    None => bad(
                        "frequency",
                        format!("\"{shown}\" is not hourly, daily, weekly, monthly or unknown"),
                    ),
                },
                "integration" => match positive(&value, usize::MAX) {
                    Some(_) => q.integration = value.parse().ok(),
                    None => bad(
                        "integration",
                        format!("\"{shown}\" is not an integration id"),
                    ),
                },
                "status" => match Health::parse(&value) {
                    Some(h) => q.status = Some(h),
                    None => bad("status", format!("\"{shown}\" is not {}", Health::names())),
                },
                "problem" => match Problem::parse(&value) {
                    Some(p) => q.problem = Some(p),
                    None => bad("problem", format!("\"{shown}\" is not a problem kind")),
                },
                "q" => {
                    if value.chars().count() > MAX_SEARCH_CHARS {
                        bad(
                            "q",
                            format!("the search is longer than {MAX_SEARCH_CHARS} characters"),
                        );
                    } else {
                        q.q = Some(value);
                    }
                }
                "sort" => match SortKey::parse(&value) {
                    Some(k) => q.sort = k,
                    None => bad("sort", format!("\"{shown}\" is not a column")),
                },
                "order" => match value.as_str() {
                    "asc" => q.order = Order::Asc,
                    "desc" => q.order = Order::Desc,
                    _ => bad("order", format!("\"{shown}\" is not asc or desc")),
                },
                "page" => match positive(&value, usize::MAX) {
                    Some(n) => q.page = n,
                    None => bad("page", format!("\"{shown}\" is not a page number")),
                },
                "per_page" => match positive(&value, MAX_PER_PAGE) {
                    Some(n) => q.per_page = n,
                    None => bad(
                        "per_page",
                        format!("\"{shown}\" is not a number from 1 to {MAX_PER_PAGE}"),
                    ),
                },
                _ => {}
            }
        }
        (q, invalid)
    }

    /// Drops an `account` filter naming no configured account.
    pub fn check(&mut self, view: &View, invalid: &mut Vec<InvalidParam>) {
        if let Some(a) = &self.account {
            if view.account(a).is_none() {
                invalid.push(InvalidParam {
                    parameter: "account",
                    message: format!("no account named \"{}\" is configured", truncate(a, 60)),
                });
                self.account = None;
            }
        }
    }

    /// The query string for this view (only parameters that differ from
    /// their default), starting with `?`. Not HTML-escaped.
    pub fn href(&self) -> String {
        let d = PageQuery::default();
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if let Some(a) = &self.account {
            s.append_pair("account", a);
        }
        if let Some(server) = &self.server {
            s.append_pair("server", &server.0);
        }
        if self.problems_only {
            s.append_pair("problems", "1");
        }
        if let Some(h) = self.status {
            s.append_pair("status", h.as_str());
        }
        if let Some(p) = self.problem {
            s.append_pair("problem", p.as_str());
        }
        if let Some(st) = self.storage {
            s.append_pair("storage", st.as_str());
        }
        if let Some(f) = self.frequency {
            s.append_pair("frequency", f.as_str());
        }
        if let Some(on) = self.enabled {
            s.append_pair("enabled", if on { "on" } else { "off" });
        }
        if let Some(id) = self.integration {
            s.append_pair("integration", &id.to_string());
        }
        if let Some(q) = &self.q {
            s.append_pair("q", q);
        }
        if self.sort != d.sort {
            s.append_pair("sort", self.sort.as_str());
        }
        if self.order != d.order {
            s.append_pair("order", self.order.as_str());
        }
        if self.page != d.page {
            s.append_pair("page", &self.page.to_string());
        }
        if self.per_page != d.per_page {
            s.append_pair("per_page", &self.per_page.to_string());
        }
        format!("?{}", s.finish())
    }

    fn with_page(&self, page: usize) -> PageQuery {
        PageQuery {
            page,
            ..self.clone()
        }
    }

    fn is_filtered(&self) -> bool {
        self.account.is_some()
            || self.server.is_some()
            || self.problems_only
            || self.status.is_some()
            || self.problem.is_some()
            || self.frequency.is_some()
            || self.enabled.is_some()
            || self.integration.is_some()
            || self.q.is_some()
    }

    /// The storages `frequency` and `enabled` look at: any of them may match.
    fn storages<'r, 'a>(&self, row: &'r SiteRow<'a>) -> impl Iterator<Item = &'r StorageRow<'a>> {
        [&row.local, &row.remote]
            .into_iter()
            .filter(|s| self.storage.is_none_or(|st| st == s.storage))
    }

    fn keeps(&self, row: &SiteRow<'_>) -> bool {
        self.account.as_deref().is_none_or(|a| a == row.account)
            && self.server.as_ref().is_none_or(|s| s.keeps(row))
            && (!self.problems_only || row.health != Health::Ok)
            && self.status.is_none_or(|h| row.health == h)
            && self.problem.is_none_or(|p| row.problems.contains(&p))
            && self.frequency.is_none_or(|f| {
                self.storages(row)
                    .any(|s| s.schedule().is_some_and(|sch| sch.frequency == f))
            })
            && self
                .enabled
                .is_none_or(|on| self.storages(row).any(|s| s.enabled == on))
            && self
                .integration
                .is_none_or(|id| row.remote.integration.as_ref().is_some_and(|i| i.id == id))
            && self
                .q
                .as_deref()
                .is_none_or(|q| row.site.url.to_lowercase().contains(&q.to_lowercase()))
    }
}

const KNOWN_PARAMS: [&str; 14] = [
    "account",
    "server",
    "problems",
    "status",
    "problem",
    "storage",
    "frequency",
    "enabled",
    "integration",
    "q",
    "sort",
    "order",
    "page",
    "per_page",
];

/// The parameters whose values are whole numbers.
const NUMBER_PARAMS: [&str; 3] = ["integration", "page", "per_page"];

const FREQUENCIES: [Frequency; 5] = [
    Frequency::Hourly,
    Frequency::Daily,
    Frequency::Weekly,
    Frequency::Monthly,
    Frequency::Unknown,
];

/// `1`/`0` and the words forms and people use for them.
fn yes_no(value: &str) -> Option<bool> {
    match value {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

// ---------------------------------------------------------------------------
// Sorting.

/// Compares two optional values with `None` last in either order.
fn cmp_some_first<T: Ord>(a: Option<T>, b: Option<T>, order: Order) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => order.apply(x.cmp(&y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The next run of a storage that will run; `None` when it is off.
fn next_if_on(row: &StorageRow<'_>) -> Option<DateTime<Utc>> {
    row.next_run.filter(|_| row.enabled)
}

/// The shorter retention of the storages that are on; keep-all counts as
/// forever.
fn effective_retention(row: &SiteRow<'_>) -> Option<u64> {
    [&row.local, &row.remote]
        .into_iter()
        .filter(|s| s.enabled)
        .filter_map(|s| s.settings.retain_days)
        .map(|d| if d == 0 { u64::MAX } else { u64::from(d) })
        .min()
}

/// How often a storage's schedule runs (shortest first); `None` without a
/// schedule or with an unknown frequency.
fn frequency_of(row: &StorageRow<'_>) -> Option<u64> {
    row.schedule().and_then(|s| s.frequency.interval_seconds())
}

fn integration_name(row: &SiteRow<'_>) -> Option<String> {
    row.remote.integration.as_ref().map(|i| match i.found {
        Some(found) => found.name.to_lowercase(),
        None => String::new(),
    })
}

pub fn sort_rows(rows: &mut [SiteRow<'_>], key: SortKey, order: Order) {
    rows.sort_by(|a, b| {
        let primary = match key {
            SortKey::Status => order.apply(
                a.health
                    .cmp(&b.health)
                    .then_with(|| b.problems.len().cmp(&a.problems.len())),
            ),
            SortKey::Url => order.apply(a.site.url.to_lowercase().cmp(&b.site.url.to_lowercase())),
            SortKey::Server => cmp_some_first(
                a.server_label.map(str::to_lowercase),
                b.server_label.map(str::to_lowercase),
                order,
            ),
            SortKey::Account => order.apply(a.account.cmp(b.account)),
            SortKey::LocalFrequency => {
                cmp_some_first(frequency_of(&a.local), frequency_of(&b.local), order)
            }
            SortKey::RemoteFrequency => {
                cmp_some_first(frequency_of(&a.remote), frequency_of(&b.remote), order)
            }
            SortKey::Local => cmp_some_first(next_if_on(&a.local), next_if_on(&b.local), order),
            SortKey::Remote => cmp_some_first(next_if_on(&a.remote), next_if_on(&b.remote), order),
            SortKey::Integration => cmp_some_first(integration_name(a), integration_name(b), order),
            SortKey::Retention => {
                cmp_some_first(effective_retention(a), effective_retention(b), order)
            }
        };
        primary
            .then_with(|| a.site.url.to_lowercase().cmp(&b.site.url.to_lowercase()))
            .then_with(|| a.account.cmp(b.account))
            .then_with(|| a.site.id.cmp(&b.site.id))
    });
}

// ---------------------------------------------------------------------------
// Words and times.

/// `2026-11-23 05:00 UTC`
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A duration in the largest two units: `45 s`, `3 min`, `2 h 5 min`, `3 d 4 h`.
pub fn fmt_duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `in 3 h`, `5 min ago`, `just now`.
pub fn fmt_relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    if secs.abs() < 5 {
        "just now".to_string()
    } else if secs > 0 {
        format!("in {}", fmt_duration(secs.unsigned_abs()))
    } else {
        format!("{} ago", fmt_duration(secs.unsigned_abs()))
    }
}

/// A `<time>` element with the absolute time and, after it, the relative one.
fn time_html(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\">{}</time> ({})",
        api::rfc3339(t),
        fmt_time(t),
        fmt_relative(t, now)
    )
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// When in its period a schedule runs: `at 05:00`, `on Sunday at 05:00`,
/// `at :30`.
fn schedule_when(s: &Schedule) -> String {
    let minute = s.minute.unwrap_or(0);
    let at = match s.hour {
        Some(h) => format!("at {h:02}:{minute:02}"),
        None => "at an unknown hour".to_string(),
    };
    match s.frequency {
        Frequency::Hourly => format!("at :{minute:02}"),
        Frequency::Daily => at,
        Frequency::Weekly => match s.day.and_then(|d| WEEKDAYS.get(d as usize)) {
            Some(day) => format!("on {day} {at}"),
            None => format!("{at}, on an unknown day"),
        },
        Frequency::Monthly => match s.day {
            Some(d) => format!("on day {d} {at}"),
            None => format!("{at}, on an unknown day"),
        },
        Frequency::Unknown => String::new(),
    }
}

/// What a prune schedule keeps, as docs/metrics.md words it.
fn prune_words(prune: u32) -> Option<&'static str> {
    match prune {
        0 => Some("keeps daily"),
        1 => Some("daily, then weekly"),
        2 => Some("daily, then monthly"),
        3 => Some("daily, weekly, then monthly"),
        _ => None,
    }
}

/// The server's backup engine: `v2 Duplicacy`, `v1 Borg`.
fn engine_words(v: BackupsVersion) -> Option<&'static str> {
    match v {
        BackupsVersion::V2 => Some("v2 Duplicacy"),
        BackupsVersion::V1 => Some("v1 Borg"),
        BackupsVersion::Unknown => None,
    }
}

fn retention_words(days: Option<u32>) -> String {
    match days {
        None => "unknown".to_string(),
        Some(0) => "keep all".to_string(),
        Some(1) => "1 day".to_string(),
        Some(d) => format!("{d} days"),
    }
}

fn health_badge(h: Health) -> &'static str {
    match h {
        Health::Ok => "<span class=\"badge ok\">OK</span>",
        Health::Warning => "<span class=\"badge warn\">Warning</span>",
        Health::Problem => "<span class=\"badge bad\">Problem</span>",
        Health::Pending => "<span class=\"badge pending\">Checking</span>",
    }
}

// ---------------------------------------------------------------------------
// The page.

/// The page for one query.
pub struct Page {
    pub html: String,
    /// A parameter was unusable: the page says which, and is answered with
    /// 400 Bad Request.
    pub bad_request: bool,
}

/// Renders the page for a raw query string.
pub fn page(
    view: &View,
    raw_query: Option<&str>,
    now: DateTime<Utc>,
    telemetry_path: &str,
) -> Page {
    let (mut query, mut invalid) = PageQuery::parse(raw_query);
    query.check(view, &mut invalid);
    Page {
        bad_request: !invalid.is_empty(),
        html: render(view, &query, &invalid, now, telemetry_path),
    }
}

/// An account that has neither data nor a failed poll yet.
fn waiting(a: &AccountView) -> bool {
    a.snapshot().is_none() && a.state.last_poll.is_none()
}

pub fn render(
    view: &View,
    query: &PageQuery,
    invalid: &[InvalidParam],
    now: DateTime<Utc>,
    telemetry_path: &str,
) -> String {
    let mut rows = view.site_rows(now);
    let totals = Counts::of(&rows);
    let mut out = String::with_capacity(64 * 1024);

    let refresh = if view
        .accounts
        .iter()
        .any(|a| waiting(a) || a.state.sweep.is_some())
    {
        format!("<meta http-equiv=\"refresh\" content=\"{WAITING_REFRESH_SECONDS}\">\n")
    } else {
        String::new()
    };
    let title = if totals.sites_with_problem > 0 {
        format!(
            "{} not protected · GridPane backups",
            totals.sites_with_problem
        )
    } else {
        "GridPane backups".to_string()
    };
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\" data-js=\"off\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"color-scheme\" content=\"light dark\">\n{refresh}\
<title>{title}</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>\n{STYLE}</style>\n\
<script src=\"static/status.js\" defer></script>\n</head>\n<body>"
    );

    // Relative links keep working behind a reverse proxy that adds a path
    // prefix; "./" keeps a colon in the path from reading as a scheme.
    let metrics_href = esc(&format!("./{}", telemetry_path.trim_start_matches('/')));
    let _ = writeln!(
        out,
        "<header class=\"top\"><h1>GridPane backups</h1>\
<p class=\"meta\">gridpane-backup-exporter {VERSION} (revision {}) · \
generated <time datetime=\"{}\">{}</time> · \
<a href=\"{metrics_href}\">Metrics</a> · <a href=\"api/v1/status\">JSON API</a></p></header>\n<main>",
        esc(REVISION),
        api::rfc3339(now),
        esc(&fmt_time(now)),
    );

    if !invalid.is_empty() {
        out.push_str("<div class=\"banner bad\" role=\"alert\" id=\"invalid-params\"><strong>Some filters could not be used:</strong><ul>");
        for p in invalid {
            let _ = write!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(p.parameter),
                esc(&p.message)
            );
        }
        out.push_str(
            "</ul>Their defaults are used instead. <a href=\"?\">Show all sites</a></div>\n",
        );
    }

    render_accounts(&mut out, view, &rows, now);
    let without_data = view
        .accounts
        .iter()
        .filter(|a| a.snapshot().is_none())
        .count();
    render_counts(&mut out, &totals, without_data, view.accounts.len());

    // Schedules.
    out.push_str(
        "<section aria-labelledby=\"schedules-h\"><h2 id=\"schedules-h\">Backup schedules</h2>\n",
    );
    render_filters(&mut out, view, query);
    for a in &view.accounts {
        if query.account.as_deref().is_some_and(|f| f != a.name) {
            continue;
        }
        match a.snapshot() {
            Some(s) if s.sites.is_empty() => {
                let _ = writeln!(
                    out,
                    "<p class=\"empty\" data-empty-account=\"{0}\">Account <strong>{0}</strong> has no sites.</p>",
                    esc(&a.name)
                );
            }
            Some(_) => {}
            None if waiting(a) => {
                let _ = writeln!(
                    out,
                    "<p class=\"empty\">Waiting for the first poll of account <strong>{}</strong>…</p>",
                    esc(&a.name)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "<p class=\"empty\">No data for account <strong>{}</strong>: no poll has succeeded yet.</p>",
                    esc(&a.name)
                );
            }
        }
    }

    let all = rows.len();
    rows.retain(|r| query.keeps(r));
    sort_rows(&mut rows, query.sort, query.order);
    let matched = rows.len();
    let pages = matched.div_ceil(query.per_page).max(1);
    let page = query.page.min(pages);
    let start = (page - 1).saturating_mul(query.per_page).min(matched);
    let end = start.saturating_add(query.per_page).min(matched);
    let shown = rows.get(start..end).unwrap_or(&[]);

    if all > 0 {
        if matched == 0 {
            out.push_str("<p class=\"empty\" id=\"no-match\">No sites match these filters. <a href=\"?\">Show all sites</a></p>\n");
        } else {
            let of = if query.is_filtered() {
                format!(" (filtered from {all})")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "<p class=\"showing\" id=\"showing\">Showing {}–{} of {} site{}{}.</p>",
                start + 1,
                end,
                matched,
                if matched == 1 { "" } else { "s" },
                of
            );
            render_pagination(&mut out, query, page, pages);
            render_site_table(&mut out, shown, query, now);
            render_pagination(&mut out, query, page, pages);
        }
    }
    out.push_str("</section>\n");

    render_integrations(&mut out, view, query);
    policy::render(&mut out, &view.policy, now);

    out.push_str(
        "</main>\n<footer><p>Times are UTC. Every value comes from the last successful poll of each \
account; this page never calls GridPane. The same data as JSON: \
<a href=\"api/v1/sites\">sites</a>, <a href=\"api/v1/schedules\">schedules</a>, \
<a href=\"api/v1/integrations\">integrations</a>.</p></footer>\n</body>\n</html>\n",
    );
    out
}

fn render_accounts(out: &mut String, view: &View, rows: &[SiteRow<'_>], now: DateTime<Utc>) {
    out.push_str(
        "<section aria-labelledby=\"accounts-h\"><h2 id=\"accounts-h\">Accounts</h2>\n\
<div class=\"scroll cardrows\"><table class=\"accounts\"><thead><tr><th scope=\"col\">Account</th>\
<th scope=\"col\">Last poll</th><th scope=\"col\">Data from</th><th scope=\"col\">Next poll</th>\
<th scope=\"col\" class=\"num\">Sites</th><th scope=\"col\" class=\"num\">Not protected</th></tr></thead><tbody>\n",
    );
    let mut banners = String::new();
    for a in &view.accounts {
        let st = &a.state;
        let name = esc(&a.name);
        let last = match &st.last_poll {
            None => "<span class=\"badge neutral\">First poll in progress</span>".to_string(),
            Some(p) => {
                let when = api::from_unix(p.finished_at)
                    .map(|t| format!(" {}", fmt_relative(t, now)))
                    .unwrap_or_default();
                match &p.error {
                    None => format!("<span class=\"badge ok\">OK</span>{when}"),
                    Some(e) => format!(
                        "<span class=\"badge bad\">Failed</span>{when}<div class=\"sub\">{}</div>",
                        esc(&e.reason)
                    ),
                }
            }
        };
        let polling = if st.polling && st.last_poll.is_some() {
            " <span class=\"sub\">(polling now)</span>"
        } else {
            ""
        };
        let data_time = a.snapshot().and_then(|s| api::from_unix(s.fetched_at));
        let data = match data_time {
            Some(t) => time_html(t, now),
            None => "no data yet".to_string(),
        };
        let next = match st.next_poll_at.and_then(api::from_unix) {
            _ if st.polling => "running now".to_string(),
            Some(t) => time_html(t, now),
            None => "—".to_string(),
        };
        let counts = Counts::of(rows.iter().filter(|r| r.account == a.name));
        let (sites, bad) = match a.snapshot() {
            Some(_) => (
                counts.sites.to_string(),
                counts.sites_with_problem.to_string(),
            ),
            None => ("—".to_string(), "—".to_string()),
        };
        let _ = writeln!(
            out,
            "<tr data-account=\"{name}\"><th scope=\"row\">{name}</th><td data-label=\"Last poll\">{last}{polling}</td>\
<td data-label=\"Data from\">{data}</td><td data-label=\"Next poll\">{next}</td>\
<td data-label=\"Sites\" class=\"num\">{sites}</td><td data-label=\"Not protected\" class=\"num\">{bad}</td></tr>"
        );

        if let Some(p) = &st.last_poll {
            if let Some(e) = &p.error {
                let when = api::from_unix(p.finished_at)
                    .map(|t| fmt_relative(t, now))
                    .unwrap_or_else(|| "at an unknown time".to_string());
                let shown = match data_time {
                    Some(t) => format!(
                        "The page shows data from {} ({}).",
                        fmt_time(t),
                        fmt_relative(t, now)
                    ),
                    None => "No poll has succeeded yet, so there is no data for this account."
                        .to_string(),
                };
                let _ = writeln!(
                    banners,
                    "<div class=\"banner bad\" role=\"alert\" data-failed-account=\"{name}\">\
<strong>The last poll of account {name} failed {}</strong>: {} ({}). {}</div>",
                    esc(&when),
                    esc(&e.message),
                    esc(&e.reason),
                    esc(&shown)
                );
            }
        }
        if let Some(sweep) = &st.sweep {
            let sites = sweep
                .sites_total
                .or_else(|| a.snapshot().map(|s| s.sites.len() as u64))
                .unwrap_or(0);
            let pages = match sweep.pages_total {
                Some(total) => format!("{} of {} pages", sweep.pages_read, grouped(total.into())),
                None => format!("{} pages", sweep.pages_read),
            };
            let _ = writeln!(
                banners,
                "<div class=\"banner info\" role=\"status\" data-sweep-account=\"{name}\">Checking {} sites of account {name}\u{2026} \
{pages} read, {} sites not read yet. Their problems that the schedules prove are shown now; \
they are shown as <em>Checking</em>, never OK, until their page is read. This page reloads every {WAITING_REFRESH_SECONDS} s.</div>",
                grouped(sites),
                grouped(sweep.sites_pending as u64),
            );
        }
        if st.last_poll.is_none() && a.snapshot().is_none() {
            let _ = writeln!(
                banners,
                "<div class=\"banner info\" role=\"status\">First poll of account {name} in progress; \
this page reloads every {WAITING_REFRESH_SECONDS} s until it has data.</div>"
            );
        }
    }
    out.push_str("</tbody></table></div>\n");
    out.push_str(&banners);
    out.push_str("</section>\n");
}

/// A count with thousands separated by commas: 7,800.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn render_counts(out: &mut String, totals: &Counts, without_data: usize, accounts: usize) {
    if without_data == accounts {
        // Zeros here would read as "nothing is wrong".
        let _ = write!(
            out,
            "<section aria-labelledby=\"counts-h\" class=\"counts\"><h2 id=\"counts-h\">Summary</h2>\n\
<p class=\"empty nodata\" id=\"no-data\"><strong>No data yet.</strong> No poll has succeeded, so nothing \
is known about any site: neither which are protected nor which are not.</p></section>\n"
        );
        return;
    }
    let scope = match without_data {
        0 => "all accounts".to_string(),
        n => format!(
            "accounts with data only: {n} of {accounts} account{} ha{} no data yet",
            if accounts == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "ve" }
        ),
    };
    let _ = write!(
        out,
        "<section aria-labelledby=\"counts-h\" class=\"counts\"><h2 id=\"counts-h\">Summary <span class=\"sub\" id=\"counts-scope\">{scope}</span></h2>\n\
<ul class=\"cards\">\
<li class=\"card\" id=\"count-sites\"><span class=\"n\">{}</span> sites</li>\
<li class=\"card bad\" id=\"count-problem\"><a href=\"?status=problem\"><span class=\"n\">{}</span> not protected</a></li>\
<li class=\"card warn\" id=\"count-warning\"><a href=\"?status=warning\"><span class=\"n\">{}</span> with a warning</a></li>\
<li class=\"card ok\" id=\"count-ok\"><a href=\"?status=ok\"><span class=\"n\">{}</span> OK</a></li>{}</ul>\n<ul class=\"kinds\">",
        totals.sites,
        totals.sites_with_problem,
        totals.sites_with_warning,
        totals.sites_ok,
        match totals.sites_pending {
            0 => String::new(),
            n => format!(
                "<li class=\"card\" id=\"count-pending\"><a href=\"?status=pending\"><span class=\"n\">{n}</span> checking</a></li>"
            ),
        }
    );
    for p in Problem::ALL {
        let n = totals.problem(p);
        let class = match (n, p.is_warning()) {
            (0, _) => "zero",
            (_, true) => "warn",
            (_, false) => "bad",
        };
        let _ = write!(
            out,
            "<li class=\"{class}\" data-problem=\"{code}\"><a href=\"?problem={code}\"><span class=\"n\">{n}</span> {text}</a></li>",
            code = p.as_str(),
            text = esc(p.describe()),
        );
    }
    out.push_str("</ul></section>\n");
}

fn option(out: &mut String, value: &str, label: &str, selected: bool) {
    let _ = write!(
        out,
        "<option value=\"{}\"{}>{}</option>",
        esc(value),
        if selected { " selected" } else { "" },
        esc(label)
    );
}

fn render_filters(out: &mut String, view: &View, q: &PageQuery) {
    // The script leaves the defaults out of the address; it reads them here
    // rather than repeating them.
    let defaults = PageQuery::default();
    let _ = write!(
        out,
        "<form id=\"filters\" class=\"filters\" method=\"get\" action=\"\" data-defaults=\"sort={}&amp;order={}&amp;per_page={}\">\n<label>Account <select name=\"account\">",
        defaults.sort.as_str(),
        defaults.order.as_str(),
        defaults.per_page
    );
    option(out, "", "All accounts", q.account.is_none());
    for a in &view.accounts {
        option(out, &a.name, &a.name, q.account.as_deref() == Some(&a.name));
    }
    out.push_str("</select></label>\n<label>Server <select name=\"server\">");
    option(out, "", "All servers", q.server.is_none());
    let mut servers: Vec<(String, u64, String)> = Vec::new();
    for a in &view.accounts {
        if let Some(snap) = a.snapshot() {
            for s in &snap.servers {
                let label = if view.accounts.len() > 1 {
                    format!("{} ({})", s.label, a.name)
                } else {
                    s.label.clone()
                };
                servers.push((label, s.id, s.label.clone()));
            }
        }
    }
    servers.sort();
    // The id is the value, so that a label two accounts share stays one
    // choice each; a label in the address selects the same server.
    let mut listed = false;
    for (label, id, server_label) in &servers {
        let selected = q
            .server
            .as_ref()
            .is_some_and(|f| f.0 == id.to_string() || f.0 == *server_label);
        let selected = selected && !listed;
        listed |= selected;
        option(out, &id.to_string(), label, selected);
    }
    if let (Some(f), false) = (&q.server, listed) {
        option(
            out,
            &f.0,
            &format!("{} (not found)", truncate(&f.0, 60)),
            true,
        );
    }
    out.push_str("</select></label>\n<label>Integration <select name=\"integration\">");
    option(out, "", "Any", q.integration.is_none());
    let mut integrations: Vec<(String, u64)> = view
        .integration_rows()
        .iter()
        .filter(|r| r.sites > 0)
        .map(|r| {
            let name = r.integration.map_or_else(
                || format!("deleted integration #{}", r.id),
                |i| i.name.clone(),
            );
            let name = if view.accounts.len() > 1 {
                format!("{name} ({})", r.account)
            } else {
                name
            };
            (name, r.id)
        })
        .collect();
    integrations.sort();
    integrations.dedup_by_key(|(_, id)| *id);
    let mut listed = false;
    for (name, id) in &integrations {
        listed |= q.integration == Some(*id);
        option(out, &id.to_string(), name, q.integration == Some(*id));
    }
    if let (Some(id), false) = (q.integration, listed) {
        option(
            out,
            &id.to_string(),
            &format!("integration #{id} (not used)"),
            true,
        );
    }
    out.push_str("</select></label>\n<label>Status <select name=\"status\">");
    option(out, "", "Any", q.status.is_none());
    for h in Health::ALL {
        option(out, h.as_str(), h.as_str(), q.status == Some(h));
    }
    out.push_str("</select></label>\n<label>Problem <select name=\"problem\">");
    option(out, "", "Any", q.problem.is_none());
    for p in Problem::ALL {
        option(out, p.as_str(), p.describe(), q.problem == Some(p));
    }
    out.push_str("</select></label>\n<label>Backups <select name=\"storage\">");
    option(out, "", "local or remote", q.storage.is_none());
    for st in Storage::ALL {
        option(out, st.as_str(), st.as_str(), q.storage == Some(st));
    }
    out.push_str("</select></label>\n<label>Frequency <select name=\"frequency\">");
    option(out, "", "Any", q.frequency.is_none());
    for f in FREQUENCIES {
        option(out, f.as_str(), f.as_str(), q.frequency == Some(f));
    }
    out.push_str("</select></label>\n<label>On or off <select name=\"enabled\">");
    option(out, "", "Either", q.enabled.is_none());
    option(out, "on", "On", q.enabled == Some(true));
    option(out, "off", "Off", q.enabled == Some(false));
    let _ = write!(
        out,
        "</select></label>\n<label class=\"check\"><input type=\"checkbox\" name=\"problems\" value=\"1\"{}> Problems and warnings only</label>\n\
<label>URL contains <input type=\"search\" name=\"q\" value=\"{}\" maxlength=\"{MAX_SEARCH_CHARS}\" placeholder=\"example.com\"></label>\n\
<label>Sort by <select name=\"sort\">",
        if q.problems_only { " checked" } else { "" },
        esc(q.q.as_deref().unwrap_or(""))
    );
    for k in SortKey::ALL {
        let label = if k == SortKey::Status {
            "Status (problems first)"
        } else {
            k.label()
        };
        option(out, k.as_str(), label, q.sort == k);
    }
    out.push_str("</select></label>\n<label>Order <select name=\"order\">");
    option(out, "asc", "ascending", q.order == Order::Asc);
    option(out, "desc", "descending", q.order == Order::Desc);
    out.push_str("</select></label>\n<label>Per page <select name=\"per_page\">");
    let mut choices = PER_PAGE_CHOICES.to_vec();
    if !choices.contains(&q.per_page) {
        choices.push(q.per_page);
        choices.sort_unstable();
    }
    for n in choices {
        option(out, &n.to_string(), &n.to_string(), q.per_page == n);
    }
    out.push_str(
        "</select></label>\n<span class=\"actions\"><button type=\"submit\">Apply</button> \
<a href=\"?\">Clear</a></span>\n</form>\n",
    );
}

fn sort_header(out: &mut String, q: &PageQuery, key: SortKey) {
    let current = q.sort == key;
    let next_order = if current && q.order == Order::Asc {
        Order::Desc
    } else {
        Order::Asc
    };
    let href = PageQuery {
        sort: key,
        order: next_order,
        page: 1,
        ..q.clone()
    }
    .href();
    let (aria, arrow) = match (current, q.order) {
        (false, _) => ("", ""),
        (true, Order::Asc) => (" aria-sort=\"ascending\"", " ▲"),
        (true, Order::Desc) => (" aria-sort=\"descending\"", " ▼"),
    };
    let _ = write!(
        out,
        "<th scope=\"col\"{aria} data-sort-key=\"{}\"><a href=\"{}\">{}{arrow}</a></th>",
        key.as_str(),
        esc(&href),
        key.label()
    );
}

/// On or off, the frequency, and when in its period the schedule runs.
fn schedule_cell(row: &StorageRow<'_>) -> String {
    let Some(schedule) = row.schedule() else {
        let what = match row.storage {
            Storage::Local => "No schedule",
            Storage::Remote => "Not set up",
        };
        return format!("<span class=\"pill off\">{what}</span>");
    };
    let pill = if row.pending {
        "<span class=\"pill pending\">Checking</span>"
    } else if row.enabled {
        "<span class=\"pill on\">On</span>"
    } else {
        "<span class=\"pill off\">Off</span>"
    };
    format!(
        "{pill} <span class=\"freq\" data-frequency=\"{f}\">{f}</span><div class=\"sub\">{}</div>",
        esc(&schedule_when(schedule)),
        f = schedule.frequency.as_str(),
    )
}

fn next_run_cell(row: &StorageRow<'_>, now: DateTime<Utc>) -> String {
    match (row.schedule(), row.enabled, row.next_run) {
        (None, _, _) => "—".to_string(),
        (Some(_), _, _) if row.pending => {
            "<span class=\"sub\">checking whether it is on</span>".to_string()
        }
        (Some(_), false, _) => {
            "<span class=\"sub\">none: automatic backups switched off</span>".to_string()
        }
        (Some(_), true, Some(t)) => format!(
            "<time datetime=\"{}\">{}</time><div class=\"sub\">{}</div>",
            api::rfc3339(t),
            fmt_time(t),
            fmt_relative(t, now)
        ),
        (Some(_), true, None) => "<span class=\"sub\">unknown</span>".to_string(),
    }
}

fn integration_cell(row: &SiteRow<'_>) -> String {
    match &row.remote.integration {
        None if row.remote.schedule().is_some() => {
            "<span class=\"sub\">none named</span>".to_string()
        }
        None => "—".to_string(),
        Some(i) => {
            let provider = i
                .provider()
                .map(|p| format!(" <span class=\"sub\">{}</span>", esc(p)))
                .unwrap_or_default();
            match i.found {
                Some(found) => format!("{}{provider}", esc(&found.name)),
                None => format!(
                    "<span class=\"missing\">deleted integration #{}</span>{provider}",
                    i.id
                ),
            }
        }
    }
}

fn retention_cell(row: &SiteRow<'_>) -> String {
    let mut parts = Vec::new();
    for s in [&row.local, &row.remote] {
        if s.schedule().is_none() {
            continue;
        }
        let short = s.problems.contains(&Problem::ShortRetention);
        let prune = s
            .settings
            .prune_schedule
            .and_then(prune_words)
            .map(|w| format!(" <span class=\"sub prune\">{w}</span>"))
            .unwrap_or_default();
        parts.push(format!(
            "<span class=\"{}\">{} {}</span>{prune}",
            if short { "short" } else { "ret" },
            s.storage.as_str(),
            retention_words(s.settings.retain_days)
        ));
    }
    if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join("<br>")
    }
}

fn render_site_table(out: &mut String, rows: &[SiteRow<'_>], q: &PageQuery, now: DateTime<Utc>) {
    out.push_str("<div class=\"scroll cardrows\"><table class=\"sites\" id=\"sites\"><thead><tr>");
    for key in SortKey::ALL {
        sort_header(out, q, key);
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        let reasons: String = r
            .problems
            .iter()
            .map(|p| {
                format!(
                    "<li class=\"{}\" data-problem=\"{code}\"><a href=\"?problem={code}\">{}</a></li>",
                    if p.is_warning() { "warn" } else { "bad" },
                    esc(p.describe()),
                    code = p.as_str(),
                )
            })
            .collect();
        let reasons = reasons + &policy::muted_pills(r.muted);
        let reasons = if reasons.is_empty() {
            String::new()
        } else {
            format!("<ul class=\"reasons\">{reasons}</ul>")
        };
        let engine = r
            .backups_version
            .and_then(engine_words)
            .map(|w| format!("<div class=\"sub engine\" title=\"backup engine\">{w}</div>"))
            .unwrap_or_default();
        let server = match (r.server_label, r.site.server_id) {
            (Some(label), _) => format!("{}{engine}", esc(label)),
            (None, Some(id)) => format!("<span class=\"sub\">#{id}</span>"),
            (None, None) => "—".to_string(),
        };
        // GridPane's record of the site's backups, under each storage.
        let record = r.site.history.as_ref();
        let record_line = |storage: &str| {
            record.map_or_else(String::new, |h| {
                let s = if storage == "local" {
                    &h.local
                } else {
                    &h.remote
                };
                backup_record_line(s, storage, now)
            })
        };
        let _ = writeln!(
            out,
            "<tr class=\"site {health}\" data-site-id=\"{id}\" data-account=\"{account}\">\
<td data-label=\"Status\">{badge}{reasons}</td>\
<td data-label=\"Site\" class=\"site-cell\"><span class=\"url\">{url}</span><div class=\"sub\">#{id}</div></td>\
<td data-label=\"Server\">{server}</td>\
<td data-label=\"Account\">{account}</td>\
<td data-label=\"Local backups\">{local}</td>\
<td data-label=\"Local next run\">{local_next}</td>\
<td data-label=\"Remote backups\">{remote}</td>\
<td data-label=\"Remote next run\">{remote_next}</td>\
<td data-label=\"Integration\">{integration}</td>\
<td data-label=\"Retention\">{retention}</td></tr>",
            health = r.health.as_str(),
            id = r.site.id,
            account = esc(r.account),
            badge = health_badge(r.health),
            url = esc(&r.site.url),
            local = schedule_cell(&r.local) + &record_line("local"),
            local_next = next_run_cell(&r.local, now),
            remote = schedule_cell(&r.remote) + &record_line("remote"),
            remote_next = next_run_cell(&r.remote, now),
            integration = integration_cell(r),
            retention = retention_cell(r),
        );
    }
    out.push_str("</tbody></table></div>\n");
}

fn render_pagination(out: &mut String, q: &PageQuery, page: usize, pages: usize) {
    if pages <= 1 {
        return;
    }
    let link = |out: &mut String, target: usize, text: &str, rel: &str| {
        if target == page || target == 0 || target > pages {
            let _ = write!(out, "<span class=\"disabled\">{text}</span> ");
        } else {
            let _ = write!(
                out,
                "<a href=\"{}\"{rel}>{text}</a> ",
                esc(&q.with_page(target).href())
            );
        }
    };
    out.push_str("<nav class=\"pages\" aria-label=\"Pages\">");
    link(out, 1, "« First", "");
    link(out, page - 1, "‹ Previous", " rel=\"prev\"");
    let _ = write!(
        out,
        "<span class=\"current\" aria-current=\"page\">Page {page} of {pages}</span> "
    );
    link(out, page + 1, "Next ›", " rel=\"next\"");
    link(out, pages, "Last »", "");
    out.push_str("</nav>\n");
}

fn render_integrations(out: &mut String, view: &View, q: &PageQuery) {
    out.push_str("<section aria-labelledby=\"integrations-h\"><h2 id=\"integrations-h\">Backup integrations</h2>\n");
    let mut rows: Vec<IntegrationRow<'_>> = view
        .integration_rows()
        .into_iter()
        .filter(|r| q.account.as_deref().is_none_or(|a| a == r.account))
        .collect();
    if rows.is_empty() {
        out.push_str("<p class=\"empty\">No backup integrations.</p></section>\n");
        return;
    }
    rows.sort_by(|a, b| {
        a.status
            .cmp(&b.status)
            .then_with(|| {
                let name = |r: &IntegrationRow<'_>| r.integration.map(|i| i.name.to_lowercase());
                name(a).cmp(&name(b))
            })
            .then_with(|| a.account.cmp(b.account))
            .then_with(|| a.id.cmp(&b.id))
    });
    out.push_str(
        "<div class=\"scroll cardrows\"><table class=\"integrations\" id=\"integrations\"><thead><tr>\
<th scope=\"col\">Name</th><th scope=\"col\">Provider</th><th scope=\"col\">Region</th>\
<th scope=\"col\">Account</th><th scope=\"col\" class=\"num\">Sites</th><th scope=\"col\">Status</th>\
</tr></thead>\n<tbody>\n",
    );
    for r in &rows {
        let name = match r.integration {
            Some(i) => esc(&i.name),
            None => "<span class=\"missing\">deleted integration</span>".to_string(),
        };
        let sites = if r.sites == 0 {
            "0".to_string()
        } else {
            let href = PageQuery {
                account: Some(r.account.to_string()),
                integration: Some(r.id),
                ..PageQuery::default()
            }
            .href();
            format!("<a href=\"{}#schedules-h\">{}</a>", esc(&href), r.sites)
        };
        let status = match r.status {
            IntegrationStatus::InUse => "<span class=\"badge ok\">In use</span>".to_string(),
            IntegrationStatus::Unused => "<span class=\"badge neutral\">Unused</span>".to_string(),
            IntegrationStatus::Missing => format!(
                "<span class=\"badge bad\">Missing</span><div class=\"sub\">referenced by {} schedule{} but not in the account</div>",
                r.sites,
                if r.sites == 1 { "" } else { "s" }
            ),
        };
        let region = r
            .integration
            .and_then(|i| i.region.as_deref())
            .map(esc)
            .unwrap_or_else(|| "—".to_string());
        let _ = writeln!(
            out,
            "<tr class=\"integration {st}\" data-integration-id=\"{id}\" data-status=\"{st}\">\
<td data-label=\"Name\">{name}<div class=\"sub\">#{id}</div></td>\
<td data-label=\"Provider\">{provider}</td><td data-label=\"Region\">{region}</td>\
<td data-label=\"Account\">{account}</td><td data-label=\"Sites\" class=\"num\">{sites}</td>\
<td data-label=\"Status\" data-sort=\"{rank}\">{status}</td></tr>",
            st = r.status.as_str(),
            id = r.id,
            provider = esc(r.provider().unwrap_or("unknown")),
            account = esc(r.account),
            rank = r.status as u8,
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// A line under a storage's cell on the status page: the newest backup in
/// GridPane's record and its age, or that the record holds none.
fn backup_record_line(
    s: &crate::domain::StorageBackups,
    storage: &str,
    now: DateTime<Utc>,
) -> String {
    let what = match s.last.and_then(api::from_unix) {
        Some(t) => format!(
            "last backup <time datetime=\"{}\">{}</time> · {} held",
            api::rfc3339(t),
            esc(&fmt_relative(t, now)),
            s.count
        ),
        None => "no backup in GridPane's record".to_string(),
    };
    format!("<div class=\"sub backup-last\" data-storage=\"{storage}\">{what}</div>")
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_makes_markup_inert() {
        assert_eq!(
            esc("<script>alert(\"x\")</script>&'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
    }
}
