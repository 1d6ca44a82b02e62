//! The normalised account snapshot, built from the API's responses, and the
//! pure functions that judge it: is a schedule on, are remote backups really
//! configured, when is the next run, how long are backups kept.
//!
//! A snapshot is immutable once built; the poller swaps whole snapshots.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::gridpane::wire;

/// Where backups are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    Local,
    Remote,
}

impl Storage {
    pub const ALL: [Storage; 2] = [Storage::Local, Storage::Remote];

    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Local => "local",
            Storage::Remote => "remote",
        }
    }
}

/// How often a schedule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Unknown,
}

impl Frequency {
    /// From a trimmed, lowercased word (`bup_schedule`).
    pub fn parse(word: &str) -> Frequency {
        match word {
            "hourly" => Frequency::Hourly,
            "daily" => Frequency::Daily,
            "weekly" => Frequency::Weekly,
            "monthly" => Frequency::Monthly,
            _ => Frequency::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Hourly => "hourly",
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
            Frequency::Unknown => "unknown",
        }
    }

    /// The nominal period; a month counts as 30 days.
    pub fn interval_seconds(self) -> Option<u64> {
        match self {
            Frequency::Hourly => Some(3_600),
            Frequency::Daily => Some(86_400),
            Frequency::Weekly => Some(7 * 86_400),
            Frequency::Monthly => Some(30 * 86_400),
            Frequency::Unknown => None,
        }
    }
}

/// Backups V1 (Borg, legacy) or V2 (Duplicacy), from the server's
/// `update_backups` flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupsVersion {
    V1,
    V2,
    Unknown,
}

impl BackupsVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupsVersion::V1 => "v1",
            BackupsVersion::V2 => "v2",
            BackupsVersion::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub id: u64,
    pub label: String,
    pub region: Option<String>,
    pub backups_version: BackupsVersion,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: u64,
    pub frequency: Frequency,
    pub hour: Option<u32>,
    pub minute: Option<u32>,
    /// Weekly: 0–6, 0 = Sunday. Monthly: day of the month.
    pub day: Option<u32>,
    pub service_id: Option<u64>,
    pub service_name: Option<String>,
    /// The backup integration a remote schedule uploads to.
    pub integration_id: Option<u64>,
}

/// One storage (local or remote) of one site.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageSettings {
    /// The site's `local_bup` / `remote_bup` flag, when the API sent one.
    pub automatic: Option<bool>,
    pub schedule: Option<Schedule>,
    /// 0 means keep all.
    pub retain_days: Option<u32>,
    /// 0–3, see docs/metrics.md.
    pub prune_schedule: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub id: u64,
    pub url: String,
    pub server_id: Option<u64>,
    pub local: StorageSettings,
    pub remote: StorageSettings,
}

impl Site {
    pub fn storage(&self, storage: Storage) -> &StorageSettings {
        match storage {
            Storage::Local => &self.local,
            Storage::Remote => &self.remote,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub id: u64,
    pub name: String,
    /// `aws-s3`, `backblaze`, `dropbox`, `wasabi`, or what the API says.
    pub provider: String,
    pub region: Option<String>,
}

/// Everything known about one account after one successful poll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountSnapshot {
    pub account: String,
    /// Unix seconds when the poll that built it finished.
    pub fetched_at: f64,
    pub servers: Vec<Server>,
    pub sites: Vec<Site>,
    pub integrations: Vec<Integration>,
}

impl AccountSnapshot {
    pub fn integration_ids(&self) -> HashSet<u64> {
        self.integrations.iter().map(|i| i.id).collect()
    }

    pub fn server_labels(&self) -> HashMap<u64, &str> {
        self.servers
            .iter()
            .map(|s| (s.id, s.label.as_str()))
            .collect()
    }

