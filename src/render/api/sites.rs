//! `/api/v1/sites` and `/api/v1/schedules`: every site with its backup
//! state, and one entry per site and storage; the entries of a storage, a
//! problem, a mute and GridPane's backup record they are made of. Each
//! formats what the site's row says, which its verdict judged.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::filter::{ListQuery, PageInfo, ParamError};
use super::view::{StorageRow, View, site_path};
use crate::domain::{self, Frequency, Health, Problem, Severity, Storage};
use crate::render::remote_copy;
use crate::render::time::{age_seconds, from_unix, rfc3339};

#[derive(Debug, Serialize)]
pub struct ProblemEntry {
    pub code: &'static str,
    pub text: &'static str,
    /// `critical`, `unknown` or `warning`: the words of /metrics'
    /// `severity` label, never a site status.
    pub severity: Severity,
}

fn problem_entries(problems: &[Problem]) -> Vec<ProblemEntry> {
    problems
        .iter()
        .map(|p| ProblemEntry {
            code: p.as_str(),
            text: p.describe(),
            severity: p.severity(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct ScheduleEntry {
    pub id: u64,
    pub frequency: Frequency,
    pub hour: Option<u32>,
    pub minute: Option<u32>,
    pub day: Option<u32>,
    pub interval_seconds: Option<u64>,
    pub next_run: Option<String>,
    pub next_run_unix: Option<i64>,
    /// What of the row is not understood (`frequency`, `hour`, `minute`,
    /// `day`); absent when all of it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_understood: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct IntegrationRefEntry {
    pub id: u64,
    pub name: Option<String>,
    pub provider: Option<String>,
    pub region: Option<String>,
    pub missing: bool,
}

#[derive(Debug, Serialize)]
pub struct StorageEntry {
    pub automatic: Option<bool>,
    pub enabled: bool,
    /// Present (true) while the site is pending: `enabled` is then unknown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    pub schedule: Option<ScheduleEntry>,
    pub retention_days: Option<u32>,
    pub keep_all: bool,
    pub prune_schedule: Option<u32>,
    pub integration: Option<IntegrationRefEntry>,
    pub problems: Vec<ProblemEntry>,
    /// When the newest backup in GridPane's record becomes overdue under the
    /// policy; absent without a record or a schedule. The problem is judged
    /// as of the record's read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_due_by: Option<String>,
}

fn storage_entry(row: &StorageRow<'_>) -> StorageEntry {
    let s = row.settings;
    StorageEntry {
        automatic: s.automatic,
        enabled: row.enabled,
        pending: row.pending,
        schedule: s.schedule.as_ref().map(|sch| ScheduleEntry {
            id: sch.id,
            frequency: sch.frequency,
            hour: sch.hour,
            minute: sch.minute,
            day: sch.day,
            interval_seconds: sch.frequency.interval_seconds(),
            next_run: row.schedule_next_run.map(rfc3339),
            next_run_unix: row.schedule_next_run.map(|t| t.timestamp()),
            not_understood: sch.flaw.map(domain::ScheduleFlaw::as_str),
        }),
        retention_days: s.retain_days,
        keep_all: row.retention.keep_all(),
        prune_schedule: s.prune_schedule,
        integration: row.integration.as_ref().map(|i| IntegrationRefEntry {
            id: i.id,
            name: i.found.map(|f| f.name.clone()),
            provider: i.provider().map(str::to_string),
            region: i.found.and_then(|f| f.region.clone()),
            missing: i.missing,
        }),
        problems: problem_entries(&row.problems),
        backup_due_by: row.overdue_at.map(rfc3339),
    }
}

#[derive(Debug, Serialize)]
pub struct SitesAnswer {
    pub count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<PageInfo>,
    pub sites: Vec<SiteEntry>,
}

#[derive(Debug, Serialize)]
pub struct SiteEntry {
    pub account: String,
    pub id: u64,
    pub url: String,
    /// The site's page on the exporter, from its root: `/site/<account>/<id>`.
    pub page: String,
    pub server_id: Option<u64>,
    pub server_label: Option<String>,
    /// From the active problems only.
    pub status: Health,
    /// Present (true) while the site's `/site` record is not read yet: its
    /// `enabled` flags and retention are then unknown, not off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// Active problems: found, and not muted.
    pub problems: Vec<ProblemEntry>,
    pub muted_problems: Vec<MutedEntry>,
    /// The policy group the site belongs to.
    pub group: Option<String>,
    /// GridPane's site type (`primary`, `staging`...).
    pub site_type: Option<String>,
    pub remote_configured: bool,
    pub integration_missing: Option<bool>,
    pub local: StorageEntry,
    pub remote: StorageEntry,
    /// GridPane's backup record, when `poll.detail.history` has read it
    /// well: the last good read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<BackupsEntry>,
    /// The proof from the bucket next to GridPane's claim, when a
    /// `remote_storage` entry holds the site's integration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_copy: Option<remote_copy::RemoteCopyEntry>,
    /// The newest read of the record failed or was not understood.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_error: Option<RecordErrorEntry>,
}

/// Why the newest read of a site's record is not understood.
#[derive(Debug, Serialize)]
pub struct RecordErrorEntry {
    /// A bounded code (docs/api.md).
    pub reason: &'static str,
    pub text: &'static str,
    pub at: Option<String>,
}

pub(crate) fn record_error_entry(f: &domain::RecordFailure) -> RecordErrorEntry {
    RecordErrorEntry {
        reason: f.reason.as_str(),
        text: f.reason.describe(),
        at: from_unix(f.at).map(rfc3339),
    }
}

/// A problem a mute keeps out of the site's status.
#[derive(Debug, Serialize)]
pub struct MutedEntry {
    pub problem: &'static str,
    pub reason: String,
    pub until: String,
}

pub(crate) const SITES_PARAMS: [&str; 8] = [
    "account",
    "server",
    "server_id",
    "site_id",
    "status",
    "problem",
    "limit",
    "offset",
];

/// Every site with its derived backup state. Filters: `account`,
/// `server_id`, `site_id`, `status`, `problem`; a page: `limit`, `offset`.
pub fn sites(
    view: &View,
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SitesAnswer, ParamError> {
    let q = ListQuery::parse(view, raw, &SITES_PARAMS)?;
    let sites: Vec<SiteEntry> =
        view.site_rows(now)
            .iter()
            .filter(|r| q.filter.keeps(r))
            .map(|r| SiteEntry {
                account: r.account.to_string(),
                id: r.site.id,
                url: r.site.url.clone(),
                page: site_path(r.account, r.site.id),
                server_id: r.site.server_id,
                server_label: r.server_label.map(str::to_string),
                status: r.health,
                pending: r.pending,
                problems: problem_entries(&r.problems),
                muted_problems: r
                    .muted
                    .iter()
                    .map(|m| MutedEntry {
                        problem: m.problem.as_str(),
                        reason: m.reason.to_string(),
                        until: rfc3339(m.until),
                    })
                    .collect(),
                group: r.group.map(str::to_string),
                site_type: r.site.site_type.clone(),
                remote_configured: r.remote_configured,
                integration_missing: r.integration_missing,
                local: storage_entry(&r.local),
                remote: storage_entry(&r.remote),
                backups: backups_entry(r.site.history.as_ref(), now),
                remote_copy: r.remote.copy.as_ref().map(|c| {
                    remote_copy::entry(c, r.site.history.as_ref().map(|h| &h.remote), now)
                }),
                record_error: r.site.record_failure.as_ref().map(record_error_entry),
            })
            .collect();
    let (sites, page) = q.page(sites);
    Ok(SitesAnswer {
        count: sites.len(),
        page,
        sites,
    })
}

#[derive(Debug, Serialize)]
pub struct SchedulesAnswer {
    pub count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<PageInfo>,
    pub schedules: Vec<ScheduleRowEntry>,
}

#[derive(Debug, Serialize)]
pub struct ScheduleRowEntry {
    pub account: String,
    pub site_id: u64,
    pub site_url: String,
    pub server_id: Option<u64>,
    pub storage: Storage,
    #[serde(flatten)]
    pub entry: StorageEntry,
}

pub(crate) const SCHEDULES_PARAMS: [&str; 7] = [
    "account",
    "server",
    "server_id",
    "site_id",
    "storage",
    "limit",
    "offset",
];

/// One entry per site and storage (local, remote), scheduled or not.
/// Filters: `account`, `server_id`, `site_id`, `storage`; a page: `limit`,
/// `offset`.
pub fn schedules(
    view: &View,
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SchedulesAnswer, ParamError> {
    let q = ListQuery::parse(view, raw, &SCHEDULES_PARAMS)?;
    let mut schedules = Vec::new();
    for r in view.site_rows(now).iter().filter(|r| q.filter.keeps(r)) {
        for storage in Storage::ALL {
            if q.filter.storage.is_some_and(|s| s != storage) {
                continue;
            }
            schedules.push(ScheduleRowEntry {
                account: r.account.to_string(),
                site_id: r.site.id,
                site_url: r.site.url.clone(),
                server_id: r.site.server_id,
                storage,
                entry: storage_entry(r.storage(storage)),
            });
        }
    }
    let (schedules, page) = q.page(schedules);
    Ok(SchedulesAnswer {
        count: schedules.len(),
        page,
        schedules,
    })
}

// ---------------------------------------------------------------------------
// GridPane's backup record of a site (`poll.detail.history`): per storage,
// the newest backup with its age, the newest automatic one and how many are
// held. Absent for a site whose record has not been read.

/// A site's record in the JSON API (`backups` of a site).
#[derive(Debug, Serialize)]
pub struct BackupsEntry {
    /// When GridPane's record was read, and how long ago.
    pub read_at: Option<String>,
    pub record_age_seconds: Option<i64>,
    pub local: StorageBackupsEntry,
    pub remote: StorageBackupsEntry,
    /// Backups the record names without a storage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<StorageBackupsEntry>,
}

#[derive(Debug, Serialize)]
pub struct StorageBackupsEntry {
    pub count: u64,
    pub last: Option<String>,
    pub last_age_seconds: Option<i64>,
    pub last_automatic: Option<String>,
}

/// The API entry of a site's backup record, `None` when it has not been read.
pub(crate) fn backups_entry(
    h: Option<&domain::BackupHistory>,
    now: DateTime<Utc>,
) -> Option<BackupsEntry> {
    let h = h?;
    let read = from_unix(h.read_at);
    let storage = |s: &domain::StorageBackups| {
        let last = s.last.and_then(from_unix);
        StorageBackupsEntry {
            count: s.count,
            last: last.map(rfc3339),
            last_age_seconds: last.map(|t| age_seconds(t, now)),
            last_automatic: s.last_automatic.and_then(from_unix).map(rfc3339),
        }
    };
    Some(BackupsEntry {
        read_at: read.map(rfc3339),
        record_age_seconds: read.map(|t| age_seconds(t, now)),
        local: storage(&h.local),
        remote: storage(&h.remote),
        unknown: (!h.unattributed.is_empty()).then(|| storage(&h.unattributed)),
    })
}

#[cfg(test)]
mod backup_record_tests {
    use super::*;
    use crate::domain::{BackupHistory, StorageBackups};

    #[test]
    fn a_record_shows_the_newest_backup_per_storage_with_its_age() {
        let now = from_unix(10_000.0).unwrap_or_default();
        let h = BackupHistory {
            read_at: 9_000.0,
            local: StorageBackups {
                count: 3,
                last: Some(6_400.0),
                last_automatic: Some(6_400.0),
            },
            ..BackupHistory::default()
        };
        let e = backups_entry(Some(&h), now).unwrap_or_else(|| unreachable!());
        assert_eq!(e.record_age_seconds, Some(1_000));
        assert_eq!(e.local.last_age_seconds, Some(3_600));
        assert_eq!(e.remote.count, 0);
        assert!(e.remote.last.is_none() && e.unknown.is_none());
        assert!(backups_entry(None, now).is_none());
    }
}
