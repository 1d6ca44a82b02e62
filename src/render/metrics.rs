//! The Prometheus exposition. Per-site series are built fresh from the
//! current snapshots on every render, so a site that a poll no longer lists
//! takes its series with it. Values come from the last successful poll;
//! nothing here calls GridPane.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, RwLock, Weak};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::Crc;
use flate2::write::DeflateEncoder;
use tokio::sync::OnceCell;

use super::copies::JudgedCopies;
use super::text::{Family, decimal, write_families, write_header, write_sample};
use crate::domain::{AccountSnapshot, Assessed, Assessment, Health, Policy, Problem, Storage};
use crate::gridpane::{ApiError, Endpoint};
use crate::store::{AccountState, Store, Task, TaskHealth};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("GRIDPANE_BACKUP_EXPORTER_REVISION");

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Help text of a family derived from the snapshots.
macro_rules! from_poll {
    ($help:literal) => {
        concat!(
            $help,
            " (from the last successful poll of the GridPane API)."
        )
    };
}

/// The families derived from the snapshots, in output order. All are gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fam {
    SiteInfo,
    ServerInfo,
    Sites,
    Servers,
    IntegrationsCount,
    Problems,
    ProblemsMuted,
    SiteProblem,
    SitesByStatus,
    Enabled,
    RemoteConfigured,
    IntegrationMissing,
    ScheduleInfo,
    Interval,
    NextRun,
    Retention,
    Prune,
    IntegrationInfo,
    IntegrationSites,
    SitesPending,
    SiteStorageProblem,
}

/// Name and help of each [`Fam`], indexed by its discriminant.
const SNAPSHOT_FAMILIES: [(&str, &str); 21] = [
    (
        "gridpane_site_info",
        from_poll!("A WordPress site hosted on GridPane, value 1"),
    ),
    (
        "gridpane_server_info",
        from_poll!("A GridPane server, value 1; backups_version is v2 (Duplicacy) or v1 (legacy)"),
    ),
    ("gridpane_sites", from_poll!("Sites in the account")),
    ("gridpane_servers", from_poll!("Servers in the account")),
    (
        "gridpane_backup_integrations",
        from_poll!("Remote backup integrations in the account"),
    ),
    (
        "gridpane_site_problems",
        from_poll!("Sites with each kind of backup problem under the policy, muted ones left out"),
    ),
    (
        "gridpane_site_problems_muted",
        from_poll!("Sites with each kind of backup problem muted by the policy"),
    ),
    (
        "gridpane_site_problem",
        from_poll!(
            "A backup problem of the site under the policy, not muted, value 1; severity is critical (not protected), unknown (a fact the verdict rests on was not read or not understood) or warning"
        ),
    ),
    (
        "gridpane_sites_by_status",
        from_poll!(
            "Sites by status under the policy: problem (not protected), unknown (outcome not established), warning, pending (not read yet) or ok"
        ),
    ),
    (
        "gridpane_backup_schedule_enabled",
        from_poll!(
            "1 if automatic backups of this storage are on and scheduled for the site, else 0"
        ),
    ),
    (
        "gridpane_backup_remote_configured",
        from_poll!("1 if remote backups are on, scheduled and their integration exists, else 0"),
    ),
    (
        "gridpane_backup_remote_integration_missing",
        from_poll!(
            "1 if the site's remote schedule points at an integration that no longer exists, else 0"
        ),
    ),
    (
        "gridpane_backup_schedule_info",
        from_poll!("A backup schedule of the site, value 1"),
    ),
    (
        "gridpane_backup_schedule_interval_seconds",
        from_poll!("Nominal period of the backup schedule (a month counts 30 days)"),
    ),
    (
        "gridpane_backup_schedule_next_run_timestamp_seconds",
        from_poll!(
            "Next run of the backup schedule, unix seconds, UTC; only for schedules that are on"
        ),
    ),
    (
        "gridpane_backup_retention_seconds",
        from_poll!("How long backups of this storage are kept, +Inf for keep-all"),
    ),
    (
        "gridpane_backup_prune_schedule",
        from_poll!(
            "Prune schedule: 0 keep daily, 1 daily then weekly, 2 daily then monthly, 3 daily, weekly, then monthly"
        ),
    ),
    (
        "gridpane_backup_integration_info",
        from_poll!("A remote backup integration (credentials are never read), value 1"),
    ),
    (
        "gridpane_backup_integration_sites",
        from_poll!("Sites whose remote backup schedule uses this integration"),
    ),
    (
        "gridpane_sites_pending",
        from_poll!(
            "Sites known from the schedules whose /site record the first sweep has not read yet; their on/off state is not exported until it is"
        ),
    ),
    (
        "gridpane_site_storage_problem",
        from_poll!(
            "A backup problem of one storage (local or remote) of the site, not muted, value 1: the problems of gridpane_site_problem that concern a storage, once per storage that has it"
        ),
    ),
];