    /// integration id -> number of sites whose remote schedule uses it.
    pub fn integration_usage(&self) -> BTreeMap<u64, usize> {
        let mut usage: BTreeMap<u64, usize> = self.integrations.iter().map(|i| (i.id, 0)).collect();
        for site in &self.sites {
            if let Some(id) = site.remote.schedule.as_ref().and_then(|s| s.integration_id) {
                *usage.entry(id).or_default() += 1;
            }
        }
        usage
    }
}

/// What the API answered in one poll, before normalising.
pub struct Fetched {
    pub sites: Vec<wire::Site>,
    pub servers: Vec<wire::Server>,
    pub schedules: Vec<wire::SiteSchedules>,
    pub integrations: Vec<wire::Integration>,
}

/// A site's first local and first remote schedule row.
type FirstSchedules = (Option<Schedule>, Option<Schedule>);

/// Builds the snapshot. The site list is authoritative: schedules of sites
/// it does not list are dropped. When a site has several rows of one storage
/// type, the first one is kept.
pub fn build_snapshot(account: &str, fetched_at: f64, fetched: Fetched) -> AccountSnapshot {
    // Sites and schedules are joined by walking both in site id order, not
    // through a hash map: at 100k sites, random lookups into a table that
    // outgrows the CPU caches cost more than the rest of the build. Both
    // sorts are stable (the first entry for an id wins, as GridPane lists
    // it) and close to linear on input that is already in id order.
    let mut entries = fetched.schedules;
    entries.sort_by_key(|e| e.site_id);
    let mut by_site: Vec<(u64, FirstSchedules)> = Vec::with_capacity(entries.len());
    for entry in entries {
        if by_site.last().is_none_or(|(id, _)| *id != entry.site_id) {
            by_site.push((entry.site_id, (None, None)));
        }
        let Some((_, slot)) = by_site.last_mut() else {
            continue;
        };
        for row in entry.schedule_backups {
            let target = match row.storage.as_str() {
                "local" => &mut slot.0,
                "remote" => &mut slot.1,
                _ => continue,
            };
            if target.is_none() {
                *target = Some(Schedule {
                    id: row.id,
                    frequency: Frequency::parse(row.bup_schedule.as_str()),
                    hour: row.hour,
                    minute: row.minute,
                    day: row.day,
                    service_id: row.service_id,
                    service_name: row.service_name,
                    integration_id: row.service_user_id,
                });
            }
        }
    }

    let mut servers: Vec<Server> = fetched
        .servers
        .into_iter()
        .map(|s| Server {
            id: s.id,
            label: s.label.unwrap_or_else(|| s.id.to_string()),
            region: s.region,
            backups_version: match s.update_backups {
                Some(true) => BackupsVersion::V2,
                Some(false) => BackupsVersion::V1,
                None => BackupsVersion::Unknown,
            },
        })
        .collect();
    servers.sort_by_key(|s| s.id);
    servers.dedup_by_key(|s| s.id);

    let mut listed = fetched.sites;
    listed.sort_by_key(|s| s.id);
    listed.dedup_by_key(|s| s.id);
    let mut schedules = by_site.into_iter().peekable();
    let sites: Vec<Site> = listed
        .into_iter()
        .map(|s| {
            while schedules.next_if(|(id, _)| *id < s.id).is_some() {}
            let (local_schedule, remote_schedule) = schedules
                .next_if(|(id, _)| *id == s.id)
                .map(|(_, slots)| slots)
                .unwrap_or_default();
            let customizer = s.site_customizer.unwrap_or_default();
            Site {
                id: s.id,
                url: s.url,
                server_id: s.server_id.or(s.server.and_then(|r| r.id)),
                local: StorageSettings {
                    automatic: s.local_bup,
                    schedule: local_schedule,
                    retain_days: customizer.local_retain_days,
                    prune_schedule: customizer.local_prune_schedule,
                },
                remote: StorageSettings {
                    automatic: s.remote_bup,
                    schedule: remote_schedule,
                    retain_days: customizer.remote_retain_days,
                    prune_schedule: customizer.remote_prune_schedule,
                },
            }
        })
        .collect();

    let mut integrations: Vec<Integration> = fetched
        .integrations
        .into_iter()
        .map(|i| Integration {
            id: i.id,
            name: i.integration_name.unwrap_or_else(|| i.id.to_string()),
            provider: i
                .integrated_service
                .unwrap_or_else(|| "unknown".to_string()),
            region: i.region,
        })
        .collect();
    integrations.sort_by_key(|i| i.id);
    integrations.dedup_by_key(|i| i.id);

    AccountSnapshot {
        account: account.to_string(),
        fetched_at,
        servers,
        sites,
        integrations,
    }
}

/// Automatic backups of this storage are on and scheduled. Where the site
/// carries no flag, a schedule row counts as on.
pub fn schedule_enabled(settings: &StorageSettings) -> bool {
    settings.schedule.is_some() && settings.automatic.unwrap_or(true)
}

/// `Some(true)` when the remote schedule points at an integration that is not
/// in the account's list; `None` when there is no remote schedule or it names
/// no integration.
pub fn integration_missing(site: &Site, integration_ids: &HashSet<u64>) -> Option<bool> {
    let id = site.remote.schedule.as_ref()?.integration_id?;
    Some(!integration_ids.contains(&id))
}

/// Remote backups are on, scheduled, and their integration exists (when the
/// schedule names one).
pub fn remote_configured(site: &Site, integration_ids: &HashSet<u64>) -> bool {
    schedule_enabled(&site.remote) && integration_missing(site, integration_ids) != Some(true)
}

/// How long backups are kept; 0 days means keep all (+Inf).
pub fn retention_seconds(retain_days: u32) -> f64 {
    if retain_days == 0 {
        f64::INFINITY
    } else {
        f64::from(retain_days) * 86_400.0
    }
}

/// Retention under this many days is reported as a warning.
pub const SHORT_RETENTION_DAYS: u32 = 7;

/// Something wrong with a site's backups, in the words an operator reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// A local schedule exists but automatic local backups are off.
    LocalDisabled,
    /// No local schedule at all.
    LocalNotScheduled,
    /// A remote schedule exists but automatic remote backups are off.
    RemoteDisabled,
    /// No remote schedule: remote backups were never set up.
    RemoteNotSetUp,
    /// The remote schedule points at an integration that no longer exists.
    IntegrationMissing,
    /// Local or remote backups are kept for less than a week.
    ShortRetention,
}

