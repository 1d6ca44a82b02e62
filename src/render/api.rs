//! The JSON API's answers under `/api/v1/` (served by src/http/api.rs), and
//! the per-site views they share with the status page. Everything here reads
//! snapshots from the store; nothing calls GridPane, and nothing judges a
//! site: each answer formats the verdicts of the assessment. The answers are
//! documented in docs/api.md: change them only by adding fields.
//!
//! Its parts: `view.rs` (the view model the status page also reads: the
//! accounts, a row per site and per integration, the counts), `filter.rs`
//! (the one filter over those rows, and the API's strict reading of a
//! query), the answers (`status.rs`, `sites.rs` for sites and schedules,
//! `integrations.rs`), `routes.rs` (the shared list routes and the index)
//! and `notes.rs` (what an account's state says beyond its last poll).

mod filter;
mod integrations;
pub mod notes;
mod routes;
mod sites;
mod status;
mod view;

pub use crate::domain::{Health, IntegrationStatus};
pub use filter::{PageInfo, ParamError, ServerFilter, SiteFilter};
pub(crate) use filter::{SPACE_IN_NUMBER, query_pairs, strict_params};
pub use integrations::{IntegrationEntry, IntegrationsAnswer, integrations};
pub use routes::ListRoute;
pub(crate) use routes::{build, index};
pub use sites::{SchedulesAnswer, SiteEntry, SitesAnswer, StorageEntry, schedules, sites};
pub use status::{StatusAnswer, status};
pub use view::{AccountView, Counts, SiteRow, StorageRow, View};
pub(crate) use view::{IntegrationRow, site_path, site_rows};

// Time helpers, shared with the proof from the bucket.
pub(crate) use super::time::{from_unix, rfc3339};
