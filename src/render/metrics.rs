//! The Prometheus exposition. Per-site series are built fresh from the
//! current snapshots on every render, so a site that a poll no longer lists
//! takes its series with it. Values come from the last successful poll;
//! nothing here calls GridPane.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

use crate::gridpane::{ApiError, Endpoint};
use crate::model::{self, AccountSnapshot, Problem, Storage};
use crate::store::{AccountState, Store};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("GRIDPANE_BACKUP_EXPORTER_REVISION");

const FROM_POLL: &str = "(from the last successful poll of the GridPane API)";

/// A family being built.
pub(crate) struct Family(MetricFamily);

impl Family {
    pub(crate) fn new(name: &str, help: &str, kind: MetricType) -> Self {
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_string());
        mf.set_help(help.to_string());
        mf.set_field_type(kind);
        Family(mf)
    }

    pub(crate) fn gauge(name: &str, help: &str) -> Self {
        Family::new(name, help, MetricType::GAUGE)
    }

    pub(crate) fn counter(name: &str, help: &str) -> Self {
        Family::new(name, help, MetricType::COUNTER)
    }

    pub(crate) fn push(&mut self, labels: &[(&str, &str)], value: f64) {
        let pairs = labels
            .iter()
            .map(|(k, v)| {
                let mut lp = LabelPair::default();
                lp.set_name((*k).to_string());
                lp.set_value((*v).to_string());
                lp
            })
            .collect();
        let mut m = Metric::from_label(pairs);
        if self.0.get_field_type() == MetricType::COUNTER {
            let mut c = Counter::default();
            c.set_value(value);
            m.set_counter(c);
        } else {
            let mut g = Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
        self.0.mut_metric().push(m);
    }
}

