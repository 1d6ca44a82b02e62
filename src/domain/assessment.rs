//! The assessment: every site of a snapshot judged once (is a schedule on,
//! are remote backups really configured, what is wrong, how bad it is). Every
//! surface reads these verdicts; none judges a site again.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::copies::CopyState;
use super::history::StorageBackups;
use super::policy::{Policy, Rules, SiteContext};
use super::problem::{Problem, ProblemSet, Severity};
use super::snapshot::{AccountSnapshot, Site, Storage, StorageSettings};
use crate::bucket::BucketEvidence;

/// Automatic backups of this storage are on and scheduled. Where the site's
/// switch was not understood (`""`, `null`, absent), the storage is neither
/// on nor off: its site is `schedule_unreadable`.
pub(crate) fn schedule_enabled(settings: &StorageSettings) -> bool {
    settings.schedule.is_some() && settings.automatic == Some(true)
}

/// The storage's switch or schedule row holds something the exporter does
/// not understand (an unknown frequency, an impossible hour, minute or day,
/// a switch that is not on or off).
/// Without a schedule row the storage is not scheduled whatever its switch
/// says, so the switch alone matters only beside a row.
pub(crate) fn schedule_not_understood(settings: &StorageSettings) -> bool {
    settings
        .schedule
        .as_ref()
        .is_some_and(|s| s.flaw.is_some() || settings.automatic.is_none())
}

/// How far ahead of the clock a record's read may be and still count: one
/// hour, the allowance the client's reader gives backup names (the poller's
/// snapshot builder tests that the two agree).
pub(crate) const READ_CLOCK_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(3_600);
const READ_CLOCK_ALLOWANCE_SECS: f64 = READ_CLOCK_ALLOWANCE.as_secs() as f64;

/// When a record last read well at `read_at` becomes stale under
/// `record_max_age`; `None` when `read_at` is no time at all.
fn stale_at(read_at: f64, rules: &Rules) -> Option<DateTime<Utc>> {
    instant(read_at + rules.record_max_age.as_secs_f64())
}

/// The last good read of a record is too old to rest a verdict on: older
/// than `record_max_age`, ahead of the clock, or no time at all.
fn record_stale(read_at: f64, rules: &Rules, now: DateTime<Utc>) -> bool {
    let now_unix = now.timestamp_millis() as f64 / 1000.0;
    match stale_at(read_at, rules) {
        Some(at) => now >= at || read_at > now_unix + READ_CLOCK_ALLOWANCE_SECS,
        None => true,
    }
}

/// `Some(true)` when the remote schedule points at an integration that is not
/// in the account's list; `None` when there is no remote schedule or it names
/// no integration.
pub(crate) fn integration_missing(site: &Site, integration_ids: &HashSet<u64>) -> Option<bool> {
    let id = site.remote.schedule.as_ref()?.integration_id?;
    Some(!integration_ids.contains(&id))
}

/// Remote backups are on, scheduled, and their integration exists (when the
/// schedule names one).
pub(crate) fn remote_configured(site: &Site, integration_ids: &HashSet<u64>) -> bool {
    schedule_enabled(&site.remote) && integration_missing(site, integration_ids) != Some(true)
}

// ---------------------------------------------------------------------------
// The assessment: every site judged once per snapshot, read by every surface
// (exposition, JSON API, status page).

/// How bad a site's backups are. The order sorts the worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// At least one critical problem: the site is not protected.
    Problem,
    /// No critical problem, but a fact the verdict rests on was not read or
    /// not understood (a problem of severity unknown): neither OK nor
    /// "not protected".
    Unknown,
    /// Only warnings: protected, but less than it should be.
    Warning,
    /// No problem proven yet, but the site's `/site` record has not been
    /// read: never shown as OK ([`super::pending`]).
    Pending,
    Ok,
}

impl Health {
    pub(crate) const ALL: [Health; 5] = [
        Health::Problem,
        Health::Unknown,
        Health::Warning,
        Health::Pending,
        Health::Ok,
    ];

