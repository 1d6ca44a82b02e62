//! A page per site at `/site/<account>/<id>`: what it shows of the site's
//! verdict, that every list of sites leads to it, and what it answers for
//! an account or site that is not there or an id that is not one.

use crate::support;

use std::sync::Arc;

use gridpane_backup_exporter::domain::policy::{Mute, SiteRef};
use gridpane_backup_exporter::domain::{Policy, Problem};
use gridpane_backup_exporter::render::api::View;
use gridpane_backup_exporter::render::status_page::{self, SiteAnswer};
use gridpane_backup_exporter::store::Store;
use support::status::{Setup, acme_store, now, site_ids};

fn site(store: &Store, account: &str, id: &str) -> (SiteAnswer, String) {
    let page = status_page::site_page(&View::load(store), account, id, now(), "/metrics");
    (page.status, page.html)
}

#[test]
fn a_site_page_shows_its_schedules_record_problems_and_when_it_was_read() {
    let store = support::status::acme_with_backup_record(1001);
    let (answer, html) = site(&store, "acme", "1001");
    assert_eq!(answer, SiteAnswer::Found);
    // Its status, as the verdict holds it, and its problem with the
    // severity /metrics gives it.
    assert!(
        html.contains("data-status=\"problem\">problem: not protected"),
        "{html}"
    );
    assert!(html.contains(
        "data-problem=\"never_backed_up\" data-severity=\"critical\">GridPane&#39;s record holds no backup of a storage that is on"
    ));
    // Both storages: on or off, frequency, next run, retention.
    let local = &html[html.find("<tr data-storage=\"local\">").unwrap()..];
    let local = &local[..local.find("</tr>").unwrap()];
    assert!(
        local.contains(
            "<span class=\"pill on\">On</span> <span class=\"freq\" data-frequency=\"daily\">daily</span>"
        ),
        "{local}"
    );
    assert!(
        local.contains(
            "<span class=\"ret\">30 days</span> <span class=\"sub prune\">daily, then weekly</span>"
        ),
        "{local}"
    );
    assert!(
        local.contains("<time datetime=\"2026-11-2"),
        "a next run: {local}"
    );
    assert!(html.contains("<tr data-storage=\"remote\">"));
    // GridPane's record, when it was read, and what was fetched when.
    assert!(
        html.contains("<p id=\"record-read\">Read <time datetime=\"2026-11-22T11:50:00Z\">"),
        "{html}"
    );
    assert!(html.contains("<li data-storage=\"local\"><strong>local</strong>: newest <time datetime=\"2026-11-22T10:50:00Z\">"));
    assert!(html.contains(" · 3 held"));
    assert!(html.contains("<dd id=\"fetched\"><time datetime="));
    assert!(
        html.contains("<dd id=\"detail-fetched\">fetched <time datetime=\"2026-11-22T11:50:00Z\">"),
        "{html}"
    );
    // The bucket and the server.
    assert!(html.contains("id=\"bucket-h\">The proof from the bucket"));
    assert!(html.contains("lives in Prometheus, not in the exporter"));
    assert!(html.contains("* on (site_url) group_right ()"));
    assert!(
        html.contains("gridpane_site_info{account=&#34;acme&#34;, site_id=&#34;1001&#34;}"),
        "{html}"
    );
}

#[test]
fn a_site_page_shows_its_mutes_with_their_reason_and_a_date_as_the_end_of_that_day() {
    let store = acme_store();
    store.set_policy(
        Policy {
            mutes: vec![Mute {
                sites: vec![SiteRef::parse("1005")],
                problems: Some(vec![Problem::RemoteNotSetUp]),
                // What `until: 2026-11-29` means: through that day.
                until: "2026-11-30T00:00:00Z".parse().unwrap(),
                reason: Arc::from("moving <hosts>"),
                ..Mute::default()
            }],
            ..Policy::default()
        },
        now(),
    );
    let (_, html) = site(&store, "acme", "1005");
    assert!(
        html.contains("data-muted=\"remote_not_set_up\">remote backups were never set up <span class=\"sub\">muted until the end of 2026-11-29: moving &#60;hosts&#62;</span>"),
        "{html}"
    );
    assert!(html.contains("data-status=\"ok\""), "{html}");
}

#[test]
fn every_site_in_the_schedules_table_and_the_api_leads_to_its_page() {
    let store = acme_store();
    let page = status_page::page(
        &View::load(&store),
        Some("per_page=1000"),
        now(),
        "/metrics",
    );
    let ids = site_ids(&page.html);
    assert!(!ids.is_empty());
    for id in &ids {
        assert!(
            page.html.contains(&format!(
                "<a class=\"site-link\" href=\"./site/acme/{id}\">"
            )),
            "{id}"
        );
        assert_eq!(site(&store, "acme", &id.to_string()).0, SiteAnswer::Found);
    }
    let sites =
        gridpane_backup_exporter::render::api::sites(&View::load(&store), None, now()).unwrap();
    for s in &sites.sites {
        assert_eq!(s.page, format!("/site/acme/{}", s.id));
    }
}

