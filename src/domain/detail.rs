//! Per-site detail (retention, attached integrations) laid over a snapshot
//! built from the bulk endpoints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::snapshot::AccountSnapshot;

/// Retention of one storage as `/backups/prune-schedule/{id}` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionDetail {
    pub prune_schedule: Option<u32>,
    pub retain_days: Option<u32>,
}

/// What the per-site detail requests said about one site.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteDetail {
    /// Unix seconds when the detail was fetched.
    pub fetched_at: f64,
    pub local: RetentionDetail,
    pub remote: RetentionDetail,
    /// Ids of the remote backup integrations attached to the site.
    pub integration_ids: Vec<u64>,
    /// GridPane's backup record of the site (`poll.detail.history`); absent
    /// until it has been read (and in state files written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<super::history::BackupHistory>,
    /// The newest read of the record failed or was not understood; `history`
    /// then holds the last good read, if any. Cleared by a good read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_failure: Option<super::history::RecordFailure>,
}

/// Lays per-site detail over a snapshot built from the bulk endpoints: what
/// the detail says wins, what it does not say keeps the bulk value (the
/// backup record, which the bulk endpoints never give, included). Sites
/// without detail are left as the bulk endpoints describe them.
pub fn apply_detail(snapshot: &mut AccountSnapshot, detail: &BTreeMap<u64, SiteDetail>) {
    if detail.is_empty() {
        return;
    }
    for site in &mut snapshot.sites {
        let Some(d) = detail.get(&site.id) else {
            continue;
        };
        if d.history.is_some() || d.record_failure.is_some() {
            site.history.clone_from(&d.history);
            site.record_failure = d.record_failure;
        }
        for (settings, retention) in [(&mut site.local, &d.local), (&mut site.remote, &d.remote)] {
            if retention.prune_schedule.is_some() {
                settings.prune_schedule = retention.prune_schedule;
            }
            if retention.retain_days.is_some() {
                settings.retain_days = retention.retain_days;
            }
        }
    }
}
