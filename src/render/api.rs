//! The JSON API's answers under `/api/v1/` (served by src/http/api.rs), and
//! the per-site views they share with the status page. Everything here reads
//! snapshots from the store; nothing calls GridPane. The answers are
//! documented in docs/api.md: change them only by adding fields.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{
    self, AccountSnapshot, Assessed, BackupsVersion, Frequency, Integration, MutedProblem, Policy,
    Problem, Schedule, Server, Severity, Site, Storage, StorageSettings,
};
use crate::render::metrics::{REVISION, VERSION};
use crate::store::{AccountState, Store};

pub mod notes;

// ---------------------------------------------------------------------------
// Views shared with the status page.

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

pub use crate::domain::Health;

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
    /// The API's documented `schedule.next_run`: for any schedule, on or off.
    pub schedule_next_run: Option<DateTime<Utc>>,
    /// Remote only: the integration the schedule uploads to.
    pub integration: Option<IntegrationRef<'a>>,
    /// The site's problems that concern this storage.
    pub problems: Vec<Problem>,
    /// When the newest backup becomes (or became) overdue: on, with a
    /// schedule and a backup in GridPane's record.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Remote only: the proof from the bucket (`remote_storage`).
    pub copy: Option<super::remote_copy::CopyRow<'a>>,
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
                let integration = match storage {
                    Storage::Local => None,
                    Storage::Remote => settings.schedule.as_ref().and_then(|s| {
                        s.integration_id.map(|id| IntegrationRef {
                            id,
                            found: integrations.get(&id).copied(),
                            service_name: s.service_name.as_deref(),
                        })
                    }),
                };
                StorageRow {
                    storage,
                    settings,
                    enabled: verdict.storage(storage).enabled,
                    pending: verdict.switches_unknown,
                    next_run: verdict.storage(storage).next_run(settings, now),
                    schedule_next_run: settings
                        .schedule
                        .as_ref()
                        .and_then(|s| domain::next_run(s, now)),
                    integration,
                    problems: verdict.storage_problems(storage).collect(),
                    overdue_at: verdict.storage(storage).overdue_at,
                    copy: verdict
                        .storage(storage)
                        .copy
                        .map(|proof| super::remote_copy::CopyRow {
                            proof,
                            storage: snap
                                .evidence()
                                .storages
                                .get(proof.storage)
                                .map_or("", |s| &*s.name),
                        }),
                    not_understood: verdict.storage(storage).not_understood,
                    retention: verdict.storage(storage).retention,
                }
            };
            let server = site.server_id.and_then(|id| servers.get(&id));
            SiteRow {
                account,
                site,
                server_label: server.map(|s| s.label.as_str()),
                backups_version: server.map(|s| s.backups_version),
                health: verdict.health,
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

pub use crate::domain::IntegrationStatus;

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

// Time helpers, shared with the proof from the bucket.
pub(crate) use super::time::{age_seconds, from_unix, rfc3339};

// ---------------------------------------------------------------------------
// Query parameters.

/// A query parameter the API refuses: answered with 400.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParamError {
    pub error: String,
    pub parameter: String,
}

impl ParamError {
    fn new(parameter: &str, error: impl Into<String>) -> Self {
        ParamError {
            error: error.into(),
            parameter: parameter.to_string(),
        }
    }
}

