//! The status page: every polling state, filters, sorting, paging, bad
//! input and hostile data. Rendering takes `now`, so most tests render
//! directly; a few go through the HTTP router.

use crate::support;

use std::io::Read as _;
use std::sync::Arc;

use reqwest::header::HeaderMap;

use gridpane_backup_exporter::domain::{
    AccountSnapshot, Frequency, Schedule, Site, Storage, StorageSettings,
};
use gridpane_backup_exporter::render::api::{ServerFilter, SiteFilter, View};
use gridpane_backup_exporter::render::status_page::{self, PageQuery, SortKey};
use gridpane_backup_exporter::store::Store;
use support::status::{Setup, acme, acme_store, now, site_ids};

fn render(store: &Store, query: &str) -> (u16, String) {
    let page = status_page::page(&View::load(store), Some(query), now(), "/metrics");
    (if page.bad_request { 400 } else { 200 }, page.html)
}

/// The markup of one site's row in the schedules table.
fn site_row(html: &str, id: u64) -> String {
    let start = html.find(&format!("data-site-id=\"{id}\"")).unwrap();
    html[start..start + html[start..].find("</tr>").unwrap()].to_string()
}

/// An attribute such as ` onclick=` anywhere in the markup.
fn has_event_handler_attribute(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

#[test]
fn before_the_first_poll_the_page_says_so_and_reloads_itself() {
    let store = support::status::store(&["acme"]);
    Setup::polling_first(&store, "acme");
    let (status, html) = render(&store, "");
    assert_eq!(status, 200);
    assert!(html.contains("First poll in progress"), "{html}");
    assert!(html.contains("Waiting for the first poll of account <strong>acme</strong>"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(
        !html.contains("<table class=\"sites\""),
        "no schedule table without data"
    );
    assert!(
        !html.contains("No backup integrations"),
        "no data is not \"no integrations\""
    );
    assert!(html.contains(
        "<p class=\"empty\" data-unread-account=\"acme\">Account <strong>acme</strong>: not read yet, no poll of it has finished.</p>"
    ));
}

#[test]
fn a_failed_poll_shows_its_reason_and_the_age_of_the_data_shown() {
    let store = support::status::store(&["acme"]);
    Setup::failed_with_old_data(&store, "acme");
    let (status, html) = render(&store, "");
    assert_eq!(status, 200);
    let banner_start = html
        .find("data-failed-account=\"acme\"")
        .expect("an error banner");
    let banner = &html[banner_start..banner_start + html[banner_start..].find("</div>").unwrap()];
    assert!(
        banner.contains("The last poll of account acme failed 1 min ago"),
        "{banner}"
    );
    assert!(
        banner.contains("/oauth/api/v1/site?page=1&#38;per_page=200: HTTP 503 (http_5xx)"),
        "{banner}"
    );
    assert!(
        banner.contains("data from 2026-11-22 10:00 UTC (2 h ago)"),
        "{banner}"
    );
    assert!(html.contains("<span class=\"badge bad\">Failed</span> 1 min ago"));
    assert_eq!(
        site_ids(&html).len(),
        10,
        "the last good data is still shown"
    );
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "no reload once a poll has ended"
    );
}

#[test]
fn a_failed_first_poll_says_there_is_no_data() {
    let store = support::status::store(&["acme"]);
    Setup::failed_without_data(&store, "acme");
    let (_, html) = render(&store, "");
    assert!(html.contains("No poll has succeeded yet, so there is no data for this account."));
    assert!(html.contains("No data for account <strong>acme</strong>"));
    assert!(site_ids(&html).is_empty());
}

#[test]
fn an_account_without_sites_shows_an_empty_state() {
    let store = support::status::store(&["acme", "bare"]);
    Setup::ok(&store, "acme", acme());
    Setup::ok(&store, "bare", support::status::empty_snapshot("bare"));
    let (_, html) = render(&store, "");
    assert!(
        html.contains(
            "data-empty-account=\"bare\">Account <strong>bare</strong> has no sites.</p>"
        )
    );
    assert_eq!(
        site_ids(&html).len(),
        10,
        "the other account's sites are listed"
    );
}

#[test]
fn the_header_shows_version_last_poll_and_next_poll_per_account() {
    let store = acme_store();
    let (_, html) = render(&store, "");
    assert!(html.contains(&format!(
        "gridpane-backup-exporter {}",
        env!("CARGO_PKG_VERSION")
    )));
    let row_start = html.find("<tr data-account=\"acme\">").unwrap();
    let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
    assert!(
        row.contains("<span class=\"badge ok\">OK</span> 2 min ago"),
        "{row}"
    );
    assert!(
        row.contains("2026-11-22 12:03 UTC</time> (in 3 min)"),
        "{row}"
    );
    assert!(row.contains(">10</td>"), "sites: {row}");
    assert!(row.contains(">5</td>"), "sites not protected: {row}");
}

#[test]
fn counts_at_the_top_cover_sites_problems_and_each_kind() {
    let (_, html) = render(&acme_store(), "");
    assert!(html.contains("id=\"count-sites\"><span class=\"n\">10</span> sites"));
    assert!(html.contains("<span class=\"n\">5</span> not protected"));
    assert!(html.contains(
        "id=\"count-warning\"><a href=\"?status=warning\"><span class=\"n\">1</span> with a warning"
    ));
    assert!(html.contains(
        "id=\"count-unknown\"><a href=\"?status=unknown\"><span class=\"n\">1</span> unknown"
    ));
    assert!(html.contains("id=\"count-ok\"><a href=\"?status=ok\"><span class=\"n\">3</span> OK"));
    for code in [
        "local_disabled",
        "local_not_scheduled",
        "remote_disabled",
        "remote_not_set_up",
        "integration_missing",
        "short_retention",
        "schedule_unreadable",
    ] {
        assert!(
            html.contains(&format!(
                "data-problem=\"{code}\"><a href=\"?problem={code}\"><span class=\"n\">1</span>"
            )),
            "{code}"
        );
    }
}

#[test]
fn problems_are_listed_first_by_default() {
    let (_, html) = render(&acme_store(), "");
    assert_eq!(
        site_ids(&html),
        vec![1002, 1005, 1003, 1006, 1004, 1010, 1007, 1009, 1001, 1008],
        "problems, then unknown, then warnings, then OK; by URL within each"
    );
    assert!(html.contains("<th scope=\"col\" aria-sort=\"ascending\" data-sort-key=\"status\"><a href=\"?order=desc\">Status ▲</a></th>"));
}

#[test]
fn every_column_sorts_both_ways() {
    let store = acme_store();
    for key in SortKey::ALL {
        let (status, asc) = render(&store, &format!("sort={}", key.as_str()));
        let (_, desc) = render(&store, &format!("sort={}&order=desc", key.as_str()));
        assert_eq!(status, 200, "{key:?}");
        assert_eq!(site_ids(&asc).len(), 10, "{key:?}");
        assert_eq!(site_ids(&desc).len(), 10, "{key:?}");
        assert!(desc.contains(&format!(
            "aria-sort=\"descending\" data-sort-key=\"{}\"",
            key.as_str()
        )));
    }
    let (_, html) = render(&store, "sort=url");
    assert_eq!(
        site_ids(&html),
        vec![1009, 1001, 1008, 1002, 1010, 1005, 1003, 1006, 1004, 1007]
    );
    let (_, html) = render(&store, "sort=url&order=desc");
    assert_eq!(
        site_ids(&html),
        vec![1007, 1004, 1006, 1003, 1005, 1010, 1002, 1008, 1001, 1009]
    );
    // Next local run: 12:30 (1009) is the soonest after noon; sites whose
    // local backups do not run come last either way.
    let (_, html) = render(&store, "sort=local");
    let ids = site_ids(&html);
    assert_eq!(ids.first(), Some(&1009));
    assert_eq!(&ids[7..], &[1002, 1010, 1003]);
    let (_, html) = render(&store, "sort=local&order=desc");
    assert_eq!(&site_ids(&html)[7..], &[1002, 1010, 1003]);
    // Shortest retention first: the 2-day site.
    let (_, html) = render(&store, "sort=retention");
    assert_eq!(site_ids(&html).first(), Some(&1007));
}

#[test]
fn filters_narrow_the_table() {
    let store = support::status::store(&["acme", "globex"]);
    Setup::ok(&store, "acme", acme());
    let mut globex = support::status::snapshot_named("globex");
    globex.sites.retain(|s| s.id == 1001);
    globex.sites[0].id = 2001;
    globex.servers = vec![gridpane_backup_exporter::domain::Server {
        id: 30,
        label: "web-03".to_string(),
        region: None,
        backups_version: gridpane_backup_exporter::domain::BackupsVersion::V2,
    }];
    globex.sites[0].server_id = Some(30);
    Setup::ok(&store, "globex", globex);

    let ids = |q: &str| site_ids(&render(&store, q).1);
    assert_eq!(ids("").len(), 11);
    assert_eq!(ids("account=globex"), vec![2001]);
    assert_eq!(ids("server=20"), vec![1003, 1006, 1004, 1008]);
    assert_eq!(
        ids("problems=1"),
        vec![1002, 1005, 1003, 1006, 1004, 1010, 1007]
    );
    assert_eq!(ids("status=unknown"), vec![1010]);
    assert_eq!(ids("problem=schedule_unreadable"), vec![1010]);
    assert_eq!(ids("problem=short_retention"), vec![1007]);
    assert_eq!(
        ids("q=EXAMPLE.NET"),
        vec![1003, 1009],
        "case-insensitive substring of the URL"
    );
    assert_eq!(ids("server=20&problems=1"), vec![1003, 1006, 1004]);
    assert_eq!(ids("account=acme&q=healthy"), vec![1001]);

    let (status, html) = render(&store, "q=nothing-like-this");
    assert_eq!(status, 200);
    assert!(html.contains("id=\"no-match\">No sites match these filters."));
    let (_, html) = render(&store, "server=20");
    assert!(html.contains("Showing 1–4 of 4 sites (filtered from 11)."));
    assert!(html.contains("<option value=\"20\" selected>web-02 (acme)</option>"));
    let (_, html) = render(&store, "account=globex");
    let integrations = &html[html.find("id=\"integrations\"").unwrap()..];
    assert_eq!(integrations.matches("<tr class=\"integration").count(), 3);
    assert!(
        !integrations.contains("<td data-label=\"Account\">acme</td>"),
        "integrations follow the account filter"
    );
}

#[test]
fn what_the_filter_form_sends_for_empty_fields_counts_as_no_filter() {
    let (status, html) = render(
        &acme_store(),
        "account=&server=&problem=&q=&sort=status&order=asc&per_page=50",
    );
    assert_eq!(status, 200);
    assert!(!html.contains("id=\"invalid-params\""));
    assert_eq!(site_ids(&html).len(), 10);
}

#[test]
fn a_filtered_view_has_an_address_that_gives_it_back() {
    let query = PageQuery {
        filter: SiteFilter {
            account: Some("a b&c".to_string()),
            server: Some(ServerFilter("web 02".to_string())),
            problems_only: true,
            status: Some(gridpane_backup_exporter::domain::Health::Warning),
            problem: Some(gridpane_backup_exporter::domain::Problem::RemoteDisabled),
            storage: Some(Storage::Remote),
            frequency: Some(Frequency::Weekly),
            enabled: Some(false),
            integration: Some(999),
            q: Some("<é&\"x".to_string()),
            // The API's own: the page neither reads nor writes them.
            server_id: None,
            site_id: None,
        },
        sort: SortKey::Retention,
        order: status_page::Order::Desc,
        page: 3,
        per_page: 25,
    };
    let href = query.href();
    let (parsed, invalid) = PageQuery::parse(href.strip_prefix('?'));
    assert!(invalid.is_empty(), "{invalid:?}");
    assert_eq!(parsed, query, "{href}");
    assert_eq!(PageQuery::default().href(), "?");
}

fn big_store(sites: u64) -> Arc<Store> {
    let mut snap: AccountSnapshot = acme();
    snap.sites = (0..sites)
        .map(|i| Site {
            id: 10_000 + i,
            url: format!("site-{i:04}.example.com"),
            server_id: Some(10),
            site_type: None,
            local: StorageSettings {
                automatic: Some(true),
                schedule: Some(Schedule {
                    id: 1,
                    frequency: Frequency::Daily,
                    hour: Some(1),
                    minute: Some(0),
                    day: None,
                    service_id: None,
                    service_name: None,
                    integration_id: None,
                    flaw: None,
                }),
                retain_days: Some(30),
                prune_schedule: Some(0),
            },
            remote: StorageSettings::default(),
            pending: false,
            history: None,
            record_failure: None,
        })
        .collect();
    let store = support::status::store(&["acme"]);
    Setup::ok(&store, "acme", snap);
    Arc::new(store)
}

#[test]
fn large_fleets_are_paginated() {
    let store = big_store(120);
    let (_, first) = render(&store, "sort=url");
    assert_eq!(site_ids(&first).len(), 50);
    assert!(first.contains("Showing 1–50 of 120 sites."));
    assert!(first.contains("Page 1 of 3"));
    assert!(first.contains("<a href=\"?sort=url&#38;page=2\" rel=\"next\">Next ›</a>"));
    assert!(first.contains("<span class=\"disabled\">‹ Previous</span>"));

    let (_, second) = render(&store, "sort=url&page=2");
    let ids = site_ids(&second);
    assert_eq!(ids.len(), 50);
    assert_eq!(ids.first(), Some(&10_050));
    assert!(second.contains("Showing 51–100 of 120 sites."));
    assert!(second.contains("<a href=\"?sort=url\" rel=\"prev\">‹ Previous</a>"));
    assert!(second.contains("<a href=\"?sort=url&#38;page=3\">Last »</a>"));

    let (_, last) = render(&store, "sort=url&page=3&problems=0");
    assert_eq!(site_ids(&last).len(), 20);

    let (status, past) = render(&store, "sort=url&page=99");
    assert_eq!(status, 200, "a page past the end shows the last page");
    assert!(past.contains("Showing 101–120 of 120 sites."));

    let (_, big_pages) = render(&store, "per_page=1000");
    assert_eq!(site_ids(&big_pages).len(), 120);
    assert!(
        !big_pages.contains("class=\"pages\""),
        "one page needs no page links"
    );
    let (_, small) = render(&store, "per_page=7&page=2");
    assert_eq!(site_ids(&small).len(), 7);
    assert!(small.contains("<option value=\"7\" selected>7</option>"));
}

#[test]
fn bad_filter_values_show_a_message_instead_of_failing() {
    let store = acme_store();
    let long = "x".repeat(201);
    for (query, parameter) in [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=99999999999999999999999999", "page"),
        ("per_page=0", "per_page"),
        ("per_page=1001", "per_page"),
        ("per_page=1e3", "per_page"),
        ("sort=evil", "sort"),
        ("order=sideways", "order"),
        ("problems=maybe", "problems"),
        ("problem=everything", "problem"),
        ("frequency=yearly", "frequency"),
        ("enabled=maybe", "enabled"),
        ("storage=cloud", "storage"),
        ("integration=abc", "integration"),
        ("page=+2", "page"),
        ("account=nobody", "account"),
        (&format!("q={long}"), "q"),
        ("account=acme&account=acme", "account"),
        ("q=%FF%FE", "none"),
    ] {
        let (status, html) = render(&store, query);
        if parameter == "none" {
            assert_eq!(status, 200, "{query}: invalid UTF-8 is decoded lossily");
            continue;
        }
        assert_eq!(status, 400, "{query}");
        assert!(
            html.contains(&format!("<li><code>{parameter}</code>: ")),
            "{query}: {}",
            &html[html.find("<main>").unwrap()..][..600]
        );
        assert!(html.contains("</html>"), "{query}: the whole page renders");
    }
    let (_, html) = render(&store, "per_page=+5&integration=%202");
    assert!(
        !html.contains("&#34; 5&#34;"),
        "a + is not echoed as a space"
    );
    assert_eq!(
        html.matches(
            "not a number: it contains a space (a + in a query string stands for a space)"
        )
        .count(),
        2
    );
    let (_, html) = render(&store, "sort=evil&per_page=0&account=nobody");
    assert_eq!(html.matches("<li><code>").count(), 3);
    assert_eq!(site_ids(&html).len(), 10, "defaults are used instead");
}

#[test]
fn hostile_site_urls_and_searches_are_shown_as_text() {
    let store = acme_store();
    let (_, html) = render(&store, "");
    assert!(!html.contains("<script>alert"), "no markup from data");
    assert!(html.contains(
        "<span class=\"url\">&#60;script&#62;alert(1)&#60;/script&#62;\n&#34;evil\\&#34;-ünï.example.net</span>"
    ));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script tag"
    );
    assert!(
        !has_event_handler_attribute(&html),
        "no inline event handlers at all"
    );

    let (_, html) = render(&store, "q=%22%3E%3Cscript%3Ealert(2)%3C%2Fscript%3E");
    assert!(!html.contains("<script>alert(2)"));
    assert!(html.contains("value=\"&#34;&#62;&#60;script&#62;alert(2)&#60;/script&#62;\""));

    let (_, html) = render(&store, "account=%3Cimg%20src%3Dx%3E");
    assert!(!html.contains("<img"));
    assert!(html.contains("no account named &#34;&#60;img src=x&#62;&#34; is configured"));
}

#[test]
fn hostile_account_names_are_escaped_too() {
    let name = "<b>\"acct\"</b>";
    let store = support::status::store(&[name]);
    Setup::ok(&store, name, support::status::snapshot_named(name));
    let (_, html) = render(&store, "");
    assert!(!html.contains("<b>"));
    assert!(html.contains("&#60;b&#62;&#34;acct&#34;&#60;/b&#62;"));
}

#[test]
fn the_schedules_table_shows_every_storage_in_words() {
    let (_, html) = render(&acme_store(), "");
    let row = |id: u64| site_row(&html, id);
    let healthy = row(1001);
    assert!(healthy.contains("<span class=\"badge ok\">OK</span>"));
    assert!(healthy.contains("<td data-label=\"Server\">web-01<div class=\"sub engine\""));
    assert!(healthy.contains(
        "<td data-label=\"Local backups\"><span class=\"pill on\">On</span> <span class=\"freq\" data-frequency=\"daily\">daily</span><div class=\"sub\">at 03:15</div></td>\
<td data-label=\"Local next run\"><time datetime=\"2026-11-23T03:15:00Z\">2026-11-23 03:15 UTC</time><div class=\"sub\">in 15 h 15 min</div></td>"
    ), "{healthy}");
    assert!(
        healthy.contains("weekly</span><div class=\"sub\">on Sunday at 04:00"),
        "{healthy}"
    );
    assert!(healthy.contains("Offsite S3 <span class=\"sub\">aws-s3</span>"));
    assert!(healthy.contains("local 30 days</span> <span class=\"sub prune\">daily, then weekly</span><br><span class=\"ret\">remote 90 days"));

    let off = row(1002);
    assert!(off.contains("<span class=\"badge bad\">Problem</span>"));
    assert!(off.contains("local backups are switched off"));
    assert!(off.contains("<span class=\"pill off\">Off</span> <span class=\"freq\" data-frequency=\"daily\">daily</span><div class=\"sub\">at 01:00</div>"));
    assert!(off.contains("<td data-label=\"Local next run\"><span class=\"sub\">none: automatic backups switched off</span></td>"));

    assert!(row(1003).contains("<span class=\"pill off\">No schedule</span>"));
    assert!(row(1003).contains("hourly</span><div class=\"sub\">at :30"));
    assert!(row(1004).contains("monthly</span><div class=\"sub\">on day 15 at 02:30"));
    assert!(row(1005).contains("<span class=\"pill off\">Not set up</span>"));
    assert!(row(1006).contains(
        "<span class=\"missing\">deleted integration #999</span> <span class=\"sub\">wasabi</span>"
    ));
    let short = row(1007);
    assert!(short.contains("<span class=\"badge warn\">Warning</span>"));
    assert!(short.contains("<span class=\"short\">local 2 days</span>"));
    assert!(row(1008).contains("local keep all"));
    let lost = row(1010);
    assert!(lost.contains("<td data-label=\"Server\"><span class=\"sub\">#99</span></td>"));
    assert!(lost.contains("local unknown"));
    assert!(lost.contains("<span class=\"sub\">none named</span>"));
}

#[test]
fn the_integrations_table_shows_use_and_what_is_missing() {
    let (_, html) = render(&acme_store(), "");
    let table = &html[html.find("id=\"integrations\"").unwrap()..];
    let statuses: Vec<&str> = table
        .split("data-status=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(
        statuses,
        vec!["missing", "unused", "in_use", "in_use"],
        "missing and unused first"
    );
    assert!(table.contains("deleted integration</span><div class=\"sub\">#999</div></td><td data-label=\"Provider\">wasabi</td>"));
    assert!(table.contains("referenced by 1 schedule but not in the account"));
    assert!(table.contains("Offsite S3<div class=\"sub\">#100</div></td><td data-label=\"Provider\">aws-s3</td><td data-label=\"Region\">us-east-1</td>"));
    let s3 = &table[table.find("data-integration-id=\"100\"").unwrap()..];
    assert!(
        s3.contains("#schedules-h\">4</a></td>"),
        "1001, 1003, 1007 and 1009"
    );
}

#[tokio::test]
async fn the_page_and_its_script_are_served_on_the_same_router_as_metrics() {
    let base = support::status::serve(acme_store()).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("{base}/?problems=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(h["cache-control"], "no-store");
    let body = resp.text().await.unwrap();
    assert_eq!(site_ids(&body).len(), 7);

    let (status, ctype, script) = support::status::get(&format!("{base}/static/status.js")).await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "text/javascript; charset=utf-8")
    );
    assert!(script.contains("data-js"));
    assert!(
        !script.contains("innerHTML"),
        "the script never builds markup from text"
    );

    let (status, _, html) = support::status::get(&format!("{base}/?page=zero")).await;
    assert_eq!(status, 400);
    assert!(html.contains("<li><code>page</code>: &#34;zero&#34; is not a page number</li>"));

    let (status, _, metrics) = support::status::get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(metrics.contains("gridpane_sites{account=\"acme\"} 10"));
}