impl Problem {
    /// Every problem kind, most serious first (the order of [`site_problems`]).
    pub const ALL: [Problem; 6] = [
        Problem::LocalDisabled,
        Problem::LocalNotScheduled,
        Problem::RemoteDisabled,
        Problem::RemoteNotSetUp,
        Problem::IntegrationMissing,
        Problem::ShortRetention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Problem::LocalDisabled => "local_disabled",
            Problem::LocalNotScheduled => "local_not_scheduled",
            Problem::RemoteDisabled => "remote_disabled",
            Problem::RemoteNotSetUp => "remote_not_set_up",
            Problem::IntegrationMissing => "integration_missing",
            Problem::ShortRetention => "short_retention",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Problem::LocalDisabled => "local backups are switched off",
            Problem::LocalNotScheduled => "no local backup schedule",
            Problem::RemoteDisabled => "remote backups are switched off",
            Problem::RemoteNotSetUp => "remote backups were never set up",
            Problem::IntegrationMissing => "remote schedule points at a deleted integration",
            Problem::ShortRetention => "backups are kept for less than a week",
        }
    }

    /// Problems leave a site unprotected; warnings weaken its protection.
    pub fn is_warning(self) -> bool {
        matches!(self, Problem::ShortRetention)
    }
}

/// Every problem of one site, most serious first.
pub fn site_problems(site: &Site, integration_ids: &HashSet<u64>) -> Vec<Problem> {
    SiteVerdict::judge(site, integration_ids)
        .problems()
        .collect()
}

impl Problem {
    /// Which storage the problem concerns; `None` for short retention,
    /// which can concern either.
    pub fn storage(self) -> Option<Storage> {
        match self {
            Problem::LocalDisabled | Problem::LocalNotScheduled => Some(Storage::Local),
            Problem::RemoteDisabled | Problem::RemoteNotSetUp | Problem::IntegrationMissing => {
                Some(Storage::Remote)
            }
            Problem::ShortRetention => None,
        }
    }
}

