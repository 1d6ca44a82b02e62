//! The exporter's own health per account and the supervisor's record:
//! small families rendered on every scrape.

use super::{REVISION, VERSION, bool_value};
use crate::gridpane::{ApiError, Endpoint};
use crate::render::text::{Family, write_families};
use crate::store::{AccountState, Task, TaskHealth};

/// The exporter's own health per account: small, rendered on every scrape.
pub(super) fn health_families(accounts: &[(&str, &AccountState)], now_unix: f64) -> Vec<Family> {
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
