//! The JSON API: its documented answers, every filter, bad input, and that
//! no secret ever shows.

use crate::support;

use std::io::Read as _;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use gridpane_backup_exporter::config::access::Scope;
use gridpane_backup_exporter::fake::{SECRET_SECRET_SENTINEL, SECRET_TOKEN_SENTINEL};
use gridpane_backup_exporter::http::Web;
use gridpane_backup_exporter::http::access::Viewer;
use gridpane_backup_exporter::http::api::shared_answer;
use gridpane_backup_exporter::render::api::{self, ListRoute, View};
use gridpane_backup_exporter::render::metrics::REVISION;
use gridpane_backup_exporter::store::Store;
use serde_json::{Value, json};
use support::status::{Setup, acme, acme_store, now};

/// acme polled fine, globex failing with two-hour-old data, initech waiting
/// for its first poll.
fn three_accounts() -> Arc<Store> {
    let store = support::status::store(&["acme", "globex", "initech"]);
    Setup::ok(&store, "acme", acme());
    Setup::failed_with_old_data(&store, "globex");
    Setup::polling_first(&store, "initech");
    Arc::new(store)
}

/// Answers an API path (with query) from a view, as the handlers do: the
/// answer, or the 400 error.
fn answer(view: &View, path_and_query: &str) -> Result<Value, Value> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let value = match path {
        "/api/v1/status" => Ok(serde_json::to_value(api::status(view, now())).unwrap()),
        "/api/v1/sites" => api::sites(view, query, now()).map(|a| serde_json::to_value(a).unwrap()),
        "/api/v1/schedules" => {
            api::schedules(view, query, now()).map(|a| serde_json::to_value(a).unwrap())
        }
        "/api/v1/integrations" => {
            api::integrations(view, query).map(|a| serde_json::to_value(a).unwrap())
        }
        other => panic!("no endpoint {other}"),
    };
    value.map_err(|e| serde_json::to_value(e).unwrap())
}

/// The answer as the server writes it (fields in their documented order),
/// pretty-printed, with the build revision blanked out.
fn pretty(view: &View, path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let text = match path {
        "/api/v1/status" => serde_json::to_string_pretty(&api::status(view, now())),
        "/api/v1/sites" => match api::sites(view, query, now()) {
            Ok(a) => serde_json::to_string_pretty(&a),
            Err(e) => serde_json::to_string_pretty(&e),
        },
        "/api/v1/schedules" => match api::schedules(view, query, now()) {
            Ok(a) => serde_json::to_string_pretty(&a),
            Err(e) => serde_json::to_string_pretty(&e),
        },
        "/api/v1/integrations" => match api::integrations(view, query) {
            Ok(a) => serde_json::to_string_pretty(&a),
            Err(e) => serde_json::to_string_pretty(&e),
        },
        other => panic!("no endpoint {other}"),
    }
    .unwrap();
    text.replace(
        &format!("\"revision\": \"{REVISION}\""),
        "\"revision\": \"0123456789ab\"",
    ) + "\n"
}

fn ok(view: &View, path_and_query: &str) -> Value {
    answer(view, path_and_query).unwrap_or_else(|e| panic!("{path_and_query}: {e}"))
}

fn ids(v: &Value, list: &str, key: &str) -> Vec<u64> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[key].as_u64().unwrap())
        .collect()
}

/// Answers to a fixed store, kept exactly in fixtures so that a change to
/// the API shows. The ones docs/api.md shows with that store (the others it
/// shows from the demo) are named in [`IN_DOCS`].
const EXAMPLES: [(&str, &str); 6] = [
    ("/api/v1/status", "status.json"),
    ("/api/v1/sites?account=acme&site_id=1006", "sites.json"),
    (
        "/api/v1/schedules?account=acme&site_id=1001",
        "schedules.json",
    ),
    (
        "/api/v1/schedules?account=acme&site_id=1001&limit=1&offset=1",
        "schedules_page.json",
    ),
    ("/api/v1/integrations?account=acme", "integrations.json"),
    ("/api/v1/sites?server_id=web-01", "error.json"),
];

const IN_DOCS: [&str; 2] = ["status.json", "error.json"];

#[test]
fn the_documented_examples_are_what_the_api_answers() {
    let store = three_accounts();
    let view = View::load(&store);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/status/api");
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md"),
    )
    .unwrap();
    let update = std::env::var_os("UPDATE_API_EXAMPLES").is_some();
    for (request, file) in EXAMPLES {
        let pretty = pretty(&view, request);
        let path = dir.join(file);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &pretty).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            pretty, expected,
            "{request} changed; the API must stay stable (UPDATE_API_EXAMPLES=1 rewrites {file} if the change is intended)"
        );
        if IN_DOCS.contains(&file) {
            assert!(
                docs.contains(&pretty),
                "docs/api.md must show the answer to {request} from {file}"
            );
        }
    }
}