    /// Any critical problem: [`Health::Problem`]; else any of severity
    /// unknown: [`Health::Unknown`]; else any warning: [`Health::Warning`].
    pub(crate) fn of(problems: impl IntoIterator<Item = Problem>) -> Health {
        problems
            .into_iter()
            .map(|p| match p.severity() {
                Severity::Critical => Health::Problem,
                Severity::Unknown => Health::Unknown,
                Severity::Warning => Health::Warning,
            })
            .min()
            .unwrap_or(Health::Ok)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Problem => "problem",
            Health::Unknown => "unknown",
            Health::Warning => "warning",
            Health::Pending => "pending",
            Health::Ok => "ok",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Health> {
        Health::ALL.into_iter().find(|h| h.as_str() == name)
    }

    /// Every status in words, for messages: "problem, unknown, warning,
    /// pending or ok".
    pub(crate) fn names() -> String {
        let names: Vec<&str> = Health::ALL.iter().map(|h| h.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// One storage of one site, judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StorageVerdict {
    /// A schedule row exists, on or off.
    pub scheduled: bool,
    /// A schedule row exists and the site's switch says off.
    pub off: bool,
    /// [`schedule_enabled`]: automatic backups are on and scheduled.
    pub enabled: bool,
    /// On, and kept for less than the site's `min_retention_days`
    /// (keep-all is not short).
    pub short_retention: bool,
    /// On, with a schedule period over the site's `max_interval`.
    pub interval_too_long: bool,
    /// On, with a schedule period: when the newest backup becomes overdue
    /// (`overdue_after` periods plus `overdue_grace` after it).
    pub overdue_at: Option<DateTime<Utc>>,
    /// On, and `overdue_at` had come when the record was read. A record is
    /// as old as its last read (a pass of the detail task, hours at a large
    /// fleet): judged at the time of the read, a backup taken since cannot
    /// be missed, so a stale record never raises a false overdue; the next
    /// read shows one that became overdue since.
    pub overdue: bool,
    /// On, the record has been read, and it holds no backup of this storage.
    pub never_backed_up: bool,
    /// Remote only: what the buckets of the `remote_storage` entry that
    /// holds the site's integration say (`None`: no entry holds it).
    pub copy: Option<super::copies::CopyProof>,
    /// [`schedule_not_understood`] (never for a pending site).
    pub not_understood: bool,
    /// How long the storage keeps its backups (GridPane's `0`: keep all).
    pub retention: super::Retention,
}

impl StorageVerdict {
    /// The next run after `now`, for a storage that runs (on and
    /// scheduled) only: what every surface shows as its next run. Computed
    /// at `now`, as it moves with the clock and the verdict does not.
    pub(crate) fn next_run(
        &self,
        settings: &StorageSettings,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        next_run_if(self.enabled, settings, now)
    }

    /// The next run after `now` of the storage's schedule row, on or off:
    /// the JSON API's documented `schedule.next_run` (docs/api.md), which
    /// says when a schedule switched off would run. No surface shows it as
    /// the storage's next run: that is [`StorageVerdict::next_run`].
    pub(crate) fn schedule_next_run(
        &self,
        settings: &StorageSettings,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        next_run_if(self.scheduled, settings, now)
    }

    /// `record`: the storage's backups in the site's record and when it was
    /// read, `None` when the record has not been read.
    fn judge(
        settings: &StorageSettings,
        record: Option<(StorageBackups, f64)>,
        rules: &Rules,
    ) -> StorageVerdict {
        let backups = record.map(|(b, _)| b);
        let enabled = schedule_enabled(settings);
        let period = period(settings);
        let overdue_at = match (backups.and_then(|b| b.last), period) {
            (Some(last), Some(period)) if enabled => instant(
                last + rules.overdue_after * period as f64 + rules.overdue_grace.as_secs_f64(),
            ),
            _ => None,
        };
        let retention = super::Retention::of(settings.retain_days);
        StorageVerdict {
            retention,
            overdue_at,
            overdue: match (overdue_at, record.and_then(|(_, read_at)| instant(read_at))) {
                (Some(due), Some(read)) => read >= due,
                _ => false,
            },
            never_backed_up: enabled && backups.is_some_and(|b| b.last.is_none()),
            scheduled: settings.schedule.is_some(),
            off: settings.schedule.is_some() && settings.automatic == Some(false),
            enabled,
            short_retention: enabled && retention.shorter_than(rules.min_retention_days),
            interval_too_long: enabled && interval_over(period, rules),
            copy: None,
            not_understood: schedule_not_understood(settings),
        }
    }
}

/// The next run of the storage's schedule after `now`, if `shown`.
fn next_run_if(
    shown: bool,
    settings: &StorageSettings,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let schedule = settings.schedule.as_ref().filter(|_| shown)?;
    super::next_run(schedule, now)
}

/// The nominal period of the storage's schedule, in seconds.
fn period(settings: &StorageSettings) -> Option<u64> {
    settings
        .schedule
        .as_ref()
        .and_then(|s| s.frequency.interval_seconds())
}

/// A schedule of this period runs less often than `max_interval`.
fn interval_over(period: Option<u64>, rules: &Rules) -> bool {
    period.is_some_and(|p| p > rules.max_interval.as_secs())
}

/// Unix seconds as an instant, to the millisecond; `None` out of range.
fn instant(unix: f64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis((unix * 1000.0).round() as i64)
}

/// The backups of one storage in the site's record and when it was read,
/// `None` when it has not been read. Backups the record names without a
/// storage may be of either, so they count for both.
fn backups_of(site: &Site, storage: Storage) -> Option<(StorageBackups, f64)> {
    let h = site.history.as_ref()?;
    let own = match storage {
        Storage::Local => h.local,
        Storage::Remote => h.remote,
    };
    let other = h.unattributed;
    let backups = StorageBackups {
        count: own.count + other.count,
        last: newest(own.last, other.last),
        last_automatic: newest(own.last_automatic, other.last_automatic),
    };
    Some((backups, h.read_at))
}

fn newest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A problem an active mute keeps out of the site's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutedProblem {
    pub problem: Problem,
    pub reason: Arc<str>,
    pub until: DateTime<Utc>,
}

/// One site, judged: what every surface says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SiteVerdict {
    pub local: StorageVerdict,
    pub remote: StorageVerdict,
    /// [`remote_configured`].
    pub remote_configured: bool,
    /// [`integration_missing`].
    pub integration_missing: Option<bool>,
    /// The problems that count: found, and not muted.
    pub active: ProblemSet,
    /// Problems found but muted, most serious first.
    pub muted: Vec<MutedProblem>,
    /// The policy group the site belongs to, if any.
    pub group: Option<Arc<str>>,
    /// From the active problems only.
    pub health: Health,
    /// When the site's record, read well and not stale now, becomes stale.
    pub stale_at: Option<DateTime<Utc>>,
    /// The site is pending: whether its storages are on (and its remote
    /// configured) is not known yet, so no surface says on or off.
    pub switches_unknown: bool,
}

/// What the site's backup record allows the verdict to rest on.
#[derive(Clone, Copy, Debug, Default)]
struct RecordVerdict {
    /// Records are read, and this site's has not been read yet.
    awaited: bool,
    /// The newest read of the record failed or was not understood.
    unreadable: bool,
    /// The last good read is older than `record_max_age` (or no time).
    stale: bool,
    /// When a good, fresh record becomes stale.
    stale_at: Option<DateTime<Utc>>,
}

impl RecordVerdict {
    fn judge(site: &Site, records_read: bool, rules: &Rules, now: DateTime<Utc>) -> RecordVerdict {
        if site.pending {
            return RecordVerdict::default();
        }
        let unreadable = site.record_failure.is_some();
        match &site.history {
            None => RecordVerdict {
                awaited: records_read && !unreadable,
                unreadable,
                ..RecordVerdict::default()
            },
            Some(h) => {
                let stale = !unreadable && record_stale(h.read_at, rules, now);
                RecordVerdict {
                    awaited: false,
                    unreadable,
                    stale,
                    stale_at: stale_at(h.read_at, rules).filter(|_| !stale && !unreadable),
                }
            }
        }
    }
}

impl SiteVerdict {
    #[cfg(test)]
    pub(crate) fn judge(
        at: &SiteContext<'_>,
        integration_ids: &HashSet<u64>,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> SiteVerdict {
        SiteVerdict::judge_with_copy(at, integration_ids, policy, now, None)
    }

    /// Like [`SiteVerdict::judge`], with the proof from the bucket.
    pub(crate) fn judge_with_copy(
        at: &SiteContext<'_>,
        integration_ids: &HashSet<u64>,
        policy: &Policy,
        now: DateTime<Utc>,
        copy: Option<super::copies::CopyProof>,
    ) -> SiteVerdict {
        let site = at.site;
        // A pending site: only what its schedule rows prove. Nothing is on,
        // configured or short-kept until the `/site` record says so, and
        // while its type is unknown only what every group it could fall in
        // would find counts.
        let pending = site.pending;
        let (group, rules) = match pending && site.site_type.is_none() {
            true => policy.rules_whatever_type(at),
            false => {
                let (group, rules) = policy.rules_for(at);
                (group, *rules)
            }
        };
        let rules = &rules;
        let judge_storage = |storage: Storage| match pending {
            false => StorageVerdict::judge(site.storage(storage), backups_of(site, storage), rules),
            true => StorageVerdict {
                scheduled: site.storage(storage).schedule.is_some(),
                // Too rare whether on or off: if off, a worse problem shows
                // once the record is read.
                interval_too_long: interval_over(period(site.storage(storage)), rules),
                // What the schedule listing says, as for a site read.
                retention: super::Retention::of(site.storage(storage).retain_days),
                ..StorageVerdict::default()
            },
        };
        let local = judge_storage(Storage::Local);
        let remote = judge_storage(Storage::Remote);
        let copy = copy.map(|c| super::copies::CopyProof {
            state: c.judge(
                period(&site.remote),
                rules.overdue_after,
                rules.overdue_grace,
            ),
            ..c
        });
        let copy_state = copy.filter(|_| remote.enabled).map(|c| c.state);
        let remote = StorageVerdict { copy, ..remote };
        // Not listed yet since the process started, no bucket failed: like
        // a record not read yet, pending rather than OK.
        let copy_awaited = copy_state == Some(CopyState::Pending);
        let integration_missing = integration_missing(site, integration_ids);
        let record = RecordVerdict::judge(site, policy.records_read, rules, now);
        let found = [
            (Problem::LocalDisabled, !pending && local.off),
            (Problem::LocalNotScheduled, !local.scheduled),
            (Problem::RemoteDisabled, !pending && remote.off),
            (Problem::RemoteNotSetUp, !remote.scheduled),
            (
                Problem::IntegrationMissing,
                integration_missing == Some(true),
            ),
            (
                Problem::NeverBackedUp,
                local.never_backed_up || remote.never_backed_up,
            ),
            (Problem::BackupOverdue, local.overdue || remote.overdue),
            (Problem::RecordUnreadable, record.unreadable),
            (Problem::RecordStale, record.stale),
            (
                Problem::ScheduleUnreadable,
                local.not_understood || (remote.not_understood && rules.require_remote),
            ),
            (
                Problem::ShortRetention,
                local.short_retention || remote.short_retention,
            ),
            (
                Problem::IntervalTooLong,
                local.interval_too_long || remote.interval_too_long,
            ),
            (
                Problem::RemoteCopyMissing,
                copy_state == Some(CopyState::Missing),
            ),
            (
                Problem::RemoteCopyStale,
                copy_state == Some(CopyState::Stale),
            ),
            (
                Problem::RemoteCopyUnknown,
                copy_state == Some(CopyState::Unknown),
            ),
        ];
        let mut active = ProblemSet::default();
        let mut muted = Vec::new();
        for (p, on) in found {
            if !on || (p.needs_remote() && !rules.require_remote) {
                continue;
            }
            match policy.mute_of(at, p, now) {
                Some(m) => muted.push(MutedProblem {
                    problem: p,
                    reason: Arc::clone(&m.reason),
                    until: m.until,
                }),
                None => active.insert(p),
            }
        }
        SiteVerdict {
            local,
            remote,
            remote_configured: !pending && remote_configured(site, integration_ids),
            integration_missing,
            active,
            muted,
            group: group.map(|g| Arc::clone(&g.name)),
            health: match Health::of(active.iter()) {
                Health::Ok if pending || record.awaited || copy_awaited => Health::Pending,
                proven => proven,
            },
            stale_at: record.stale_at,
            switches_unknown: pending,
        }
    }

    pub(crate) fn storage(&self, storage: Storage) -> &StorageVerdict {
        match storage {
            Storage::Local => &self.local,
            Storage::Remote => &self.remote,
        }
    }

    /// The site's retention: the shortest of its storages that are on
    /// (keep-all counts as forever); `None` when none is on or none of
    /// those says how long it keeps its backups.
    pub(crate) fn retention(&self) -> Option<super::Retention> {
        [&self.local, &self.remote]
            .into_iter()
            .filter(|s| s.enabled)
            .map(|s| s.retention)
            .filter(|r| *r != super::Retention::Unknown)
            .min()
    }

    /// The site's active problems, most serious first.
    pub(crate) fn problems(&self) -> impl Iterator<Item = Problem> + use<> {
        self.active.iter()
    }

    /// The site's active problems that concern one storage: its own, and
    /// short retention, a long interval, no backup or an overdue one when
    /// that storage has it.
    pub(crate) fn storage_problems(
        &self,
        storage: Storage,
    ) -> impl Iterator<Item = Problem> + use<> {
        let v = *self.storage(storage);
        self.problems().filter(move |p| match p {
            Problem::ShortRetention => v.short_retention,
            Problem::IntervalTooLong => v.interval_too_long,
            Problem::NeverBackedUp => v.never_backed_up,
            Problem::BackupOverdue => v.overdue,
            Problem::ScheduleUnreadable => v.not_understood,
            p => p.storage() == Some(storage),
        })
    }
}

/// Every site of a snapshot judged, in the snapshot's site order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assessment {
    sites: Vec<SiteVerdict>,
    /// Per `remote_storage` entry, what its buckets hold against the sites.
    copies: Vec<super::copies::StorageCopies>,
    /// Each integration of the account, and each one schedules name that it
    /// no longer has, judged ([`super::integrations::judge`]).
    integrations: Vec<super::integrations::IntegrationVerdict>,
    /// The earliest instant after which time alone changes a verdict (an
    /// applied mute ends, a record becomes stale).
    next_change: Option<DateTime<Utc>>,
}

impl Assessment {
    /// The one place a snapshot's sites are judged, under `policy` at `now`.
    pub fn of(snapshot: &AccountSnapshot, policy: &Policy, now: DateTime<Utc>) -> Assessment {
        Assessment::with_evidence(snapshot, &BucketEvidence::default(), policy, now)
    }

