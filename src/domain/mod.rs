//! The domain: the normalised account snapshot built from the API's
//! responses ([`snapshot`]), the schedule calendar ([`calendar`]), per-site
//! detail laid over it ([`detail`]) and the assessment of every site
//! ([`assessment`]), computed once per snapshot; [`pending`] builds the
//! snapshots published while the first `/site` sweep runs.

pub mod assessment;
pub mod calendar;
pub mod detail;
pub mod history;
pub mod pending;
pub mod policy;
pub mod problem;
pub mod snapshot;

pub use assessment::*;
pub use calendar::next_run;
pub use detail::*;
pub use history::{BackupHistory, StorageBackups};
pub use pending::build_partial;
pub use policy::Policy;
pub use problem::*;
pub use snapshot::*;

#[cfg(test)]
mod tests;
