//! Renderers: they read snapshots from the store and turn them into what a
//! reader wants. They never call GridPane.

pub mod api;
pub mod cache;
pub(crate) mod copies;
pub(crate) mod detail;
pub mod metrics;
pub(crate) mod remote_copy;
pub mod status_page;
pub mod text;
pub(crate) mod time;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};

    use super::{api, metrics, status_page};
    use crate::domain::{
        AccountSnapshot, Assessed, Assessment, Frequency, Integration, Problem, Schedule, Site,
        SiteVerdict, StorageSettings,
    };
    use crate::store::Store;

    /// A storage scheduled daily when `integration` is given (remote
    /// schedules upload to it), unscheduled otherwise.
    fn storage(
        automatic: Option<bool>,
        integration: Option<u64>,
        retain_days: u32,
    ) -> StorageSettings {
        StorageSettings {
            automatic,
            schedule: integration.map(|id| Schedule {
                id: 1,
                frequency: Frequency::Daily,
                hour: Some(3),
                minute: Some(0),
                day: None,
                service_id: None,
                service_name: None,
                integration_id: Some(id),
                flaw: None,
            }),
            retain_days: Some(retain_days),
            prune_schedule: None,
        }
    }

    /// The storage with its schedule at an hour that does not exist.
    fn flawed(mut settings: StorageSettings) -> StorageSettings {
        if let Some(s) = settings.schedule.as_mut() {
            s.hour = Some(99);
            s.flaw = Some(crate::domain::ScheduleFlaw::Hour);
        }
        settings
    }

    /// The one integration remote schedules upload to (id 1).
    fn s3() -> Vec<Integration> {
        vec![Integration {
            id: 1,
            name: "s3".into(),
            provider: "aws-s3".into(),
            region: None,
        }]
    }

    /// One healthy site, then one site for each kind of problem.
    fn fleet() -> AccountSnapshot {
        let on = |retain| storage(Some(true), Some(1), retain);
        let mut monthly = on(30);
        if let Some(s) = monthly.schedule.as_mut() {
            s.frequency = Frequency::Monthly;
            s.day = Some(1);
        }
        let sites = [
            (on(30), on(30)),
            (storage(Some(false), Some(1), 30), on(30)),
            (storage(Some(true), None, 30), on(30)),
            (on(30), storage(Some(false), Some(1), 30)),
            (on(30), storage(None, None, 30)),
            (on(30), storage(Some(true), Some(404), 30)),
            (on(2), on(30)),
            (on(30), monthly),
            (on(30), on(30)),
            (on(30), on(30)),
            (on(30), on(30)),
            (on(30), on(30)),
            (flawed(on(30)), on(30)),
            // Remote copies: 14 missing and 15 stale in the listed entry's
            // bucket, 16 unknown behind the entry whose bucket failed.
            (on(30), storage(Some(true), Some(2), 30)),
            (on(30), storage(Some(true), Some(2), 30)),
            (on(30), storage(Some(true), Some(3), 30)),
        ];
        // GridPane's record, read on 2026-11-22: site 9's newest local
        // backup is ten days old, site 10 has never been backed up; site
        // 11's newest read failed, site 12's last read is eight days old;
        // site 13's local schedule runs at an impossible hour.
        let read_at = 1_795_305_600.0;
        let backups = |last: Option<f64>| crate::domain::StorageBackups {
            count: u64::from(last.is_some()),
            last,
            last_automatic: last,
        };
        let record = |local, remote| crate::domain::BackupHistory {
            read_at,
            local: backups(local),
            remote: backups(remote),
            ..Default::default()
        };
        let history = |id: u64| match id {
            9 => Some(record(Some(read_at - 10.0 * 86_400.0), Some(read_at))),
            10 => Some(record(None, None)),
            11 => Some(record(Some(read_at), Some(read_at))),
            12 => Some(crate::domain::BackupHistory {
                read_at: read_at - 8.0 * 86_400.0,
                ..record(Some(read_at - 8.0 * 86_400.0), None)
            }),
            _ => None,
        };
        let failure = |id: u64| {
            (id == 11).then_some(crate::domain::RecordFailure {
                at: read_at,
                reason: crate::gridpane::history::Unreadable::Html,
            })
        };
        AccountSnapshot {
            account: "acme".into(),
            fetched_at: 1_700_000_000.0,
            servers: Vec::new(),
            sites: sites
                .into_iter()
                .zip(1..)
                .map(|((local, remote), id)| Site {
                    id,
                    url: format!("site{id}.example"),
                    server_id: None,
                    site_type: None,
                    local,
                    remote,
                    pending: false,
                    history: history(id),
                    record_failure: failure(id),
                })
                .collect(),
            integrations: s3()
                .into_iter()
                .chain([2, 3].map(|id| Integration {
                    id,
                    name: format!("bucket {id}"),
                    provider: "wasabi".into(),
                    region: None,
                }))
                .collect(),
        }
    }

    /// The fleet's buckets: an entry holding integration 2, listed, with a
    /// revision of site 15 three days old; one holding integration 3 whose
    /// bucket answered 403.
    fn evidence() -> crate::bucket::BucketEvidence {
        use crate::bucket::{IntegrationRef, ListOutcome, Revisions, StorageEvidence};
        let listed_at = 1_795_305_600.0;
        let entry = |name: &str, integration, outcome: ListOutcome, ids: &[(&str, f64)]| {
            let mut e = StorageEvidence::new(
                name,
                vec![IntegrationRef::Id(integration)],
                &[format!("{name}-bucket")],
            );
            e.listed_at = Some(listed_at);
            for b in &mut e.buckets {
                b.outcome = outcome.clone();
                b.ids = Arc::new(
                    ids.iter()
                        .map(|(id, newest)| {
                            (
                                id.to_string(),
                                Revisions {
                                    newest: *newest,
                                    count: 1,
                                },
                            )
                        })
                        .collect(),
                );
            }
            e
        };
        crate::bucket::BucketEvidence {
            storages: vec![
                entry(
                    "listed",
                    2,
                    ListOutcome::Listed,
                    &[("site15-example", listed_at - 3.0 * 86_400.0)],
                ),
                entry(
                    "failing",
                    3,
                    ListOutcome::Failed {
                        reason: "forbidden",
                    },
                    &[],
                ),
            ],
        }
    }

    /// A store whose one account, acme, serves `assessed`.
    fn serving(assessed: Assessed) -> Store {
        let store = Store::new(["acme".to_string()]);
        let slot = Arc::clone(&store.accounts()[0]);
        // A verdict set by hand: written as it is, not judged again.
        store.update(&slot, |s| s.snapshot = Some(Arc::new(assessed)));
        store
    }

    /// The fleet served with its own verdicts but the first site's,
    /// which `edit` changes; that site's id, and the time it was judged at.
    fn first_verdict_edited(edit: impl FnOnce(&mut SiteVerdict)) -> (Store, u64, DateTime<Utc>) {
        let snapshot = fleet();
        let now: DateTime<Utc> = "2026-11-22T00:00:00Z".parse().unwrap();
        let own = Assessment::with_evidence(&snapshot, &evidence(), &Default::default(), now);
        let mut verdicts = own.sites().to_vec();
        let id = snapshot.sites[0].id;
        if let Some(first) = verdicts.first_mut() {
            edit(first);
        }
        (
            serving(Assessed::with_verdicts(snapshot, verdicts)),
            id,
            now,
        )
    }

    /// What the page says of one site: its status and its problems.
    fn page_row(html: &str, id: u64) -> (String, Vec<String>) {
        let start = html
            .find(&format!("data-site-id=\"{id}\" "))
            .unwrap_or_else(|| panic!("site {id} on the page"));
        let class_start = html[..start].rfind("<tr class=\"site ").unwrap() + 16;
        let status = html[class_start..start]
            .trim()
            .trim_end_matches('"')
            .to_string();
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        let problems = row
            .split("<li class=")
            .skip(1)
            .filter_map(|li| li.split("data-problem=\"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect();
        (status, problems)
    }

    /// Every surface says of each site what its verdict says. Each site is
    /// held with its neighbour's verdict (the last with the second's), so
    /// that neither a site's verdict nor the problem counts match what a
    /// surface judging the snapshot again would say.
    #[test]
    fn every_surface_says_what_the_assessment_says_not_what_it_would_judge_itself() {
        let snapshot = fleet();
        let now: DateTime<Utc> = "2026-11-22T00:00:00Z".parse().unwrap();
        let own = Assessment::with_evidence(&snapshot, &evidence(), &Default::default(), now);
        let kinds: std::collections::BTreeSet<Problem> =
            own.sites().iter().flat_map(SiteVerdict::problems).collect();
        assert_eq!(kinds.len(), Problem::ALL.len(), "the fleet has every kind");
        let mut verdicts = own.sites()[1..].to_vec();
        verdicts.push(verdicts[0].clone());
        let assessed = Assessed::with_verdicts(snapshot, verdicts.clone());
        let store = serving(assessed);

        let exposition = String::from_utf8(metrics::render(&store, b"", now)).unwrap();
        let view = api::View::load(&store);
        let answer = api::sites(&view, None, now).unwrap();
        let html = status_page::page(&view, Some("per_page=1000"), now, "/metrics").html;

        let flag = |b: bool| if b { 1 } else { 0 };
        for (site, verdict) in fleet().sites.iter().zip(&verdicts) {
            let id = site.id;
            let problems: Vec<&str> = verdict.problems().map(Problem::as_str).collect();
            for (name, value) in [
                (
                    format!(
                        "gridpane_backup_schedule_enabled{{account=\"acme\",site_id=\"{id}\",storage=\"local\"}}"
                    ),
                    flag(verdict.local.enabled),
                ),
                (
                    format!(
                        "gridpane_backup_schedule_enabled{{account=\"acme\",site_id=\"{id}\",storage=\"remote\"}}"
                    ),
                    flag(verdict.remote.enabled),
                ),
                (
                    format!(
                        "gridpane_backup_remote_configured{{account=\"acme\",site_id=\"{id}\"}}"
                    ),
                    flag(verdict.remote_configured),
                ),
            ] {
                assert!(
                    exposition.contains(&format!("\n{name} {value}\n")),
                    "metrics: {name} {value}"
                );
            }
            let missing = format!(
                "gridpane_backup_remote_integration_missing{{account=\"acme\",site_id=\"{id}\"}}"
            );
            match verdict.integration_missing {
                Some(m) => assert!(exposition.contains(&format!("\n{missing} {}\n", flag(m)))),
                None => assert!(!exposition.contains(&missing), "metrics: no {missing}"),
            }

            let entry = answer.sites.iter().find(|e| e.id == id).unwrap();
            assert_eq!(entry.status, verdict.health, "API status of site {id}");
            let codes: Vec<&str> = entry.problems.iter().map(|p| p.code).collect();
            assert_eq!(codes, problems, "API problems of site {id}");
            assert_eq!(entry.remote_configured, verdict.remote_configured);
            assert_eq!(entry.integration_missing, verdict.integration_missing);
            assert_eq!(entry.local.enabled, verdict.local.enabled);
            assert_eq!(entry.remote.enabled, verdict.remote.enabled);

            let (status, page_problems) = page_row(&html, id);
            assert_eq!(status, verdict.health.as_str(), "page status of site {id}");
            assert_eq!(page_problems, problems, "page problems of site {id}");
        }
        for p in Problem::ALL {
            let n = verdicts
                .iter()
                .filter(|v| v.problems().any(|q| q == p))
                .count();
            let line = format!(
                "\ngridpane_site_problems{{account=\"acme\",problem=\"{}\"}} {n}\n",
                p.as_str()
            );
            assert!(exposition.contains(&line), "metrics: {line}");
        }
    }

    /// What a site's switches and retention say comes from its verdict:
    /// a verdict that hides the switches and keeps all shows so on every
    /// surface, whatever the snapshot's own site says.
    #[test]
    fn surfaces_hide_switches_and_show_keep_all_as_the_verdict_says() {
        let (store, id, now) = first_verdict_edited(|v| {
            v.switches_unknown = true;
            v.local.retention = crate::domain::Retention::KeepAll;
        });

        let exposition = String::from_utf8(metrics::render(&store, b"", now)).unwrap();
        let labels = format!("account=\"acme\",site_id=\"{id}\"");
        assert!(!exposition.contains(&format!("gridpane_backup_schedule_enabled{{{labels},")));
        assert!(!exposition.contains(&format!("gridpane_backup_remote_configured{{{labels}}}")));
        assert!(exposition.contains(&format!(
            "\ngridpane_backup_retention_seconds{{{labels},storage=\"local\"}} inf\n"
        )));
        let view = api::View::load(&store);
        let answer = api::sites(&view, None, now).unwrap();
        let entry = answer.sites.iter().find(|e| e.id == id).unwrap();
        assert!(entry.local.pending && entry.remote.pending);
        assert!(entry.local.keep_all);
    }

    /// The API's site-level `pending`, an integration's `missing` and a
    /// schedule's documented `next_run` come from the verdict, and so does
    /// the page's deleted integration: a verdict saying the site is
    /// pending, its integration missing and its local storage unscheduled
    /// shows so, whatever the snapshot's own site says.
    #[test]
    fn the_api_and_the_page_say_pending_and_missing_and_next_run_as_the_verdict_says() {
        assert!(!fleet().sites[0].pending, "the snapshot's site is read");
        let (store, id, now) = first_verdict_edited(|v| {
            v.switches_unknown = true;
            v.integration_missing = Some(true);
            v.local.scheduled = false;
        });

        let view = api::View::load(&store);
        let answer = api::sites(&view, None, now).unwrap();
        let entry = answer.sites.iter().find(|e| e.id == id).unwrap();
        assert!(entry.pending, "the site is pending as its verdict says");
        let integration = entry.remote.integration.as_ref().unwrap();
        assert!(integration.missing, "the integration is missing as judged");
        let next_run = |e: &api::StorageEntry| e.schedule.as_ref().unwrap().next_run.clone();
        assert_eq!(next_run(&entry.local), None, "not scheduled, as judged");
        assert!(next_run(&entry.remote).is_some());

        let html = status_page::page(&view, Some("per_page=1000"), now, "/metrics").html;
        let start = html.find(&format!("data-site-id=\"{id}\" ")).unwrap();
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        assert!(row.contains("deleted integration #1"), "{row}");
    }

    mod agreement {
        use std::sync::Arc;
        use std::time::Duration;

        use chrono::{DateTime, Utc};
        use proptest::prelude::*;

        use super::super::{api, metrics, status_page};
        use crate::domain::policy::{Group, Match, Mute, Rules, SiteRef};
        use crate::domain::{
            AccountSnapshot, Frequency, Health, Policy, Problem, Schedule, Server, Site,
            StorageSettings,
        };
        use crate::store::Store;

        fn now() -> DateTime<Utc> {
            "2026-11-22T00:00:00Z".parse().unwrap()
        }

        fn storage() -> impl Strategy<Value = StorageSettings> {
            (
                prop::option::of(any::<bool>()),
                prop::option::of((
                    0..5usize,
                    prop::option::of(prop::sample::select(vec![1u64, 404])),
                )),
                prop::option::of(prop::sample::select(vec![0u32, 1, 6, 7, 14, 30, 90, 365])),
            )
                .prop_map(|(automatic, schedule, retain_days)| StorageSettings {
                    automatic,
                    schedule: schedule.map(|(f, integration_id)| Schedule {
                        id: 1,
                        frequency: [
                            Frequency::Hourly,
                            Frequency::Daily,
                            Frequency::Weekly,
                            Frequency::Monthly,
                            Frequency::Unknown,
                        ][f],
                        hour: Some(3),
                        minute: Some(0),
                        day: Some(1),
                        service_id: None,
                        service_name: None,
                        integration_id,
                        flaw: None,
                    }),
                    retain_days,
                    prune_schedule: None,
                })
        }

        fn fleet() -> impl Strategy<Value = AccountSnapshot> {
            prop::collection::vec(
                (
                    storage(),
                    storage(),
                    prop::option::of(prop::sample::select(vec!["primary", "staging"])),
                    prop::option::of(1u64..3),
                    // One site in five is pending (its record not read yet).
                    0..5u8,
                    // GridPane's record: not read, empty, a backup an hour
                    // old, ten days old.
                    0..4u8,
                ),
                0..30,
            )
            .prop_map(|sites| AccountSnapshot {
                account: "acme".into(),
                fetched_at: 1_700_000_000.0,
                servers: vec![Server {
                    id: 1,
                    label: "web-1".into(),
                    region: None,
                    backups_version: crate::domain::BackupsVersion::V2,
                }],
                sites: sites
                    .into_iter()
                    .zip(1..)
                    .map(
                        |((local, remote, site_type, server_id, pending, record), id)| Site {
                            id,
                            url: format!("site{id}.example"),
                            server_id,
                            site_type: site_type.map(str::to_string),
                            local,
                            remote,
                            pending: pending == 0,
                            history: history(record),
                            record_failure: None,
                        },
                    )
                    .collect(),
                integrations: super::s3(),
            })
        }

        /// A record read at [`now`]: none, empty, or both storages' newest
        /// backup an hour or ten days old.
        fn history(kind: u8) -> Option<crate::domain::BackupHistory> {
            let read_at = now().timestamp() as f64;
            let last = match kind {
                0 => return None,
                1 => None,
                2 => Some(read_at - 3_600.0),
                _ => Some(read_at - 10.0 * 86_400.0),
            };
            let backups = crate::domain::StorageBackups {
                count: u64::from(last.is_some()),
                last,
                last_automatic: last,
            };
            Some(crate::domain::BackupHistory {
                read_at,
                local: backups,
                remote: backups,
                ..Default::default()
            })
        }

        fn rules() -> impl Strategy<Value = Rules> {
            (
                prop::sample::select(vec![0u32, 7, 30, 100]),
                prop::sample::select(vec![3_600u64, 86_400, 7 * 86_400, 31 * 86_400]),
                any::<bool>(),
            )
                .prop_map(|(min_retention_days, secs, require_remote)| Rules {
                    min_retention_days,
                    max_interval: Duration::from_secs(secs),
                    require_remote,
                    ..Rules::default()
                })
        }

        fn policy() -> impl Strategy<Value = Policy> {
            let group = (
                prop::option::of(prop::sample::select(vec!["staging", "primary"])),
                prop::option::of(prop::sample::select(vec!["web-1", "2"])),
                prop::option::of(prop::sample::select(vec![
                    "site1*",
                    "*.example",
                    "site?.example",
                ])),
                rules(),
            )
                .prop_map(|(site_type, server, url, rules)| Group {
                    name: Arc::from(format!("{site_type:?}{server:?}{url:?}")),
                    matcher: Match {
                        site_type: site_type.map(str::to_string),
                        account: None,
                        server: server.map(str::to_string),
                        url: url.map(wildmatch::WildMatch::new),
                    },
                    rules,
                });
            let mute = (
                prop::collection::vec(1u64..30, 1..4),
                prop::option::of(prop::collection::vec(
                    prop::sample::select(Problem::ALL.to_vec()),
                    1..3,
                )),
                -3i64..3,
            )
                .prop_map(|(ids, problems, days)| Mute {
                    sites: ids
                        .into_iter()
                        .map(|id| {
                            if id % 2 == 0 {
                                SiteRef::Id(id)
                            } else {
                                SiteRef::parse(&format!("SITE{id}.example"))
                            }
                        })
                        .collect(),
                    problems,
                    until: now() + chrono::Duration::days(days),
                    reason: Arc::from("known"),
                    ..Mute::default()
                });
            (
                rules(),
                prop::collection::vec(group, 0..3),
                prop::collection::vec(mute, 0..4),
            )
                .prop_map(|(rules, groups, mutes)| Policy {
                    rules,
                    groups,
                    mutes,
                    records_read: false,
                })
        }

        fn metric(text: &str, selector: &str) -> usize {
            let line = format!("\n{selector} ");
            let start = text.find(&line).unwrap_or_else(|| panic!("{selector}")) + line.len();
            let rest = &text[start..];
            rest[..rest.find('\n').unwrap()].parse().unwrap()
        }

        fn card(html: &str, id: &str) -> usize {
            let start = html.find(&format!("id=\"count-{id}\"")).unwrap();
            let rest = &html[start..];
            let rest = &rest[rest.find("class=\"n\">").unwrap() + 10..];
            rest[..rest.find('<').unwrap()].parse().unwrap()
        }

        fn pill(html: &str, p: Problem) -> usize {
            let start = html
                .find(&format!("data-problem=\"{}\"><a href", p.as_str()))
                .unwrap();
            let rest = &html[start..];
            let rest = &rest[rest.find("class=\"n\">").unwrap() + 10..];
            rest[..rest.find('<').unwrap()].parse().unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Whatever the fleet and the policy, the page, the JSON API and
            /// the metrics count the same sites by status and by problem.
            #[test]
            fn page_api_and_metrics_count_the_same_sites(snapshot in fleet(), policy in policy()) {
                let store = Store::new(["acme".to_string()]);
                store.set_policy(policy, now());
                let slot = Arc::clone(&store.accounts()[0]);
                let install = crate::store::Install::snapshot(snapshot, now());
                store.install(&slot, install, |_| {});

                let exposition = String::from_utf8(metrics::render(&store, b"", now())).unwrap();
                let view = api::View::load(&store);
                let totals = api::status(&view, now()).totals;
                let html = status_page::page(&view, None, now(), "/metrics").html;
                let sites = api::sites(&view, None, now()).unwrap().sites;

                for (h, card_id, api_n) in [
                    (Health::Problem, "problem", totals.sites_with_problem),
                    (Health::Unknown, "unknown", totals.sites_unknown),
                    (Health::Warning, "warning", totals.sites_with_warning),
                    (Health::Pending, "pending", totals.sites_pending),
                    (Health::Ok, "ok", totals.sites_ok),
                ] {
                    // The "checking" card is shown only while some site is.
                    let on_page = match html.contains(&format!("id=\"count-{card_id}\"")) {
                        true => card(&html, card_id),
                        false if h == Health::Pending => 0,
                        false => panic!("no {card_id} card"),
                    };
                    prop_assert_eq!(on_page, api_n, "page {:?}", h);
                    let m = metric(&exposition, &format!("gridpane_sites_by_status{{account=\"acme\",status=\"{}\"}}", h.as_str()));
                    prop_assert_eq!(m, api_n, "metrics {:?}", h);
                    prop_assert_eq!(sites.iter().filter(|s| s.status == h).count(), api_n);
                }
                let mut series = 0;
                for p in Problem::ALL {
                    let n = totals.problem(p);
                    prop_assert_eq!(pill(&html, p), n, "page {:?}", p);
                    let m = metric(&exposition, &format!("gridpane_site_problems{{account=\"acme\",problem=\"{}\"}}", p.as_str()));
                    prop_assert_eq!(m, n, "metrics {:?}", p);
                    let muted = metric(&exposition, &format!("gridpane_site_problems_muted{{account=\"acme\",problem=\"{}\"}}", p.as_str()));
                    prop_assert_eq!(muted, totals.problems_muted.get(p.as_str()).copied().unwrap_or(0));
                    series += n;
                }
                let per_site = exposition.lines().filter(|l| l.starts_with("gridpane_site_problem{")).count();
                prop_assert_eq!(per_site, series);
            }
        }
    }
}
