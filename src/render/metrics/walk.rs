//! The walk over the assessed snapshots: every sample of the snapshot
//! part, in one pass, sent to a [`Sink`]. It reads each site's verdict and
//! each integration's from the assessment; it judges nothing itself.

use chrono::{DateTime, Utc};

use super::bool_value;
use super::families::Fam;
use crate::domain::{Assessed, Health, Problem, Storage};
use crate::render::text::decimal;

/// Where the snapshot walk sends its samples.
pub(super) trait Sink {
    fn push(&mut self, family: Fam, labels: &[(&str, &str)], value: f64);
}

/// Walks the snapshots once, sending every sample of the snapshot part to
/// `sink`. Returns the earliest next run it reported: until then (and from
/// `now` on) the walk yields the same samples, as nothing else depends on
/// `now`.
pub(super) fn walk_snapshots(
    snapshots: &[&Assessed],
    now: DateTime<Utc>,
    sink: &mut impl Sink,
) -> Option<DateTime<Utc>> {
    let mut earliest_next_run: Option<DateTime<Utc>> = None;
    for assessed in snapshots {
        let (snap, assessment) = (assessed.snapshot(), assessed.assessment());
        let account = snap.account.as_str();
        let server_labels = snap.server_labels();

        sink.push(Fam::Sites, &[("account", account)], snap.sites.len() as f64);
        sink.push(
            Fam::Servers,
            &[("account", account)],
            snap.servers.len() as f64,
        );
        sink.push(
            Fam::IntegrationsCount,
            &[("account", account)],
            snap.integrations.len() as f64,
        );

        for server in &snap.servers {
            let id = server.id.to_string();
            sink.push(
                Fam::ServerInfo,
                &[
                    ("account", account),
                    ("server_id", &id),
                    ("server_label", &server.label),
                    ("region", server.region.as_deref().unwrap_or("")),
                    ("backups_version", server.backups_version.as_str()),
                ],
                1.0,
            );
        }

        let mut problem_counts = [0usize; Problem::ALL.len()];
        let mut muted_counts = [0usize; Problem::ALL.len()];
        let mut status_counts = [0usize; Health::ALL.len()];
        let mut pending = 0usize;
        let (mut site_digits, mut server_digits) = ([0u8; 20], [0u8; 20]);
        for (site, verdict) in snap.sites.iter().zip(assessment.sites()) {
            let site_id = decimal(&mut site_digits, site.id);
            let server_id = site
                .server_id
                .map_or("", |i| decimal(&mut server_digits, i));
            let server_label = site
                .server_id
                .and_then(|i| server_labels.get(&i).copied())
                .unwrap_or("");
            sink.push(
                Fam::SiteInfo,
                &[
                    ("account", account),
                    ("site_id", site_id),
                    ("site_url", &site.url),
                    ("server_id", server_id),
                    ("server_label", server_label),
                ],
                1.0,
            );
            for p in verdict.problems() {
                if let Some(n) = problem_counts.get_mut(p as usize) {
                    *n += 1;
                }
                sink.push(
                    Fam::SiteProblem,
                    &[
                        ("account", account),
                        ("site_id", site_id),
                        ("problem", p.as_str()),
                        ("severity", p.severity().as_str()),
                    ],
                    1.0,
                );
            }
            for storage in Storage::ALL {
                for p in verdict.storage_problems(storage) {
                    sink.push(
                        Fam::SiteStorageProblem,
                        &[
                            ("account", account),
                            ("site_id", site_id),
                            ("storage", storage.as_str()),
                            ("problem", p.as_str()),
                            ("severity", p.severity().as_str()),
                        ],
                        1.0,
                    );
                }
            }
            for m in &verdict.muted {
                if let Some(n) = muted_counts.get_mut(m.problem as usize) {
                    *n += 1;
                }
            }
            if let Some(n) = status_counts.get_mut(verdict.health as usize) {
                *n += 1;
            }
            // A pending site's on/off state is unknown: no series says it.
            pending += usize::from(site.pending);
            if !verdict.switches_unknown {
                sink.push(
                    Fam::RemoteConfigured,
                    &[("account", account), ("site_id", site_id)],
                    bool_value(verdict.remote_configured),
                );
            }
            if let Some(missing) = verdict.integration_missing {
                sink.push(
                    Fam::IntegrationMissing,
                    &[("account", account), ("site_id", site_id)],
                    bool_value(missing),
                );
            }
            for storage in Storage::ALL {
                let settings = site.storage(storage);
                let labels = [
                    ("account", account),
                    ("site_id", site_id),
                    ("storage", storage.as_str()),
                ];
                if !verdict.switches_unknown {
                    sink.push(
                        Fam::Enabled,
                        &labels,
                        bool_value(verdict.storage(storage).enabled),
                    );
                }
                if let Some(schedule) = &settings.schedule {
                    sink.push(
                        Fam::ScheduleInfo,
                        &[
                            ("account", account),
                            ("site_id", site_id),
                            ("storage", storage.as_str()),
                            ("frequency", schedule.frequency.as_str()),
                        ],
                        1.0,
                    );
                    if let Some(secs) = schedule.frequency.interval_seconds() {
                        sink.push(Fam::Interval, &labels, secs as f64);
                    }
                    if let Some(at) = verdict.storage(storage).next_run(settings, now) {
                        if earliest_next_run.is_none_or(|e| at < e) {
                            earliest_next_run = Some(at);
                        }
                        sink.push(Fam::NextRun, &labels, at.timestamp() as f64);
                    }
                }
                if let Some(secs) = verdict.storage(storage).retention.seconds() {
                    sink.push(Fam::Retention, &labels, secs);
                }
                if let Some(p) = settings.prune_schedule {
                    sink.push(Fam::Prune, &labels, f64::from(p));
                }
            }
        }
        sink.push(Fam::SitesPending, &[("account", account)], pending as f64);
        for (p, n) in Problem::ALL.into_iter().zip(problem_counts) {
            sink.push(
                Fam::Problems,
                &[("account", account), ("problem", p.as_str())],
                n as f64,
            );
        }
        for (p, n) in Problem::ALL.into_iter().zip(muted_counts) {
            sink.push(
                Fam::ProblemsMuted,
                &[("account", account), ("problem", p.as_str())],
                n as f64,
            );
        }
        for (h, n) in Health::ALL.into_iter().zip(status_counts) {
            sink.push(
                Fam::SitesByStatus,
                &[("account", account), ("status", h.as_str())],
                n as f64,
            );
        }

        // The account's own integrations, each with the sites its verdict
        // counts; the missing ones have no info series to go with.
        for verdict in assessment.integrations() {
            let Some(integration) = verdict.known.and_then(|i| snap.integrations.get(i)) else {
                continue;
            };
            let id = integration.id.to_string();
            sink.push(
                Fam::IntegrationInfo,
                &[
                    ("account", account),
                    ("integration_id", &id),
                    ("integration_name", &integration.name),
                    ("provider", &integration.provider),
                    ("region", integration.region.as_deref().unwrap_or("")),
                ],
                1.0,
            );
            sink.push(
                Fam::IntegrationSites,
                &[("account", account), ("integration_id", &id)],
                verdict.sites as f64,
            );
        }
    }
    earliest_next_run
}
