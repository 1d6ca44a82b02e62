//! Which rows a view keeps: one filter over the site rows (and the
//! integration rows) for the JSON API and the status page alike, with one
//! `keeps()`. The API parses it strictly here ([`ListQuery::parse`]: an
//! unknown, repeated, empty or bad parameter is refused with 400); the page
//! parses it leniently (status_page/query.rs: a bad value is reported and
//! its default used). A `server` names a server as the domain's rule says
//! ([`domain::policy::names_server`]).

use std::collections::BTreeMap;

use serde::Serialize;

use super::view::{IntegrationRow, SiteRow, StorageRow, View};
use crate::domain::{self, Frequency, Health, Problem, Storage};

/// A query parameter the API refuses: answered with 400.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParamError {
    pub error: String,
    pub parameter: String,
}

impl ParamError {
    fn new(parameter: &str, error: impl Into<String>) -> Self {
        ParamError {
            error: error.into(),
            parameter: parameter.to_string(),
        }
    }
}

/// The decoded `name=value` pairs of a query string, in order.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The query as name -> value. Names outside `allowed`, repeated names and
/// empty values are errors.
pub(crate) fn strict_params(
    raw: Option<&str>,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, ParamError> {
    let mut out = BTreeMap::new();
    for (name, value) in query_pairs(raw) {
        if !allowed.contains(&name.as_str()) {
            let known = if allowed.is_empty() {
                "this endpoint takes no parameters".to_string()
            } else {
                format!("known parameters: {}", allowed.join(", "))
            };
            return Err(ParamError::new(
                &name,
                format!("unknown parameter; {known}"),
            ));
        }
        if value.is_empty() {
            return Err(ParamError::new(&name, "empty value"));
        }
        if out.contains_key(&name) {
            return Err(ParamError::new(&name, "given more than once"));
        }
        out.insert(name, value);
    }
    Ok(out)
}

/// A server as a filter names it: its id or its label (as the status page
/// shows it). The page's `server` and the API's `server` read it alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFilter(pub String);

impl ServerFilter {
    /// It names the server with this id and label.
    pub(crate) fn names(&self, id: Option<u64>, label: Option<&str>) -> bool {
        domain::policy::names_server(&self.0, id, label)
    }

    pub(crate) fn keeps(&self, row: &SiteRow<'_>) -> bool {
        self.names(row.site.server_id, row.server_label)
    }
}

/// Which sites a view keeps, every condition optional; the API's list
/// endpoints and the status page fill the fields each takes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteFilter {
    pub account: Option<String>,
    /// A server id or label.
    pub server: Option<ServerFilter>,
    /// The API's `server_id`.
    pub server_id: Option<u64>,
    /// The API's `site_id`.
    pub site_id: Option<u64>,
    /// The page's `problems`: only sites with a problem or a warning.
    pub problems_only: bool,
    /// Only sites with this status.
    pub status: Option<Health>,
    pub problem: Option<Problem>,
    /// The storage `frequency` and `enabled` look at; both when `None`.
    /// (The API's schedules answer lists this storage only.)
    pub storage: Option<Storage>,
    /// Only sites with a schedule of this frequency.
    pub frequency: Option<Frequency>,
    /// Only sites whose automatic backups are on (`true`) or off.
    pub enabled: Option<bool>,
    /// Only sites whose remote schedule names this integration id.
    pub integration: Option<u64>,
    /// Case-insensitive substring of the site URL.
    pub q: Option<String>,
}

