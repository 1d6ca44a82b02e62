//! Unknown is never OK, end to end: the fake GridPane serves each hostile
//! backup record the exporter must not read as OK, the detail task reads
//! them, and the page, the API and `/metrics` say `unknown`.

use std::time::Duration;

use gridpane_backup_exporter::fake::{FakeHistory, HostileRecord};
use gridpane_backup_exporter::gridpane::history::Unreadable;
use gridpane_backup_exporter::render::{api, metrics, status_page};

use crate::budget::{detail_running, history_poll};
use crate::support::{fake, fleet_of};

/// Each hostile record, and the reason the exporter must give for it.
const HOSTILE: [(HostileRecord, Unreadable); 13] = [
    (HostileRecord::FutureName, Unreadable::FutureName),
    (HostileRecord::SuccessFalse, Unreadable::Unsuccessful),
    (HostileRecord::SuccessFalseString, Unreadable::Unsuccessful),
    (HostileRecord::Html, Unreadable::Html),
    (HostileRecord::NoContent, Unreadable::Empty),
    (HostileRecord::Truncated, Unreadable::Truncated),
    (HostileRecord::Deep, Unreadable::TooDeep),
    (HostileRecord::Epoch, Unreadable::BadName),
    (HostileRecord::Iso, Unreadable::BadName),
    (HostileRecord::EmptyObject, Unreadable::Empty),
    (HostileRecord::Null, Unreadable::Empty),
    (HostileRecord::EmptyList, Unreadable::Empty),
    (HostileRecord::Zeros(60 * 1024 * 1024), Unreadable::TooLarge),
];

#[tokio::test(start_paused = true)]
async fn every_hostile_record_makes_its_site_unknown_on_the_page_the_api_and_the_metrics() {
    let fake = fake(fleet_of(3, 2, 30)).await;
    let mut hostile_sites = Vec::new();
    fake.update_fleet(|f| {
        let healthy = f
            .sites
            .iter_mut()
            .filter(|s| s.problems.is_empty() && s.history == FakeHistory::Regular);
        for (site, (record, reason)) in healthy.zip(HOSTILE) {
            site.history = FakeHistory::Hostile(record);
            hostile_sites.push((site.id, record, reason));
        }
    });
    assert_eq!(hostile_sites.len(), HOSTILE.len(), "enough healthy sites");
    let run = detail_running(&fake, &history_poll(None)).await;
    tokio::time::sleep(Duration::from_secs(30)).await;

    let store = &run.store;
    let now = chrono::Utc::now();
    let view = api::View::load(store);
    let sites = api::sites(&view, None, now).unwrap().sites;
    let exposition = String::from_utf8(metrics::render(store, b"", now)).unwrap();
    let html = status_page::page(&view, Some("per_page=1000"), now, "/metrics").html;
    for (id, record, reason) in &hostile_sites {
        let site = sites.iter().find(|s| s.id == *id).unwrap();
        let codes: Vec<&str> = site.problems.iter().map(|p| p.code).collect();
        assert_eq!(site.status, api::Health::Unknown, "{record:?}: {codes:?}");
        assert_eq!(
            codes.first(),
            Some(&"record_unreadable"),
            "{record:?}: {codes:?}"
        );
        let error = site.record_error.as_ref().unwrap();
        assert_eq!(error.reason, reason.as_str(), "{record:?}");
        assert!(exposition.contains(&format!(
            "gridpane_site_problem{{account=\"acme\",site_id=\"{id}\",problem=\"record_unreadable\",severity=\"unknown\"}} 1"
        )));
        let row = &html[html.find(&format!("data-site-id=\"{id}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("<span class=\"badge unknown\">Unknown</span>"),
            "{record:?}"
        );
        assert!(
            row.contains(&format!("data-reason=\"{}\"", reason.as_str())),
            "{record:?}: {row}"
        );
    }
    let unknown = sites
        .iter()
        .filter(|s| s.status == api::Health::Unknown)
        .count();
    assert!(exposition.contains(&format!(
        "gridpane_sites_by_status{{account=\"acme\",status=\"unknown\"}} {unknown}"
    )));
    assert!(html.contains(&format!(
        "id=\"count-unknown\"><a href=\"?status=unknown\"><span class=\"n\">{unknown}</span> unknown"
    )));
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_date_shaped_string_beside_a_record_whose_backups_stopped_is_not_a_backup() {
    let fake = fake(fleet_of(3, 2, 12)).await;
    let mut id = 0;
    fake.update_fleet(|f| {
        let site = f
            .sites
            .iter_mut()
            .find(|s| s.problems.is_empty() && s.history == FakeHistory::Regular)
            .unwrap();
        site.history = FakeHistory::Hostile(HostileRecord::DateElsewhere { days: 20 });
        id = site.id;
    });
    let run = detail_running(&fake, &history_poll(None)).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let view = api::View::load(&run.store);
    let sites = api::sites(&view, Some(&format!("site_id={id}")), chrono::Utc::now())
        .unwrap()
        .sites;
    let codes: Vec<&str> = sites[0].problems.iter().map(|p| p.code).collect();
    assert_eq!(codes, ["backup_overdue"], "the generated_at is no backup");
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_record_read_well_and_then_not_is_unknown_with_its_last_good_read_kept() {
    let fake = fake(fleet_of(3, 2, 12)).await;
    let id = fake
        .fleet()
        .sites
        .iter()
        .find(|s| s.problems.is_empty() && s.history == FakeHistory::Regular)
        .unwrap()
        .id;
    let run = detail_running(&fake, &history_poll(None)).await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    let status = |store| {
        let view = api::View::load(store);
        let site = api::sites(&view, Some(&format!("site_id={id}")), chrono::Utc::now())
            .unwrap()
            .sites
            .remove(0);
        (
            site.status,
            site.backups.is_some(),
            site.record_error.map(|e| e.reason),
        )
    };
    assert_eq!(status(&run.store), (api::Health::Ok, true, None));
    fake.update_fleet(|f| {
        if let Some(site) = f.sites.iter_mut().find(|s| s.id == id) {
            site.history = FakeHistory::Hostile(HostileRecord::Html);
        }
    });
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        status(&run.store),
        (api::Health::Unknown, true, Some("html")),
        "the last good read is kept, never judged OK"
    );
    run.stop().await;
}