#[test]
fn pages_cover_every_match_once_and_say_where_the_next_one_starts() {
    let store = three_accounts();
    let view = View::load(&store);
    for (list, key, query) in [
        ("sites", "id", "/api/v1/sites?"),
        ("schedules", "site_id", "/api/v1/schedules?storage=remote&"),
    ] {
        let whole = ok(&view, query.trim_end_matches(['?', '&']));
        let total = whole["count"].as_u64().unwrap() as usize;
        assert!(total > 3, "{list}: a list long enough to page");
        assert!(whole.get("page").is_none(), "no page asked, none described");

        let mut seen = Vec::new();
        let mut offset = Some(0);
        while let Some(at) = offset {
            let page = ok(&view, &format!("{query}limit=3&offset={at}"));
            let got = ids(&page, list, key);
            assert!(got.len() <= 3, "{list} at {at}");
            assert_eq!(page["count"], json!(got.len()));
            assert_eq!(page["page"]["total"], json!(total));
            assert_eq!(page["page"]["offset"], json!(at));
            assert_eq!(page["page"]["limit"], json!(3));
            seen.extend(got);
            offset = page["page"]["next_offset"].as_u64().map(|n| n as usize);
            assert!(
                offset.is_none_or(|n| n == seen.len()),
                "{list}: next_offset"
            );
        }
        assert_eq!(
            seen,
            ids(&whole, list, key),
            "{list}: every entry once, in order"
        );

        let past = ok(&view, &format!("{query}offset={total}"));
        assert_eq!(past["count"], json!(0));
        assert_eq!(past["page"]["next_offset"], Value::Null);
        assert_eq!(past["page"]["limit"], Value::Null);
    }
}

#[test]
fn status_tells_every_account_state_apart() {
    let store = three_accounts();
    let v = ok(&View::load(&store), "/api/v1/status");
    assert_eq!(v["ready"], json!(false), "initech has not finished a poll");
    assert_eq!(v["generated_at"], json!("2026-11-22T12:00:00Z"));
    let accounts = v["accounts"].as_array().unwrap();
    let (acme, globex, initech) = (&accounts[0], &accounts[1], &accounts[2]);

    assert_eq!(acme["state"], json!("ok"));
    assert_eq!(acme["last_poll"]["ok"], json!(true));
    assert_eq!(acme["last_poll"]["age_seconds"], json!(120));
    assert_eq!(acme["last_poll"]["duration_seconds"], json!(1.235));
    assert_eq!(acme["next_poll_at"], json!("2026-11-22T12:03:00Z"));
    assert_eq!(acme["data"]["sites"], json!(10));
    assert_eq!(acme["data"]["sites_with_problem"], json!(5));
    assert_eq!(acme["data"]["sites_with_warning"], json!(1));
    assert_eq!(acme["data"]["problems"]["integration_missing"], json!(1));

    assert_eq!(globex["state"], json!("failed"));
    assert_eq!(globex["last_poll"]["error"]["reason"], json!("http_5xx"));
    assert_eq!(
        globex["last_poll"]["error"]["message"],
        json!(
            "account \"globex\": GET https://my.gridpane.com/oauth/api/v1/site?page=1&per_page=200: HTTP 503"
        )
    );
    assert_eq!(
        globex["data"]["age_seconds"],
        json!(7200),
        "the data shown is two hours old"
    );

    assert_eq!(initech["state"], json!("first_poll_in_progress"));
    assert_eq!(initech["polling"], json!(true));
    assert_eq!(initech["last_poll"], Value::Null);
    assert_eq!(initech["data"], Value::Null);

    assert_eq!(
        v["totals"]["sites"],
        json!(20),
        "acme and globex's stale data"
    );
    assert_eq!(v["totals"]["sites_with_problem"], json!(10));
}