// ---------------------------------------------------------------------------
// The assessment: every site judged once per snapshot, read by every surface
// (exposition, JSON API, status page).

/// How bad a site's backups are. The order sorts the worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// At least one problem: the site is not protected.
    Problem,
    /// Only warnings: protected, but less than it should be.
    Warning,
    Ok,
}

impl Health {
    pub fn of(problems: impl IntoIterator<Item = Problem>) -> Health {
        let mut health = Health::Ok;
        for p in problems {
            if !p.is_warning() {
                return Health::Problem;
            }
            health = Health::Warning;
        }
        health
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Problem => "problem",
            Health::Warning => "warning",
            Health::Ok => "ok",
        }
    }
}

/// One storage of one site, judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageVerdict {
    /// A schedule row exists, on or off.
    pub scheduled: bool,
    /// [`schedule_enabled`]: automatic backups are on and scheduled.
    pub enabled: bool,
    /// On, and kept for less than [`SHORT_RETENTION_DAYS`] (keep-all is not
    /// short).
    pub short_retention: bool,
}

impl StorageVerdict {
    fn judge(settings: &StorageSettings) -> StorageVerdict {
        let enabled = schedule_enabled(settings);
        StorageVerdict {
            scheduled: settings.schedule.is_some(),
            enabled,
            short_retention: enabled
                && settings
                    .retain_days
                    .is_some_and(|d| d > 0 && d < SHORT_RETENTION_DAYS),
        }
    }
}

/// One site, judged: what every surface says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SiteVerdict {
    pub local: StorageVerdict,
    pub remote: StorageVerdict,
    /// [`remote_configured`].
    pub remote_configured: bool,
    /// [`integration_missing`].
    pub integration_missing: Option<bool>,
    /// Which problems the site has, in the order of [`Problem::ALL`].
    pub problem_flags: [bool; Problem::ALL.len()],
    pub health: Health,
}

impl SiteVerdict {
    pub fn judge(site: &Site, integration_ids: &HashSet<u64>) -> SiteVerdict {
        let local = StorageVerdict::judge(&site.local);
        let remote = StorageVerdict::judge(&site.remote);
        let integration_missing = integration_missing(site, integration_ids);
        let problem_flags = [
            local.scheduled && !local.enabled,
            !local.scheduled,
            remote.scheduled && !remote.enabled,
            !remote.scheduled,
            integration_missing == Some(true),
            local.short_retention || remote.short_retention,
        ];
        SiteVerdict {
            local,
            remote,
            remote_configured: remote_configured(site, integration_ids),
            integration_missing,
            problem_flags,
            health: Health::of(flagged(problem_flags)),
        }
    }

    pub fn storage(&self, storage: Storage) -> &StorageVerdict {
        match storage {
            Storage::Local => &self.local,
            Storage::Remote => &self.remote,
        }
    }

    /// The site's problems, most serious first.
    pub fn problems(&self) -> impl Iterator<Item = Problem> + use<> {
        flagged(self.problem_flags)
    }

    /// The site's problems that concern one storage: its own, and short
    /// retention when that storage's retention is short.
    pub fn storage_problems(&self, storage: Storage) -> impl Iterator<Item = Problem> + use<> {
        let short = self.storage(storage).short_retention;
        self.problems().filter(move |p| match p.storage() {
            Some(s) => s == storage,
            None => short,
        })
    }
}

fn flagged(flags: [bool; Problem::ALL.len()]) -> impl Iterator<Item = Problem> {
    Problem::ALL
        .into_iter()
        .zip(flags)
        .filter_map(|(p, on)| on.then_some(p))
}

/// Every site of a snapshot judged, in the snapshot's site order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assessment {
    sites: Vec<SiteVerdict>,
}

impl Assessment {
    /// The one place a snapshot's sites are judged.
    pub fn of(snapshot: &AccountSnapshot) -> Assessment {
        let ids = snapshot.integration_ids();
        Assessment {
            sites: snapshot
                .sites
                .iter()
                .map(|s| SiteVerdict::judge(s, &ids))
                .collect(),
        }
    }