    /// Like [`Assessment::of`], with what the account's buckets hold.
    pub fn with_evidence(
        snapshot: &AccountSnapshot,
        evidence: &BucketEvidence,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Assessment {
        let (proofs, copies) = super::copies::prove(snapshot, evidence);
        let ids = snapshot.integration_ids();
        let labels = snapshot.server_labels();
        let sites: Vec<SiteVerdict> = snapshot
            .sites
            .iter()
            .zip(proofs)
            .map(|(site, copy)| {
                let at = SiteContext {
                    account: &snapshot.account,
                    site,
                    server_label: site.server_id.and_then(|id| labels.get(&id).copied()),
                };
                SiteVerdict::judge_with_copy(&at, &ids, policy, now, copy)
            })
            .collect();
        let mute_ends = sites.iter().flat_map(|v| &v.muted).map(|m| m.until);
        let stale = sites.iter().filter_map(|v| v.stale_at);
        let next_change = mute_ends.chain(stale).min();
        Assessment {
            sites,
            copies,
            integrations: super::integrations::judge(snapshot),
            next_change,
        }
    }

    /// Per `remote_storage` entry (in the evidence's order), what its
    /// buckets hold against the sites.
    pub(crate) fn copies(&self) -> &[super::copies::StorageCopies] {
        &self.copies
    }

    /// The account's integrations in the snapshot's order, then the
    /// missing ones in id order.
    pub(crate) fn integrations(&self) -> &[super::integrations::IntegrationVerdict] {
        &self.integrations
    }

    /// One verdict per site, in the snapshot's site order.
    pub(crate) fn sites(&self) -> &[SiteVerdict] {
        &self.sites
    }

    /// When the snapshot must be judged again although nothing else
    /// changed: the end of the first mute that mutes a problem, or the
    /// first record that becomes stale.
    pub(crate) fn next_change(&self) -> Option<DateTime<Utc>> {
        self.next_change
    }
}

/// A snapshot with its assessment, computed when the snapshot is made (and
/// again when the policy changes or a mute ends), never stored apart from
/// it: what the store holds and every surface reads. Only the snapshot is
/// saved in the state file; the assessment is computed again on load.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessed {
    snapshot: Arc<AccountSnapshot>,
    /// What the account's buckets held when it was judged.
    evidence: Arc<BucketEvidence>,
    assessment: Assessment,
}

impl Assessed {
    pub fn new(snapshot: AccountSnapshot, policy: &Policy, now: DateTime<Utc>) -> Assessed {
        Assessed::judge(Arc::new(snapshot), policy, now)
    }