/// Where the snapshot walk sends its samples.
trait Sink {
    fn push(&mut self, family: Fam, labels: &[(&str, &str)], value: f64);
}

/// A snapshot and the assessment of its sites.
type Judged<'a> = (&'a AccountSnapshot, &'a Assessment);

/// Assesses bare snapshots under the default policy (tests and
/// benchmarks); the store holds every snapshot already assessed.
fn assess_all(snapshots: &[&AccountSnapshot], now: DateTime<Utc>) -> Vec<Assessment> {
    let policy = Policy::default();
    snapshots
        .iter()
        .map(|s| Assessment::of(s, &policy, now))
        .collect()
}

fn judged<'a>(snapshots: &[&'a AccountSnapshot], assessments: &'a [Assessment]) -> Vec<Judged<'a>> {
    snapshots.iter().copied().zip(assessments).collect()
}

fn judged_from<'a>(assessed: impl IntoIterator<Item = &'a Assessed>) -> Vec<Judged<'a>> {
    assessed
        .into_iter()
        .map(|a| (a.snapshot(), a.assessment()))
        .collect()
}

/// Walks the snapshots once, sending every sample of the snapshot part to
/// `sink`. Returns the earliest next run it reported: until then (and from
/// `now` on) the walk yields the same samples, as nothing else depends on
/// `now`.
fn walk_snapshots(
    snapshots: &[Judged<'_>],
    now: DateTime<Utc>,
    sink: &mut impl Sink,
) -> Option<DateTime<Utc>> {
    let mut earliest_next_run: Option<DateTime<Utc>> = None;
    for &(snap, assessment) in snapshots {
        let account = snap.account.as_str();
        let server_labels = snap.server_labels();

        sink.push(Fam::Sites, &[("account", account)], snap.sites.len() as f64);
        sink.push(
            Fam::Servers,
            &[("account", account)],
            snap.servers.len() as f64,
        );
        sink.push(
            Fam::IntegrationsCount,
            &[("account", account)],
            snap.integrations.len() as f64,
        );

        for server in &snap.servers {
            let id = server.id.to_string();
            sink.push(
                Fam::ServerInfo,
                &[
                    ("account", account),
                    ("server_id", &id),
                    ("server_label", &server.label),
                    ("region", server.region.as_deref().unwrap_or("")),
                    ("backups_version", server.backups_version.as_str()),
                ],
                1.0,
            );
        }

        let mut problem_counts = [0usize; Problem::ALL.len()];
        let mut muted_counts = [0usize; Problem::ALL.len()];
        let mut status_counts = [0usize; Health::ALL.len()];
        let mut pending = 0usize;
        let mut usage: BTreeMap<u64, usize> = BTreeMap::new();
        let (mut site_digits, mut server_digits) = ([0u8; 20], [0u8; 20]);
        for (site, verdict) in snap.sites.iter().zip(assessment.sites()) {
            let site_id = decimal(&mut site_digits, site.id);
            let server_id = site
                .server_id
                .map_or("", |i| decimal(&mut server_digits, i));
            let server_label = site
                .server_id
                .and_then(|i| server_labels.get(&i).copied())
                .unwrap_or("");
            sink.push(
                Fam::SiteInfo,
                &[
                    ("account", account),
                    ("site_id", site_id),
                    ("site_url", &site.url),
                    ("server_id", server_id),
                    ("server_label", server_label),
                ],
                1.0,
            );
            for p in verdict.problems() {
                if let Some(n) = problem_counts.get_mut(p as usize) {
                    *n += 1;
                }
                sink.push(
                    Fam::SiteProblem,
                    &[
                        ("account", account),
                        ("site_id", site_id),
                        ("problem", p.as_str()),
                        ("severity", p.severity().as_str()),
                    ],
                    1.0,
                );
            }
            for storage in Storage::ALL {
                for p in verdict.storage_problems(storage) {
                    sink.push(
                        Fam::SiteStorageProblem,
                        &[
                            ("account", account),
                            ("site_id", site_id),
                            ("storage", storage.as_str()),
                            ("problem", p.as_str()),
                            ("severity", p.severity().as_str()),
                        ],
                        1.0,
                    );
                }
            }
            for m in &verdict.muted {
                if let Some(n) = muted_counts.get_mut(m.problem as usize) {
                    *n += 1;
                }
            }
            if let Some(n) = status_counts.get_mut(verdict.health as usize) {
                *n += 1;
            }
            if let Some(id) = site.remote.schedule.as_ref().and_then(|s| s.integration_id) {
                *usage.entry(id).or_default() += 1;
            }
            // A pending site's on/off state is unknown: no series says it.
            pending += usize::from(site.pending);
            if !verdict.switches_unknown {
                sink.push(
                    Fam::RemoteConfigured,
                    &[("account", account), ("site_id", site_id)],
                    bool_value(verdict.remote_configured),
                );
            }
            if let Some(missing) = verdict.integration_missing {
                sink.push(
                    Fam::IntegrationMissing,
                    &[("account", account), ("site_id", site_id)],
                    bool_value(missing),
                );
            }
            for storage in Storage::ALL {
                let settings = site.storage(storage);
                let labels = [
                    ("account", account),
                    ("site_id", site_id),
                    ("storage", storage.as_str()),
                ];
                if !verdict.switches_unknown {
                    sink.push(
                        Fam::Enabled,
                        &labels,
                        bool_value(verdict.storage(storage).enabled),
                    );
                }
                if let Some(schedule) = &settings.schedule {
                    sink.push(
                        Fam::ScheduleInfo,
                        &[
                            ("account", account),
                            ("site_id", site_id),
                            ("storage", storage.as_str()),
                            ("frequency", schedule.frequency.as_str()),
                        ],
                        1.0,
                    );
                    if let Some(secs) = schedule.frequency.interval_seconds() {
                        sink.push(Fam::Interval, &labels, secs as f64);
                    }
                    if let Some(at) = verdict.storage(storage).next_run(settings, now) {
                        if earliest_next_run.is_none_or(|e| at < e) {
                            earliest_next_run = Some(at);
                        }
                        sink.push(Fam::NextRun, &labels, at.timestamp() as f64);
                    }
                }
                if let Some(secs) = verdict.storage(storage).retention.seconds() {
                    sink.push(Fam::Retention, &labels, secs);
                }
                if let Some(p) = settings.prune_schedule {
                    sink.push(Fam::Prune, &labels, f64::from(p));
                }
            }
        }
        sink.push(Fam::SitesPending, &[("account", account)], pending as f64);
        for (p, n) in Problem::ALL.into_iter().zip(problem_counts) {
            sink.push(
                Fam::Problems,
                &[("account", account), ("problem", p.as_str())],
                n as f64,
            );
        }
        for (p, n) in Problem::ALL.into_iter().zip(muted_counts) {
            sink.push(
                Fam::ProblemsMuted,
                &[("account", account), ("problem", p.as_str())],
                n as f64,
            );
        }
        for (h, n) in Health::ALL.into_iter().zip(status_counts) {
            sink.push(
                Fam::SitesByStatus,
                &[("account", account), ("status", h.as_str())],
                n as f64,
            );
        }

        // Counted in the walk above (as `AccountSnapshot::integration_usage`
        // counts): a second pass over every site would read them all again.
        for integration in &snap.integrations {
            let id = integration.id.to_string();
            sink.push(
                Fam::IntegrationInfo,
                &[
                    ("account", account),
                    ("integration_id", &id),
                    ("integration_name", &integration.name),
                    ("provider", &integration.provider),
                    ("region", integration.region.as_deref().unwrap_or("")),
                ],
                1.0,
            );
            sink.push(
                Fam::IntegrationSites,
                &[("account", account), ("integration_id", &id)],
                usage.get(&integration.id).copied().unwrap_or(0) as f64,
            );
        }
    }
    earliest_next_run
}

/// The snapshot part of the exposition, in the text format.
#[derive(Clone, Debug, Default)]
pub struct SnapshotText {
    /// One chunk per non-empty family (its `# HELP` and `# TYPE` lines, then
    /// its samples), in output order. Served as they are, never joined.
    pub chunks: Vec<Bytes>,
    /// Total length of the chunks.
    pub len: usize,
    /// The earliest next run of a backup schedule in the output: from then
    /// on, a fresh render differs.
    pub valid_until: Option<DateTime<Utc>>,
    /// Bytes of each family (0 when empty), to size the next render.
    family_sizes: [usize; SNAPSHOT_FAMILIES.len()],
}

impl SnapshotText {
    /// The chunks joined (tests and benchmarks).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        out
    }
}