#[tokio::test]
async fn an_unknown_account_or_site_is_404_and_an_id_that_is_not_a_number_400() {
    let store = support::status::store(&["acme", "a b/c", "later"]);
    Setup::ok(&store, "acme", support::status::acme());
    Setup::ok(&store, "a b/c", support::status::snapshot_named("a b/c"));
    Setup::polling_first(&store, "later");
    let base = support::status::serve(Arc::new(store)).await;
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move { support::status::get(&url).await }
    };

    let (status, ctype, html) = get("/site/acme/1001").await;
    assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
    assert!(html.contains("data-site-id=\"1001\""));
    let (status, _, html) = get("/site/a%20b%2Fc/1001").await;
    assert_eq!(
        status, 200,
        "an account name with a space and a slash: {html}"
    );

    for (path, code, words) in [
        (
            "/site/acme/9999",
            404,
            "Account &#34;acme&#34; has no site #9999 in its last successful poll.",
        ),
        (
            "/site/nope/1001",
            404,
            "No account named &#34;nope&#34; is configured.",
        ),
        (
            "/site/later/1001",
            404,
            "Account &#34;later&#34; is not read yet",
        ),
        (
            "/site/acme/abc",
            400,
            "&#34;abc&#34; is not a site id: a site id is a whole number",
        ),
        ("/site/acme/-1", 400, "&#34;-1&#34; is not a site id"),
        (
            "/site/acme/99999999999999999999999",
            400,
            "is not a site id",
        ),
        ("/site/nope/abc", 400, "is not a site id"),
    ] {
        let (status, ctype, html) = get(path).await;
        assert_eq!(status, code, "{path}: {html}");
        assert_eq!(ctype, "text/html; charset=utf-8", "{path}");
        assert!(html.contains(words), "{path}: {html}");
        assert!(
            html.contains("<a href=\"../../\">Show all sites</a>"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_site_page_on_the_demo_shows_a_verified_a_stale_and_a_missing_copy_beside_the_claim() {
    let (_fake, app) = support::start_demo().await;
    let (_, body) = support::get(&app, "/api/v1/sites").await;
    let sites: serde_json::Value = serde_json::from_str(&body).unwrap();
    let sites = sites["sites"].as_array().unwrap();
    for state in ["verified", "stale", "missing"] {
        // The first site the API says is in this state: the page must say
        // the same, from the same verdict.
        let site = sites
            .iter()
            .find(|s| s["remote_copy"]["state"] == state)
            .unwrap_or_else(|| panic!("the demo has no {state} copy: {body}"));
        let copy = &site["remote_copy"];
        let (status, html) = support::get(&app, site["page"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{html}");
        assert!(
            !html.contains("No <code>remote_storage</code> entry holds"),
            "{state}: the fixed text instead of the proof: {html}"
        );
        assert!(
            html.contains(&format!("id=\"bucket\" data-copy=\"{state}\"")),
            "{state}: {html}"
        );
        assert!(
            html.contains(&format!(
                "<dd id=\"copy-state\" class=\"copy {state}\">{state}:"
            )),
            "{state}: {html}"
        );
        let storage = copy["remote_storage"].as_str().unwrap();
        assert!(
            html.contains(&format!("<code>remote_storage</code> {storage}</dd>")),
            "{state}: {html}"
        );
        let revisions = copy["revisions"].as_u64().unwrap();
        match copy["newest"].as_str() {
            Some(newest) => assert!(
                html.contains(&format!(
                    "<dd id=\"copy-newest\"><time datetime=\"{newest}\">{newest}</time> ("
                )) && html.contains(&format!(") · {revisions} revisions</dd>")),
                "{state}: {html}"
            ),
            None => assert!(
                html.contains(&format!(
                    "<dd id=\"copy-newest\">no revision found · {revisions} revisions</dd>"
                )),
                "{state}: {html}"
            ),
        }
        match copy["claimed_last"].as_str() {
            Some(claimed) => assert!(
                html.contains(&format!(
                    "newest remote backup <time datetime=\"{claimed}\">{claimed}</time> ("
                )),
                "{state}: {html}"
            ),
            None => assert!(
                html.contains("<dd id=\"copy-claimed\">GridPane's record"),
                "{state}: {html}"
            ),
        }
    }
    app.shutdown().await;
}