/// The entry of one site in a `/api/v1/sites` answer.
fn site_entry(answer: &Value, id: u64) -> Value {
    answer["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == json!(id))
        .unwrap()
        .clone()
}

#[test]
fn sites_carry_the_derived_backup_state() {
    let store = acme_store();
    let view = View::load(&store);
    let v = ok(&view, "/api/v1/sites");
    assert_eq!(v["count"], json!(10));
    let site = |id: u64| site_entry(&v, id);

    let healthy = site(1001);
    assert_eq!(healthy["status"], json!("ok"));
    assert_eq!(healthy["problems"], json!([]));
    assert_eq!(healthy["server_label"], json!("web-01"));
    assert_eq!(healthy["remote_configured"], json!(true));
    assert_eq!(healthy["integration_missing"], json!(false));
    assert_eq!(healthy["local"]["enabled"], json!(true));
    assert_eq!(
        healthy["local"]["schedule"]["next_run"],
        json!("2026-11-23T03:15:00Z")
    );
    assert_eq!(
        healthy["local"]["schedule"]["next_run_unix"],
        json!(1_795_403_700)
    );
    assert_eq!(
        healthy["local"]["schedule"]["interval_seconds"],
        json!(86_400)
    );
    assert_eq!(healthy["remote"]["schedule"]["frequency"], json!("weekly"));
    assert_eq!(healthy["remote"]["retention_days"], json!(90));
    assert_eq!(healthy["remote"]["keep_all"], json!(false));
    assert_eq!(
        healthy["remote"]["integration"],
        json!({"id": 100, "name": "Offsite S3", "provider": "aws-s3", "region": "us-east-1", "missing": false})
    );
    assert_eq!(healthy["local"]["integration"], Value::Null);

    let codes = |s: &Value| -> Vec<String> {
        s["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(codes(&site(1002)), ["local_disabled"]);
    assert_eq!(
        site(1002)["problems"][0]["severity"],
        json!("critical"),
        "a problem's severity in the words of /metrics' severity label, never the status `problem`"
    );
    assert_eq!(site(1002)["status"], json!("problem"));
    assert_eq!(site(1002)["local"]["enabled"], json!(false));
    assert_eq!(site(1002)["local"]["automatic"], json!(false));
    assert_eq!(codes(&site(1003)), ["local_not_scheduled"]);
    assert_eq!(site(1003)["local"]["schedule"], Value::Null);
    assert_eq!(codes(&site(1004)), ["remote_disabled"]);
    assert_eq!(codes(&site(1005)), ["remote_not_set_up"]);
    let orphan = site(1006);
    assert_eq!(codes(&orphan), ["integration_missing"]);
    assert_eq!(orphan["remote_configured"], json!(false));
    assert_eq!(orphan["integration_missing"], json!(true));
    assert_eq!(orphan["remote"]["integration"]["missing"], json!(true));
    assert_eq!(orphan["remote"]["integration"]["provider"], json!("wasabi"));
    assert_eq!(
        orphan["remote"]["problems"][0]["code"],
        json!("integration_missing")
    );
    assert_eq!(orphan["local"]["problems"], json!([]));
    let short = site(1007);
    assert_eq!(short["status"], json!("warning"));
    assert_eq!(
        short["problems"],
        json!([{"code": "short_retention", "text": "backups are kept for less than the policy's minimum", "severity": "warning"}])
    );
    assert_eq!(
        short["local"]["problems"][0]["code"],
        json!("short_retention")
    );
    assert_eq!(short["remote"]["problems"], json!([]));
    assert_eq!(site(1008)["local"]["keep_all"], json!(true));
    assert_eq!(site(1008)["local"]["retention_days"], json!(0));
    assert_eq!(
        site(1009)["url"],
        json!("<script>alert(1)</script>\n\"evil\\\"-ünï.example.net"),
        "JSON carries the URL as it is; escaping is the reader's job"
    );
    let lost = site(1010);
    assert_eq!(lost["server_label"], Value::Null);
    assert_eq!(lost["integration_missing"], Value::Null);
    assert_eq!(lost["local"]["automatic"], Value::Null);
    assert_eq!(lost["local"]["retention_days"], Value::Null);
}

#[test]
fn sites_and_schedules_filter_by_account_server_and_site() {
    let store = support::status::store(&["acme", "globex"]);
    Setup::ok(&store, "acme", acme());
    let mut globex = support::status::snapshot_named("globex");
    globex.sites.truncate(2);
    Setup::ok(&store, "globex", globex);
    let view = View::load(&store);

    assert_eq!(ok(&view, "/api/v1/sites")["count"], json!(12));
    assert_eq!(ok(&view, "/api/v1/sites?account=globex")["count"], json!(2));
    assert_eq!(
        ids(
            &ok(&view, "/api/v1/sites?account=acme&server_id=20"),
            "sites",
            "id"
        ),
        [1003, 1004, 1006, 1008]
    );
    assert_eq!(
        ok(&view, "/api/v1/sites?server_id=10")["count"],
        json!(7),
        "5 of acme, 2 of globex"
    );
    assert_eq!(
        ok(&view, "/api/v1/sites?site_id=1001")["count"],
        json!(2),
        "the id is in both accounts"
    );
    assert_eq!(ok(&view, "/api/v1/sites?site_id=424242")["count"], json!(0));
    assert_eq!(
        ok(&view, "/api/v1/sites?server_id=424242")["count"],
        json!(0)
    );

    assert_eq!(
        ok(&view, "/api/v1/schedules")["count"],
        json!(24),
        "two storages per site"
    );
    assert_eq!(
        ok(&view, "/api/v1/schedules?account=globex")["count"],
        json!(4)
    );
    assert_eq!(
        ok(&view, "/api/v1/schedules?account=acme&server_id=20")["count"],
        json!(8)
    );
    let one = ok(&view, "/api/v1/schedules?account=acme&site_id=1003");
    let storages: Vec<&Value> = one["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["storage"])
        .collect();
    assert_eq!(storages, [&json!("local"), &json!("remote")]);
    assert_eq!(
        one["schedules"][0]["schedule"],
        Value::Null,
        "an unscheduled storage is listed too"
    );
    assert_eq!(
        one["schedules"][0]["problems"][0]["code"],
        json!("local_not_scheduled")
    );
    assert_eq!(
        one["schedules"][1]["schedule"]["frequency"],
        json!("hourly")
    );
    assert_eq!(
        one["schedules"][1]["schedule"]["next_run"],
        json!("2026-11-22T12:30:00Z")
    );

    let remote = ok(&view, "/api/v1/schedules?account=acme&storage=remote");
    assert_eq!(remote["count"], json!(10));
    assert!(
        remote["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["storage"] == json!("remote"))
    );
    assert_eq!(
        ok(&view, "/api/v1/schedules?storage=local&site_id=1001")["count"],
        json!(2)
    );
}

#[test]
fn integrations_filter_by_account_and_site() {
    let store = support::status::store(&["acme", "globex"]);
    Setup::ok(&store, "acme", acme());
    Setup::ok(&store, "globex", support::status::empty_snapshot("globex"));
    let view = View::load(&store);

    let all = ok(&view, "/api/v1/integrations");
    assert_eq!(ids(&all, "integrations", "id"), [100, 200, 300, 999]);
    let statuses: Vec<&Value> = all["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["status"])
        .collect();
    assert_eq!(
        statuses,
        [
            &json!("in_use"),
            &json!("in_use"),
            &json!("unused"),
            &json!("missing")
        ]
    );
    assert_eq!(all["integrations"][0]["sites"], json!(4));
    assert_eq!(
        all["integrations"][3],
        json!({"account": "acme", "id": 999, "name": null, "provider": "wasabi", "region": null, "sites": 1, "status": "missing"})
    );

    assert_eq!(
        ok(&view, "/api/v1/integrations?account=globex")["count"],
        json!(0)
    );
    assert_eq!(
        ids(
            &ok(&view, "/api/v1/integrations?site_id=1006"),
            "integrations",
            "id"
        ),
        [999]
    );
    assert_eq!(
        ids(
            &ok(&view, "/api/v1/integrations?site_id=1001"),
            "integrations",
            "id"
        ),
        [100]
    );
    assert_eq!(
        ok(&view, "/api/v1/integrations?site_id=1005")["count"],
        json!(0),
        "no remote schedule"
    );
    assert_eq!(
        ok(&view, "/api/v1/integrations?site_id=424242")["count"],
        json!(0)
    );
    assert_eq!(
        ok(&view, "/api/v1/integrations?account=globex&site_id=1001")["count"],
        json!(0)
    );
}

#[test]
fn before_the_first_poll_the_lists_are_empty_not_errors() {
    let store = support::status::store(&["acme"]);
    let view = View::load(&store);
    for path in ["/api/v1/sites", "/api/v1/schedules", "/api/v1/integrations"] {
        assert_eq!(ok(&view, path)["count"], json!(0), "{path}");
    }
    let v = ok(&view, "/api/v1/status");
    assert_eq!(v["accounts"][0]["state"], json!("first_poll_in_progress"));
    assert_eq!(v["totals"]["sites"], json!(0));
}

#[tokio::test]
async fn bad_filter_values_get_400_naming_the_parameter() {
    let base = support::status::serve(acme_store()).await;
    let long_number = "9".repeat(30);
    let cases = [
        ("/api/v1/sites?account=nobody", "account"),
        ("/api/v1/sites?account=", "account"),
        ("/api/v1/sites?server_id=web-01", "server_id"),
        ("/api/v1/sites?server_id=-1", "server_id"),
        ("/api/v1/sites?server_id=%2B1", "server_id"),
        (
            &format!("/api/v1/sites?server_id={long_number}"),
            "server_id",
        ),
        ("/api/v1/sites?site_id=1.5", "site_id"),
        ("/api/v1/sites?site_id=1&site_id=2", "site_id"),
        ("/api/v1/sites?page=2", "page"),
        ("/api/v1/sites?limit=0", "limit"),
        ("/api/v1/sites?limit=ten", "limit"),
        ("/api/v1/schedules?offset=-1", "offset"),
        ("/api/v1/integrations?limit=5", "limit"),
        ("/api/v1/sites?storage=local", "storage"),
        ("/api/v1/schedules?account=%3Cscript%3E", "account"),
        ("/api/v1/schedules?server_id=%00", "server_id"),
        ("/api/v1/schedules?site_id=%F0%9F%92%A5", "site_id"),
        ("/api/v1/schedules?storage=cloud", "storage"),
        ("/api/v1/integrations?server_id=10", "server_id"),
        ("/api/v1/integrations?site_id=abc", "site_id"),
        ("/api/v1/integrations?account=nobody", "account"),
        ("/api/v1/status?account=acme", "account"),
        ("/api/v1/status?verbose", "verbose"),
        ("/api/v1/sites?status=bad", "status"),
        ("/api/v1/sites?problem=backup_missing", "problem"),
        ("/api/v1/schedules?status=ok", "status"),
    ];
    for (path, parameter) in cases {
        let (status, ctype, body) = support::status::get(&format!("{base}{path}")).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(ctype, "application/json", "{path}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["parameter"], json!(parameter), "{path}: {body}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
        assert_eq!(
            v.as_object().unwrap().len(),
            2,
            "{path}: only error and parameter"
        );
    }
    let (_, _, body) = support::status::get(&format!("{base}/api/v1/sites?server_id=web-01")).await;
    assert_eq!(
        body,
        r#"{"error":"\"web-01\" is not an id; expected a whole number such as 12345","parameter":"server_id"}"#
    );
}

#[tokio::test]
async fn every_endpoint_answers_json_over_http() {
    let base = support::status::serve(acme_store()).await;
    for path in [
        "/api/v1/status",
        "/api/v1/sites",
        "/api/v1/schedules",
        "/api/v1/integrations",
    ] {
        let (status, ctype, body) = support::status::get(&format!("{base}{path}")).await;
        assert_eq!(
            (status, ctype.as_str()),
            (200, "application/json"),
            "{path}"
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v.is_object(), "{path}");
    }
    let (status, ctype, body) = support::status::get(&format!("{base}/api/v1/backups")).await;
    assert_eq!((status, ctype.as_str()), (404, "application/json"));
    assert!(body.contains("no such endpoint"));
}

#[tokio::test]
async fn large_answers_are_gzipped_when_the_client_asks() {
    let base = support::status::serve(acme_store()).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let resp = client
        .get(format!("{base}/api/v1/sites"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["count"], json!(10));
}

/// Serves `web`'s router on a loopback port; the base URL.
async fn serve_web(web: Web) -> String {
    let router = gridpane_backup_exporter::http::router(Arc::new(web));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// Status, `content-encoding`, `vary` values and the body as sent.
async fn fetch_raw(url: &str, gzip: bool) -> (u16, Option<String>, Vec<String>, Vec<u8>) {
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut req = client.get(url);
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let resp = req.send().await.unwrap();
    let h = resp.headers();
    let encoding = h
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string());
    let vary = h
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (
        resp.status().as_u16(),
        encoding,
        vary,
        resp.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn answers_built_per_request_are_gzipped_and_shared_ones_never_twice() {
    let store = three_accounts();
    let (_, all) = shared(
        &Web::new(Arc::clone(&store), "/metrics".to_string()),
        ListRoute::Sites,
        None,
        false,
    )
    .await;
    // Room for the plain site list, none for its gzip.
    let web = Web::new(Arc::clone(&store), "/metrics".to_string()).with_api_answer_bytes(all.len());
    let base = serve_web(web).await;

    let (status, encoding, vary, plain) = fetch_raw(&format!("{base}/api/v1/status"), false).await;
    assert_eq!(
        (status, encoding, vary),
        (200, None, vec!["Accept-Encoding".into()])
    );
    assert!(plain.len() > 1024, "too small to be gzipped");
    let (status, encoding, vary, gz) = fetch_raw(&format!("{base}/api/v1/status"), true).await;
    assert_eq!(
        (status, encoding.as_deref(), vary),
        (200, Some("gzip"), vec!["Accept-Encoding".into()])
    );
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut text)
        .unwrap();
    let (mut plain, mut text): (Value, Value) = (
        serde_json::from_slice(&plain).unwrap(),
        serde_json::from_slice(&text).unwrap(),
    );
    // The two answers are built a moment apart: ages may differ by a second.
    without_ages(&mut plain);
    without_ages(&mut text);
    assert_eq!(plain["accounts"], text["accounts"]);

    // 1024 bytes or less: as it is.
    let (status, encoding, vary, index) = fetch_raw(&format!("{base}/api/v1/"), true).await;
    assert!(index.len() <= 1024, "{}", index.len());
    assert_eq!(
        (status, encoding, vary),
        (200, None, vec!["Accept-Encoding".into()])
    );

    // The budget has no room to gzip the shared list: it is sent as it is,
    // not compressed per request instead.
    let (status, encoding, vary, body) = fetch_raw(&format!("{base}/api/v1/sites"), true).await;
    assert_eq!(
        (status, encoding, vary),
        (200, None, vec!["Accept-Encoding".into()])
    );
    assert_eq!(body, all);
}

#[tokio::test]
async fn no_answer_carries_a_provider_secret() {
    let (_fake, app) = support::start_demo().await;
    let base = format!("http://{}", app.addr);
    for path in [
        "/",
        "/?problems=1",
        "/api/v1/status",
        "/api/v1/sites",
        "/api/v1/schedules",
        "/api/v1/integrations",
    ] {
        let (status, _, body) = support::status::get(&format!("{base}{path}")).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.len() > 500, "{path}: {body}");
        for secret in [SECRET_TOKEN_SENTINEL, SECRET_SECRET_SENTINEL, "demo-token"] {
            assert!(!body.contains(secret), "{path} leaks {secret}");
        }
    }
    app.shutdown().await;
}

/// `--demo` reads every site's backup record (`poll.detail.history`) and
/// builds its configuration in code, not from a file: a site whose record
/// has not been read yet is pending there too, never OK.
#[tokio::test]
async fn on_the_demo_no_site_is_ok_before_its_backup_record_is_read() {
    let (_fake, app) = support::start_demo().await;
    let base = format!("http://{}", app.addr);
    let (status, _, body) = support::status::get(&format!("{base}/api/v1/sites")).await;
    assert_eq!(status, 200);
    let sites: Value = serde_json::from_str(&body).unwrap();
    let sites = sites["sites"].as_array().unwrap();
    assert!(sites.len() >= 40, "{}", sites.len());
    let unread_ok: Vec<&Value> = sites
        .iter()
        .filter(|s| s["status"] == "ok" && s["backups"].is_null())
        .map(|s| &s["url"])
        .collect();
    assert!(
        unread_ok.is_empty(),
        "OK with no record read: {unread_ok:?}"
    );
    // Right after the first poll most records are still unread.
    let pending = sites.iter().filter(|s| s["status"] == "pending").count();
    assert!(pending > 0, "no site waits for its record");
    app.shutdown().await;
}

/// A list answer through the handler's path, and its body.
async fn shared(web: &Web, endpoint: ListRoute, query: Option<&str>, gzip: bool) -> (u16, Bytes) {
    let mut headers = HeaderMap::new();
    if gzip {
        headers.insert("accept-encoding", HeaderValue::from_static("gzip"));
    }
    let resp = shared_answer(web, &Viewer::everyone(), endpoint, query, &headers).await;
    let status = resp.status().as_u16();
    (
        status,
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn requests_for_the_same_snapshots_and_query_share_one_body() {
    let store = three_accounts();
    let web = Web::new(Arc::clone(&store), "/metrics".to_string());
    for (endpoint, query) in [
        (ListRoute::Sites, None),
        (ListRoute::Schedules, Some("account=acme")),
        (ListRoute::Integrations, None),
    ] {
        for gzip in [false, true] {
            let (_, first) = shared(&web, endpoint, query, gzip).await;
            let (_, again) = shared(&web, endpoint, query, gzip).await;
            assert_eq!(first, again);
            assert_eq!(
                first.as_ptr(),
                again.as_ptr(),
                "{endpoint:?} {query:?} gzip={gzip}: each request built its own body"
            );
        }
    }
    let (_, all) = shared(&web, ListRoute::Sites, None, false).await;
    let (_, acme_only) = shared(&web, ListRoute::Sites, Some("account=acme&limit=2"), false).await;
    assert_ne!(
        all.as_ptr(),
        acme_only.as_ptr(),
        "another query, another body"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&acme_only).unwrap()["count"],
        2
    );

    // A new snapshot is a new answer.
    let mut acme2 = acme();
    acme2.sites.truncate(1);
    Setup::ok(&store, "acme", acme2);
    let (_, after) = shared(&web, ListRoute::Sites, Some("account=acme&limit=2"), false).await;
    assert_eq!(serde_json::from_slice::<Value>(&after).unwrap()["count"], 1);
}

#[tokio::test]
async fn a_shared_answer_never_serves_a_viewer_of_other_accounts() {
    // Neither account has data yet, so both views hold the same (no)
    // snapshots: only the scope tells the two viewers apart.
    let store = Arc::new(support::status::store(&["client-a", "client-b"]));
    let web = Web::new(Arc::clone(&store), "/metrics".to_string());
    let viewer = |name: &str| Viewer::new(Arc::new(Scope::Accounts([name.to_string()].into())));
    let ask = |viewer: Viewer| {
        let web = &web;
        async move {
            let resp = shared_answer(
                web,
                &viewer,
                ListRoute::Sites,
                Some("account=client-a"),
                &HeaderMap::new(),
            )
            .await;
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    assert_eq!(ask(viewer("client-a")).await.0, 200);
    let (status, body) = ask(viewer("client-b")).await;
    let (_, nonexistent) = shared(&web, ListRoute::Sites, Some("account=client-z"), false).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        String::from_utf8(nonexistent.to_vec())
            .unwrap()
            .replace("client-z", "client-a"),
        "an account one may not see answers as one that does not exist"
    );
}

#[tokio::test]
async fn answer_bodies_held_at_once_stay_within_the_budget() {
    let store = three_accounts();
    let (_, all) = shared(
        &Web::new(Arc::clone(&store), "/metrics".to_string()),
        ListRoute::Sites,
        None,
        false,
    )
    .await;
    // Room for one full answer, not two.
    let web = Web::new(Arc::clone(&store), "/metrics".to_string())
        .with_api_answer_bytes(all.len() * 3 / 2);

    // A client that never reads holds its answer...
    let stalled = shared_answer(
        &web,
        &Viewer::everyone(),
        ListRoute::Sites,
        None,
        &HeaderMap::new(),
    )
    .await;
    assert_eq!(stalled.status().as_u16(), 200);
    // ...which others asking the same share...
    assert_eq!(shared(&web, ListRoute::Sites, None, false).await.0, 200);
    // ...but a second full-size answer has no room.
    let (status, _) = shared(&web, ListRoute::Sites, Some("limit=100000"), false).await;
    assert_eq!(status, 503, "a second full-size answer found room");
    // Small answers still fit.
    assert_eq!(
        shared(&web, ListRoute::Integrations, None, false).await.0,
        200
    );

    drop(stalled);
    assert_eq!(
        shared(&web, ListRoute::Sites, Some("limit=100000"), false)
            .await
            .0,
        200,
        "the budget is free again once the answer is gone"
    );
}

/// Every `GET /api/...` line in docs/api.md with the JSON block after it.
fn documented_requests() -> Vec<(String, Value)> {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md"),
    )
    .unwrap();
    let mut out = Vec::new();
    let mut lines = docs.lines();
    while let Some(line) = lines.next() {
        let Some(request) = line.strip_prefix("GET /api/") else {
            continue;
        };
        let block: Vec<&str> = lines
            .by_ref()
            .skip_while(|l| *l != "```json")
            .skip(1)
            .take_while(|l| *l != "```")
            .collect();
        let json = serde_json::from_str(&block.join("\n"))
            .unwrap_or_else(|e| panic!("the answer to GET /api/{request} in docs/api.md: {e}"));
        out.push((format!("/api/{request}"), json));
    }
    out
}

/// `v` with every `age_seconds` (and `*_age_seconds`) key removed.
fn without_ages(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.ends_with("age_seconds"));
            map.values_mut().for_each(without_ages);
        }
        Value::Array(items) => items.iter_mut().for_each(without_ages),
        _ => {}
    }
}

/// Values that depend on when the request is made.
const TIME_DEPENDENT: [&str; 16] = [
    // The demo reads its sites' backup records over its first minutes
    // (`poll.detail.history`); until a site's is read, the site is pending,
    // not OK: how many are either depends on when the request is made.
    "sites_ok",
    "sites_pending",
    "revision",
    "generated_at",
    "generated_at_unix",
    "finished_at",
    "finished_at_unix",
    "fetched_at",
    "fetched_at_unix",
    "age_seconds",
    "duration_seconds",
    "requests",
    "polling",
    "next_poll_at",
    "next_poll_at_unix",
    "next_run",
];

/// Where `actual` differs from `documented`: other keys (or key order),
/// other kinds, other list lengths, or other values outside
/// [`TIME_DEPENDENT`] keys (whose kind still has to match).
fn differences(path: &str, documented: &Value, actual: &Value, out: &mut Vec<String>) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match (documented, actual) {
        (Value::Object(d), Value::Object(a)) => {
            let (dk, ak): (Vec<_>, Vec<_>) = (d.keys().collect(), a.keys().collect());
            if dk != ak {
                out.push(format!("{path}: keys {dk:?} documented, {ak:?} answered"));
                return;
            }
            for (k, dv) in d {
                let child = format!("{path}.{k}");
                let time = TIME_DEPENDENT.contains(&k.as_str())
                    || k == "next_run_unix"
                    || (k == "version" && path.is_empty());
                if time {
                    if kind(dv) != kind(&a[k]) && !dv.is_null() && !a[k].is_null() {
                        out.push(format!(
                            "{child}: a {} documented, a {} answered",
                            kind(dv),
                            kind(&a[k])
                        ));
                    }
                } else {
                    differences(&child, dv, &a[k], out);
                }
            }
        }
        (Value::Array(d), Value::Array(a)) if d.len() == a.len() => {
            for (i, (dv, av)) in d.iter().zip(a).enumerate() {
                differences(&format!("{path}[{i}]"), dv, av, out);
            }
        }
        (d, a) if d != a => out.push(format!("{path}: {d} documented, {a} answered")),
        _ => {}
    }
}

#[tokio::test]
async fn every_documented_request_gives_the_documented_answer_on_the_demo() {
    let (_fake, app) = support::start_demo().await;
    let requests = documented_requests();
    assert!(requests.len() >= 8, "{requests:?}");
    let mut wrong = Vec::new();
    for (request, documented) in &requests {
        let (_, body) = support::get(&app, request).await;
        let actual: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {request} answered no JSON ({e}): {body}"));
        let mut diffs = Vec::new();
        differences("", documented, &actual, &mut diffs);
        if !diffs.is_empty() {
            wrong.push(format!("GET {request}:\n  {}", diffs.join("\n  ")));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/api.md does not match the demo:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_api_root_answers_with_its_index() {
    let base = support::status::serve(acme_store()).await;
    for root in ["/api/v1", "/api/v1/"] {
        let (status, ctype, body) = support::status::get(&format!("{base}{root}")).await;
        assert_eq!(
            (status, ctype.as_str()),
            (200, "application/json"),
            "{root}"
        );
        let index: Value = serde_json::from_str(&body).unwrap();
        let endpoints = index["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 4, "{body}");
        for e in endpoints {
            let path = e["path"].as_str().unwrap();
            let (status, _, _) = support::status::get(&format!("{base}{path}")).await;
            assert_eq!(status, 200, "{path} listed in the index");
        }
        assert_eq!(
            endpoints[1]["parameters"],
            json!([
                "account",
                "server",
                "server_id",
                "site_id",
                "status",
                "problem",
                "limit",
                "offset"
            ])
        );
    }
    let (status, _, body) = support::status::get(&format!("{base}/api/v1/nope")).await;
    assert_eq!(status, 404);
    assert!(body.contains("see /api/v1/ for the list"), "{body}");
}

#[test]
fn a_plus_in_a_query_reads_as_a_space_and_the_error_says_so() {
    let store = acme_store();
    let view = View::load(&store);
    let e = answer(&view, "/api/v1/sites?site_id=+5").unwrap_err();
    assert_eq!(e["parameter"], json!("site_id"));
    let message = e["error"].as_str().unwrap();
    assert!(!message.contains("\" 5\""), "{message}");
    assert!(
        message.contains("contains a space (a + in a query string"),
        "{message}"
    );
    let e = answer(&view, "/api/v1/schedules?server_id=1%202").unwrap_err();
    assert!(
        e["error"].as_str().unwrap().contains("contains a space"),
        "{e}"
    );
    // An encoded plus is a plus: a sign, refused as such and echoed as sent.
    let e = answer(&view, "/api/v1/sites?site_id=%2B5").unwrap_err();
    assert_eq!(
        e["error"],
        json!("\"+5\" is not an id; expected a whole number such as 12345")
    );
}

#[test]
fn the_server_filter_takes_a_label_or_an_id_like_the_page() {
    let store = acme_store();
    let view = View::load(&store);
    let by_id = ids(&ok(&view, "/api/v1/sites?server_id=20"), "sites", "id");
    assert_eq!(by_id.len(), 4);
    assert_eq!(
        ids(&ok(&view, "/api/v1/sites?server=web-02"), "sites", "id"),
        by_id
    );
    assert_eq!(
        ids(&ok(&view, "/api/v1/sites?server=20"), "sites", "id"),
        by_id
    );
    assert_eq!(
        ok(&view, "/api/v1/schedules?server=web-02&storage=local")["count"],
        json!(4)
    );
    assert_eq!(ok(&view, "/api/v1/sites?server=web-99")["count"], json!(0));
}

#[test]
fn a_site_whose_backup_record_was_read_shows_the_newest_backup_per_storage_with_its_age() {
    let store = support::status::acme_with_backup_record(1001);
    let v = ok(&View::load(&store), "/api/v1/sites?account=acme");
    let sites = v["sites"].as_array().unwrap();
    let site = |id: u64| sites.iter().find(|s| s["id"] == id).unwrap();
    let backups = &site(1001)["backups"];
    assert_eq!(backups["record_age_seconds"], 600);
    assert_eq!(backups["read_at"], "2026-11-22T11:50:00Z");
    assert_eq!(
        backups["local"],
        json!({
            "count": 3,
            "last": "2026-11-22T10:50:00Z",
            "last_age_seconds": 4200,
            "last_automatic": "2026-11-22T10:50:00Z",
        })
    );
    assert_eq!(
        backups["remote"],
        json!({"count": 0, "last": null, "last_age_seconds": null, "last_automatic": null})
    );
    assert!(backups.get("unknown").is_none());
    // The verdict reads the same record: the remote storage is on with no
    // backup, and the local one is due two days and an hour after its
    // newest backup (daily schedule, the default policy).
    let codes: Vec<&str> = site(1001)["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["never_backed_up"]);
    assert_eq!(site(1001)["status"], "problem");
    assert_eq!(site(1001)["local"]["backup_due_by"], "2026-11-24T11:50:00Z");
    assert!(site(1001)["remote"].get("backup_due_by").is_none());
    assert!(
        site(1002).get("backups").is_none(),
        "no record read, no backups field"
    );
}

/// acme judged under a policy: `never-remote` (1005) muted until 2026-11-30
/// for its missing remote backups, `orphan` (1006) muted by a mute that has
/// ended, and retention under 60 days a warning.
fn acme_under_a_policy() -> Arc<Store> {
    use gridpane_backup_exporter::domain::policy::{Mute, Rules, SiteRef};
    use gridpane_backup_exporter::domain::{Policy, Problem};
    let store = acme_store();
    let mute = |site: &str, until: &str, reason: &str| Mute {
        sites: vec![SiteRef::parse(site)],
        problems: Some(vec![Problem::RemoteNotSetUp, Problem::IntegrationMissing]),
        until: until.parse().unwrap(),
        reason: Arc::from(reason),
        ..Mute::default()
    };
    store.set_policy(
        Policy {
            rules: Rules {
                min_retention_days: 60,
                ..Rules::default()
            },
            groups: Vec::new(),
            mutes: vec![
                mute(
                    "never-remote.example.com",
                    "2026-11-30T00:00:00Z",
                    "being migrated",
                ),
                mute("1006", "2026-11-01T00:00:00Z", "was being fixed"),
            ],
            records_read: false,
        },
        now(),
    );
    store
}

#[test]
fn sites_filter_by_status_and_problem_and_list_muted_problems_apart() {
    let view = View::load(&acme_under_a_policy());
    let all = ok(&view, "/api/v1/sites");
    let site = |id: u64| site_entry(&all, id);
    let muted = site(1005);
    assert_eq!(muted["status"], json!("warning"), "{muted}");
    assert_eq!(muted["problems"][0]["code"], json!("short_retention"));
    assert_eq!(
        muted["muted_problems"],
        json!([{"problem": "remote_not_set_up", "reason": "being migrated", "until": "2026-11-30T00:00:00Z"}])
    );
    let ended = site(1006);
    assert_eq!(
        ended["status"],
        json!("problem"),
        "an ended mute mutes nothing"
    );
    assert_eq!(ended["muted_problems"], json!([]));

    for status in ["problem", "warning", "ok"] {
        let expected: Vec<u64> = all["sites"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == json!(status))
            .map(|s| s["id"].as_u64().unwrap())
            .collect();
        let got = ids(
            &ok(&view, &format!("/api/v1/sites?status={status}")),
            "sites",
            "id",
        );
        assert_eq!(got, expected, "status={status}");
    }
    assert_eq!(
        ids(
            &ok(&view, "/api/v1/sites?problem=remote_not_set_up"),
            "sites",
            "id"
        ),
        Vec::<u64>::new(),
        "the muted problem is not one of the site's problems"
    );
    assert_eq!(
        ids(
            &ok(
                &view,
                "/api/v1/sites?problem=integration_missing&status=problem"
            ),
            "sites",
            "id"
        ),
        vec![1006]
    );

    let policy = &ok(&view, "/api/v1/status")["policy"];
    assert_eq!(policy["min_retention_days"], json!(60));
    assert_eq!(policy["mutes"][0]["state"], json!("active"));
    assert_eq!(policy["mutes"][1]["state"], json!("expired"));
    assert_eq!(policy["mutes"][1]["sites"], json!(["1006"]));
    let totals = &ok(&view, "/api/v1/status")["totals"];
    assert_eq!(totals["problems_muted"]["remote_not_set_up"], json!(1));
    assert_eq!(totals["problems"]["remote_not_set_up"], json!(0));
}

#[test]
fn an_unknown_status_is_refused_naming_every_status_pending_included() {
    let store = acme_store();
    let view = View::load(&store);
    let e = answer(&view, "/api/v1/sites?status=fine").unwrap_err();
    assert_eq!(
        e["error"],
        json!("\"fine\" is not a status; expected problem, unknown, warning, pending or ok")
    );
    assert_eq!(ok(&view, "/api/v1/sites?status=pending")["count"], json!(0));
}