/// Writes samples as text, one buffer per family.
struct TextSink(Vec<Vec<u8>>);

impl Sink for TextSink {
    fn push(&mut self, family: Fam, labels: &[(&str, &str)], value: f64) {
        let i = family as usize;
        let (Some(out), Some((name, help))) = (self.0.get_mut(i), SNAPSHOT_FAMILIES.get(i)) else {
            return;
        };
        if out.is_empty() {
            write_header(out, name, help, "gauge");
        }
        write_sample(out, name, labels, value);
    }
}

/// Renders the snapshot part of the exposition as text.
pub fn snapshot_text(snapshots: &[&AccountSnapshot], now: DateTime<Utc>) -> SnapshotText {
    let assessments = assess_all(snapshots, now);
    render_into(&judged(snapshots, &assessments), now, Buffers::default())
}

/// Renders like [`snapshot_text`], sizing each family's buffer from a
/// previous render (plus a little): in steady state every family is
/// allocated once, never grown, so large buffers do not leave freed copies
/// behind in the allocator.
pub fn snapshot_text_sized(
    snapshots: &[&AccountSnapshot],
    now: DateTime<Utc>,
    previous: Option<&SnapshotText>,
) -> SnapshotText {
    let buffers = previous.map_or_else(Buffers::default, |p| Buffers::sized(&p.family_sizes));
    let assessments = assess_all(snapshots, now);
    render_into(&judged(snapshots, &assessments), now, buffers)
}

