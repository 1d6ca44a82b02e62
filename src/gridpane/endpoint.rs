//! The API routes the client reads.

use std::fmt;

/// The API routes the exporter reads, as bounded label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    Sites,
    Servers,
    Schedules,
    BackupIntegrations,
    PruneSchedule,
    SiteIntegrations,
    Site,
    Server,
    BackupHistory,
    BackupRefresh,
}

impl Endpoint {
    /// The route template: never an id.
    pub(crate) fn route(self) -> &'static str {
        match self {
            Endpoint::Sites => "/site",
            Endpoint::Servers => "/server",
            Endpoint::Schedules => "/backups/schedules",
            Endpoint::BackupIntegrations => "/backups/integrations",
            Endpoint::PruneSchedule => "/backups/prune-schedule/{site_id}",
            Endpoint::SiteIntegrations => "/backups/integrations/{site_id}",
            Endpoint::Site => "/site/{site_id}",
            Endpoint::Server => "/server/{server_id}",
            Endpoint::BackupHistory => "/backups/original/{site_id}",
            Endpoint::BackupRefresh => "/backups/refresh/{site_id}",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.route())
    }
}
