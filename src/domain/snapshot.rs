//! The normalised account snapshot, built from the API's responses. A
//! snapshot is immutable once built; the poller swaps whole snapshots.

use std::collections::{BTreeMap, HashMap, HashSet};

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
    /// needs it is known (the pending module builds such sites).
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

/// What the API answered in one poll, before normalising.
#[derive(Clone)]
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
                *target = Some(schedule_of(row));
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
                site_type: s
                    .site_type
                    .map(|t| t.trim().to_ascii_lowercase())
                    .filter(|t| !t.is_empty()),
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
                pending: false,
                history: None,
                record_failure: None,
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

/// A schedule row as the domain holds it, with what of it is not
/// understood: an unknown frequency, an hour over 23, a minute over 59, a
/// day outside 0-6 (weekly) or 1-28 (monthly), or any of them negative or
/// not a number (the first found, in that order).
fn schedule_of(row: wire::Schedule) -> Schedule {
    use crate::gridpane::Field;
    let frequency = Frequency::parse(row.bup_schedule.as_str());
    let bad = |f: Field, max: u32| match f {
        Field::Unreadable => true,
        Field::Value(v) => v > max,
        Field::Absent => false,
    };
    let day_ok = match (frequency, row.day) {
        (_, Field::Unreadable) => false,
        (Frequency::Weekly, Field::Value(d)) => d <= 6,
        (Frequency::Monthly, Field::Value(d)) => (1..=28).contains(&d),
        _ => true,
    };
    let flaw = if frequency == Frequency::Unknown {
        Some(ScheduleFlaw::Frequency)
    } else if bad(row.hour, 23) {
        Some(ScheduleFlaw::Hour)
    } else if bad(row.minute, 59) {
        Some(ScheduleFlaw::Minute)
    } else if !day_ok {
        Some(ScheduleFlaw::Day)
    } else {
        None
    };
    Schedule {
        id: row.id.unwrap_or(0),
        frequency,
        hour: row.hour.value(),
        minute: row.minute.value(),
        day: row.day.value(),
        service_id: row.service_id,
        service_name: row.service_name,
        integration_id: row.service_user_id,
        flaw,
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
