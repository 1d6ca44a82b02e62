//! The status page at `/`: which sites are not protected, rendered on the
//! server from the same snapshots as the JSON API. Filtering, sorting and
//! paging are query parameters, so the page works without JavaScript and a
//! view can be bookmarked; `static/status.js` only enhances it.
//!
//! Where its parts are, under `status_page/`: `query.rs` (the parameters,
//! read leniently into the API's filter, which keeps a view's sites),
//! `sort.rs` (the table's order), `words.rs`
//! (times, durations, schedules and retention in words); what the templates
//! read, as plain values: `view.rs` (the page, accounts, summary and
//! integrations), `filters.rs`, `table.rs` (the schedules table) and
//! `policy.rs`; `templates/` (the markup, a file per section), `status.css`
//! and `status.js`. The templates are askama's: every value they write is
//! HTML-escaped unless marked `|safe`, which only the page's own stylesheet
//! is.

use chrono::{DateTime, Utc};

mod filters;
mod policy;
mod query;
mod site;
mod sort;
mod table;
mod view;
mod words;

pub use query::{InvalidParam, Order, PageQuery, SortKey};
pub use site::{SiteAnswer, SitePage, site_page};
pub use sort::sort_rows;
pub use words::{fmt_duration, fmt_relative, fmt_time};

use crate::render::api::{Counts, View};
use view::PageHtml;

pub(crate) const DEFAULT_PER_PAGE: usize = 50;
pub(crate) const MAX_PER_PAGE: usize = 1000;
/// Longer searches are refused.
pub(crate) const MAX_SEARCH_CHARS: usize = 200;
/// How often the page reloads itself while it waits for a first poll.
pub(crate) const WAITING_REFRESH_SECONDS: u32 = 5;

/// The page's policy: no inline script, nothing from elsewhere.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'";

/// The page's only script, served at `static/status.js`.
pub const SCRIPT: &str = include_str!("status_page/status.js");
const STYLE: &str = include_str!("status_page/status.css");

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

pub(crate) fn render(
    view: &View,
    query: &PageQuery,
    invalid: &[InvalidParam],
    now: DateTime<Utc>,
    telemetry_path: &str,
) -> String {
    let mut rows = view.site_rows(now);
    let totals = Counts::of(&rows);
    let accounts = view::accounts(view, &rows, now);
    let all = rows.len();
    rows.retain(|r| query.filter.keeps(r));
    sort_rows(&mut rows, query.sort, query.order);

    let html = PageHtml {
        reloads: view
            .accounts
            .iter()
            .any(|a| view::waiting(a) || a.state.sweep.is_some()),
        not_protected: totals.sites_with_problem,
        generated: words::Time::new(now, now),
        // Relative links keep working behind a reverse proxy that adds a
        // path prefix; "./" keeps a colon in the path from reading as a
        // scheme.
        metrics_href: format!("./{}", telemetry_path.trim_start_matches('/')),
        invalid,
        accounts,
        summary: view::Summary::of(view, totals),
        filters: filters::filters(view, query),
        notes: view::notes(view, query),
        listing: table::listing(&rows, all, query, now),
        integrations: view::integrations(view, query),
        unread: view::Unread::of(view, query),
        policy: policy::PolicySection::of(&view.policy, now),
    };
    let mut out = String::with_capacity(64 * 1024);
    // Writing into a String cannot fail, and no value the page shows has a
    // Display that fails: an error here is a bug, logged, and the page is
    // sent as far as it got.
    if let Err(e) = askama::Template::render_into(&html, &mut out) {
        tracing::error!(error = %e, "cannot render the status page");
    }
    out
}