pub(crate) fn finish(families: Vec<Family>) -> Vec<MetricFamily> {
    families
        .into_iter()
        .map(|f| f.0)
        .filter(|mf| !mf.get_metric().is_empty())
        .collect()
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The families derived from the snapshots (the bulk of the output).
pub fn snapshot_families(snapshots: &[&AccountSnapshot], now: DateTime<Utc>) -> Vec<MetricFamily> {
    let mut site_info = Family::gauge(
        "gridpane_site_info",
        &format!("A WordPress site hosted on GridPane, value 1 {FROM_POLL}."),
    );
    let mut server_info = Family::gauge(
        "gridpane_server_info",
        &format!(
            "A GridPane server, value 1; backups_version is v2 (Duplicacy) or v1 (legacy) {FROM_POLL}."
        ),
    );
    let mut sites = Family::gauge(
        "gridpane_sites",
        &format!("Sites in the account {FROM_POLL}."),
    );
    let mut servers = Family::gauge(
        "gridpane_servers",
        &format!("Servers in the account {FROM_POLL}."),
    );
    let mut integrations_count = Family::gauge(
        "gridpane_backup_integrations",
        &format!("Remote backup integrations in the account {FROM_POLL}."),
    );
    let mut problems = Family::gauge(
        "gridpane_site_problems",
        &format!("Sites with each kind of backup problem {FROM_POLL}."),
    );
    let mut enabled = Family::gauge(
        "gridpane_backup_schedule_enabled",
        &format!(
            "1 if automatic backups of this storage are on and scheduled for the site, else 0 {FROM_POLL}."
        ),
    );
    let mut remote_configured = Family::gauge(
        "gridpane_backup_remote_configured",
        &format!(
            "1 if remote backups are on, scheduled and their integration exists, else 0 {FROM_POLL}."
        ),
    );
    let mut integration_missing = Family::gauge(
        "gridpane_backup_remote_integration_missing",
        &format!(
            "1 if the site's remote schedule points at an integration that no longer exists, else 0 {FROM_POLL}."
        ),
    );
    let mut schedule_info = Family::gauge(
        "gridpane_backup_schedule_info",
        &format!("A backup schedule of the site, value 1 {FROM_POLL}."),
    );
    let mut interval = Family::gauge(
        "gridpane_backup_schedule_interval_seconds",
        &format!("Nominal period of the backup schedule (a month counts 30 days) {FROM_POLL}."),
    );
    let mut next_run = Family::gauge(
        "gridpane_backup_schedule_next_run_timestamp_seconds",
        &format!("Next run of the backup schedule, unix seconds, UTC {FROM_POLL}."),
    );
    let mut retention = Family::gauge(
        "gridpane_backup_retention_seconds",
        &format!("How long backups of this storage are kept, +Inf for keep-all {FROM_POLL}."),
    );
    let mut prune = Family::gauge(
        "gridpane_backup_prune_schedule",
        &format!(
            "Prune schedule: 0 keep daily, 1 daily then weekly, 2 daily then monthly, 3 daily, weekly, then monthly {FROM_POLL}."
        ),
    );
    let mut integration_info = Family::gauge(
        "gridpane_backup_integration_info",
        &format!("A remote backup integration (credentials are never read), value 1 {FROM_POLL}."),
    );
    let mut integration_sites = Family::gauge(
        "gridpane_backup_integration_sites",
        &format!("Sites whose remote backup schedule uses this integration {FROM_POLL}."),
    );

    for snap in snapshots {
        let account = snap.account.as_str();
        let integration_ids = snap.integration_ids();
        let server_labels = snap.server_labels();

        sites.push(&[("account", account)], snap.sites.len() as f64);
        servers.push(&[("account", account)], snap.servers.len() as f64);
        integrations_count.push(&[("account", account)], snap.integrations.len() as f64);

        for server in &snap.servers {
            let id = server.id.to_string();
            server_info.push(
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

        let mut problem_counts: BTreeMap<Problem, usize> = BTreeMap::new();
        for site in &snap.sites {
            let site_id = site.id.to_string();
            let server_id = site.server_id.map(|i| i.to_string()).unwrap_or_default();
            let server_label = site
                .server_id
                .and_then(|i| server_labels.get(&i).copied())
                .unwrap_or("");
            site_info.push(
                &[
                    ("account", account),
                    ("site_id", &site_id),
                    ("site_url", &site.url),
                    ("server_id", &server_id),
                    ("server_label", server_label),
                ],
                1.0,
            );
            for p in model::site_problems(site, &integration_ids) {
                *problem_counts.entry(p).or_default() += 1;
            }
            remote_configured.push(
                &[("account", account), ("site_id", &site_id)],
                bool_value(model::remote_configured(site, &integration_ids)),
            );
            if let Some(missing) = model::integration_missing(site, &integration_ids) {
                integration_missing.push(
                    &[("account", account), ("site_id", &site_id)],
                    bool_value(missing),
                );
            }
            for storage in Storage::ALL {
                let settings = site.storage(storage);
                let labels = [
                    ("account", account),
                    ("site_id", site_id.as_str()),
                    ("storage", storage.as_str()),
                ];
                enabled.push(&labels, bool_value(model::schedule_enabled(settings)));
                if let Some(schedule) = &settings.schedule {
                    schedule_info.push(
                        &[
                            ("account", account),
                            ("site_id", &site_id),
                            ("storage", storage.as_str()),
                            ("frequency", schedule.frequency.as_str()),
                        ],
                        1.0,
                    );
                    if let Some(secs) = schedule.frequency.interval_seconds() {
                        interval.push(&labels, secs as f64);
                    }
                    if let Some(at) = model::next_run(schedule, now) {
                        next_run.push(&labels, at.timestamp() as f64);
                    }
                }
                if let Some(days) = settings.retain_days {
                    retention.push(&labels, model::retention_seconds(days));
                }
                if let Some(p) = settings.prune_schedule {
                    prune.push(&labels, f64::from(p));
                }
            }
        }
        for p in Problem::ALL {
            let n = problem_counts.get(&p).copied().unwrap_or(0);
            problems.push(&[("account", account), ("problem", p.as_str())], n as f64);
        }

        let usage = snap.integration_usage();
        for integration in &snap.integrations {
            let id = integration.id.to_string();
            integration_info.push(
                &[
                    ("account", account),
                    ("integration_id", &id),
                    ("integration_name", &integration.name),
                    ("provider", &integration.provider),
                    ("region", integration.region.as_deref().unwrap_or("")),
                ],
                1.0,
            );
            integration_sites.push(
                &[("account", account), ("integration_id", &id)],
                usage.get(&integration.id).copied().unwrap_or(0) as f64,
            );
        }
    }

    finish(vec![
        site_info,
        server_info,
        sites,
        servers,
        integrations_count,
        problems,
        enabled,
        remote_configured,
        integration_missing,
        schedule_info,
        interval,
        next_run,
        retention,
        prune,
        integration_info,
        integration_sites,
    ])
}

/// The exporter's own health per account: small, rendered on every scrape.
pub fn health_families(accounts: &[(&str, &AccountState)], now_unix: f64) -> Vec<MetricFamily> {
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
    }

    let mut build = Family::gauge(
        "gridpane_exporter_build_info",
        "Version and git revision of gridpane-backup-exporter, value 1.",
    );
    build.push(&[("version", VERSION), ("revision", REVISION)], 1.0);

    finish(vec![
        up,
        last_success,
        age,
        duration,
        polls,
        errors,
        requests,
        limited,
        remaining,
        build,
    ])
}

/// Encodes families in the text exposition format.
pub fn encode(families: &[MetricFamily], out: &mut Vec<u8>) {
    // Encoding into a Vec cannot fail for well-formed families; an error here
    // would be a bug in the families, so it is logged rather than panicked on.
    if let Err(e) = TextEncoder::new().encode(families, out) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
}

/// Renders the whole exposition from the store: snapshots, health, and the
/// extra families (process metrics) given.
pub fn render(store: &Store, extra: &[MetricFamily], now: DateTime<Utc>) -> Vec<u8> {
    let states: Vec<_> = store
        .accounts()
        .iter()
        .map(|a| (a.name.as_str(), a.load()))
        .collect();
    let snaps: Vec<&AccountSnapshot> = states
        .iter()
        .filter_map(|(_, s)| s.snapshot.as_deref())
        .collect();
    let health: Vec<(&str, &AccountState)> = states.iter().map(|(n, s)| (*n, s.as_ref())).collect();
    let now_unix = now.timestamp_millis() as f64 / 1000.0;
    let mut out = Vec::with_capacity(64 * 1024);
    encode(&snapshot_families(&snaps, now), &mut out);
    encode(&health_families(&health, now_unix), &mut out);
    encode(&super::detail::detail_families(&health, now_unix), &mut out);
    encode(extra, &mut out);
    out
}