/// Renders like [`snapshot_text`] into the buffers of a previous render that
/// nothing else holds any more (a family whose chunk is still shared gets a
/// new buffer, sized from it). Memory that was written once is written
/// again, instead of being returned to the system and faulted in anew.
pub fn snapshot_text_recycled(
    snapshots: &[&AccountSnapshot],
    now: DateTime<Utc>,
    previous: SnapshotText,
) -> SnapshotText {
    let assessments = assess_all(snapshots, now);
    render_into(
        &judged(snapshots, &assessments),
        now,
        Buffers::recycled(previous),
    )
}

/// One output buffer per snapshot family.
struct Buffers([Vec<u8>; SNAPSHOT_FAMILIES.len()]);

impl Default for Buffers {
    fn default() -> Self {
        Buffers(std::array::from_fn(|_| Vec::new()))
    }
}

impl Buffers {
    fn sized(sizes: &[usize; SNAPSHOT_FAMILIES.len()]) -> Self {
        Buffers(std::array::from_fn(|i| {
            let before = sizes.get(i).copied().unwrap_or(0);
            Vec::with_capacity(before + before / 16)
        }))
    }

    fn recycled(previous: SnapshotText) -> Self {
        let mut buffers = Buffers::sized(&[0; SNAPSHOT_FAMILIES.len()]);
        let mut chunks = previous.chunks.into_iter();
        for (buffer, &size) in buffers.0.iter_mut().zip(&previous.family_sizes) {
            if size == 0 {
                continue;
            }
            *buffer = match chunks.next().map(Bytes::try_into_mut) {
                Some(Ok(unique)) => {
                    let mut reused = Vec::from(unique);
                    reused.clear();
                    reused
                }
                _ => Vec::with_capacity(size + size / 16),
            };
        }
        buffers
    }
}

fn render_into(snapshots: &[Judged<'_>], now: DateTime<Utc>, buffers: Buffers) -> SnapshotText {
    let mut sink = TextSink(buffers.0.into());
    let valid_until = walk_snapshots(snapshots, now, &mut sink);
    let mut family_sizes = [0; SNAPSHOT_FAMILIES.len()];
    for (size, b) in family_sizes.iter_mut().zip(&sink.0) {
        *size = b.len();
    }
    let chunks: Vec<Bytes> = sink
        .0
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|mut b| {
            // Unused capacity would be kept for as long as the cache is.
            b.shrink_to_fit();
            Bytes::from(b)
        })
        .collect();
    let len = chunks.iter().map(Bytes::len).sum();
    SnapshotText {
        chunks,
        len,
        valid_until,
        family_sizes,
    }
}