    /// One verdict per site, in the snapshot's site order.
    pub fn sites(&self) -> &[SiteVerdict] {
        &self.sites
    }
}

/// A snapshot with its assessment, computed when the snapshot is made and
/// never stored apart from it: what the store holds and every surface
/// reads. Only the snapshot is saved in the state file; the assessment is
/// computed again on load.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessed {
    snapshot: AccountSnapshot,
    assessment: Assessment,
}

impl Assessed {
    pub fn new(snapshot: AccountSnapshot) -> Assessed {
        let assessment = Assessment::of(&snapshot);
        Assessed {
            snapshot,
            assessment,
        }
    }

    pub fn snapshot(&self) -> &AccountSnapshot {
        &self.snapshot
    }

    pub fn assessment(&self) -> &Assessment {
        &self.assessment
    }

    /// Each site with its verdict, in site order.
    pub fn sites(&self) -> impl Iterator<Item = (&Site, &SiteVerdict)> {
        self.snapshot.sites.iter().zip(&self.assessment.sites)
    }
}

#[cfg(test)]
impl Assessed {
    /// A snapshot held with verdicts other than its own, to show which
    /// surfaces read the assessment and which judge again.
    pub(crate) fn with_verdicts(snapshot: AccountSnapshot, sites: Vec<SiteVerdict>) -> Assessed {
        Assessed {
            snapshot,
            assessment: Assessment { sites },
        }
    }
}

impl std::ops::Deref for Assessed {
    type Target = AccountSnapshot;

    fn deref(&self) -> &AccountSnapshot {
        &self.snapshot
    }
}

/// The next time the schedule runs strictly after `now`, in UTC (GridPane
/// servers run on UTC). `None` when the schedule lacks a field its frequency
/// needs or holds an impossible value.
pub fn next_run(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let minute = schedule.minute.unwrap_or(0);
    if minute > 59 {
        return None;
    }
    let at = |date: NaiveDate, hour: u32| {
        date.and_hms_opt(hour, minute, 0)
            .map(|naive| Utc.from_utc_datetime(&naive))
    };
    let today = now.date_naive();
    match schedule.frequency {
        Frequency::Hourly => {
            let this_hour = at(today, now.hour())?;
            Some(if this_hour > now {
                this_hour
            } else {
                this_hour + ChronoDuration::hours(1)
            })
        }
        Frequency::Daily => {
            let hour = schedule.hour.filter(|h| *h < 24)?;
            let candidate = at(today, hour)?;
            Some(if candidate > now {
                candidate
            } else {
                candidate + ChronoDuration::days(1)
            })
        }
        Frequency::Weekly => {
            let hour = schedule.hour.filter(|h| *h < 24)?;
            let day = schedule.day.filter(|d| *d < 7)?;
            let today_dow = now.weekday().num_days_from_sunday();
            let ahead = (day + 7 - today_dow) % 7;
            let candidate = at(today, hour)? + ChronoDuration::days(i64::from(ahead));
            Some(if candidate > now {
                candidate
            } else {
                candidate + ChronoDuration::days(7)
            })
        }
        Frequency::Monthly => {
            let hour = schedule.hour.filter(|h| *h < 24)?;
            let day = schedule.day.filter(|d| (1..=31).contains(d))?;
            let (mut year, mut month) = (now.year(), now.month());
            // A day past the end of a month skips that month.
            for _ in 0..13 {
                if let Some(candidate) =
                    NaiveDate::from_ymd_opt(year, month, day).and_then(|d| at(d, hour))
                {
                    if candidate > now {
                        return Some(candidate);
                    }
                }
                (year, month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
            }
            None
        }
        Frequency::Unknown => None,
    }
}

/// Retention of one storage as `/backups/prune-schedule/{id}` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionDetail {
    pub prune_schedule: Option<u32>,
    pub retain_days: Option<u32>,
}

