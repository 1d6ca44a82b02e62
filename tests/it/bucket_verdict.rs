//! The proof from the bucket end to end: the exporter polls the fake
//! GridPane and lists a real S3 server (s3s-fs on loopback) holding
//! revisions dated in the past, and every surface shows each site's
//! verdict: verified in either id form, stale, missing, and unknown while a
//! bucket cannot be listed.

use std::time::Duration;

use gridpane_backup_exporter::bucket::IntegrationRef;
use gridpane_backup_exporter::demo;
use gridpane_backup_exporter::fake::{FakeGridPane, FakeSite};
use serde_json::Value;

use crate::bucket::{BUCKET, UUID, entry};
use crate::support::s3::{S3Server, SECRET_KEY};
use gridpane_backup_exporter::app::App;

use crate::support;

const HOUR: Duration = Duration::from_secs(3600);

/// Four sites of the demo fleet whose remote backups are on and upload to
/// an integration that exists.
fn judged_sites(fleet: &gridpane_backup_exporter::fake::Fleet) -> Vec<FakeSite> {
    let ids: Vec<u64> = fleet.integrations.iter().map(|i| i.id).collect();
    let sites: Vec<FakeSite> = fleet
        .sites
        .iter()
        .filter(|s| {
            s.remote_bup
                && s.remote_schedule
                    .as_ref()
                    .and_then(|r| r.integration_id)
                    .is_some_and(|id| ids.contains(&id))
        })
        .take(4)
        .cloned()
        .collect();
    assert_eq!(sites.len(), 4, "the demo fleet has four such sites");
    sites
}

/// The exporter over the demo fleet, its bucket entry pointed at `s3`'s
/// `buckets` instead of the fake's own, after `fill` put the four judged
/// sites' revisions in.
async fn exporter(
    s3: &S3Server,
    buckets: &[&str],
    fill: impl FnOnce(&[FakeSite]),
) -> (FakeGridPane, App, Vec<FakeSite>) {
    let (fake, mut config) = demo::start().await.unwrap();
    let fleet = fake.fleet();
    let sites = judged_sites(&fleet);
    fill(&sites);
    let mut storage = entry(&s3.endpoint, buckets, SECRET_KEY);
    storage.integrations = fleet
        .integrations
        .iter()
        .map(|i| IntegrationRef::Id(i.id))
        .collect();
    config.accounts[0].remote_storage = vec![storage];
    let app = support::start_config(config).await;
    support::wait_first_poll(&app).await;
    (fake, app, sites)
}

async fn copy_of(app: &App, id: u64) -> Value {
    let (_, body) = support::get(app, &format!("/api/v1/sites?site_id={id}")).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    v["sites"][0].clone()
}

/// Waits until the last site's copy is judged (the first pass is done).
async fn listed(app: &App, site: &FakeSite) {
    support::wait_for(30, "the first listing pass", || async {
        copy_of(app, site.id).await["remote_copy"]["state"] != "pending"
    })
    .await;
}

