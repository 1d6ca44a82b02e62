//! Renderers: they read snapshots from the store and turn them into what a
//! reader wants. They never call GridPane.

pub mod api;
pub mod detail;
mod family;
pub mod metrics;
pub mod status_page;

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
            }),
            retain_days: Some(retain_days),
            prune_schedule: None,
        }
    }

    /// One healthy site, then one site for each kind of problem.
    fn fleet() -> AccountSnapshot {
        let on = |retain| storage(Some(true), Some(1), retain);
        let sites = [
            (on(30), on(30)),
            (storage(Some(false), Some(1), 30), on(30)),
            (storage(Some(true), None, 30), on(30)),
            (on(30), storage(Some(false), Some(1), 30)),
            (on(30), storage(None, None, 30)),
            (on(30), storage(Some(true), Some(404), 30)),
            (on(2), on(30)),
        ];
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
                    local,
                    remote,
                    pending: false,
                })
                .collect(),
            integrations: vec![Integration {
                id: 1,
                name: "s3".into(),
                provider: "aws-s3".into(),
                region: None,
            }],
        }
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
        let own = Assessment::of(&snapshot);
        let kinds: std::collections::BTreeSet<Problem> =
            own.sites().iter().flat_map(SiteVerdict::problems).collect();
        assert_eq!(kinds.len(), Problem::ALL.len(), "the fleet has every kind");
        let mut verdicts = own.sites()[1..].to_vec();
        verdicts.push(verdicts[0]);
        let assessed = Assessed::with_verdicts(snapshot, verdicts.clone());
        let store = Store::new(["acme".to_string()]);
        let slot = Arc::clone(&store.accounts()[0]);
        store.replace_with(&slot, |s| s.snapshot = Some(Arc::new(assessed)));
        let now: DateTime<Utc> = "2026-11-22T00:00:00Z".parse().unwrap();

        let exposition = String::from_utf8(metrics::render(&store, &[], now)).unwrap();
        let view = api::View::load(&store);
        let answer = api::sites(&view, None, now).unwrap();
        let (_, html) = status_page::page(&view, Some("per_page=1000"), now, "/metrics");

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
}