impl SiteFilter {
    /// Any condition that can leave a site out is set (`storage` alone
    /// leaves none out).
    pub(crate) fn is_set(&self) -> bool {
        self.account.is_some()
            || self.server.is_some()
            || self.server_id.is_some()
            || self.site_id.is_some()
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

    /// The site row passes every condition set.
    pub(crate) fn keeps(&self, row: &SiteRow<'_>) -> bool {
        self.account.as_deref().is_none_or(|a| a == row.account)
            && self
                .server_id
                .is_none_or(|id| row.site.server_id == Some(id))
            && self.server.as_ref().is_none_or(|s| s.keeps(row))
            && self.site_id.is_none_or(|id| row.site.id == id)
            && (!self.problems_only || row.health != Health::Ok)
            && self.status.is_none_or(|h| row.health == h)
            && self.problem.is_none_or(|p| row.problems.contains(&p))
            && self.frequency.is_none_or(|f| {
                self.storages(row)
                    .any(|s| s.schedule().is_some_and(|sch| sch.frequency == f))
            })
            && self.enabled.is_none_or(|on| {
                // A switch not understood is neither on nor off.
                self.storages(row)
                    .any(|s| s.enabled == on && (on || !s.not_understood))
            })
            && self
                .integration
                .is_none_or(|id| row.remote.integration.as_ref().is_some_and(|i| i.id == id))
            && self
                .q
                .as_deref()
                .is_none_or(|q| row.site.url.to_lowercase().contains(&q.to_lowercase()))
    }

    /// The integration row is of the account asked for and, with
    /// `site_id`, the one that site's remote schedule names.
    pub(crate) fn keeps_integration(&self, view: &View, row: &IntegrationRow<'_>) -> bool {
        self.account.as_deref().is_none_or(|a| a == row.account)
            && self.site_id.is_none_or(|site_id| {
                view.account(row.account)
                    .and_then(|a| a.snapshot())
                    .and_then(|snap| snap.sites.iter().find(|s| s.id == site_id))
                    .and_then(|s| s.remote.schedule.as_ref())
                    .is_some_and(|s| s.integration_id == Some(row.id))
            })
    }
}

/// A list endpoint's query: the filter and the page asked for.
#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    pub filter: SiteFilter,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// Where a page sits in the whole list; present when `limit` or `offset`
/// was given.
#[derive(Debug, Serialize)]
pub struct PageInfo {
    /// Entries that match the filters, on every page.
    pub total: usize,
    pub offset: usize,
    pub limit: Option<usize>,
    /// The `offset` of the next page; `null` on the last one.
    pub next_offset: Option<usize>,
}

impl ListQuery {
    /// The entries of the page asked for, and where it sits; every entry
    /// and no page information when no page was asked for.
    pub(crate) fn page<T>(&self, all: Vec<T>) -> (Vec<T>, Option<PageInfo>) {
        if self.limit.is_none() && self.offset.is_none() {
            return (all, None);
        }
        let total = all.len();
        let offset = self.offset.unwrap_or(0);
        let entries: Vec<T> = all
            .into_iter()
            .skip(offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect();
        let end = offset.saturating_add(entries.len());
        let info = PageInfo {
            total,
            offset,
            limit: self.limit,
            next_offset: (end < total).then_some(end),
        };
        (entries, Some(info))
    }

    /// The query of a list endpoint taking the parameters `allowed`, read
    /// strictly: any parameter it cannot use is refused.
    pub(crate) fn parse(
        view: &View,
        raw: Option<&str>,
        allowed: &[&str],
    ) -> Result<ListQuery, ParamError> {
        let params = strict_params(raw, allowed)?;
        let mut q = ListQuery::default();
        let f = &mut q.filter;
        for (name, value) in &params {
            match name.as_str() {
                "account" => {
                    if view.account(value).is_none() {
                        return Err(ParamError::new(
                            "account",
                            format!("no account named \"{value}\" is configured"),
                        ));
                    }
                    f.account = Some(value.clone());
                }
                "server" => f.server = Some(ServerFilter(value.clone())),
                "server_id" => f.server_id = Some(parse_id(name, value)?),
                "site_id" => f.site_id = Some(parse_id(name, value)?),
                "status" => {
                    f.status = Some(Health::parse(value).ok_or_else(|| {
                        ParamError::new(
                            "status",
                            format!("\"{value}\" is not a status; expected {}", Health::names()),
                        )
                    })?);
                }
                "problem" => {
                    f.problem = Some(Problem::parse(value).ok_or_else(|| {
                        let known: Vec<&str> = Problem::ALL.iter().map(|p| p.as_str()).collect();
                        ParamError::new(
                            "problem",
                            format!(
                                "\"{value}\" is not a problem kind; expected one of {}",
                                known.join(", ")
                            ),
                        )
                    })?);
                }
                "limit" => q.limit = Some(parse_count(name, value, 1)?),
                "offset" => q.offset = Some(parse_count(name, value, 0)?),
                "storage" => {
                    f.storage = Some(match value.as_str() {
                        "local" => Storage::Local,
                        "remote" => Storage::Remote,
                        _ => {
                            return Err(ParamError::new(
                                "storage",
                                format!("\"{value}\" is not a storage; expected local or remote"),
                            ));
                        }
                    });
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

fn parse_count(name: &str, value: &str, least: usize) -> Result<usize, ParamError> {
    let n = whole_number(name, value, "a count", "100")?;
    let n = usize::try_from(n)
        .map_err(|_| ParamError::new(name, format!("\"{value}\" is too large for a count")))?;
    if n < least {
        return Err(ParamError::new(name, format!("must be at least {least}")));
    }
    Ok(n)
}

fn parse_id(name: &str, value: &str) -> Result<u64, ParamError> {
    whole_number(name, value, "an id", "12345")
}

/// Why a number with a space is refused. A `+` in a query string is a
/// space: echoing `" 5"` for `+5` would puzzle more than it helps.
pub(crate) const SPACE_IN_NUMBER: &str =
    "it contains a space (a + in a query string stands for a space)";

/// Digits only: no sign, no spaces. `what` and `example` word the error.
fn whole_number(name: &str, value: &str, what: &str, example: &str) -> Result<u64, ParamError> {
    if value.contains(char::is_whitespace) {
        return Err(ParamError::new(
            name,
            format!("not {what}: {SPACE_IN_NUMBER}; expected a whole number such as {example}"),
        ));
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParamError::new(
            name,
            format!("\"{value}\" is not {what}; expected a whole number such as {example}"),
        ));
    }
    value
        .parse::<u64>()
        .map_err(|_| ParamError::new(name, format!("\"{value}\" is too large for {what}")))
}
