//! The domain: the normalised account snapshot in its own types
//! ([`snapshot`]; the poller builds it from the API's answers), the schedule
//! calendar ([`calendar`]), per-site detail laid over it ([`detail`],
//! GridPane's backup record and why one could not be read: [`history`]) and
//! the assessment of every site ([`assessment`]), computed once per
//! snapshot; [`pending`] says which sites the first `/site` sweep has not
//! read yet. It names nothing of the client.

pub(crate) mod assessment;
pub(crate) mod calendar;
pub(crate) mod copies;
pub(crate) mod detail;
pub(crate) mod history;
pub(crate) mod integrations;
pub(crate) mod pending;
pub mod policy;
pub(crate) mod problem;
pub(crate) mod retention;
pub(crate) mod snapshot;

pub use assessment::*;
pub use calendar::next_run;
pub use copies::{CopyProof, CopyState};
pub use detail::*;
pub use history::{BackupHistory, RecordFailure, StorageBackups, Unreadable};
pub use integrations::IntegrationStatus;
pub use policy::Policy;
pub use problem::*;
pub use retention::Retention;
pub(crate) use snapshot::schedule_flaws;
pub use snapshot::*;

/// Now, in unix seconds: how snapshots and detail record when they were
/// fetched.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod unknown_tests;
