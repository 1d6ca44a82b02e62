//! Each integration of an account judged once: in use, unused, or missing
//! (schedules point at it, the account no longer has it). Every surface
//! reads this list from the assessment.

use serde::Serialize;

use super::AccountSnapshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    /// Remote schedules point at it, but the account no longer has it.
    Missing,
    /// In the account, but no remote schedule uses it.
    Unused,
    InUse,
}

impl IntegrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationStatus::Missing => "missing",
            IntegrationStatus::Unused => "unused",
            IntegrationStatus::InUse => "in_use",
        }
    }
}

/// One integration, judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IntegrationVerdict {
    pub id: u64,
    /// Its place in the snapshot's `integrations`; `None` when missing.
    pub known: Option<usize>,
    /// Sites whose remote schedule points at it (on or off).
    pub sites: usize,
    pub status: IntegrationStatus,
}

/// The account's integrations in the snapshot's order, then the missing
/// ones in id order.
pub(crate) fn judge(snap: &AccountSnapshot) -> Vec<IntegrationVerdict> {
    let usage = snap.integration_usage();
    let known = snap.integration_ids();
    let mut out: Vec<IntegrationVerdict> = snap
        .integrations
        .iter()
        .enumerate()
        .map(|(i, integration)| {
            let sites = usage.get(&integration.id).copied().unwrap_or(0);
            IntegrationVerdict {
                id: integration.id,
                known: Some(i),
                sites,
                status: if sites > 0 {
                    IntegrationStatus::InUse
                } else {
                    IntegrationStatus::Unused
                },
            }
        })
        .collect();
    for (id, sites) in usage.iter().filter(|(id, _)| !known.contains(id)) {
        out.push(IntegrationVerdict {
            id: *id,
            known: None,
            sites: *sites,
            status: IntegrationStatus::Missing,
        });
    }
    out
}
