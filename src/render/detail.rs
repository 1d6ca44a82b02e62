//! Series of the per-site detail (`poll.detail.enabled`): how old each
//! site's detail is, how many integrations are attached to it, and failed
//! detail fetches. Nothing is rendered while detail is off.

use super::text::Family;
use crate::domain::BackupHistory;
use crate::gridpane::ApiError;
use crate::store::AccountState;

/// The detail families of every account, at `now_unix`.
pub(crate) fn detail_families(accounts: &[(&str, &AccountState)], now_unix: f64) -> Vec<Family> {
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
    let mut history = HistoryFamilies::new();
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
                if let Some(h) = &d.history {
                    history.push(&labels, h, now_unix);
                }
            }
        }
        // Once detail runs, every reason is present from 0, like
        // gridpane_poll_errors_total.
        if !state.detail.is_empty() || !state.counters.detail_errors.is_empty() {
            for &reason in ApiError::REASONS
                .iter()
                .chain(&ApiError::DETAIL_ONLY_REASONS)
            {
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
    let mut families = vec![age, attached, errors];
    families.extend(history.into_families());
    families
}

/// The series of GridPane's backup record (`poll.detail.history`), for
/// sites whose record has been read.
struct HistoryFamilies {
    last: Family,
    last_automatic: Family,
    count: Family,
    record_age: Family,
}

impl HistoryFamilies {
    fn new() -> Self {
        HistoryFamilies {
            last: Family::gauge(
                "gridpane_backup_last_timestamp_seconds",
                "Unix time of the newest backup of this storage in GridPane's backup record (automatic and manual alike); absent when the record holds none.",
            ),
            last_automatic: Family::gauge(
                "gridpane_backup_last_automatic_timestamp_seconds",
                "Unix time of the newest backup of this storage that the record marks as automatic; absent when the record gives no type or holds none.",
            ),
            count: Family::gauge(
                "gridpane_backups",
                "Backups of this storage held in GridPane's backup record (storage \"unknown\": named without a storage).",
            ),
            record_age: Family::gauge(
                "gridpane_site_backup_record_age_seconds",
                "Seconds since GridPane's backup record of this site was last read.",
            ),
        }
    }

    fn push(&mut self, site: &[(&str, &str); 2], h: &BackupHistory, now_unix: f64) {
        self.record_age.push(site, (now_unix - h.read_at).max(0.0));
        for (storage, b) in h.storages() {
            let labels = [site[0], site[1], ("storage", storage)];
            self.count.push(&labels, b.count as f64);
            if let Some(t) = b.last {
                self.last.push(&labels, t);
            }
            if let Some(t) = b.last_automatic {
                self.last_automatic.push(&labels, t);
            }
        }
    }

    fn into_families(self) -> [Family; 4] {
        [self.last, self.last_automatic, self.count, self.record_age]
    }
}