/// Status, headers and body of one page request, with `accept-encoding`
/// when given; the body as sent, not decoded.
async fn fetch_page(url: &str, accept_encoding: Option<&str>) -> (u16, HeaderMap, Vec<u8>) {
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut req = client.get(url);
    if let Some(enc) = accept_encoding {
        req = req.header("accept-encoding", enc);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_page_is_gzipped_when_asked_with_the_same_html_and_headers() {
    let base = support::status::serve(acme_store()).await;
    for (query, status) in [("/?problems=1", 200), ("/?page=zero", 400)] {
        let url = format!("{base}{query}");
        // The page shows ages, so it may change between two requests: ask
        // plain, gzip, plain, until both plain answers agree.
        let mut agreed = None;
        for _ in 0..5 {
            let (_, _, before) = fetch_page(&url, None).await;
            let gz = fetch_page(&url, Some("gzip")).await;
            let plain = fetch_page(&url, None).await;
            if before == plain.2 {
                agreed = Some((plain, gz));
                break;
            }
        }
        let ((plain_status, plain_h, plain), (gz_status, gz_h, gz)) =
            agreed.expect("the page kept changing between requests");
        assert_eq!((plain_status, gz_status), (status, status), "{query}");

        assert_eq!(gz_h["content-encoding"], "gzip", "{query}");
        assert!(
            gz.len() < plain.len() / 3,
            "{query}: {} of {}",
            gz.len(),
            plain.len()
        );
        let mut html = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut html)
            .unwrap();
        assert_eq!(html, plain, "{query}: gzip decodes to the plain page");

        assert!(plain_h.get("content-encoding").is_none(), "{query}");
        for h in [&plain_h, &gz_h] {
            let vary: Vec<_> = h.get_all("vary").iter().collect();
            assert_eq!(vary, ["Accept-Encoding"], "{query}");
            assert_eq!(h["content-type"], "text/html; charset=utf-8");
            assert_eq!(h["cache-control"], "no-store");
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert_eq!(h["referrer-policy"], "no-referrer");
            assert!(
                h["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("default-src 'none'")
            );
        }
    }

    // Refused gzip, or none offered: the page as it is.
    for refused in ["gzip;q=0", "identity", "br"] {
        let (status, h, body) = fetch_page(&format!("{base}/"), Some(refused)).await;
        assert_eq!(status, 200, "{refused}");
        assert!(h.get("content-encoding").is_none(), "{refused}");
        assert!(body.starts_with(b"<!doctype html>"), "{refused}");
    }
}

#[test]
fn the_metrics_link_follows_the_telemetry_path_and_stays_relative() {
    let store = acme_store();
    let view = View::load(&store);
    let html = status_page::page(&view, None, now(), "/metrics").html;
    assert!(html.contains("<a href=\"./metrics\">Metrics</a>"));
    let html = status_page::page(&view, None, now(), "/javascript:alert(\"x\")").html;
    assert!(html.contains("<a href=\"./javascript:alert(&#34;x&#34;)\">Metrics</a>"));
}

#[test]
fn without_any_data_the_summary_shows_no_counts_that_read_as_all_clear() {
    let store = support::status::store(&["acme"]);
    Setup::failed_without_data(&store, "acme");
    let (_, html) = render(&store, "");
    assert!(
        html.contains("id=\"no-data\"><strong>No data yet.</strong>"),
        "{html}"
    );
    for card in [
        "count-sites",
        "count-problem",
        "count-unknown",
        "count-warning",
        "count-ok",
    ] {
        assert!(!html.contains(card), "no {card} card without data");
    }
    assert!(
        !html.contains("<span class=\"n\">0</span>"),
        "no zero counts"
    );

    // With one account's data, the counts say whom they cover.
    let store = support::status::store(&["acme", "globex"]);
    Setup::ok(&store, "acme", acme());
    Setup::failed_without_data(&store, "globex");
    let (_, html) = render(&store, "");
    assert!(html.contains(
        "id=\"counts-scope\">accounts with data only: 1 of 2 accounts has no data yet</span>"
    ));
    assert!(html.contains(
        "id=\"count-unknown\"><a href=\"?status=unknown\"><span class=\"n\">1</span> unknown"
    ));
    assert!(html.contains("id=\"count-ok\"><a href=\"?status=ok\"><span class=\"n\">3</span> OK"));
}

#[test]
fn problem_pills_are_links_to_the_filtered_list_and_look_like_links() {
    let (_, html) = render(&acme_store(), "");
    assert!(html.contains(
        "<li class=\"bad\" data-problem=\"local_disabled\"><a href=\"?problem=local_disabled\"><span class=\"n\">1</span>"
    ));
    assert!(
        html.contains("<li class=\"warn\" data-problem=\"short_retention\"><a href=\"?problem=short_retention\">"),
        "a site's reasons link to the sites with the same problem"
    );
    let rule = |selector: &str| {
        let start = html.find(&format!("{selector} {{")).unwrap();
        html[start..start + html[start..].find('}').unwrap()].to_string()
    };
    assert!(rule(".kinds li a").contains("text-decoration: underline"));
    assert!(rule(".kinds li a").contains("var(--link)"));
    assert!(rule(".reasons a").contains("text-decoration: underline"));
}

#[test]
fn frequency_and_next_run_are_columns_that_sort_and_filter() {
    let store = acme_store();
    let ids = |q: &str| site_ids(&render(&store, q).1);
    let (_, html) = render(&store, "");
    for column in ["local_frequency", "local", "remote_frequency", "remote"] {
        assert!(
            html.contains(&format!("data-sort-key=\"{column}\"")),
            "{column}"
        );
    }
    assert!(html.contains(
        "<td data-label=\"Remote backups\"><span class=\"pill on\">On</span> <span class=\"freq\" data-frequency=\"weekly\">weekly</span><div class=\"sub\">on Sunday at 04:00</div></td>"
    ));
    assert!(
        html.contains(
            "<td data-label=\"Remote next run\"><time datetime=\"2026-11-29T04:00:00Z\">"
        )
    );

    // Hourly first, sites without a schedule last.
    assert_eq!(ids("sort=remote_frequency").first(), Some(&1003));
    assert_eq!(ids("sort=remote_frequency").last(), Some(&1005));
    assert_eq!(&ids("sort=local_frequency")[8..], &[1005, 1003]);
    let desc = ids("sort=local_frequency&order=desc");
    assert_eq!((desc.first(), desc.last()), (Some(&1005), Some(&1003)));

    assert_eq!(ids("frequency=weekly"), vec![1005, 1001], "local or remote");
    assert_eq!(ids("frequency=weekly&storage=remote"), vec![1001]);
    assert_eq!(ids("frequency=hourly"), vec![1003]);
    assert_eq!(ids("enabled=off&storage=local"), vec![1002, 1003]);
    assert_eq!(ids("enabled=off&storage=remote"), vec![1005, 1004]);
    assert_eq!(ids("enabled=on&storage=remote").len(), 7);
    let (status, html) = render(&store, "frequency=yearly&enabled=maybe");
    assert_eq!(status, 400);
    assert!(html.contains("<code>frequency</code>"));
    assert!(html.contains("<code>enabled</code>"));
}

#[test]
fn an_integrations_site_count_leads_to_those_sites() {
    let store = acme_store();
    let (_, html) = render(&store, "");
    let integrations = &html[html.find("id=\"integrations\"").unwrap()..];
    assert!(integrations.contains(
        "<td data-label=\"Sites\" class=\"num\"><a href=\"?account=acme&#38;integration=100#schedules-h\">4</a></td>"
    ));
    assert_eq!(
        site_ids(&render(&store, "account=acme&integration=100").1),
        vec![1003, 1007, 1009, 1001]
    );
    assert_eq!(site_ids(&render(&store, "integration=999").1), vec![1006]);
    assert!(html.contains("<label>Integration <select name=\"integration\">"));
}

#[test]
fn the_server_filter_takes_the_label_the_page_shows() {
    let store = acme_store();
    let (_, by_id) = render(&store, "server=20");
    let (status, by_label) = render(&store, "server=web-02");
    assert_eq!(status, 200);
    assert_eq!(site_ids(&by_label), site_ids(&by_id));
    assert_eq!(site_ids(&by_label).len(), 4);
    assert!(by_label.contains("<option value=\"20\" selected>web-02</option>"));
    let (status, html) = render(&store, "server=web-99");
    assert_eq!(status, 200);
    assert!(html.contains("<option value=\"web-99\" selected>web-99 (not found)</option>"));
    assert!(site_ids(&html).is_empty());
}

#[test]
fn paging_links_are_above_and_below_the_table() {
    let (_, html) = render(&acme_store(), "per_page=3");
    let table = html.find("<table class=\"sites\"").unwrap();
    let navs: Vec<usize> = html
        .match_indices("<nav class=\"pages\"")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(navs.len(), 2);
    assert!(navs[0] < table && navs[1] > table);
}

#[test]
fn a_deleted_integration_shows_its_id_once() {
    let (_, html) = render(&acme_store(), "");
    let row_start = html.find("data-integration-id=\"999\"").unwrap();
    let row = &html[row_start..row_start + html[row_start..].find("</tr>").unwrap()];
    assert_eq!(row.matches("#999").count(), 1, "{row}");
    assert!(
        row.contains("deleted integration</span><div class=\"sub\">#999</div>"),
        "{row}"
    );
}

#[test]
fn the_backup_engine_and_prune_schedule_are_on_the_page() {
    let (_, html) = render(&acme_store(), "");
    let row = |id: u64| site_row(&html, id);
    assert!(
        row(1001)
            .contains("web-01<div class=\"sub engine\" title=\"backup engine\">v2 Duplicacy</div>")
    );
    assert!(
        row(1003).contains("web-02<div class=\"sub engine\" title=\"backup engine\">v1 Borg</div>")
    );
    assert!(row(1001).contains(
        "<span class=\"ret\">local 30 days</span> <span class=\"sub prune\">daily, then weekly</span>"
    ));
}

#[test]
fn a_site_whose_backup_record_was_read_shows_its_newest_backup_under_each_storage() {
    let store = support::status::acme_with_backup_record(1001);
    let (_, html) = render(&store, "");
    let row = site_row(&html, 1001);
    assert!(
        row.contains(
            "data-storage=\"local\">last backup <time datetime=\"2026-11-22T10:50:00Z\">1 h 10 min ago</time> · 3 held"
        ),
        "{row}"
    );
    assert!(
        row.contains("data-storage=\"remote\">no backup in GridPane's record"),
        "{row}"
    );
    assert!(row.contains("data-problem=\"never_backed_up\""), "{row}");
    assert!(!site_row(&html, 1002).contains("backup-last"));
}

#[test]
fn muted_problems_show_as_muted_expired_mutes_as_expired_and_each_card_leads_to_the_sites_it_counts()
 {
    use gridpane_backup_exporter::domain::policy::{Mute, SiteRef};
    use gridpane_backup_exporter::domain::{Policy, Problem};
    let store = acme_store();
    store.set_policy(
        Policy {
            mutes: vec![
                Mute {
                    sites: vec![SiteRef::parse("never-remote.example.com")],
                    problems: None,
                    until: "2026-11-30T00:00:00Z".parse().unwrap(),
                    reason: Arc::from("being <migrated>"),
                    ..Mute::default()
                },
                Mute {
                    sites: vec![SiteRef::parse("1006")],
                    problems: Some(vec![Problem::IntegrationMissing]),
                    until: "2026-11-01T00:00:00Z".parse().unwrap(),
                    reason: Arc::from("was being fixed"),
                    ..Mute::default()
                },
            ],
            ..Policy::default()
        },
        now(),
    );
    let (_, html) = render(&store, "per_page=1000");
    let muted = site_row(&html, 1005);
    assert!(
        muted.contains("<span class=\"badge ok\">OK</span>"),
        "{muted}"
    );
    assert!(
        muted.contains("data-muted=\"remote_not_set_up\"")
            && muted.contains("muted until the end of 2026-11-29: being &#60;migrated&#62;"),
        "{muted}"
    );
    assert!(
        !muted.contains("data-problem=\"remote_not_set_up\""),
        "{muted}"
    );
    assert!(site_row(&html, 1006).contains("data-problem=\"integration_missing\""));
    assert!(html.contains("data-mute-state=\"active\""), "{html}");
    assert!(
        html.contains(
            "data-mute-state=\"expired\">#1006 (integration_missing): <strong>expired</strong>"
        ),
        "{html}"
    );

    for (card, status) in [("problem", "problem"), ("warning", "warning"), ("ok", "ok")] {
        let start = html
            .find(&format!(
                "id=\"count-{card}\"><a href=\"?status={status}\"><span class=\"n\">"
            ))
            .unwrap();
        let rest = &html[start..];
        let rest = &rest[rest.find("class=\"n\">").unwrap() + 10..];
        let counted: usize = rest[..rest.find('<').unwrap()].parse().unwrap();
        let (_, listed) = render(&store, &format!("status={status}&per_page=1000"));
        let rows = site_ids(&listed);
        assert_eq!(
            rows.len(),
            counted,
            "{card}: the card leads to the sites it counts"
        );
        for id in rows {
            assert!(listed.contains(&format!(
                "<tr class=\"site {status}\" data-site-id=\"{id}\""
            )));
        }
    }
}

#[test]
fn the_filter_form_hands_its_defaults_to_the_script_which_repeats_none() {
    let (_, html) = render(&acme_store(), "");
    let defaults = PageQuery::default();
    assert!(
        html.contains(&format!(
            "data-defaults=\"sort={}&amp;order={}&amp;per_page={}\"",
            defaults.sort.as_str(),
            defaults.order.as_str(),
            defaults.per_page
        )),
        "{html}"
    );
    let script = status_page::SCRIPT;
    assert!(script.contains("getAttribute(\"data-defaults\")"));
    for repeated in ["\"status\"", "\"asc\"", "\"50\""] {
        assert!(
            !script.contains(repeated),
            "status.js repeats a default: {repeated}"
        );
    }
}

/// The whole page for a fixed store, time and query, byte for byte: a
/// change to the templates or the wording shows up here as a diff to
/// review. `UPDATE_GOLDEN=1` rewrites the file. Two accounts (one whose
/// first poll failed, named with markup and quotes), a policy with a group
/// and two mutes, a repeated parameter, and the second of two pages sorted
/// by URL backwards: the hostile URL, and a site with a backup record and
/// a muted problem.
#[test]
fn the_page_matches_the_golden_file() {
    use gridpane_backup_exporter::domain::policy::{Group, Match, Mute, Rules, SiteRef};
    use gridpane_backup_exporter::domain::{Policy, Problem};
    use gridpane_backup_exporter::render::metrics::{REVISION, VERSION};

    let hostile = "<b>\"beta\"</b> & 'co'";
    let store = support::status::store(&["acme", hostile]);
    Setup::ok(&store, "acme", acme());
    Setup::backup_record(&store, "acme", 1001);
    Setup::failed_without_data(&store, hostile);
    store.set_policy(
        Policy {
            groups: vec![Group {
                name: "<short> & \"kept\"".into(),
                matcher: Match {
                    url: Some(wildmatch::WildMatch::new("short*")),
                    ..Match::default()
                },
                rules: Rules {
                    min_retention_days: 1,
                    require_remote: false,
                    ..Rules::default()
                },
            }],
            mutes: vec![
                Mute {
                    sites: vec![SiteRef::parse("healthy.example.com")],
                    problems: None,
                    until: "2026-11-30T00:00:00Z".parse().unwrap(),
                    reason: Arc::from("being <migrated> & \"moved\""),
                    ..Mute::default()
                },
                Mute {
                    sites: vec![SiteRef::parse("1006")],
                    problems: Some(vec![Problem::IntegrationMissing]),
                    until: "2026-11-01T00:00:00Z".parse().unwrap(),
                    reason: Arc::from(""),
                    ..Mute::default()
                },
            ],
            ..Policy::default()
        },
        now(),
    );
    let (status, html) = render(&store, "sort=url&order=desc&per_page=7&page=2&page=3");
    assert_eq!(status, 400, "the repeated page is reported");
    // The version and the git revision change without the page changing.
    let html = html.replacen(
        &format!("gridpane-backup-exporter {VERSION} (revision {REVISION})"),
        "gridpane-backup-exporter VERSION (revision REVISION)",
        1,
    );

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/status_page.html");
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, &html).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .expect("tests/fixtures/status_page.html (UPDATE_GOLDEN=1 writes it)");
    assert!(
        html == golden,
        "the page differs from tests/fixtures/status_page.html; rerun with UPDATE_GOLDEN=1 and review the diff"
    );
}
