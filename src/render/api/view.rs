//! The view model the JSON API and the status page both read: the accounts
//! as one request sees them, each site as a row of what its verdict says
//! (with its storages and the integration its remote schedule names), each
//! integration as a row, and the site counts. Only the next run, which
//! moves with the clock, is computed here; nothing here judges a site.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{
    self, AccountSnapshot, Assessed, BackupsVersion, Health, Integration, IntegrationStatus,
    MutedProblem, Policy, Problem, Schedule, Server, Site, Storage, StorageSettings,
};
use crate::render::remote_copy::CopyRow;
use crate::store::{AccountState, Store};

/// The accounts as one request sees them. Each state is loaded once, so a
/// poll finishing during the request cannot mix two snapshots.
pub struct View {
    pub accounts: Vec<AccountView>,
    /// The policy the snapshots were judged under.
    pub policy: Arc<Policy>,
}

pub struct AccountView {
    pub name: String,
    pub state: Arc<AccountState>,
}

impl AccountView {
    pub(crate) fn snapshot(&self) -> Option<&AccountSnapshot> {
        self.assessed().map(Assessed::snapshot)
    }

    /// The snapshot with its assessment.
    pub(crate) fn assessed(&self) -> Option<&Assessed> {
        self.state.snapshot.as_deref()
    }
}

impl View {
    pub fn load(store: &Store) -> View {
        View {
            accounts: store
                .accounts()
                .iter()
                .map(|slot| AccountView {
                    name: slot.name.clone(),
                    state: slot.load(),
                })
                .collect(),
            policy: store.policy(),
        }
    }

    pub fn account(&self, name: &str) -> Option<&AccountView> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// Every site of every account with data, in account then site-id order.
    pub(crate) fn site_rows(&self, now: DateTime<Utc>) -> Vec<SiteRow<'_>> {
        self.accounts
            .iter()
            .filter_map(|a| a.assessed().map(|s| (a.name.as_str(), s)))
            .flat_map(|(name, snap)| site_rows(name, snap, now))
            .collect()
    }

    /// Every integration of every account with data, plus the ones schedules
    /// point at that no longer exist.
    pub(crate) fn integration_rows(&self) -> Vec<IntegrationRow<'_>> {
        self.accounts
            .iter()
            .filter_map(|a| a.assessed().map(|s| (a.name.as_str(), s)))
            .flat_map(|(name, snap)| integration_rows(name, snap))
            .collect()
    }
}

/// The path of a site's page, `/site/<account>/<id>`, the account name
/// percent-encoded as one path segment.
pub(crate) fn site_path(account: &str, id: u64) -> String {
    let mut url = match url::Url::parse("http://localhost/") {
        Ok(u) => u,
        Err(_) => return String::new(),
    };
    if let Ok(mut path) = url.path_segments_mut() {
        path.push("site").push(account).push(&id.to_string());
    }
    url.path().to_string()
}

/// One site with everything derived from it.
pub struct SiteRow<'a> {
    pub account: &'a str,
    pub site: &'a Site,
    pub server_label: Option<&'a str>,
    /// The backup engine of the site's server, when the server is listed.
    pub backups_version: Option<BackupsVersion>,
    /// Active problems: found, and not muted.
    pub problems: Vec<Problem>,
    /// Problems found but muted by the policy.
    pub muted: &'a [MutedProblem],
    /// The policy group the site belongs to.
    pub group: Option<&'a str>,
    pub health: Health,
    /// The site is pending: whether its storages are on (and its remote
    /// configured) is not known yet ([`domain::SiteVerdict::switches_unknown`]).
    pub pending: bool,
    /// The shortest retention of the storages that are on
    /// ([`domain::SiteVerdict::retention`]).
    pub retention: Option<domain::Retention>,
    pub local: StorageRow<'a>,
    pub remote: StorageRow<'a>,
    pub remote_configured: bool,
    pub integration_missing: Option<bool>,
}