/// The exporter's own health per account: small, rendered on every scrape.
fn health_families(accounts: &[(&str, &AccountState)], now_unix: f64) -> Vec<Family> {
    let mut up = Family::gauge(
        "gridpane_up",
        "1 if the last poll of the GridPane API for this account succeeded, else 0 (0 before the first poll). Data is polled in the background, not on scrape.",
    );
    let mut last_success = Family::gauge(
        "gridpane_last_successful_poll_timestamp_seconds",
        "When the snapshot being served was fetched, unix seconds.",
    );
    let mut age = Family::gauge(
        "gridpane_data_age_seconds",
        "Seconds since the snapshot being served was fetched.",
    );
    let mut duration = Family::gauge(
        "gridpane_poll_duration_seconds",
        "Duration of the last poll, in seconds.",
    );
    let mut polls = Family::counter(
        "gridpane_polls_total",
        "Polls of the GridPane API attempted.",
    );
    let mut errors = Family::counter(
        "gridpane_poll_errors_total",
        "Polls of the GridPane API that failed, by reason.",
    );
    let mut requests = Family::counter(
        "gridpane_api_requests_total",
        "Requests sent to the GridPane API, by endpoint (route template) and HTTP code (\"error\" when no answer came).",
    );
    let mut limited = Family::counter(
        "gridpane_api_rate_limited_total",
        "Answers of the GridPane API that said the rate limit was exceeded (HTTP 429), by endpoint.",
    );
    let mut remaining = Family::gauge(
        "gridpane_api_rate_limit_remaining",
        "Requests left in the GridPane rate limit window, as last reported; scope is \"account\" or an endpoint.",
    );
    let mut unconfirmed = Family::gauge(
        "gridpane_sites_unconfirmed_removals",
        "Sites still served although the last complete site list left them out in a drop that looked broken (every site, more than poll.max_site_removal_share, or against meta.total): their removal waits for the next complete list to confirm it.",
    );
    let mut polled_since = Family::gauge(
        "gridpane_polled_since_timestamp_seconds",
        "When this exporter process began polling the account, unix seconds. With gridpane_last_successful_poll_timestamp_seconds absent, the account has never been read since then.",
    );

    for (account, state) in accounts {
        let a = *account;
        up.push(&[("account", a)], bool_value(state.up()));
        if let Some(snap) = &state.snapshot {
            last_success.push(&[("account", a)], snap.fetched_at);
            age.push(&[("account", a)], (now_unix - snap.fetched_at).max(0.0));
        }
        if let Some(p) = &state.last_poll {
            duration.push(&[("account", a)], p.duration_seconds);
        }
        polls.push(&[("account", a)], state.counters.polls as f64);
        for reason in ApiError::REASONS {
            let n = state.counters.poll_errors.get(reason).copied().unwrap_or(0);
            errors.push(&[("account", a), ("reason", reason)], n as f64);
        }
        for ((endpoint, code), n) in &state.counters.api_requests {
            requests.push(
                &[("account", a), ("endpoint", endpoint), ("code", code)],
                *n as f64,
            );
        }
        for ep in [
            Endpoint::Sites,
            Endpoint::Servers,
            Endpoint::Schedules,
            Endpoint::BackupIntegrations,
        ] {
            let n = state
                .counters
                .rate_limited
                .get(ep.route())
                .copied()
                .unwrap_or(0);
            limited.push(&[("account", a), ("endpoint", ep.route())], n as f64);
        }
        for (endpoint, n) in &state.counters.rate_limited {
            if ![
                Endpoint::Sites,
                Endpoint::Servers,
                Endpoint::Schedules,
                Endpoint::BackupIntegrations,
            ]
            .iter()
            .any(|e| e.route() == endpoint)
            {
                limited.push(&[("account", a), ("endpoint", endpoint)], *n as f64);
            }
        }
        for (scope, v) in &state.counters.rate_limit_remaining {
            remaining.push(&[("account", a), ("scope", scope)], *v);
        }
        unconfirmed.push(&[("account", a)], state.unconfirmed_removals as f64);
        if let Some(since) = state.watched_since {
            polled_since.push(&[("account", a)], since);
        }
    }

    let mut build = Family::gauge(
        "gridpane_exporter_build_info",
        "Version and git revision of gridpane-backup-exporter, value 1.",
    );
    build.push(&[("version", VERSION), ("revision", REVISION)], 1.0);

    vec![
        up,
        last_success,
        age,
        duration,
        polls,
        errors,
        requests,
        limited,
        remaining,
        unconfirmed,
        polled_since,
        build,
    ]
}

/// The supervisor's record, rendered on every scrape (part of the extra
/// text given to [`render_tail`]).
pub fn task_text(tasks: &TaskHealth) -> Vec<u8> {
    let mut restarts = Family::counter(
        "gridpane_exporter_task_restarts_total",
        "Background tasks that ended unexpectedly (returned or panicked) and were restarted, by task.",
    );
    for task in Task::ALL {
        restarts.push(&[("task", task.as_str())], tasks.restarts(task) as f64);
    }
    let mut state_write_errors = Family::counter(
        "gridpane_state_write_errors_total",
        "Writes of the state file that failed since the exporter started; the previous file is kept.",
    );
    state_write_errors.push(&[], tasks.state_write_errors() as f64);
    let mut reload_failures = Family::counter(
        "gridpane_exporter_config_reload_failures_total",
        "Configuration reloads (SIGHUP) that changed nothing: a file that did not load, or one that would remove the access rules in force.",
    );
    reload_failures.push(&[], tasks.reload_failures() as f64);
    let mut out = Vec::new();
    write_families(&[restarts, state_write_errors, reload_failures], &mut out);
    out
}

