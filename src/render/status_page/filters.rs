//! What the filter form reads: each list's choices, the checkbox and the
//! search, from the accounts in view and the query.

use std::borrow::Cow;

use super::query::{FREQUENCIES, Order, PageQuery, SortKey};
use super::words::truncate;
use crate::domain::{Health, Problem, Storage};
use crate::render::api::View;

const PER_PAGE_CHOICES: [usize; 5] = [25, 50, 100, 250, 1000];

/// One `<option>`.
pub(super) struct Choice<'a> {
    pub value: Cow<'a, str>,
    pub label: Cow<'a, str>,
    pub selected: bool,
}

fn choice<'a>(
    value: impl Into<Cow<'a, str>>,
    label: impl Into<Cow<'a, str>>,
    selected: bool,
) -> Choice<'a> {
    Choice {
        value: value.into(),
        label: label.into(),
        selected,
    }
}

/// The filter form: each list's choices, the checkbox and the search.
pub(super) struct Filters<'a> {
    /// What the script leaves out of the address; it reads them from the
    /// page rather than repeating them.
    pub defaults: PageQuery,
    pub account: Vec<Choice<'a>>,
    pub server: Vec<Choice<'a>>,
    pub integration: Vec<Choice<'a>>,
    pub status: Vec<Choice<'a>>,
    pub problem: Vec<Choice<'a>>,
    pub storage: Vec<Choice<'a>>,
    pub frequency: Vec<Choice<'a>>,
    pub enabled: Vec<Choice<'a>>,
    pub problems_only: bool,
    pub q: &'a str,
    pub sort: Vec<Choice<'a>>,
    pub order: Vec<Choice<'a>>,
    pub per_page: Vec<Choice<'a>>,
}

pub(super) fn filters<'a>(view: &'a View, q: &'a PageQuery) -> Filters<'a> {
    let several = view.accounts.len() > 1;

    let mut account = vec![choice("", "All accounts", q.filter.account.is_none())];
    for a in &view.accounts {
        let selected = q.filter.account.as_deref() == Some(&a.name);
        account.push(choice(a.name.as_str(), a.name.as_str(), selected));
    }

    let mut server = vec![choice("", "All servers", q.filter.server.is_none())];
    let mut servers: Vec<(String, u64, &str)> = Vec::new();
    for a in &view.accounts {
        if let Some(snap) = a.snapshot() {
            for s in &snap.servers {
                let label = if several {
                    format!("{} ({})", s.label, a.name)
                } else {
                    s.label.clone()
                };
                servers.push((label, s.id, &s.label));
            }
        }
    }
    servers.sort();
    // The id is the value, so that a label two accounts share stays one
    // choice each; a label in the address selects the same server.
    let mut listed = false;
    for (label, id, server_label) in servers {
        let selected = q
            .filter
            .server
            .as_ref()
            .is_some_and(|f| f.names(Some(id), Some(server_label)));
        let selected = selected && !listed;
        listed |= selected;
        server.push(choice(id.to_string(), label, selected));
    }
    if let (Some(f), false) = (&q.filter.server, listed) {
        let label = format!("{} (not found)", truncate(&f.0, 60));
        server.push(choice(f.0.as_str(), label, true));
    }

    let mut integration = vec![choice("", "Any", q.filter.integration.is_none())];
    let mut integrations: Vec<(String, u64)> = view
        .integration_rows()
        .iter()
        .filter(|r| r.sites > 0)
        .map(|r| {
            let name = r.integration.map_or_else(
                || format!("deleted integration #{}", r.id),
                |i| i.name.clone(),
            );
            let name = if several {
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
    for (name, id) in integrations {
        let selected = q.filter.integration == Some(id);
        listed |= selected;
        integration.push(choice(id.to_string(), name, selected));
    }
    if let (Some(id), false) = (q.filter.integration, listed) {
        let label = format!("integration #{id} (not used)");
        integration.push(choice(id.to_string(), label, true));
    }

    let mut status = vec![choice("", "Any", q.filter.status.is_none())];
    status.extend(
        Health::ALL
            .into_iter()
            .map(|h| choice(h.as_str(), h.as_str(), q.filter.status == Some(h))),
    );
    let mut problem = vec![choice("", "Any", q.filter.problem.is_none())];
    problem.extend(
        Problem::ALL
            .into_iter()
            .map(|p| choice(p.as_str(), p.describe(), q.filter.problem == Some(p))),
    );
    let mut storage = vec![choice("", "local or remote", q.filter.storage.is_none())];
    storage.extend(
        Storage::ALL
            .into_iter()
            .map(|s| choice(s.as_str(), s.as_str(), q.filter.storage == Some(s))),
    );
    let mut frequency = vec![choice("", "Any", q.filter.frequency.is_none())];
    frequency.extend(
        FREQUENCIES
            .into_iter()
            .map(|f| choice(f.as_str(), f.as_str(), q.filter.frequency == Some(f))),
    );
    let enabled = vec![
        choice("", "Either", q.filter.enabled.is_none()),
        choice("on", "On", q.filter.enabled == Some(true)),
        choice("off", "Off", q.filter.enabled == Some(false)),
    ];
    let sort = SortKey::ALL
        .into_iter()
        .map(|k| {
            let label = if k == SortKey::Status {
                "Status (problems first)"
            } else {
                k.label()
            };
            choice(k.as_str(), label, q.sort == k)
        })
        .collect();
    let order = vec![
        choice("asc", "ascending", q.order == Order::Asc),
        choice("desc", "descending", q.order == Order::Desc),
    ];
    let mut counts = PER_PAGE_CHOICES.to_vec();
    if !counts.contains(&q.per_page) {
        counts.push(q.per_page);
        counts.sort_unstable();
    }
    let per_page = counts
        .into_iter()
        .map(|n| choice(n.to_string(), n.to_string(), q.per_page == n))
        .collect();

    Filters {
        defaults: PageQuery::default(),
        account,
        server,
        integration,
        status,
        problem,
        storage,
        frequency,
        enabled,
        problems_only: q.filter.problems_only,
        q: q.filter.q.as_deref().unwrap_or(""),
        sort,
        order,
        per_page,
    }
}