/// One storage of one site.
pub struct StorageRow<'a> {
    pub storage: Storage,
    pub settings: &'a StorageSettings,
    pub enabled: bool,
    /// The site is pending: whether this storage is on is not known yet.
    pub pending: bool,
    /// The next run of a storage that runs ([`domain::StorageVerdict::next_run`]).
    pub next_run: Option<DateTime<Utc>>,
    /// The API's documented `schedule.next_run`: for any schedule, on or off
    /// ([`domain::StorageVerdict::schedule_next_run`]).
    pub schedule_next_run: Option<DateTime<Utc>>,
    /// Remote only: the integration the schedule uploads to.
    pub integration: Option<IntegrationRef<'a>>,
    /// The site's problems that concern this storage.
    pub problems: Vec<Problem>,
    /// When the newest backup becomes (or became) overdue: on, with a
    /// schedule and a backup in GridPane's record.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Remote only: the proof from the bucket (`remote_storage`).
    pub copy: Option<CopyRow<'a>>,
    /// Its switch or schedule row is not understood: neither on nor off.
    pub not_understood: bool,
    /// How long the storage keeps its backups, keep-all judged.
    pub retention: domain::Retention,
}

impl StorageRow<'_> {
    pub(crate) fn schedule(&self) -> Option<&Schedule> {
        self.settings.schedule.as_ref()
    }
}

/// The integration a remote schedule names, found in the account or not.
pub struct IntegrationRef<'a> {
    pub id: u64,
    pub found: Option<&'a Integration>,
    /// The account no longer has it ([`domain::SiteVerdict::integration_missing`]).
    pub missing: bool,
    /// The provider the schedule itself names (`service_name`).
    pub service_name: Option<&'a str>,
}

impl IntegrationRef<'_> {
    pub(crate) fn provider(&self) -> Option<&str> {
        self.found
            .map(|i| i.provider.as_str())
            .or(self.service_name)
    }
}

/// The rows of one account's sites, from their verdicts; only the next run
/// (relative to `now`) is computed here.
pub(crate) fn site_rows<'a>(
    account: &'a str,
    snap: &'a Assessed,
    now: DateTime<Utc>,
) -> Vec<SiteRow<'a>> {
    let servers: HashMap<u64, &Server> = snap.servers.iter().map(|s| (s.id, s)).collect();
    let integrations: HashMap<u64, &Integration> =
        snap.integrations.iter().map(|i| (i.id, i)).collect();
    snap.sites()
        .map(|(site, verdict)| {
            let storage_row = |storage: Storage| {
                let settings = site.storage(storage);
                let judged = verdict.storage(storage);
                let integration = match storage {
                    Storage::Local => None,
                    Storage::Remote => settings.schedule.as_ref().and_then(|s| {
                        s.integration_id.map(|id| IntegrationRef {
                            id,
                            found: integrations.get(&id).copied(),
                            missing: verdict.integration_missing == Some(true),
                            service_name: s.service_name.as_deref(),
                        })
                    }),
                };
                StorageRow {
                    storage,
                    settings,
                    enabled: judged.enabled,
                    pending: verdict.switches_unknown,
                    next_run: judged.next_run(settings, now),
                    schedule_next_run: judged.schedule_next_run(settings, now),
                    integration,
                    problems: verdict.storage_problems(storage).collect(),
                    overdue_at: judged.overdue_at,
                    copy: judged.copy.map(|proof| CopyRow {
                        proof,
                        storage: snap
                            .evidence()
                            .storages
                            .get(proof.storage)
                            .map_or("", |s| &*s.name),
                    }),
                    not_understood: judged.not_understood,
                    retention: judged.retention,
                }
            };
            let server = site.server_id.and_then(|id| servers.get(&id));
            SiteRow {
                account,
                site,
                server_label: server.map(|s| s.label.as_str()),
                backups_version: server.map(|s| s.backups_version),
                health: verdict.health,
                pending: verdict.switches_unknown,
                retention: verdict.retention(),
                local: storage_row(Storage::Local),
                remote: storage_row(Storage::Remote),
                remote_configured: verdict.remote_configured,
                integration_missing: verdict.integration_missing,
                problems: verdict.problems().collect(),
                muted: &verdict.muted,
                group: verdict.group.as_deref(),
            }
        })
        .collect()
}

