//! The normalised account snapshot: servers, sites with their local and
//! remote settings, integrations, in the domain's own types (the poller
//! builds it from the API's answers). A snapshot is immutable once built;
//! the poller swaps whole snapshots.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// Where backups are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    Local,
    Remote,
}

impl Storage {
    pub(crate) const ALL: [Storage; 2] = [Storage::Local, Storage::Remote];

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
    pub(crate) fn parse(word: &str) -> Frequency {
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
    pub(crate) fn interval_seconds(self) -> Option<u64> {
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
    /// What of the row the exporter does not understand, if anything: the
    /// site is then `schedule_unreadable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flaw: Option<ScheduleFlaw>,
}

/// What of a schedule row the exporter does not understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleFlaw {
    /// `bup_schedule` is not hourly, daily, weekly or monthly.
    Frequency,
    /// `hour` over 23, negative, or not a number.
    Hour,
    /// `minute` over 59, negative, or not a number.
    Minute,
    /// `day` outside 0-6 (weekly) or 1-28 (monthly), negative, or not a
    /// number.
    Day,
}

impl ScheduleFlaw {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleFlaw::Frequency => "frequency",
            ScheduleFlaw::Hour => "hour",
            ScheduleFlaw::Minute => "minute",
            ScheduleFlaw::Day => "day",
        }
    }
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
    /// GridPane's site type (`primary`, `staging`...), lowercased; absent
    /// from state files written before it was read.
    #[serde(default)]
    pub site_type: Option<String>,
    pub local: StorageSettings,
    pub remote: StorageSettings,
    /// Known only from the bulk endpoints: the site's `/site` record (its
    /// on/off flags and retention) has not been read yet, so nothing that
    /// needs it is known (the poller builds such sites while a first sweep runs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// GridPane's backup record of the site, laid over from its per-site
    /// detail ([`super::apply_detail`]) when `poll.detail.history` has read
    /// it. Not saved with the snapshot: the state file keeps it in the
    /// detail, which is laid over again on load.
    #[serde(skip)]
    pub history: Option<super::history::BackupHistory>,
    /// The newest read of GridPane's backup record failed or was not
    /// understood (laid over from the detail like `history`, which then
    /// holds the last good read, if any).
    #[serde(skip)]
    pub record_failure: Option<super::history::RecordFailure>,
}

impl Site {
    /// A site of which only its id, URL (the id when absent) and server are
    /// known: nothing scheduled, nothing read.
    pub fn unscheduled(id: u64, url: Option<String>, server_id: Option<u64>) -> Site {
        Site {
            id,
            url: url.unwrap_or_else(|| id.to_string()),
            server_id,
            site_type: None,
            local: StorageSettings::default(),
            remote: StorageSettings::default(),
            pending: false,
            history: None,
            record_failure: None,
        }
    }

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
    pub(crate) fn integration_ids(&self) -> HashSet<u64> {
        self.integrations.iter().map(|i| i.id).collect()
    }

    pub(crate) fn server_labels(&self) -> HashMap<u64, &str> {
        self.servers
            .iter()
            .map(|s| (s.id, s.label.as_str()))
            .collect()
    }

    /// integration id -> number of sites whose remote schedule uses it.
    pub(crate) fn integration_usage(&self) -> BTreeMap<u64, usize> {
        let mut usage: BTreeMap<u64, usize> = self.integrations.iter().map(|i| (i.id, 0)).collect();
        for site in &self.sites {
            if let Some(id) = site.remote.schedule.as_ref().and_then(|s| s.integration_id) {
                *usage.entry(id).or_default() += 1;
            }
        }
        usage
    }
}

/// The sites of a snapshot with a schedule row or a switch not understood,
/// and what of them: for one log line per poll.
pub(crate) fn schedule_flaws(snapshot: &AccountSnapshot) -> (usize, Vec<&'static str>) {
    let mut sites = 0;
    let mut kinds: Vec<&'static str> = Vec::new();
    for site in snapshot.sites.iter().filter(|s| !s.pending) {
        let mut flawed = false;
        for settings in [&site.local, &site.remote] {
            let Some(schedule) = &settings.schedule else {
                continue;
            };
            let kind = match (schedule.flaw, settings.automatic) {
                (Some(f), _) => f.as_str(),
                (None, None) => "switch",
                (None, Some(_)) => continue,
            };
            flawed = true;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        sites += usize::from(flawed);
    }
    kinds.sort_unstable();
    (sites, kinds)
}
