//! The page of one site at `/site/<account>/<id>`: its schedules, GridPane's
//! record, the proof from the bucket, its problems and mutes, and what the
//! exporter last read of it and when. Like the status page it formats the
//! site's verdict and judges nothing; the markup is `templates/site.html`.

use askama::Template;
use chrono::{DateTime, Utc};

use super::STYLE;
use super::table::{
    CopyLine, IntegrationCell, NextRun, Pill, RecordLine, ScheduleCell, ServerCell, SiteLine,
    StorageCells,
};
use super::view::Tone;
use super::words::{Time, prune_words, retention_words};
use crate::domain::{Health, Problem, Storage, StorageBackups};
use crate::render::api::{self, SiteRow, View};
use crate::render::metrics::{REVISION, VERSION};

/// The page of one site, and how to answer it.
pub struct SitePage {
    pub html: String,
    pub status: SiteAnswer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteAnswer {
    Found,
    /// The id is not a number.
    BadRequest,
    /// No such account in view, or no such site in it.
    NotFound,
}

#[derive(Template)]
#[template(
    path = "site.html",
    escape = "html",
    config = "src/render/status_page/askama.toml"
)]
struct SiteHtml<'a> {
    generated: Time,
    /// The metrics endpoint, relative to the page.
    metrics_href: String,
    body: Body<'a>,
}

enum Body<'a> {
    Site(Box<SiteView<'a>>),
    /// What was asked for is not there: a title and why.
    Missing {
        title: String,
        message: String,
    },
}

/// One site, as plain values.
struct SiteView<'a> {
    line: SiteLine<'a>,
    site_type: Option<&'a str>,
    group: Option<&'a str>,
    /// When the account's data (its snapshot) was fetched.
    fetched: Option<Time>,
    /// When the per-site detail of this site was fetched.
    detail_fetched: Option<Time>,
    /// `poll.detail.history` reads GridPane's backup records.
    records_read: bool,
    /// When GridPane's record was last read well.
    record_read: Option<Time>,
    storages: Vec<StorageLine>,
    /// Backups the record names without a storage.
    unattributed: Option<Backups>,
    /// The proof from the bucket, as the schedules table's bucket line
    /// reads it; `None`: no `remote_storage` entry judges the site.
    copy: Option<CopyLine>,
    /// Claimed: the newest remote backup in GridPane's record, as the
    /// schedules table's record line reads it (`None`: record not read).
    claimed: Option<Option<(String, String)>>,
    /// The verdict counts the bucket's proof only with remote backups on.
    remote_on: bool,
    /// A PromQL query for the server's proof of this site (the probe's).
    promql: String,
}

/// One storage: its cells as in the schedules table, and more.
struct StorageLine {
    name: &'static str,
    cells: StorageCells,
    retention: String,
    prune: Option<&'static str>,
    short: bool,
    /// When the newest backup becomes (or became) overdue.
    due_by: Option<Time>,
    /// GridPane's record of it, when read.
    record: Option<Backups>,
}

/// The backups of one storage in GridPane's record.
struct Backups {
    count: u64,
    last: Option<Time>,
    last_automatic: Option<Time>,
}

impl Backups {
    fn of(s: &StorageBackups, now: DateTime<Utc>) -> Backups {
        let time = |t: Option<f64>| t.and_then(api::from_unix).map(|t| Time::new(t, now));
        Backups {
            count: s.count,
            last: time(s.last),
            last_automatic: time(s.last_automatic),
        }
    }
}

