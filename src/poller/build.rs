//! From the API's answers to the domain: the snapshot of one poll built
//! from the client's wire types ([`build_snapshot`]), the snapshots
//! published while the first `/site` sweep runs ([`build_partial`]) and the
//! summary of a site's backup record as the reader found it
//! ([`history_of`]). The only place where wire types become domain values:
//! the domain never names the client.
//!
//! While a first sweep runs, `/backups/schedules` lists every site that has
//! a schedule (its id, URL, server and schedule rows) in one request, long
//! before a large fleet's `/site` pages are all read. A site of that list
//! whose `/site` record has not been read yet is *pending*
//! ([`crate::domain::pending`] says what is judged of it). On a warm start
//! the previous snapshot (the state file's) is the base: its sites are fully
//! known and keep their `/site` data, with the fresh schedules, until their
//! page is read again. A site without any schedule row appears when its
//! page is read.

use std::collections::HashSet;

use crate::domain::{
    AccountSnapshot, BackupHistory, BackupsVersion, Frequency, Integration, Schedule, ScheduleFlaw,
    Server, Site, StorageSettings,
};
use crate::gridpane::history::{BackupType, Found};
use crate::gridpane::{Field, wire};

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
pub fn build_snapshot(account: &str, fetched_at: f64, mut fetched: Fetched) -> AccountSnapshot {
    let sites = listed(std::mem::take(&mut fetched.sites));
    assemble(account, fetched_at, sites, fetched)
}

/// The snapshot to publish in the middle of a first sweep: the `/site`
/// records read so far (`fetched.sites`), the fully known sites of
/// `previous` not read again yet, and every other site the schedules list,
/// pending.
pub(crate) fn build_partial(
    account: &str,
    fetched_at: f64,
    mut fetched: Fetched,
    previous: Option<&AccountSnapshot>,
) -> AccountSnapshot {
    let mut sites = listed(std::mem::take(&mut fetched.sites));
    let mut have: HashSet<u64> = sites.iter().map(|s| s.id).collect();
    if let Some(previous) = previous {
        for site in previous.sites.iter().filter(|s| !s.pending) {
            if have.insert(site.id) {
                sites.push(known(site));
            }
        }
    }
    for entry in &fetched.schedules {
        if have.insert(entry.site_id) {
            let url = entry.url.clone();
            sites.push(Site {
                pending: true,
                ..Site::unscheduled(entry.site_id, url, entry.server_id)
            });
        }
    }
    sites.sort_by_key(|s| s.id);
    assemble(account, fetched_at, sites, fetched)
}

/// The listed sites in id order, the first of each id (as GridPane lists
/// it), without their schedules yet.
fn listed(mut sites: Vec<wire::Site>) -> Vec<Site> {
    sites.sort_by_key(|s| s.id);
    sites.dedup_by_key(|s| s.id);
    sites.into_iter().map(site_of).collect()
}

/// A `/site` record as the domain holds it, without its schedules.
fn site_of(s: wire::Site) -> Site {
    let customizer = s.site_customizer.unwrap_or_default();
    let server_id = s.server_id.or(s.server.and_then(|r| r.id));
    let mut site = Site::unscheduled(s.id, Some(s.url), server_id);
    site.site_type = site_type_of(s.site_type);
    site.local.automatic = s.local_bup;
    site.local.retain_days = customizer.local_retain_days;
    site.local.prune_schedule = customizer.local_prune_schedule;
    site.remote.automatic = s.remote_bup;
    site.remote.retain_days = customizer.remote_retain_days;
    site.remote.prune_schedule = customizer.remote_prune_schedule;
    site
}

/// A fully known site of the previous snapshot, with what its `/site`
/// record said and no schedules (they come from the fresh schedule list),
/// no detail (laid over again when the snapshot is installed).
fn known(site: &Site) -> Site {
    let storage = |s: &StorageSettings| StorageSettings {
        automatic: s.automatic,
        schedule: None,
        retain_days: s.retain_days,
        prune_schedule: s.prune_schedule,
    };
    Site {
        id: site.id,
        url: site.url.clone(),
        server_id: site.server_id,
        site_type: site_type_of(site.site_type.clone()),
        local: storage(&site.local),
        remote: storage(&site.remote),
        pending: false,
        history: None,
        record_failure: None,
    }
}

/// GridPane's site type, lowercased; none when blank.
fn site_type_of(site_type: Option<String>) -> Option<String> {
    site_type
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

/// The snapshot of `sites` (in id order, one per id) with their schedules,
/// and the servers and integrations of `fetched` (whose own sites are not
/// read).
fn assemble(
    account: &str,
    fetched_at: f64,
    mut sites: Vec<Site>,
    fetched: Fetched,
) -> AccountSnapshot {
    let Fetched {
        schedules,
        servers,
        integrations,
        ..
    } = fetched;
    // Sites and schedules are joined by walking both in site id order, not
    // through a hash map: at 100k sites, random lookups into a table that
    // outgrows the CPU caches cost more than the rest of the build. Both
    // sorts are stable (the first entry for an id wins, as GridPane lists
    // it) and close to linear on input that is already in id order.
    let mut entries = schedules;
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

    let mut servers: Vec<Server> = servers
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

    let mut schedules = by_site.into_iter().peekable();
    for site in &mut sites {
        while schedules.next_if(|(id, _)| *id < site.id).is_some() {}
        let (local, remote) = schedules
            .next_if(|(id, _)| *id == site.id)
            .map(|(_, slots)| slots)
            .unwrap_or_default();
        site.local.schedule = local;
        site.remote.schedule = remote;
    }

    let mut integrations: Vec<Integration> = integrations
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

/// The summary of what the reader found in a site's record, read at
/// `read_at`: every source but `local` is the remote storage.
pub(crate) fn history_of(found: &Found, read_at: f64) -> BackupHistory {
    let mut out = BackupHistory {
        read_at,
        ..BackupHistory::default()
    };
    for b in &found.backups {
        let storage = match b.source {
            Some(s) if s.is_local() => &mut out.local,
            Some(_) => &mut out.remote,
            None => &mut out.unattributed,
        };
        storage.add(b.at as f64, b.kind == Some(BackupType::Automatic));
    }
    out
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod verdict_tests;
