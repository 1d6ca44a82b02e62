//! Series of the per-site detail (`poll.detail.enabled`): how old each
//! site's detail is, how many integrations are attached to it, and failed
//! detail fetches. Nothing is rendered while detail is off.

use prometheus::proto::MetricFamily;

use super::family::{Family, finish};
use crate::gridpane::ApiError;
use crate::store::AccountState;

/// The detail families of every account, at `now_unix`.
pub fn detail_families(accounts: &[(&str, &AccountState)], now_unix: f64) -> Vec<MetricFamily> {
    let mut age = Family::gauge(
        "gridpane_site_detail_age_seconds",
        "Seconds since the per-site detail (prune schedule, attached integrations) of this site was fetched; absent for sites not yet detailed.",
    );
    let mut attached = Family::gauge(
        "gridpane_site_backup_integrations",
        "Remote backup integrations attached to the site, from the per-site detail.",
    );
    let mut errors = Family::counter(
        "gridpane_site_detail_errors_total",
        "Per-site detail fetches that failed, by reason.",
    );
    for (account, state) in accounts {
        let a = *account;
        if let Some(snap) = &state.snapshot {
            for site in &snap.sites {
                let Some(d) = state.detail.get(&site.id) else {
                    continue;
                };
                let id = site.id.to_string();
                let labels = [("account", a), ("site_id", id.as_str())];
                age.push(&labels, (now_unix - d.fetched_at).max(0.0));
                attached.push(&labels, d.integration_ids.len() as f64);
            }
        }
        // Once detail runs, every reason is present from 0, like
        // gridpane_poll_errors_total.
        if !state.detail.is_empty() || !state.counters.detail_errors.is_empty() {
            for reason in ApiError::REASONS {
                let n = state
                    .counters
                    .detail_errors
                    .get(reason)
                    .copied()
                    .unwrap_or(0);
                errors.push(&[("account", a), ("reason", reason)], n as f64);
            }
        }
    }
    finish(vec![age, attached, errors])
}