/// The page for `account` and `id` as they came in the path, of the
/// accounts in `view` (those the viewer may see: another is answered as a
/// missing one).
pub fn site_page(
    view: &View,
    account: &str,
    id: &str,
    now: DateTime<Utc>,
    telemetry_path: &str,
) -> SitePage {
    let render = |status: SiteAnswer, body: Body<'_>| {
        let html = SiteHtml {
            generated: Time::new(now, now),
            metrics_href: format!("../../{}", telemetry_path.trim_start_matches('/')),
            body,
        };
        let mut out = String::with_capacity(16 * 1024);
        // As for the status page: writing into a String cannot fail.
        if let Err(e) = html.render_into(&mut out) {
            tracing::error!(error = %e, "cannot render a site page");
        }
        SitePage { html: out, status }
    };
    let missing = |status, title: &str, message: String| {
        render(
            status,
            Body::Missing {
                title: title.to_string(),
                message,
            },
        )
    };
    let shown = super::words::truncate(id, 40);
    let Ok(site_id) = id.parse::<u64>() else {
        let why = format!(
            "\"{shown}\" is not a site id: a site id is a whole number such as 12345, as the status page links to it."
        );
        return missing(SiteAnswer::BadRequest, "Not a site id", why);
    };
    let account_shown = super::words::truncate(account, 80);
    let not_found = |title: &str, why: String| missing(SiteAnswer::NotFound, title, why);
    let Some(a) = view.account(account) else {
        return not_found(
            "No such account",
            format!("No account named \"{account_shown}\" is configured."),
        );
    };
    let Some(assessed) = a.assessed() else {
        return not_found(
            "Not read yet",
            format!(
                "Account \"{account_shown}\" is not read yet: no poll of it has finished, so its sites are not known."
            ),
        );
    };
    let rows = api::site_rows(&a.name, assessed, now);
    let Some(row) = rows.iter().find(|r| r.site.id == site_id) else {
        return not_found(
            "No such site",
            format!(
                "Account \"{account_shown}\" has no site #{site_id} in its last successful poll."
            ),
        );
    };
    let time = |t: f64| api::from_unix(t).map(|t| Time::new(t, now));
    let detail_fetched = a
        .state
        .detail
        .get(&site_id)
        .and_then(|d| time(d.fetched_at));
    let fetched = time(assessed.fetched_at);
    let v = SiteView::of(row, now, view.policy.records_read, fetched, detail_fetched);
    render(SiteAnswer::Found, Body::Site(Box::new(v)))
}

impl<'a> SiteView<'a> {
    fn of(
        row: &'a SiteRow<'a>,
        now: DateTime<Utc>,
        records_read: bool,
        fetched: Option<Time>,
        detail_fetched: Option<Time>,
    ) -> SiteView<'a> {
        let history = row.site.history.as_ref();
        let storages = Storage::ALL
            .into_iter()
            .map(|storage| {
                let r = row.storage(storage);
                let record = history.map(|h| match storage {
                    Storage::Local => &h.local,
                    Storage::Remote => &h.remote,
                });
                StorageLine {
                    name: storage.as_str(),
                    cells: StorageCells::of(r, record, now),
                    retention: retention_words(r.retention),
                    prune: r.settings.prune_schedule.and_then(prune_words),
                    short: r.problems.contains(&Problem::ShortRetention),
                    due_by: r.overdue_at.map(|t| Time::new(t, now)),
                    record: record.map(|b| Backups::of(b, now)),
                }
            })
            .collect();
        SiteView {
            line: SiteLine::of(row, now),
            site_type: row.site.site_type.as_deref(),
            group: row.group,
            fetched,
            detail_fetched,
            records_read,
            record_read: history
                .and_then(|h| api::from_unix(h.read_at))
                .map(|t| Time::new(t, now)),
            storages,
            unattributed: history
                .filter(|h| !h.unattributed.is_empty())
                .map(|h| Backups::of(&h.unattributed, now)),
            copy: row.remote.copy.as_ref().map(|c| CopyLine::of(c, now)),
            claimed: history.map(|h| RecordLine::of(&h.remote, Storage::Remote, now).last),
            remote_on: row.remote.enabled,
            promql: promql(row.account, row.site.id, &row.site.url),
        }
    }
}

/// The probe's newest local backup of the site, joined with the
/// exporter's site info on `site_url` (docs/metrics.md).
fn promql(account: &str, id: u64, url: &str) -> String {
    let quoted = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let (account, url) = (quoted(account), quoted(url));
    format!(
        "(time() - max by (site_url) (gridpane_local_backup_newest_timestamp_seconds{{site_url=\"{url}\"}}))\n  * on (site_url) group_right ()\n  gridpane_site_info{{account=\"{account}\", site_id=\"{id}\"}}"
    )
}