/// What the per-site detail requests said about one site.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteDetail {
    /// Unix seconds when the detail was fetched.
    pub fetched_at: f64,
    pub local: RetentionDetail,
    pub remote: RetentionDetail,
    /// Ids of the remote backup integrations attached to the site.
    pub integration_ids: Vec<u64>,
}

/// Lays per-site detail over a snapshot built from the bulk endpoints: what
/// the detail says wins, what it does not say keeps the bulk value. Sites
/// without detail are left as the bulk endpoints describe them.
pub fn apply_detail(snapshot: &mut AccountSnapshot, detail: &BTreeMap<u64, SiteDetail>) {
    if detail.is_empty() {
        return;
    }
    for site in &mut snapshot.sites {
        let Some(d) = detail.get(&site.id) else {
            continue;
        };
        for (settings, retention) in [(&mut site.local, &d.local), (&mut site.remote, &d.remote)] {
            if retention.prune_schedule.is_some() {
                settings.prune_schedule = retention.prune_schedule;
            }
            if retention.retain_days.is_some() {
                settings.retain_days = retention.retain_days;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn sites_meet_their_schedules_whatever_order_either_list_comes_in() {
        fn wire<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
            serde_json::from_value(v).unwrap()
        }
        let row = |id: u64, kind: &str, every: &str| serde_json::json!({"id": id, "type": kind, "bup_schedule": every});
        let entry = |site: u64, rows: Vec<serde_json::Value>| {
            wire(serde_json::json!({"site_id": site, "schedule_backups": rows}))
        };
        let fetched = Fetched {
            sites: [(5, "five"), (1, "one"), (3, "three"), (1, "one again")]
                .into_iter()
                .map(|(id, url)| wire(serde_json::json!({"id": id, "url": url})))
                .collect(),
            servers: Vec::new(),
            schedules: vec![
                entry(3, vec![row(30, "remote", "daily")]),
                entry(1, vec![row(10, "local", "hourly")]),
                entry(9, vec![row(90, "local", "daily")]),
                entry(
                    1,
                    vec![row(11, "local", "weekly"), row(12, "remote", "monthly")],
                ),
                entry(
                    5,
                    vec![row(50, "cloud", "daily"), row(51, " Remote ", "WEEKLY")],
                ),
            ],
            integrations: Vec::new(),
        };
        let snap = build_snapshot("a", 0.0, fetched);
        type Row<'a> = (
            u64,
            &'a str,
            Option<(u64, Frequency)>,
            Option<(u64, Frequency)>,
        );
        let got: Vec<Row> = snap
            .sites
            .iter()
            .map(|s| {
                let pick = |st: &StorageSettings| st.schedule.as_ref().map(|x| (x.id, x.frequency));
                (s.id, s.url.as_str(), pick(&s.local), pick(&s.remote))
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    1,
                    "one",
                    Some((10, Frequency::Hourly)),
                    Some((12, Frequency::Monthly))
                ),
                (3, "three", None, Some((30, Frequency::Daily))),
                (5, "five", None, Some((51, Frequency::Weekly))),
            ],
            "the first row of each storage wins, unlisted sites' schedules are dropped"
        );
    }

    fn schedule(
        frequency: Frequency,
        hour: Option<u32>,
        minute: Option<u32>,
        day: Option<u32>,
    ) -> Schedule {
        Schedule {
            id: 1,
            frequency,
            hour,
            minute,
            day,
            service_id: None,
            service_name: None,
            integration_id: None,
        }
    }

    fn site(local: StorageSettings, remote: StorageSettings) -> Site {
        Site {
            id: 7,
            url: "example.com".into(),
            server_id: Some(1),
            local,
            remote,
        }
    }

    fn settings(automatic: Option<bool>, schedule: Option<Schedule>) -> StorageSettings {
        StorageSettings {
            automatic,
            schedule,
            retain_days: Some(30),
            prune_schedule: Some(0),
        }
    }

    fn remote_to(integration: u64) -> Schedule {
        Schedule {
            integration_id: Some(integration),
            ..schedule(Frequency::Daily, Some(3), Some(15), None)
        }
    }

    #[test]
    fn hourly_runs_at_the_next_matching_minute() {
        let s = schedule(Frequency::Hourly, None, Some(30), None);
        assert_eq!(
            next_run(&s, utc("2026-11-22T10:10:00Z")),
            Some(utc("2026-11-22T10:30:00Z"))
        );
        assert_eq!(
            next_run(&s, utc("2026-11-22T10:30:00Z")),
            Some(utc("2026-11-22T11:30:00Z"))
        );
        assert_eq!(
            next_run(&s, utc("2026-11-22T23:45:00Z")),
            Some(utc("2026-11-23T00:30:00Z"))
        );
    }

    #[test]
    fn daily_runs_today_if_still_ahead_else_tomorrow() {
        let s = schedule(Frequency::Daily, Some(5), Some(0), None);
        assert_eq!(
            next_run(&s, utc("2026-11-22T04:59:59Z")),
            Some(utc("2026-11-22T05:00:00Z"))
        );
        assert_eq!(
            next_run(&s, utc("2026-11-22T05:00:00Z")),
            Some(utc("2026-11-23T05:00:00Z"))
        );
    }

    #[test]
    fn weekly_day_zero_is_sunday() {
        // 2026-11-22 is a Sunday.
        let s = schedule(Frequency::Weekly, Some(5), Some(0), Some(0));
        assert_eq!(
            next_run(&s, utc("2026-11-22T01:00:00Z")),
            Some(utc("2026-11-22T05:00:00Z"))
        );
        assert_eq!(
            next_run(&s, utc("2026-11-22T06:00:00Z")),
            Some(utc("2026-11-29T05:00:00Z"))
        );
        let wednesday = schedule(Frequency::Weekly, Some(0), Some(0), Some(3));
        assert_eq!(
            next_run(&wednesday, utc("2026-11-22T06:00:00Z")),
            Some(utc("2026-11-25T00:00:00Z"))
        );
    }

    #[test]
    fn monthly_rolls_over_the_year_and_skips_short_months() {
        let s = schedule(Frequency::Monthly, Some(2), Some(30), Some(15));
        assert_eq!(
            next_run(&s, utc("2026-12-20T00:00:00Z")),
            Some(utc("2027-01-15T02:30:00Z"))
        );
        let thirty_first = schedule(Frequency::Monthly, Some(0), Some(0), Some(31));
        assert_eq!(
            next_run(&thirty_first, utc("2026-11-01T00:00:00Z")),
            Some(utc("2026-12-31T00:00:00Z"))
        );
    }

    #[test]
    fn a_schedule_missing_what_its_frequency_needs_has_no_next_run() {
        let now = utc("2026-11-22T00:00:00Z");
        assert_eq!(
            next_run(&schedule(Frequency::Daily, None, Some(0), None), now),
            None
        );
        assert_eq!(
            next_run(&schedule(Frequency::Weekly, Some(1), Some(0), None), now),
            None
        );
        assert_eq!(
            next_run(&schedule(Frequency::Weekly, Some(1), Some(0), Some(7)), now),
            None
        );
        assert_eq!(
            next_run(&schedule(Frequency::Daily, Some(24), Some(0), None), now),
            None
        );
        assert_eq!(
            next_run(&schedule(Frequency::Unknown, Some(1), Some(0), None), now),
            None
        );
    }

    #[test]
    fn intervals_are_the_nominal_periods() {
        assert_eq!(Frequency::Hourly.interval_seconds(), Some(3600));
        assert_eq!(Frequency::Monthly.interval_seconds(), Some(2_592_000));
        assert_eq!(Frequency::Unknown.interval_seconds(), None);
    }

    #[test]
    fn keep_all_retention_is_infinite() {
        assert_eq!(retention_seconds(0), f64::INFINITY);
        assert_eq!(retention_seconds(30), 2_592_000.0);
    }

    #[test]
    fn a_schedule_row_with_its_flag_off_is_disabled() {
        let s = schedule(Frequency::Daily, Some(1), Some(0), None);
        assert!(!schedule_enabled(&settings(Some(false), Some(s.clone()))));
        assert!(schedule_enabled(&settings(Some(true), Some(s.clone()))));
        assert!(schedule_enabled(&settings(None, Some(s))));
        assert!(!schedule_enabled(&settings(Some(true), None)));
    }

    #[test]
    fn remote_backups_to_a_deleted_integration_are_not_configured() {
        let ids: HashSet<u64> = [2783].into();
        let ok = site(
            settings(Some(true), None),
            settings(Some(true), Some(remote_to(2783))),
        );
        let gone = site(
            settings(Some(true), None),
            settings(Some(true), Some(remote_to(9999))),
        );
        assert!(remote_configured(&ok, &ids));
        assert_eq!(integration_missing(&ok, &ids), Some(false));
        assert!(!remote_configured(&gone, &ids));
        assert_eq!(integration_missing(&gone, &ids), Some(true));
        assert!(site_problems(&gone, &ids).contains(&Problem::IntegrationMissing));
    }

    #[test]
    fn a_remote_schedule_naming_no_integration_counts_when_on() {
        let unnamed = Schedule {
            integration_id: None,
            ..remote_to(1)
        };
        let s = site(
            settings(Some(true), None),
            settings(Some(true), Some(unnamed)),
        );
        assert!(remote_configured(&s, &HashSet::new()));
        assert_eq!(integration_missing(&s, &HashSet::new()), None);
    }

    #[test]
    fn problems_name_each_way_a_site_is_unprotected() {
        let ids: HashSet<u64> = [1].into();
        let daily = schedule(Frequency::Daily, Some(1), Some(0), None);
        let healthy = site(
            settings(Some(true), Some(daily.clone())),
            settings(Some(true), Some(remote_to(1))),
        );
        assert!(site_problems(&healthy, &ids).is_empty());

        let off = site(
            settings(Some(false), Some(daily.clone())),
            settings(Some(false), Some(remote_to(1))),
        );
        assert_eq!(
            site_problems(&off, &ids),
            vec![Problem::LocalDisabled, Problem::RemoteDisabled]
        );

        let bare = site(settings(Some(true), None), settings(Some(false), None));
        assert_eq!(
            site_problems(&bare, &ids),
            vec![Problem::LocalNotScheduled, Problem::RemoteNotSetUp]
        );

        let mut short = healthy.clone();
        short.local.retain_days = Some(2);
        assert_eq!(site_problems(&short, &ids), vec![Problem::ShortRetention]);
        short.local.retain_days = Some(0);
        assert!(
            site_problems(&short, &ids).is_empty(),
            "keep-all is not short"
        );
    }

    #[test]
    fn detail_overrides_bulk_retention_only_where_it_says_something() {
        let daily = schedule(Frequency::Daily, Some(1), Some(0), None);
        let mut snap = AccountSnapshot {
            account: "a".into(),
            fetched_at: 0.0,
            servers: Vec::new(),
            sites: vec![
                site(
                    settings(Some(true), Some(daily.clone())),
                    settings(Some(true), None),
                ),
                Site {
                    id: 8,
                    ..site(
                        settings(Some(true), Some(daily)),
                        settings(Some(true), None),
                    )
                },
            ],
            integrations: Vec::new(),
        };
        let detail = BTreeMap::from([(
            7,
            SiteDetail {
                fetched_at: 1.0,
                local: RetentionDetail {
                    prune_schedule: Some(3),
                    retain_days: None,
                },
                remote: RetentionDetail {
                    prune_schedule: None,
                    retain_days: Some(2),
                },
                integration_ids: vec![1],
            },
        )]);
        apply_detail(&mut snap, &detail);
        assert_eq!(snap.sites[0].local.prune_schedule, Some(3));
        assert_eq!(
            snap.sites[0].local.retain_days,
            Some(30),
            "not in the detail"
        );
        assert_eq!(snap.sites[0].remote.retain_days, Some(2));
        assert_eq!(snap.sites[1].local.prune_schedule, Some(0), "no detail yet");
    }
}
