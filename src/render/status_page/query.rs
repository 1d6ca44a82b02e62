//! The page's query parameters: parsing them leniently (a bad value is
//! reported and its default used), and the address of a view. Which rows a
//! view keeps is the API's filter ([`SiteFilter::keeps`]), which the page
//! fills from its parameters.

use std::cmp::Ordering;

use crate::domain::{Frequency, Problem, Storage};
use crate::render::api::{self, Health, ServerFilter, SiteFilter, View};

use super::words::truncate;
use super::{DEFAULT_PER_PAGE, MAX_PER_PAGE, MAX_SEARCH_CHARS};

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

    /// The column's heading.
    pub(super) fn label(self) -> &'static str {
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

    pub(super) fn apply(self, o: Ordering) -> Ordering {
        match self {
            Order::Asc => o,
            Order::Desc => o.reverse(),
        }
    }
}

/// The page's query parameters, every one optional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageQuery {
    /// The sites the view keeps: `account`, `server`, `problems`, `status`,
    /// `problem`, `storage`, `frequency`, `enabled`, `integration`, `q`
    /// (never the API's `server_id` or `site_id`).
    pub filter: SiteFilter,
    pub sort: SortKey,
    pub order: Order,
    pub page: usize,
    pub per_page: usize,
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery {
            filter: SiteFilter::default(),
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
        let filter = &mut q.filter;
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
                "account" => filter.account = Some(value),
                "server" => filter.server = Some(ServerFilter(value)),
                "problems" => match yes_no(&value) {
                    Some(b) => filter.problems_only = b,
                    None => bad("problems", format!("\"{shown}\" is not 1 or 0")),
                },
                "enabled" => match yes_no(&value) {
                    Some(b) => filter.enabled = Some(b),
                    None => bad("enabled", format!("\"{shown}\" is not on or off")),
                },
                "storage" => match Storage::ALL.into_iter().find(|s| s.as_str() == value) {
                    Some(st) => filter.storage = Some(st),
                    None => bad("storage", format!("\"{shown}\" is not local or remote")),
                },
                "frequency" => match FREQUENCIES.into_iter().find(|f| f.as_str() == value) {
                    Some(f) => filter.frequency = Some(f),
                    None => bad(
                        "frequency",
                        format!("\"{shown}\" is not hourly, daily, weekly, monthly or unknown"),
                    ),
                },
                "integration" => match positive(&value, usize::MAX) {
                    Some(_) => filter.integration = value.parse().ok(),
                    None => bad(
                        "integration",
                        format!("\"{shown}\" is not an integration id"),
                    ),
                },
                "status" => match Health::parse(&value) {
                    Some(h) => filter.status = Some(h),
                    None => bad("status", format!("\"{shown}\" is not {}", Health::names())),
                },
                "problem" => match Problem::parse(&value) {
                    Some(p) => filter.problem = Some(p),
                    None => bad("problem", format!("\"{shown}\" is not a problem kind")),
                },
                "q" => {
                    if value.chars().count() > MAX_SEARCH_CHARS {
                        bad(
                            "q",
                            format!("the search is longer than {MAX_SEARCH_CHARS} characters"),
                        );
                    } else {
                        filter.q = Some(value);
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
    pub(crate) fn check(&mut self, view: &View, invalid: &mut Vec<InvalidParam>) {
        if let Some(a) = &self.filter.account {
            if view.account(a).is_none() {
                invalid.push(InvalidParam {
                    parameter: "account",
                    message: format!("no account named \"{}\" is configured", truncate(a, 60)),
                });
                self.filter.account = None;
            }
        }
    }

    /// The query string for this view (only parameters that differ from
    /// their default), starting with `?`. Not HTML-escaped.
    pub fn href(&self) -> String {
        let d = PageQuery::default();
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if let Some(a) = &self.filter.account {
            s.append_pair("account", a);
        }
        if let Some(server) = &self.filter.server {
            s.append_pair("server", &server.0);
        }
        if self.filter.problems_only {
            s.append_pair("problems", "1");
        }
        if let Some(h) = self.filter.status {
            s.append_pair("status", h.as_str());
        }
        if let Some(p) = self.filter.problem {
            s.append_pair("problem", p.as_str());
        }
        if let Some(st) = self.filter.storage {
            s.append_pair("storage", st.as_str());
        }
        if let Some(f) = self.filter.frequency {
            s.append_pair("frequency", f.as_str());
        }
        if let Some(on) = self.filter.enabled {
            s.append_pair("enabled", if on { "on" } else { "off" });
        }
        if let Some(id) = self.filter.integration {
            s.append_pair("integration", &id.to_string());
        }
        if let Some(q) = &self.filter.q {
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

    pub(super) fn with_page(&self, page: usize) -> PageQuery {
        PageQuery {
            page,
            ..self.clone()
        }
    }

    pub(super) fn is_filtered(&self) -> bool {
        self.filter.is_set()
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

/// The frequencies a filter can ask for, in the form's order.
pub(super) const FREQUENCIES: [Frequency; 5] = [
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