/// The policy in force, rendered on every scrape (a mute's state depends
/// on the time).
fn policy_families(policy: &Policy, now: DateTime<Utc>) -> Vec<Family> {
    let mut info = Family::gauge(
        "gridpane_policy_info",
        "The backup policy in force for sites no group matches, value 1.",
    );
    let rules = &policy.rules;
    info.push(
        &[
            ("min_retention_days", &rules.min_retention_days.to_string()),
            (
                "max_interval_seconds",
                &rules.max_interval.as_secs().to_string(),
            ),
            ("require_remote", &rules.require_remote.to_string()),
            ("overdue_after", &rules.overdue_after.to_string()),
            (
                "overdue_grace_seconds",
                &rules.overdue_grace.as_secs().to_string(),
            ),
            (
                "record_max_age_seconds",
                &rules.record_max_age.as_secs().to_string(),
            ),
        ],
        1.0,
    );
    let mut groups = Family::gauge(
        "gridpane_policy_groups",
        "Groups of sites with their own rules in the backup policy.",
    );
    groups.push(&[], policy.groups.len() as f64);
    let mut mutes = Family::gauge(
        "gridpane_policy_mutes",
        "Mutes (acknowledged problems) in the backup policy: active, or expired (no longer muting).",
    );
    let (active, expired) = policy.mute_states(now);
    mutes.push(&[("state", "active")], active as f64);
    mutes.push(&[("state", "expired")], expired as f64);
    vec![info, groups, mutes]
}

/// The part of the exposition rendered on every scrape: the exporter's
/// health per account, the per-site detail (ages: they change by the
/// second), then `extra` as it is (task restarts and process metrics,
/// already written).
pub fn render_tail(
    states: &[(&str, &AccountState)],
    policy: &Policy,
    extra: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    let judged: Vec<&Assessed> = states
        .iter()
        .filter_map(|(_, s)| s.snapshot.as_deref())
        .collect();
    tail(states, policy, &JudgedCopies::render(&judged), extra, now)
}

/// Like [`render_tail`], with the copy series judged with the snapshots
/// taken from `entry` (rendered with it) instead of rendered now.
pub fn render_tail_cached(
    states: &[(&str, &AccountState)],
    policy: &Policy,
    entry: &CachedSnapshot,
    extra: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    tail(states, policy, &entry.copies, extra, now)
}

fn tail(
    states: &[(&str, &AccountState)],
    policy: &Policy,
    copies: &JudgedCopies,
    extra: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    let now_unix = now.timestamp_millis() as f64 / 1000.0;
    let mut out = Vec::with_capacity(8 * 1024 + extra.len());
    write_families(&health_families(states, now_unix), &mut out);
    write_families(&policy_families(policy, now), &mut out);
    write_families(&super::detail::detail_families(states, now_unix), &mut out);
    write_families(&super::copies::storage_families(states), &mut out);
    copies.write(&mut out);
    out.extend_from_slice(extra);
    out
}

/// Every account's current state, in configuration order.
pub fn load_states(store: &Store) -> Vec<(String, Arc<AccountState>)> {
    store
        .accounts()
        .iter()
        .map(|a| (a.name.clone(), a.load()))
        .collect()
}

/// Renders the whole exposition from the store, fresh: snapshots, health,
/// and the extra text (task restarts, process metrics) given.
pub fn render(store: &Store, extra: &[u8], now: DateTime<Utc>) -> Vec<u8> {
    render_states(&load_states(store), &store.policy(), extra, now)
}

/// Like [`render`], for the accounts' states given.
pub(crate) fn render_states(
    states: &[(String, Arc<AccountState>)],
    policy: &Policy,
    extra: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    let snaps = judged_from(states.iter().filter_map(|(_, s)| s.snapshot.as_deref()));
    let health: Vec<(&str, &AccountState)> = states
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_ref()))
        .collect();
    let snapshot = render_into(&snaps, now, Buffers::default());
    let tail = render_tail(&health, policy, extra, now);
    let mut out = Vec::with_capacity(snapshot.len + tail.len());
    for c in &snapshot.chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&tail);
    out
}

/// The start of a gzip member for a body that begins with `chunks` and
/// goes on with a part not known yet: the gzip header, then the chunks as
/// raw deflate blocks ending with a sync flush (byte-aligned, not final).
/// [`GzipHead::finish`] appends the rest, making one ordinary gzip member.
/// This is how pigz joins blocks compressed apart.
#[derive(Debug, Default)]
pub struct GzipHead {
    /// Header and deflate blocks.
    pub bytes: Bytes,
    crc: Crc,
    len: u64,
}

/// Gzip header: no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