    /// The same snapshot judged again (a new policy, a mute that ended).
    pub(crate) fn judge(
        snapshot: Arc<AccountSnapshot>,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Assessed {
        Assessed::judge_with(snapshot, Arc::default(), policy, now)
    }

    /// The snapshot judged with what the account's buckets hold.
    pub(crate) fn judge_with(
        snapshot: Arc<AccountSnapshot>,
        evidence: Arc<BucketEvidence>,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Assessed {
        let assessment = Assessment::with_evidence(&snapshot, &evidence, policy, now);
        Assessed {
            snapshot,
            evidence,
            assessment,
        }
    }

    /// What the account's buckets held when the snapshot was judged.
    pub(crate) fn evidence(&self) -> &BucketEvidence {
        &self.evidence
    }

    pub(crate) fn shared_evidence(&self) -> Arc<BucketEvidence> {
        Arc::clone(&self.evidence)
    }

    pub fn snapshot(&self) -> &AccountSnapshot {
        &self.snapshot
    }

    /// The snapshot, shared (to judge it again without copying it).
    pub(crate) fn shared_snapshot(&self) -> Arc<AccountSnapshot> {
        Arc::clone(&self.snapshot)
    }

    pub(crate) fn assessment(&self) -> &Assessment {
        &self.assessment
    }

    /// Each site with its verdict, in site order.
    pub(crate) fn sites(&self) -> impl Iterator<Item = (&Site, &SiteVerdict)> {
        self.snapshot.sites.iter().zip(&self.assessment.sites)
    }
}

#[cfg(test)]
impl Assessed {
    /// A snapshot held with verdicts other than its own, to show which
    /// surfaces read the assessment and which judge again.
    pub(crate) fn with_verdicts(snapshot: AccountSnapshot, sites: Vec<SiteVerdict>) -> Assessed {
        Assessed {
            evidence: Arc::default(),
            assessment: Assessment {
                integrations: super::integrations::judge(&snapshot),
                sites,
                copies: Vec::new(),
                next_change: None,
            },
            snapshot: Arc::new(snapshot),
        }
    }

    /// The same, with each integration's site count as `sites` gives it
    /// rather than as judged: to show that surfaces read the count.
    pub(crate) fn with_integration_sites(mut self, sites: impl Fn(u64) -> usize) -> Assessed {
        for v in &mut self.assessment.integrations {
            v.sites = sites(v.id);
        }
        self
    }
}

impl std::ops::Deref for Assessed {
    type Target = AccountSnapshot;

    fn deref(&self) -> &AccountSnapshot {
        &self.snapshot
    }
}