/// The decoded `name=value` pairs of a query string, in order.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The query as name -> value. Names outside `allowed`, repeated names and
/// empty values are errors.
pub(crate) fn strict_params(
    raw: Option<&str>,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, ParamError> {
    let mut out = BTreeMap::new();
    for (name, value) in query_pairs(raw) {
        if !allowed.contains(&name.as_str()) {
            let known = if allowed.is_empty() {
                "this endpoint takes no parameters".to_string()
            } else {
                format!("known parameters: {}", allowed.join(", "))
            };
            return Err(ParamError::new(
                &name,
                format!("unknown parameter; {known}"),
            ));
        }
        if value.is_empty() {
            return Err(ParamError::new(&name, "empty value"));
        }
        if out.contains_key(&name) {
            return Err(ParamError::new(&name, "given more than once"));
        }
        out.insert(name, value);
    }
    Ok(out)
}

/// A server as a filter names it: its id or its label (as the status page
/// shows it). The page's `server` and the API's `server` read it alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFilter(pub String);

impl ServerFilter {
    pub(crate) fn keeps(&self, row: &SiteRow<'_>) -> bool {
        row.server_label == Some(self.0.as_str())
            || row
                .site
                .server_id
                .is_some_and(|id| id.to_string() == self.0)
    }
}

/// What the list endpoints can be filtered by, and the page asked for.
#[derive(Debug, Default)]
struct Filters {
    account: Option<String>,
    server: Option<ServerFilter>,
    server_id: Option<u64>,
    site_id: Option<u64>,
    storage: Option<Storage>,
    status: Option<Health>,
    problem: Option<Problem>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Where a page sits in the whole list; present when `limit` or `offset`
/// was given.
#[derive(Debug, Serialize)]
pub struct PageInfo {
    /// Entries that match the filters, on every page.
    pub total: usize,
    pub offset: usize,
    pub limit: Option<usize>,
    /// The `offset` of the next page; `null` on the last one.
    pub next_offset: Option<usize>,
}

impl Filters {
    /// The entries of the page asked for, and where it sits; every entry
    /// and no page information when no page was asked for.
    fn page<T>(&self, all: Vec<T>) -> (Vec<T>, Option<PageInfo>) {
        if self.limit.is_none() && self.offset.is_none() {
            return (all, None);
        }
        let total = all.len();
        let offset = self.offset.unwrap_or(0);
        let entries: Vec<T> = all
            .into_iter()
            .skip(offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect();
        let end = offset.saturating_add(entries.len());
        let info = PageInfo {
            total,
            offset,
            limit: self.limit,
            next_offset: (end < total).then_some(end),
        };
        (entries, Some(info))
    }
}

fn parse_count(name: &str, value: &str, least: usize) -> Result<usize, ParamError> {
    let n = whole_number(name, value, "a count", "100")?;
    let n = usize::try_from(n)
        .map_err(|_| ParamError::new(name, format!("\"{value}\" is too large for a count")))?;
    if n < least {
        return Err(ParamError::new(name, format!("must be at least {least}")));
    }
    Ok(n)
}

fn parse_id(name: &str, value: &str) -> Result<u64, ParamError> {
    whole_number(name, value, "an id", "12345")
}

/// Why a number with a space is refused. A `+` in a query string is a
/// space: echoing `" 5"` for `+5` would puzzle more than it helps.
pub(crate) const SPACE_IN_NUMBER: &str =
    "it contains a space (a + in a query string stands for a space)";

/// Digits only: no sign, no spaces. `what` and `example` word the error.
fn whole_number(name: &str, value: &str, what: &str, example: &str) -> Result<u64, ParamError> {
    if value.contains(char::is_whitespace) {
        return Err(ParamError::new(
            name,
            format!("not {what}: {SPACE_IN_NUMBER}; expected a whole number such as {example}"),
        ));
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParamError::new(
            name,
            format!("\"{value}\" is not {what}; expected a whole number such as {example}"),
        ));
    }
    value
        .parse::<u64>()
        .map_err(|_| ParamError::new(name, format!("\"{value}\" is too large for {what}")))
}

fn parse_filters(view: &View, raw: Option<&str>, allowed: &[&str]) -> Result<Filters, ParamError> {
    let params = strict_params(raw, allowed)?;
    let mut f = Filters::default();
    for (name, value) in &params {
        match name.as_str() {
            "account" => {
                if view.account(value).is_none() {
                    return Err(ParamError::new(
                        "account",
                        format!("no account named \"{value}\" is configured"),
                    ));
                }
                f.account = Some(value.clone());
            }
            "server" => f.server = Some(ServerFilter(value.clone())),
            "server_id" => f.server_id = Some(parse_id(name, value)?),
            "site_id" => f.site_id = Some(parse_id(name, value)?),
            "status" => {
                f.status = Some(Health::parse(value).ok_or_else(|| {
                    ParamError::new(
                        "status",
                        format!("\"{value}\" is not a status; expected {}", Health::names()),
                    )
                })?);
            }
            "problem" => {
                f.problem = Some(Problem::parse(value).ok_or_else(|| {
                    let known: Vec<&str> = Problem::ALL.iter().map(|p| p.as_str()).collect();
                    ParamError::new(
                        "problem",
                        format!(
                            "\"{value}\" is not a problem kind; expected one of {}",
                            known.join(", ")
                        ),
                    )
                })?);
            }
            "limit" => f.limit = Some(parse_count(name, value, 1)?),
            "offset" => f.offset = Some(parse_count(name, value, 0)?),
            "storage" => {
                f.storage = Some(match value.as_str() {
                    "local" => Storage::Local,
                    "remote" => Storage::Remote,
                    _ => {
                        return Err(ParamError::new(
                            "storage",
                            format!("\"{value}\" is not a storage; expected local or remote"),
                        ));
                    }
                });
            }
            _ => {}
        }
    }
    Ok(f)
}

impl Filters {
    fn keeps(&self, row: &SiteRow<'_>) -> bool {
        self.account.as_deref().is_none_or(|a| a == row.account)
            && self
                .server_id
                .is_none_or(|id| row.site.server_id == Some(id))
            && self.server.as_ref().is_none_or(|s| s.keeps(row))
            && self.site_id.is_none_or(|id| row.site.id == id)
            && self.status.is_none_or(|h| row.health == h)
            && self.problem.is_none_or(|p| row.problems.contains(&p))
    }
}

// ---------------------------------------------------------------------------
// Answers.

#[derive(Debug, Serialize)]
pub struct StatusAnswer {
    pub version: &'static str,
    pub revision: &'static str,
    pub generated_at: String,
    pub generated_at_unix: i64,
    /// Every account has finished a first poll (or loaded saved state).
    pub ready: bool,
    /// Over every account with data.
    pub totals: Counts,
    pub accounts: Vec<AccountStatus>,
    /// The policy in force.
    pub policy: PolicyEntry,
}

#[derive(Debug, Serialize)]
pub struct RulesEntry {
    pub min_retention_days: u32,
    pub max_interval_seconds: u64,
    pub require_remote: bool,
    pub overdue_after: f64,
    pub overdue_grace_seconds: u64,
    pub record_max_age_seconds: u64,
}

impl From<&domain::policy::Rules> for RulesEntry {
    fn from(r: &domain::policy::Rules) -> Self {
        RulesEntry {
            min_retention_days: r.min_retention_days,
            max_interval_seconds: r.max_interval.as_secs(),
            require_remote: r.require_remote,
            overdue_after: r.overdue_after,
            overdue_grace_seconds: r.overdue_grace.as_secs(),
            record_max_age_seconds: r.record_max_age.as_secs(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct GroupEntry {
    pub name: String,
    #[serde(flatten)]
    pub rules: RulesEntry,
}

#[derive(Debug, Serialize)]
pub struct MuteEntry {
    /// Site URLs or ids, as configured.
    pub sites: Vec<String>,
    /// The account the sites are in; `null`: any account.
    pub account: Option<String>,
    /// Site ids it names without an account that more than one account
    /// holds: it mutes none of them.
    pub ambiguous_site_ids: Vec<u64>,
    /// `null`: every problem.
    pub problems: Option<Vec<&'static str>>,
    pub until: String,
    pub reason: String,
    /// `active` or `expired`.
    pub state: &'static str,
}

/// The policy in force: the rules of sites no group matches, the groups
/// in matching order, the mutes.
#[derive(Debug, Serialize)]
pub struct PolicyEntry {
    #[serde(flatten)]
    pub rules: RulesEntry,
    pub groups: Vec<GroupEntry>,
    pub mutes: Vec<MuteEntry>,
}

pub(crate) fn policy_entry(policy: &Policy, now: DateTime<Utc>) -> PolicyEntry {
    PolicyEntry {
        rules: RulesEntry::from(&policy.rules),
        groups: policy
            .groups
            .iter()
            .map(|g| GroupEntry {
                name: g.name.to_string(),
                rules: RulesEntry::from(&g.rules),
            })
            .collect(),
        mutes: policy
            .mutes
            .iter()
            .map(|m| MuteEntry {
                sites: m
                    .sites
                    .iter()
                    .map(|s| match s {
                        domain::policy::SiteRef::Id(id) => id.to_string(),
                        domain::policy::SiteRef::Url(u) => u.clone(),
                    })
                    .collect(),
                account: m.account.clone(),
                ambiguous_site_ids: m.ambiguous.clone(),
                problems: m
                    .problems
                    .as_ref()
                    .map(|ps| ps.iter().map(|p| p.as_str()).collect()),
                until: rfc3339(m.until),
                reason: m.reason.to_string(),
                state: if m.active(now) { "active" } else { "expired" },
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
pub struct AccountStatus {
    pub account: String,
    /// `first_poll_in_progress`, `ok` or `failed` (the last poll).
    pub state: &'static str,
    /// A poll is running right now.
    pub polling: bool,
    pub last_poll: Option<LastPoll>,
    pub next_poll_at: Option<String>,
    pub next_poll_at_unix: Option<i64>,
    /// The snapshot being served; `null` before any poll succeeded.
    pub data: Option<DataStatus>,
    /// The first `/site` sweep, while it runs (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<crate::store::SweepStatus>,
    /// Never read, sites held back, a rate-limit wait, a superseded failure.
    #[serde(flatten)]
    pub notes: notes::AccountNotes,
}

#[derive(Debug, Serialize)]
pub struct LastPoll {
    pub ok: bool,
    pub finished_at: Option<String>,
    pub finished_at_unix: Option<i64>,
    pub age_seconds: Option<i64>,
    pub duration_seconds: f64,
    pub requests: u64,
    pub error: Option<PollErrorEntry>,
}

#[derive(Debug, Serialize)]
pub struct PollErrorEntry {
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct DataStatus {
    pub fetched_at: Option<String>,
    pub fetched_at_unix: Option<i64>,
    pub age_seconds: Option<i64>,
    pub servers: usize,
    pub integrations: usize,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The state of each account's polling, and site counts.
pub fn status(view: &View, now: DateTime<Utc>) -> StatusAnswer {
    let mut all_rows = Vec::new();
    let mut accounts = Vec::with_capacity(view.accounts.len());
    for account in &view.accounts {
        let state = &account.state;
        let last_poll = state.last_poll.as_ref().map(|p| {
            let at = from_unix(p.finished_at);
            LastPoll {
                ok: p.error.is_none(),
                finished_at: at.map(rfc3339),
                finished_at_unix: at.map(|t| t.timestamp()),
                age_seconds: at.map(|t| age_seconds(t, now)),
                duration_seconds: (p.duration_seconds * 1000.0).round() / 1000.0,
                requests: p.requests,
                error: p.error.as_ref().map(|e| PollErrorEntry {
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                }),
            }
        });
        let next = state.next_poll_at.and_then(from_unix);
        let data = account.assessed().map(|snap| {
            let rows = site_rows(&account.name, snap, now);
            let at = from_unix(snap.fetched_at);
            let d = DataStatus {
                fetched_at: at.map(rfc3339),
                fetched_at_unix: at.map(|t| t.timestamp()),
                age_seconds: at.map(|t| age_seconds(t, now)),
                servers: snap.servers.len(),
                integrations: snap.integrations.len(),
                counts: Counts::of(&rows),
            };
            all_rows.extend(rows);
            d
        });
        accounts.push(AccountStatus {
            account: account.name.clone(),
            state: match &state.last_poll {
                None => "first_poll_in_progress",
                Some(p) if p.error.is_none() => "ok",
                Some(_) => "failed",
            },
            polling: state.polling,
            last_poll,
            next_poll_at: next.map(rfc3339),
            next_poll_at_unix: next.map(|t| t.timestamp()),
            data,
            sweep: state.sweep,
            notes: notes::AccountNotes::of(state, now.timestamp_millis() as f64 / 1000.0),
        });
    }
    StatusAnswer {
        version: VERSION,
        revision: REVISION,
        generated_at: rfc3339(now),
        generated_at_unix: now.timestamp(),
        ready: view.accounts.iter().all(|a| a.state.ready),
        totals: Counts::of(&all_rows),
        accounts,
        policy: policy_entry(&view.policy, now),
    }
}

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
            missing: i.found.is_none(),
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
    pub remote_copy: Option<super::remote_copy::RemoteCopyEntry>,
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
    let f = parse_filters(view, raw, &SITES_PARAMS)?;
    let sites: Vec<SiteEntry> = view
        .site_rows(now)
        .iter()
        .filter(|r| f.keeps(r))
        .map(|r| SiteEntry {
            account: r.account.to_string(),
            id: r.site.id,
            url: r.site.url.clone(),
            page: site_path(r.account, r.site.id),
            server_id: r.site.server_id,
            server_label: r.server_label.map(str::to_string),
            status: r.health,
            pending: r.site.pending,
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
                super::remote_copy::entry(c, r.site.history.as_ref().map(|h| &h.remote), now)
            }),
            record_error: r.site.record_failure.as_ref().map(record_error_entry),
        })
        .collect();
    let (sites, page) = f.page(sites);
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
    let f = parse_filters(view, raw, &SCHEDULES_PARAMS)?;
    let mut schedules = Vec::new();
    for r in view.site_rows(now).iter().filter(|r| f.keeps(r)) {
        for storage in Storage::ALL {
            if f.storage.is_some_and(|s| s != storage) {
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
    let (schedules, page) = f.page(schedules);
    Ok(SchedulesAnswer {
        count: schedules.len(),
        page,
        schedules,
    })
}

#[derive(Debug, Serialize)]
pub struct IntegrationsAnswer {
    pub count: usize,
    pub integrations: Vec<IntegrationEntry>,
}

#[derive(Debug, Serialize)]
pub struct IntegrationEntry {
    pub account: String,
    pub id: u64,
    pub name: Option<String>,
    pub provider: Option<String>,
    pub region: Option<String>,
    pub sites: usize,
    pub status: IntegrationStatus,
}

pub(crate) const INTEGRATIONS_PARAMS: [&str; 2] = ["account", "site_id"];

/// The backup integrations, including the missing ones schedules point at.
/// Filters: `account`, `site_id` (the integration that site's remote
/// schedule uses).
pub fn integrations(view: &View, raw: Option<&str>) -> Result<IntegrationsAnswer, ParamError> {
    let f = parse_filters(view, raw, &INTEGRATIONS_PARAMS)?;
    let integrations: Vec<IntegrationEntry> = view
        .integration_rows()
        .iter()
        .filter(|r| f.account.as_deref().is_none_or(|a| a == r.account))
        .filter(|r| {
            f.site_id.is_none_or(|site_id| {
                view.account(r.account)
                    .and_then(|a| a.snapshot())
                    .and_then(|snap| snap.sites.iter().find(|s| s.id == site_id))
                    .and_then(|s| s.remote.schedule.as_ref())
                    .is_some_and(|s| s.integration_id == Some(r.id))
            })
        })
        .map(|r| IntegrationEntry {
            account: r.account.to_string(),
            id: r.id,
            name: r.integration.map(|i| i.name.clone()),
            provider: r.provider().map(str::to_string),
            region: r.integration.and_then(|i| i.region.clone()),
            sites: r.sites,
            status: r.status,
        })
        .collect();
    Ok(IntegrationsAnswer {
        count: integrations.len(),
        integrations,
    })
}

// ---------------------------------------------------------------------------
// Shared answers.

/// The list endpoints, whose answers can be large and are shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Sites,
    Schedules,
    Integrations,
}

/// A built list answer: the JSON and the earliest next run in it.
pub(crate) fn build(
    endpoint: Endpoint,
    view: &View,
    query: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(serde_json::Result<Vec<u8>>, Option<i64>), ParamError> {
    fn earliest<'a>(entries: impl Iterator<Item = &'a StorageEntry>) -> Option<i64> {
        entries
            .filter_map(|e| e.schedule.as_ref()?.next_run_unix)
            .min()
    }
    Ok(match endpoint {
        Endpoint::Sites => {
            let a = sites(view, query, now)?;
            let until = earliest(a.sites.iter().flat_map(|s| [&s.local, &s.remote]));
            (serde_json::to_vec(&a), until)
        }
        Endpoint::Schedules => {
            let a = schedules(view, query, now)?;
            let until = earliest(a.schedules.iter().map(|s| &s.entry));
            (serde_json::to_vec(&a), until)
        }
        Endpoint::Integrations => (serde_json::to_vec(&integrations(view, query)?), None),
    })
}

/// The API's index, at `/api/v1/`: its endpoints and their parameters.
#[derive(Debug, Serialize)]
pub(crate) struct IndexAnswer {
    pub version: &'static str,
    pub documentation: &'static str,
    pub endpoints: [IndexEntry; 4],
}

#[derive(Debug, Serialize)]
pub(crate) struct IndexEntry {
    pub path: &'static str,
    pub answers: &'static str,
    pub parameters: &'static [&'static str],
}

pub(crate) fn index() -> IndexAnswer {
    let entry = |path, answers, parameters| IndexEntry {
        path,
        answers,
        parameters,
    };
    IndexAnswer {
        version: VERSION,
        documentation: "docs/api.md in the exporter's source",
        endpoints: [
            entry(
                "/api/v1/status",
                "each account's polling state and site counts",
                &[],
            ),
            entry(
                "/api/v1/sites",
                "every site with its derived backup state",
                &SITES_PARAMS,
            ),
            entry(
                "/api/v1/schedules",
                "one entry per site and storage (local, remote)",
                &SCHEDULES_PARAMS,
            ),
            entry(
                "/api/v1/integrations",
                "the backup integrations, including the missing ones schedules point at",
                &INTEGRATIONS_PARAMS,
            ),
        ],
    }
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
    h: Option<&crate::domain::BackupHistory>,
    now: DateTime<Utc>,
) -> Option<BackupsEntry> {
    let h = h?;
    let read = from_unix(h.read_at);
    let storage = |s: &crate::domain::StorageBackups| {
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