impl GzipHead {
    /// Compresses `chunks` (fast level).
    pub fn new(chunks: &[Bytes]) -> GzipHead {
        let len: usize = chunks.iter().map(Bytes::len).sum();
        let mut out = Vec::with_capacity(len / 8 + 64);
        out.extend_from_slice(&GZIP_HEADER);
        let mut crc = Crc::new();
        let mut enc = DeflateEncoder::new(out, Compression::fast());
        for c in chunks {
            crc.update(c);
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(c);
        }
        // A sync flush ends the blocks on a byte boundary without ending the
        // stream; the encoder's final block is then dropped with it.
        let _ = enc.flush();
        let mut out = std::mem::take(enc.get_mut());
        out.shrink_to_fit();
        GzipHead {
            bytes: Bytes::from(out),
            crc,
            len: len as u64,
        }
    }

    /// The rest of the member after [`GzipHead::bytes`]: `tail` as stored
    /// (uncompressed) deflate blocks, the last one final, then the CRC-32 and
    /// length of the whole body. The tail is a few kilobytes of health and
    /// process metrics: storing it costs a copy, where compressing it would
    /// cost setting up a compressor on every scrape.
    pub fn finish(&self, tail: &[u8]) -> Vec<u8> {
        const MAX_STORED: usize = u16::MAX as usize;
        let blocks = tail.len().div_ceil(MAX_STORED).max(1);
        let mut out = Vec::with_capacity(tail.len() + 5 * blocks + 8);
        for i in 0..blocks {
            let block = tail
                .get(i * MAX_STORED..tail.len().min((i + 1) * MAX_STORED))
                .unwrap_or_default();
            // BFINAL in bit 0, BTYPE 00 (stored); the head ended on a byte
            // boundary, and a stored block's header pads to the next one.
            out.push(u8::from(i + 1 == blocks));
            let len = block.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(block);
        }
        let mut tail_crc = Crc::new();
        tail_crc.update(tail);
        let mut crc = Crc::new();
        crc.combine(&self.crc);
        crc.combine(&tail_crc);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        out.extend_from_slice(&((self.len + tail.len() as u64) as u32).to_le_bytes());
        out
    }
}

/// The snapshot part of the exposition, rendered once and served to every
/// scrape while it is still what a fresh render would produce.
#[derive(Debug)]
pub struct CachedSnapshot {
    /// The snapshots it was rendered from, per account in configuration
    /// order. Weak: an entry never keeps a replaced snapshot's data alive,
    /// and the allocation it pins keeps its address from being reused.
    sources: Vec<Option<Weak<Assessed>>>,
    rendered_at: DateTime<Utc>,
    text: SnapshotText,
    /// The copy series judged with the same snapshots: served in the tail
    /// (their place in the exposition), rendered with the text.
    copies: JudgedCopies,
    gzip: OnceCell<GzipHead>,
}

impl CachedSnapshot {
    /// The plain text, in chunks.
    pub fn text(&self) -> &SnapshotText {
        &self.text
    }

    /// The compressed snapshot part, computed once, on first use.
    pub async fn gzip(&self) -> &GzipHead {
        self.gzip
            .get_or_init(|| async {
                let chunks = self.text.chunks.clone();
                match tokio::task::spawn_blocking(move || GzipHead::new(&chunks)).await {
                    Ok(gz) => gz,
                    Err(_) => GzipHead::new(&self.text.chunks),
                }
            })
            .await
    }

    /// True when a fresh render at `now` from `states` would give the same
    /// bytes: the same snapshots, and no schedule's next run has come (the
    /// only way the snapshot part depends on the time).
    fn serves(&self, states: &[Arc<AccountState>], now: DateTime<Utc>) -> bool {
        self.sources.len() == states.len()
            && self.sources.iter().zip(states).all(|(cached, state)| {
                match (cached, &state.snapshot) {
                    (None, None) => true,
                    (Some(w), Some(a)) => std::ptr::eq(w.as_ptr(), Arc::as_ptr(a)),
                    _ => false,
                }
            })
            && self.rendered_at <= now
            && self.text.valid_until.is_none_or(|until| now < until)
    }
}

