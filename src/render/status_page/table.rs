//! What the schedules table reads: one page of sites, each as the words and
//! values of its cells, the column headings that sort it, and the paging
//! links; or that there is nothing to list.

use chrono::{DateTime, Utc};

use super::policy::MutedLine;
use super::query::{Order, PageQuery, SortKey};
use super::words::{Time, engine_words, fmt_relative, prune_words, retention_words, schedule_when};
use crate::domain::{Health, Problem, Storage, StorageBackups};
use crate::render::api::{self, SiteRow, StorageRow};
use crate::render::remote_copy::CopyRow;

pub(super) enum Listing<'a> {
    /// No account has a site to list.
    Nothing,
    /// Sites, but none these filters keep.
    NoMatch,
    Table(Table<'a>),
}

/// One page of the schedules table.
pub(super) struct Table<'a> {
    /// 1-based positions of the first and last row shown.
    pub first: usize,
    pub last: usize,
    pub matched: usize,
    /// The sites before filtering, when a filter is set.
    pub filtered_from: Option<usize>,
    /// `None` when everything fits on one page.
    pub pager: Option<Pager>,
    pub headers: Vec<Header>,
    pub rows: Vec<SiteLine<'a>>,
}

/// Paging links: each the address of its page, `None` where it leads
/// nowhere (the page shown, or past either end).
pub(super) struct Pager {
    pub page: usize,
    pub pages: usize,
    pub first: Option<String>,
    pub previous: Option<String>,
    pub next: Option<String>,
    pub last: Option<String>,
}

/// A column heading: a link that sorts by it.
pub(super) struct Header {
    pub key: &'static str,
    pub label: &'static str,
    pub href: String,
    /// The table is sorted by this column, in this order.
    pub sorted: Option<Order>,
}

/// `rows`: filtered and sorted; `all`: the sites before filtering.
pub(super) fn listing<'a>(
    rows: &'a [SiteRow<'a>],
    all: usize,
    q: &PageQuery,
    now: DateTime<Utc>,
) -> Listing<'a> {
    let matched = rows.len();
    if all == 0 {
        return Listing::Nothing;
    }
    if matched == 0 {
        return Listing::NoMatch;
    }
    let pages = matched.div_ceil(q.per_page).max(1);
    let page = q.page.min(pages);
    let start = (page - 1).saturating_mul(q.per_page).min(matched);
    let end = start.saturating_add(q.per_page).min(matched);
    let shown = rows.get(start..end).unwrap_or(&[]);
    let link = |target: usize| {
        (target != page && target != 0 && target <= pages).then(|| q.with_page(target).href())
    };
    let pager = (pages > 1).then(|| Pager {
        page,
        pages,
        first: link(1),
        previous: link(page - 1),
        next: link(page + 1),
        last: link(pages),
    });
    Listing::Table(Table {
        first: start + 1,
        last: end,
        matched,
        filtered_from: q.is_filtered().then_some(all),
        pager,
        headers: SortKey::ALL.into_iter().map(|k| header(q, k)).collect(),
        rows: shown.iter().map(|r| SiteLine::of(r, now)).collect(),
    })
}

fn header(q: &PageQuery, key: SortKey) -> Header {
    let current = q.sort == key;
    let next_order = if current && q.order == Order::Asc {
        Order::Desc
    } else {
        Order::Asc
    };
    Header {
        key: key.as_str(),
        label: key.label(),
        href: PageQuery {
            sort: key,
            order: next_order,
            page: 1,
            ..q.clone()
        }
        .href(),
        sorted: current.then_some(q.order),
    }
}

/// One site's row.
pub(super) struct SiteLine<'a> {
    pub health: Health,
    pub id: u64,
    pub account: &'a str,
    pub url: &'a str,
    /// The site's page, relative to the status page.
    pub page: String,
    pub problems: &'a [Problem],
    pub muted: Vec<MutedLine<'a>>,
    pub server: ServerCell<'a>,
    pub local: StorageCells,
    pub remote: StorageCells,
    pub integration: IntegrationCell<'a>,
    /// Each storage with a schedule.
    pub retention: Vec<Retention>,
    /// The newest read of GridPane's record failed or was not understood.
    pub record_error: Option<RecordError>,
}

/// Why the newest read of a site's record is not understood, and when the
/// record was last read well.
pub(super) struct RecordError {
    pub reason: &'static str,
    pub text: &'static str,
    /// The last good read, if there was one.
    pub last_good: Option<Time>,
}

pub(super) enum ServerCell<'a> {
    Label {
        label: &'a str,
        /// The server's backup engine in words.
        engine: Option<&'static str>,
    },
    /// Listed by id only: the account does not list the server.
    Id(u64),
    Unknown,
}

/// A storage's two cells: its schedule (with the newest backup in
/// GridPane's record under it) and its next run.
pub(super) struct StorageCells {
    pub schedule: ScheduleCell,
    pub record: Option<RecordLine>,
    /// Remote only: the proof from the bucket.
    pub copy: Option<CopyLine>,
    pub next: NextRun,
}

pub(super) enum ScheduleCell {
    Missing(Storage),
    Set {
        pill: Pill,
        frequency: &'static str,
        /// When in its period it runs.
        when: String,
    },
}

pub(super) enum Pill {
    /// The site is pending: whether the storage is on is not known yet.
    Checking,
    On,
    Off,
    /// The switch or the row is not understood: neither on nor off.
    NotUnderstood,
}

