//! The families of the snapshot part of the exposition: their names and
//! help texts, in output order. All are gauges, built from the snapshots
//! and their assessment by the walk (walk.rs).

/// Help text of a family derived from the snapshots.
macro_rules! from_poll {
    ($help:literal) => {
        concat!(
            $help,
            " (from the last successful poll of the GridPane API)."
        )
    };
}

/// The families derived from the snapshots, in output order. All are gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fam {
    SiteInfo,
    ServerInfo,
    Sites,
    Servers,
    IntegrationsCount,
    Problems,
    ProblemsMuted,
    SiteProblem,
    SitesByStatus,
    Enabled,
    RemoteConfigured,
    IntegrationMissing,
    ScheduleInfo,
    Interval,
    NextRun,
    Retention,
    Prune,
    IntegrationInfo,
    IntegrationSites,
    SitesPending,
    SiteStorageProblem,
}

/// Name and help of each [`Fam`], indexed by its discriminant.
pub(super) const SNAPSHOT_FAMILIES: [(&str, &str); 21] = [
    (
        "gridpane_site_info",
        from_poll!("A WordPress site hosted on GridPane, value 1"),
    ),
    (
        "gridpane_server_info",
        from_poll!("A GridPane server, value 1; backups_version is v2 (Duplicacy) or v1 (legacy)"),
    ),
    ("gridpane_sites", from_poll!("Sites in the account")),
    ("gridpane_servers", from_poll!("Servers in the account")),
    (
        "gridpane_backup_integrations",
        from_poll!("Remote backup integrations in the account"),
    ),
    (
        "gridpane_site_problems",
        from_poll!("Sites with each kind of backup problem under the policy, muted ones left out"),
    ),
    (
        "gridpane_site_problems_muted",
        from_poll!("Sites with each kind of backup problem muted by the policy"),
    ),
    (
        "gridpane_site_problem",
        from_poll!(
            "A backup problem of the site under the policy, not muted, value 1; severity is critical (not protected), unknown (a fact the verdict rests on was not read or not understood) or warning"
        ),
    ),
    (
        "gridpane_sites_by_status",
        from_poll!(
            "Sites by status under the policy: problem (not protected), unknown (outcome not established), warning, pending (not read yet) or ok"
        ),
    ),
    (
        "gridpane_backup_schedule_enabled",
        from_poll!(
            "1 if automatic backups of this storage are on and scheduled for the site, else 0"
        ),
    ),
    (
        "gridpane_backup_remote_configured",
        from_poll!("1 if remote backups are on, scheduled and their integration exists, else 0"),
    ),
    (
        "gridpane_backup_remote_integration_missing",
        from_poll!(
            "1 if the site's remote schedule points at an integration that no longer exists, else 0"
        ),
    ),
    (
        "gridpane_backup_schedule_info",
        from_poll!("A backup schedule of the site, value 1"),
    ),
    (
        "gridpane_backup_schedule_interval_seconds",
        from_poll!("Nominal period of the backup schedule (a month counts 30 days)"),
    ),
    (
        "gridpane_backup_schedule_next_run_timestamp_seconds",
        from_poll!(
            "Next run of the backup schedule, unix seconds, UTC; only for schedules that are on"
        ),
    ),
    (
        "gridpane_backup_retention_seconds",
        from_poll!("How long backups of this storage are kept, +Inf for keep-all"),
    ),
    (
        "gridpane_backup_prune_schedule",
        from_poll!(
            "Prune schedule: 0 keep daily, 1 daily then weekly, 2 daily then monthly, 3 daily, weekly, then monthly"
        ),
    ),
    (
        "gridpane_backup_integration_info",
        from_poll!("A remote backup integration (credentials are never read), value 1"),
    ),
    (
        "gridpane_backup_integration_sites",
        from_poll!("Sites whose remote backup schedule uses this integration"),
    ),
    (
        "gridpane_sites_pending",
        from_poll!(
            "Sites known from the schedules whose /site record the first sweep has not read yet; their on/off state is not exported until it is"
        ),
    ),
    (
        "gridpane_site_storage_problem",
        from_poll!(
            "A backup problem of one storage (local or remote) of the site, not muted, value 1: the problems of gridpane_site_problem that concern a storage, once per storage that has it"
        ),
    ),
];