impl CachedSnapshot {
    /// Entries rendered apart (one per account, say), as one: byte for byte
    /// what rendering their snapshots together, in this order, gives. Each
    /// family's header is written once; the samples are the parts' own
    /// chunks, shared, not copied (so a merged entry holds several chunks
    /// per family). The gzip form is the merged entry's own.
    pub fn merged(parts: &[Arc<CachedSnapshot>]) -> CachedSnapshot {
        let mut text = SnapshotText::default();
        let by_family: Vec<[Option<&Bytes>; SNAPSHOT_FAMILIES.len()]> =
            parts.iter().map(|p| p.text.by_family()).collect();
        for (i, (name, help)) in SNAPSHOT_FAMILIES.iter().enumerate() {
            let mut header_len = None;
            for chunk in by_family.iter().filter_map(|f| f.get(i).copied().flatten()) {
                let chunk = match header_len {
                    None => {
                        let mut header = Vec::new();
                        write_header(&mut header, name, help, "gauge");
                        header_len = Some(header.len());
                        chunk.clone()
                    }
                    Some(n) => chunk.slice(n.min(chunk.len())..),
                };
                if let Some(size) = text.family_sizes.get_mut(i) {
                    *size += chunk.len();
                }
                text.len += chunk.len();
                text.chunks.push(chunk);
            }
        }
        text.valid_until = parts.iter().filter_map(|p| p.text.valid_until).min();
        CachedSnapshot {
            sources: parts.iter().flat_map(|p| p.sources.clone()).collect(),
            rendered_at: parts
                .iter()
                .map(|p| p.rendered_at)
                .max()
                .unwrap_or(DateTime::UNIX_EPOCH),
            text,
            copies: JudgedCopies::merged(parts.iter().map(|p| &p.copies)),
            gzip: OnceCell::new(),
        }
    }
}

impl SnapshotText {
    /// Each family's chunk, if it has one.
    fn by_family(&self) -> [Option<&Bytes>; SNAPSHOT_FAMILIES.len()] {
        let mut chunks = self.chunks.iter();
        std::array::from_fn(|i| {
            if self.family_sizes.get(i).copied().unwrap_or(0) > 0 {
                chunks.next()
            } else {
                None
            }
        })
    }
}

/// Caches the snapshot part of the exposition between scrapes. Concurrent
/// scrapes that find it stale render it once between them.
#[derive(Debug, Default)]
pub struct ExpositionCache {
    current: RwLock<Option<Arc<CachedSnapshot>>>,
    render_lock: tokio::sync::Mutex<()>,
}

impl ExpositionCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn current(&self) -> Option<Arc<CachedSnapshot>> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, entry: Option<Arc<CachedSnapshot>>) {
        match self.current.write() {
            Ok(mut g) => *g = entry,
            Err(poisoned) => *poisoned.into_inner() = entry,
        }
    }

    /// The snapshot part for `states` (as loaded for this scrape) and the
    /// instant it is valid for, read from `clock` once the entry is known to
    /// be current. Render the per-scrape part with that instant.
    pub async fn get(
        &self,
        states: &[Arc<AccountState>],
        clock: impl Fn() -> DateTime<Utc>,
    ) -> (Arc<CachedSnapshot>, DateTime<Utc>) {
        let now = clock();
        if let Some(entry) = self.current().filter(|e| e.serves(states, now)) {
            return (entry, now);
        }
        let _rendering = self.render_lock.lock().await;
        // Another scrape may have rendered it while this one waited.
        let now = clock();
        if let Some(entry) = self.current().filter(|e| e.serves(states, now)) {
            return (entry, now);
        }
        let snapshots: Vec<Arc<Assessed>> =
            states.iter().filter_map(|s| s.snapshot.clone()).collect();
        // The stale entry goes now, not after the render: responses still
        // sending it hold their own references, and the two never need to
        // be in memory together. When none does, its buffers take the new
        // render.
        let previous = self.current();
        self.set(None);
        let buffers = match previous.map(Arc::try_unwrap) {
            Some(Ok(unused)) => Buffers::recycled(unused.text),
            Some(Err(shared)) => Buffers::sized(&shared.text.family_sizes),
            None => Buffers::default(),
        };
        let render = move || {
            let refs: Vec<&Assessed> = snapshots.iter().map(Arc::as_ref).collect();
            (
                render_into(&judged_from(refs.iter().copied()), now, buffers),
                JudgedCopies::render(&refs),
            )
        };
        // Rendering a large fleet takes a while: keep it off the workers
        // that answer other requests.
        let (text, copies) = match tokio::task::spawn_blocking(render).await {
            Ok(rendered) => rendered,
            Err(_) => {
                let refs: Vec<&Assessed> = states
                    .iter()
                    .filter_map(|s| s.snapshot.as_deref())
                    .collect();
                (
                    render_into(&judged_from(refs.iter().copied()), now, Buffers::default()),
                    JudgedCopies::render(&refs),
                )
            }
        };
        let entry = Arc::new(CachedSnapshot {
            sources: states
                .iter()
                .map(|s| s.snapshot.as_ref().map(Arc::downgrade))
                .collect(),
            rendered_at: now,
            text,
            copies,
            gzip: OnceCell::new(),
        });
        self.set(Some(Arc::clone(&entry)));
        (entry, now)
    }
}