fn codes(site: &Value) -> Vec<String> {
    site["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn each_site_is_verified_stale_or_missing_from_what_the_bucket_holds_on_every_surface() {
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    let (_fake, app, sites) = exporter(&s3, &[BUCKET], |sites| {
        // Either id form, any case; revisions dated in the past; the
        // fourth site has none.
        let dotted = format!("gridpane-{UUID}-{}", sites[0].url.to_uppercase());
        let dashed = sites[1].url.replace('.', "-");
        for r in 1..=3u32 {
            s3.put(BUCKET, &format!("snapshots/{dotted}/{r}"), HOUR * r);
            s3.put(BUCKET, &format!("snapshots/{dashed}/{r}"), HOUR * r);
        }
        let old = sites[2].url.replace('.', "-");
        s3.put(BUCKET, &format!("snapshots/{old}/1"), HOUR * 24 * 400);
        s3.put(BUCKET, "snapshots/deleted-example-org/1", HOUR * 24 * 90);
    })
    .await;
    let [fresh_dotted, fresh_dashed, stale, missing] = &sites[..] else {
        unreachable!()
    };
    listed(&app, missing).await;

    for (site, state, revisions) in [(fresh_dotted, "verified", 3), (fresh_dashed, "verified", 3)] {
        let v = copy_of(&app, site.id).await;
        assert_eq!(v["remote_copy"]["state"], state, "{}", site.url);
        assert_eq!(v["remote_copy"]["revisions"], revisions);
        assert_eq!(v["remote_copy"]["remote_storage"], "wasabi-main");
        assert!(!codes(&v).iter().any(|c| c.starts_with("remote_copy")));
    }
    let v = copy_of(&app, stale.id).await;
    assert_eq!(v["remote_copy"]["state"], "stale");
    assert!(codes(&v).contains(&"remote_copy_stale".to_string()));
    assert_eq!(v["status"], "problem");
    let v = copy_of(&app, missing.id).await;
    assert_eq!(v["remote_copy"]["state"], "missing");
    assert!(v["remote_copy"]["newest"].is_null());
    assert!(codes(&v).contains(&"remote_copy_missing".to_string()));
    assert_eq!(v["status"], "problem");

    let metrics = support::get(&app, "/metrics").await.1;
    let series = |name: &str, id: u64| {
        support::value(
            &metrics,
            &format!("{name}{{account=\"demo\",site_id=\"{id}\",remote_storage=\"wasabi-main\"}}"),
        )
    };
    assert_eq!(
        series("gridpane_remote_copy_revisions", fresh_dashed.id).as_deref(),
        Some("3")
    );
    assert_eq!(
        series("gridpane_remote_copy_revisions", missing.id).as_deref(),
        Some("0")
    );
    assert!(series("gridpane_remote_copy_newest_timestamp_seconds", missing.id).is_none());
    assert!(series("gridpane_remote_copy_newest_timestamp_seconds", stale.id).is_some());
    assert_eq!(
        support::value(
            &metrics,
            "gridpane_remote_copy_orphans{account=\"demo\",remote_storage=\"wasabi-main\"}"
        )
        .as_deref(),
        Some("1")
    );
    let problem = |code: &str, id: u64| {
        metrics.contains(&format!(
            "gridpane_site_problem{{account=\"demo\",site_id=\"{id}\",problem=\"{code}\",severity=\"critical\"}} 1"
        ))
    };
    assert!(problem("remote_copy_missing", missing.id));
    assert!(problem("remote_copy_stale", stale.id));

    let (_, html) = support::get(&app, "/?per_page=1000").await;
    let row = |id: u64| {
        let start = html.find(&format!("data-site-id=\"{id}\" ")).unwrap();
        html[start..start + html[start..].find("</tr>").unwrap()].to_string()
    };
    assert!(row(missing.id).contains("data-copy=\"missing\""));
    assert!(row(missing.id).contains("bucket wasabi-main: missing, no revision found"));
    assert!(row(stale.id).contains("data-copy=\"stale\""));
    assert!(row(fresh_dotted.id).contains("data-copy=\"verified\""));
}

#[tokio::test]
async fn while_a_bucket_cannot_be_listed_a_site_without_a_revision_is_unknown_and_a_fresh_one_verified()
 {
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    // The second bucket does not exist: 404, the entry is not complete.
    let (_fake, app, sites) = exporter(&s3, &[BUCKET, "gridpane-backups-gone"], |sites| {
        s3.put(
            BUCKET,
            &format!("snapshots/{}/1", sites[0].url.replace('.', "-")),
            HOUR,
        );
    })
    .await;
    let [fresh, _, _, without] = &sites[..] else {
        unreachable!()
    };
    listed(&app, without).await;
    assert_eq!(
        copy_of(&app, fresh.id).await["remote_copy"]["state"],
        "verified"
    );

    let v = copy_of(&app, without.id).await;
    assert_eq!(v["remote_copy"]["state"], "unknown");
    assert_eq!(v["remote_copy"]["complete"], false);
    assert!(codes(&v).contains(&"remote_copy_unknown".to_string()));
    assert!(!codes(&v).contains(&"remote_copy_missing".to_string()));
    assert_ne!(v["status"], "ok");
    let metrics = support::get(&app, "/metrics").await.1;
    assert!(metrics.contains(&format!(
        "gridpane_site_problem{{account=\"demo\",site_id=\"{}\",problem=\"remote_copy_unknown\",severity=\"unknown\"}} 1",
        without.id
    )));
    assert_eq!(
        support::value(
            &metrics,
            "gridpane_remote_storage_up{account=\"demo\",remote_storage=\"wasabi-main\"}"
        )
        .as_deref(),
        Some("0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_site_copy_series_are_rendered_once_with_the_cached_snapshot_not_on_each_scrape() {
    use gridpane_backup_exporter::render::cache::ExpositionCache;
    use gridpane_backup_exporter::render::metrics;
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    let (_fake, app, sites) = exporter(&s3, &[BUCKET], |sites| {
        let dashed = sites[0].url.replace('.', "-");
        s3.put(BUCKET, &format!("snapshots/{dashed}/1"), HOUR);
    })
    .await;
    listed(&app, sites.last().unwrap()).await;
    let states: Vec<_> = app.store.accounts().iter().map(|a| a.load()).collect();
    let now = chrono::Utc::now();
    let (entry, at) = ExpositionCache::new().get(&states, || now).await;
    let loaded = metrics::load_states(&app.store);
    let health: Vec<_> = loaded
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_ref()))
        .collect();
    let policy = app.store.policy();
    let cached = entry.render_tail(&health, &policy, b"", at);
    let fresh = metrics::render_tail(&health, &policy, b"", at);
    assert_eq!(
        String::from_utf8_lossy(&cached),
        String::from_utf8_lossy(&fresh)
    );
    let series = format!(
        "gridpane_remote_copy_revisions{{account=\"demo\",site_id=\"{}\"",
        sites[0].id
    );
    assert!(
        String::from_utf8_lossy(&fresh).contains(&series),
        "{series}"
    );
    // A scrape with no account state at all still serves them: they are
    // the cached entry's, not rendered from the states of the scrape.
    let bare = String::from_utf8_lossy(&entry.render_tail(&[], &policy, b"", at)).into_owned();
    assert!(bare.contains(&series), "{bare}");
    assert!(!bare.contains("gridpane_remote_storage_up"), "{bare}");
}