pub(super) enum NextRun {
    NoSchedule,
    Checking,
    Off,
    At(Time),
    Unknown,
}

/// The newest backup in GridPane's record of one storage.
pub(super) struct RecordLine {
    pub storage: &'static str,
    /// RFC 3339 and relative; `None` when the record holds none.
    pub last: Option<(String, String)>,
    pub count: u64,
}

impl RecordLine {
    pub(super) fn of(s: &StorageBackups, storage: Storage, now: DateTime<Utc>) -> RecordLine {
        RecordLine {
            storage: storage.as_str(),
            last: s
                .last
                .and_then(api::from_unix)
                .map(|t| (api::rfc3339(t), fmt_relative(t, now))),
            count: s.count,
        }
    }
}

pub(super) enum IntegrationCell<'a> {
    /// A remote schedule that names no integration.
    NoneNamed,
    NoRemote,
    Found {
        name: &'a str,
        provider: Option<&'a str>,
    },
    Deleted {
        id: u64,
        provider: Option<&'a str>,
    },
}

pub(super) struct Retention {
    /// Under the policy's minimum.
    pub short: bool,
    pub storage: &'static str,
    pub words: String,
    pub prune: Option<&'static str>,
}

impl<'a> SiteLine<'a> {
    pub(super) fn of(r: &'a SiteRow<'a>, now: DateTime<Utc>) -> SiteLine<'a> {
        let server = match (r.server_label, r.site.server_id) {
            (Some(label), _) => ServerCell::Label {
                label,
                engine: r.backups_version.and_then(engine_words),
            },
            (None, Some(id)) => ServerCell::Id(id),
            (None, None) => ServerCell::Unknown,
        };
        let history = r.site.history.as_ref();
        let integration = match &r.remote.integration {
            None if r.remote.schedule().is_some() => IntegrationCell::NoneNamed,
            None => IntegrationCell::NoRemote,
            Some(i) => match i.found.filter(|_| !i.missing) {
                Some(found) => IntegrationCell::Found {
                    name: &found.name,
                    provider: i.provider(),
                },
                None => IntegrationCell::Deleted {
                    id: i.id,
                    provider: i.provider(),
                },
            },
        };
        let retention = [&r.local, &r.remote]
            .into_iter()
            .filter(|s| s.schedule().is_some())
            .map(|s| Retention {
                short: s.problems.contains(&Problem::ShortRetention),
                storage: s.storage.as_str(),
                words: retention_words(s.retention),
                prune: s.settings.prune_schedule.and_then(prune_words),
            })
            .collect();
        SiteLine {
            health: r.health,
            id: r.site.id,
            account: r.account,
            url: &r.site.url,
            page: format!(".{}", api::site_path(r.account, r.site.id)),
            problems: &r.problems,
            muted: r.muted.iter().map(MutedLine::of).collect(),
            server,
            local: StorageCells::of(&r.local, history.map(|h| &h.local), now),
            remote: StorageCells::of(&r.remote, history.map(|h| &h.remote), now),
            integration,
            retention,
            record_error: r.site.record_failure.map(|f| RecordError {
                reason: f.reason.as_str(),
                text: f.reason.describe(),
                last_good: history
                    .and_then(|h| api::from_unix(h.read_at))
                    .map(|t| Time::new(t, now)),
            }),
        }
    }
}

impl StorageCells {
    pub(super) fn of(
        row: &StorageRow<'_>,
        record: Option<&StorageBackups>,
        now: DateTime<Utc>,
    ) -> Self {
        let schedule = match row.schedule() {
            None => ScheduleCell::Missing(row.storage),
            Some(s) => ScheduleCell::Set {
                pill: if row.pending {
                    Pill::Checking
                } else if row.not_understood {
                    Pill::NotUnderstood
                } else if row.enabled {
                    Pill::On
                } else {
                    Pill::Off
                },
                frequency: s.frequency.as_str(),
                when: schedule_when(s),
            },
        };
        // `next_run` is set only while the storage runs (the verdict's rule).
        let next = match (row.schedule(), row.enabled, row.next_run) {
            (None, _, _) => NextRun::NoSchedule,
            (Some(_), _, _) if row.pending => NextRun::Checking,
            (Some(_), false, _) if row.not_understood => NextRun::Unknown,
            (Some(_), false, _) => NextRun::Off,
            (Some(_), true, Some(t)) => NextRun::At(Time::new(t, now)),
            (Some(_), true, None) => NextRun::Unknown,
        };
        StorageCells {
            schedule,
            record: record.map(|s| RecordLine::of(s, row.storage, now)),
            copy: row.copy.as_ref().map(|c| CopyLine::of(c, now)),
            next,
        }
    }
}

/// The status page's line under the remote schedule.
pub(super) struct CopyLine {
    pub state: &'static str,
    pub storage: String,
    /// The newest revision, RFC 3339 and relative.
    pub newest: Option<(String, String)>,
    pub revisions: u64,
    /// How long ago the buckets were listed.
    pub listed: Option<String>,
}

impl CopyLine {
    pub(super) fn of(row: &CopyRow<'_>, now: DateTime<Utc>) -> CopyLine {
        let relative = fmt_relative;
        let p = &row.proof;
        CopyLine {
            state: p.state.as_str(),
            storage: row.storage.to_string(),
            newest: p.newest.map(|t| (api::rfc3339(t), relative(t, now))),
            revisions: p.revisions,
            listed: p.listed_at.map(|t| relative(t, now)),
        }
    }
}