impl<'a> SiteRow<'a> {
    pub(crate) fn storage(&self, storage: Storage) -> &StorageRow<'a> {
        match storage {
            Storage::Local => &self.local,
            Storage::Remote => &self.remote,
        }
    }
}

pub(crate) struct IntegrationRow<'a> {
    pub account: &'a str,
    pub id: u64,
    /// `None` when the integration is missing.
    pub integration: Option<&'a Integration>,
    /// For a missing integration: the provider a schedule names.
    pub provider_hint: Option<&'a str>,
    /// Sites whose remote schedule points at it (on or off).
    pub sites: usize,
    pub status: IntegrationStatus,
}

impl IntegrationRow<'_> {
    pub(crate) fn provider(&self) -> Option<&str> {
        self.integration
            .map(|i| i.provider.as_str())
            .or(self.provider_hint)
    }
}

/// The account's integrations in id order, then the missing ones in id
/// order, as the assessment judged them.
pub(crate) fn integration_rows<'a>(
    account: &'a str,
    snap: &'a Assessed,
) -> Vec<IntegrationRow<'a>> {
    snap.assessment()
        .integrations()
        .iter()
        .map(|v| {
            let integration = v.known.and_then(|i| snap.integrations.get(i));
            IntegrationRow {
                account,
                id: v.id,
                integration,
                // For a missing one: the provider a schedule names.
                provider_hint: match integration {
                    Some(_) => None,
                    None => snap
                        .sites
                        .iter()
                        .filter_map(|s| s.remote.schedule.as_ref())
                        .find(|s| s.integration_id == Some(v.id))
                        .and_then(|s| s.service_name.as_deref()),
                },
                sites: v.sites,
                status: v.status,
            }
        })
        .collect()
}

/// Site counts, by health and by problem kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub sites: usize,
    pub sites_ok: usize,
    pub sites_with_warning: usize,
    pub sites_with_problem: usize,
    /// Sites with no critical problem whose outcome cannot be established:
    /// a fact their verdict rests on was not read or not understood.
    pub sites_unknown: usize,
    /// Sites with no problem proven yet whose `/site` record (during a
    /// first sweep) or backup record (with `poll.detail.history`) is not
    /// read yet: neither OK nor not. Absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub sites_pending: usize,
    /// Problem code -> sites with that problem; every code, zeros included.
    pub problems: BTreeMap<&'static str, usize>,
    /// Problem code -> sites with that problem muted; every code.
    pub problems_muted: BTreeMap<&'static str, usize>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            sites: 0,
            sites_ok: 0,
            sites_with_warning: 0,
            sites_with_problem: 0,
            sites_unknown: 0,
            sites_pending: 0,
            problems: Problem::ALL.iter().map(|p| (p.as_str(), 0)).collect(),
            problems_muted: Problem::ALL.iter().map(|p| (p.as_str(), 0)).collect(),
        }
    }
}

impl Counts {
    pub(crate) fn of<'r, 'a: 'r>(rows: impl IntoIterator<Item = &'r SiteRow<'a>>) -> Counts {
        let mut c = Counts::default();
        for row in rows {
            c.sites += 1;
            match row.health {
                Health::Ok => c.sites_ok += 1,
                Health::Warning => c.sites_with_warning += 1,
                Health::Problem => c.sites_with_problem += 1,
                Health::Unknown => c.sites_unknown += 1,
                Health::Pending => c.sites_pending += 1,
            }
            for p in &row.problems {
                *c.problems.entry(p.as_str()).or_default() += 1;
            }
            for m in row.muted {
                *c.problems_muted.entry(m.problem.as_str()).or_default() += 1;
            }
        }
        c
    }

    pub(crate) fn problem(&self, p: Problem) -> usize {
        self.problems.get(p.as_str()).copied().unwrap_or(0)
    }
}
