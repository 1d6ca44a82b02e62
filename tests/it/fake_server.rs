//! The fake GridPane over real HTTP on loopback.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gridpane_backup_exporter::fake::{
    FakeEndpoint, FakeFrequency, FakeGridPane, FakeOptions, FakeSchedule, FakeSite, Fault,
    FaultCount, Fleet, FleetSpec, RateLimit, SECRET_SECRET_SENTINEL, SECRET_TOKEN_SENTINEL,
    SiteFault,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

const API: &str = "/oauth/api/v1";

fn spec(sites: usize) -> FleetSpec {
    FleetSpec {
        seed: 7,
        servers: 3,
        sites,
    }
}

async fn start(spec: &FleetSpec) -> FakeGridPane {
    start_with(spec, FakeOptions::default()).await
}

async fn start_with(spec: &FleetSpec, opts: FakeOptions) -> FakeGridPane {
    FakeGridPane::start(Fleet::generate(spec), opts)
        .await
        .expect("fake starts")
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).expect("body is JSON")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// GET with the demo token and `Accept: application/json`; `path` is below `/oauth/api/v1`.
async fn get(fake: &FakeGridPane, path: &str) -> Reply {
    get_url(
        &format!("{}{API}{path}", fake.base_url()),
        Some("demo-token"),
    )
    .await
}

async fn get_url(url: &str, token: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new()
        .get(url)
        .header("accept", "application/json")
        .header("user-agent", "fake-server-test/1");
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("request succeeds");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body arrives");
    Reply {
        status,
        headers,
        text,
    }
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|item| item["id"].as_u64().expect("numeric id"))
        .collect()
}

fn site_ids(fleet: &Fleet) -> Vec<u64> {
    fleet.sites.iter().map(|s| s.id).collect()
}

// ---------------------------------------------------------------- pagination

#[tokio::test]
async fn small_fleet_fits_on_one_page() {
    let fake = start(&spec(5)).await;
    let body = get(&fake, "/site").await.json();
    let site = format!("{}{API}/site", fake.base_url());

    assert_eq!(ids(&body["data"]), site_ids(&fake.fleet()));
    assert_eq!(body["links"]["first"], format!("{site}?page=1"));
    assert_eq!(body["links"]["last"], format!("{site}?page=1"));
    assert!(body["links"]["prev"].is_null());
    assert!(body["links"]["next"].is_null());
    let meta = &body["meta"];
    assert_eq!(meta["current_page"], 1);
    assert_eq!(meta["from"], 1);
    assert_eq!(meta["to"], 5);
    assert_eq!(meta["last_page"], 1);
    assert_eq!(meta["per_page"], 15);
    assert_eq!(meta["total"], 5);
    assert_eq!(meta["path"], site);
    assert_eq!(meta["links"][0]["label"], "&laquo; Previous");
    assert_eq!(meta["links"][1]["active"], true);
}

#[tokio::test]
async fn second_page_of_two_links_back_to_the_first() {
    let fake = start(&spec(20)).await;
    let site = format!("{}{API}/site", fake.base_url());

    let first = get(&fake, "/site").await.json();
    assert_eq!(first["links"]["next"], format!("{site}?page=2"));
    assert_eq!(first["meta"]["last_page"], 2);

    let second = get(&fake, "/site?page=2").await.json();
    assert_eq!(second["data"].as_array().map(Vec::len), Some(5));
    assert_eq!(second["links"]["prev"], format!("{site}?page=1"));
    assert!(second["links"]["next"].is_null());
    assert_eq!(second["meta"]["from"], 16);
    assert_eq!(second["meta"]["to"], 20);
    assert_eq!(second["meta"]["total"], 20);
}

#[tokio::test]
async fn following_next_links_walks_seven_pages_in_order() {
    let fake = start(&spec(40)).await;
    let mut url = Some(format!("{}{API}/site?per_page=6&page=1", fake.base_url()));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(next) = url {
        let body = get_url(&next, Some("demo-token")).await.json();
        pages += 1;
        assert_eq!(body["meta"]["current_page"], pages);
        assert_eq!(body["meta"]["last_page"], 7);
        assert_eq!(body["meta"]["per_page"], 6);
        assert_eq!(body["meta"]["links"][pages]["active"], true);
        seen.extend(ids(&body["data"]));
        url = body["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 7);
    assert_eq!(seen, site_ids(&fake.fleet()));
}

#[tokio::test]
async fn page_beyond_the_last_is_empty() {
    let fake = start(&spec(20)).await;
    let body = get(&fake, "/site?page=99").await.json();
    assert_eq!(body["data"], serde_json::json!([]));
    assert!(body["meta"]["from"].is_null());
    assert!(body["meta"]["to"].is_null());
    assert_eq!(body["meta"]["current_page"], 99);
    assert!(body["links"]["next"].is_null());
}

#[tokio::test]
async fn per_page_is_clamped_and_bad_page_numbers_mean_page_one() {
    let fake = start(&spec(20)).await;
    let body = get(&fake, "/server?per_page=100000&page=abc").await.json();
    assert_eq!(body["meta"]["per_page"], 500);
    assert_eq!(body["meta"]["current_page"], 1);
    let body = get(&fake, "/site?per_page=-3&page=0").await.json();
    assert_eq!(body["meta"]["per_page"], 15);
    assert_eq!(body["meta"]["current_page"], 1);
}

// ----------------------------------------------------------------------- auth

#[tokio::test]
async fn missing_or_wrong_token_gets_401_unauthenticated() {
    let fake = start(&spec(3)).await;
    let url = format!("{}{API}/site", fake.base_url());
    for token in [None, Some("wrong-token")] {
        let reply = get_url(&url, token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.json(),
            serde_json::json!({ "message": "Unauthenticated." })
        );
    }
    assert!(fake.requests().iter().all(|r| !r.authorized));
}

// --------------------------------------------------------------------- routes

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let fake = start(&spec(3)).await;
    let reply = get(&fake, "/backups/alternative/1").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.json()["message"].is_string());
    assert_eq!(
        get(&fake, "/site/not-a-number").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(fake.requests().iter().all(|r| r.endpoint.is_none()));
}

#[tokio::test]
async fn single_server_alternates_between_object_and_array_by_id_parity() {
    let fake = start(&FleetSpec::demo()).await;
    let mut forms = HashSet::new();
    for server in fake.fleet().servers {
        let data = get(&fake, &format!("/server/{}", server.id)).await.json()["data"].clone();
        let item = if server.id % 2 == 1 {
            assert_eq!(data.as_array().map(Vec::len), Some(1));
            forms.insert("array");
            data[0].clone()
        } else {
            forms.insert("object");
            data
        };
        assert_eq!(item["id"], server.id);
        assert_eq!(item["label"], server.label);
        assert!(item["sites"].is_array());
        assert!(item["provider"]["name"].is_string());
    }
    assert_eq!(forms.len(), 2);
    let reply = get(&fake, "/server/1").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json(), serde_json::json!({ "message": "Not found" }));
}

#[tokio::test]
async fn single_site_carries_schedules_and_vps_services() {
    let fake = start(&FleetSpec::demo()).await;
    let fleet = fake.fleet();
    let healthy = fleet
        .sites
        .iter()
        .find(|s| s.problems.is_empty())
        .expect("a healthy site");
    let data = get(&fake, &format!("/site/{}", healthy.id)).await.json()["data"].clone();
    let site = if data.is_array() {
        data[0].clone()
    } else {
        data
    };
    assert_eq!(site["id"], healthy.id);
    let schedules = site["schedule_backups"].as_array().expect("schedules");
    assert_eq!(schedules.len(), 2);
    assert_eq!(schedules[0]["type"], "local");
    assert_eq!(schedules[1]["type"], "remote");
    let remote = healthy.remote_schedule.as_ref().expect("remote schedule");
    assert_eq!(
        site["vpsServices"][0]["pivot"]["service_user_id"],
        remote.integration_id.expect("integration")
    );

    let none = fleet
        .site_with(SiteFault::NoSchedule)
        .expect("NoSchedule site");
    let data = get(&fake, &format!("/site/{}", none.id)).await.json()["data"].clone();
    let site = if data.is_array() {
        data[0].clone()
    } else {
        data
    };
    assert_eq!(site["schedule_backups"], serde_json::json!([]));
    assert_eq!(site["vpsServices"], serde_json::json!([]));
}

#[tokio::test]
async fn schedules_list_every_site_except_even_ids_without_rows() {
    let fake = start(&FleetSpec::demo()).await;
    let fleet = fake.fleet();
    let body = get(&fake, "/backups/schedules").await.json();
    assert_eq!(body["success"], true);
    let data = body["data"].as_array().expect("data");
    let listed: Vec<u64> = data
        .iter()
        .map(|d| d["site_id"].as_u64().expect("site_id"))
        .collect();

    let mut forms = HashSet::new();
    for site in fleet
        .sites
        .iter()
        .filter(|s| s.problems.contains(&SiteFault::NoSchedule))
    {
        match listed.iter().position(|id| *id == site.id) {
            Some(i) => {
                assert_eq!(data[i]["schedule_backups"], serde_json::json!([]));
                forms.insert("empty");
            }
            None => {
                forms.insert("absent");
            }
        }
    }
    assert_eq!(forms.len(), 2, "demo shows both NoSchedule forms");

    let rows: Vec<&Value> = data
        .iter()
        .flat_map(|d| d["schedule_backups"].as_array().into_iter().flatten())
        .collect();
    assert!(
        rows.iter()
            .all(|r| r["hour"].as_str().is_some_and(|h| h.len() == 2))
    );
    assert!(
        rows.iter()
            .all(|r| r["minute"].as_str().is_some_and(|m| m.len() == 2))
    );
    assert!(
        rows.iter()
            .any(|r| r.get("day").is_some_and(Value::is_null))
    );
    assert!(rows.iter().any(|r| r.get("day").is_none()));
    assert!(rows.iter().any(|r| r["day"].is_string()));
    let remote = rows
        .iter()
        .find(|r| r["type"] == "remote")
        .expect("a remote row");
    assert!(remote["service_user_id"].is_u64());
    assert!(remote["service_name"].is_string());
}

#[tokio::test]
async fn schedules_can_be_filtered_by_site_and_server() {
    let fake = start(&FleetSpec::demo()).await;
    let fleet = fake.fleet();
    let site = fleet
        .sites
        .iter()
        .find(|s| s.problems.is_empty())
        .expect("a healthy site");
    let body = get(&fake, &format!("/backups/schedules/site/{}", site.id))
        .await
        .json();
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["data"][0]["site_id"], site.id);

    let server = fleet.server(site.server_id).expect("the site's server");
    let body = get(&fake, &format!("/backups/schedules/server/{}", server.id))
        .await
        .json();
    let data = body["data"].as_array().expect("data");
    assert!(!data.is_empty());
    assert!(data.iter().all(|d| d["server_id"] == server.id));
    assert_eq!(
        get(&fake, "/backups/schedules/site/1").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.endpoint == Some(FakeEndpoint::Schedules))
    );
}

#[tokio::test]
async fn domains_nest_the_list_under_data_domains() {
    let fake = start(&spec(20)).await;
    let body = get(&fake, "/domain").await.json();
    assert_eq!(body["data"]["domains"].as_array().map(Vec::len), Some(15));
    assert!(body["data"]["constants"]["routing"].is_array());
    assert_eq!(body["meta"]["total"], 20);
    assert_eq!(
        body["meta"]["path"],
        format!("{}{API}/domain", fake.base_url())
    );
}

#[tokio::test]
async fn prune_schedule_reports_the_sites_retention() {
    let fake = start(&FleetSpec::demo()).await;
    let site = fake
        .fleet()
        .site_with(SiteFault::ShortRetention)
        .cloned()
        .expect("short retention");
    let body = get(&fake, &format!("/backups/prune-schedule/{}", site.id))
        .await
        .json();
    assert_eq!(body["data"]["local"]["retain_days"], site.local_retain_days);
    assert_eq!(
        body["data"]["remote"]["prune_schedule"],
        site.remote_prune_schedule
    );
}

#[tokio::test]
async fn site_integrations_list_only_an_existing_remote_integration() {
    let fake = start(&FleetSpec::demo()).await;
    let fleet = fake.fleet();
    let healthy = fleet
        .sites
        .iter()
        .find(|s| s.problems.is_empty())
        .expect("a healthy site");
    let body = get(&fake, &format!("/backups/integrations/{}", healthy.id))
        .await
        .json();
    let expected = healthy
        .remote_schedule
        .as_ref()
        .and_then(|s| s.integration_id);
    assert_eq!(body["integrations"][0]["id"].as_u64(), expected);
    for problem in [SiteFault::IntegrationDeleted, SiteFault::RemoteNeverSetUp] {
        let site = fleet.site_with(problem).expect("problem site");
        let body = get(&fake, &format!("/backups/integrations/{}", site.id))
            .await
            .json();
        assert_eq!(body["integrations"], serde_json::json!([]), "{problem:?}");
    }
}

#[tokio::test]
async fn site_list_shows_every_drift_variant() {
    let fake = start(&FleetSpec::demo()).await;
    let body = get(&fake, "/site?per_page=200").await.json();
    let sites = body["data"].as_array().expect("data");
    let any = |f: &dyn Fn(&Value) -> bool| sites.iter().any(f);
    assert!(any(&|s| s["local_bup"].is_boolean()));
    assert!(any(&|s| s["local_bup"].is_u64()));
    assert!(any(&|s| s["local_bup"] == "1"));
    assert!(any(&|s| s["local_bup"] == "true"));
    assert!(any(&|s| s["server_id"].is_string()));
    assert!(any(
        &|s| s["site_customizer"]["local_retain_days"].is_string()
    ));
    assert!(any(&|s| s["local_bup_threshold"].is_null()));
    assert!(any(&|s| s.get("backups_v3_preview").is_some()));
    assert!(
        sites
            .iter()
            .all(|s| s["id"].is_u64() && s["url"].is_string())
    );
    assert!(
        sites
            .iter()
            .all(|s| s["resolved_at"].as_str().is_some_and(|t| t.len() == 19))
    );

    let servers = get(&fake, "/server").await.json();
    let flags: Vec<&Value> = servers["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|s| &s["update_backups"])
        .collect();
    assert!(flags.iter().any(|f| f.is_boolean()));
    assert!(flags.iter().any(|f| f.is_u64()));
}

// -------------------------------------------------------------------- secrets

#[tokio::test]
async fn schedules_and_resource_lists_never_contain_the_sentinels() {
    let fake = start(&FleetSpec::demo()).await;
    let site = fake.fleet().sites[9].id;
    for path in [
        "/backups/schedules".to_owned(),
        "/site?per_page=500".to_owned(),
        "/server".to_owned(),
        "/domain?per_page=500".to_owned(),
        format!("/site/{site}"),
        format!("/backups/schedules/site/{site}"),
        format!("/backups/prune-schedule/{site}"),
    ] {
        let text = get(&fake, &path).await.text;
        assert!(!text.contains(SECRET_TOKEN_SENTINEL), "{path}");
        assert!(!text.contains(SECRET_SECRET_SENTINEL), "{path}");
    }
}

#[tokio::test]
async fn integration_endpoints_carry_the_sentinels() {
    let fake = start(&FleetSpec::demo()).await;
    let site = fake.fleet().sites[9].id;
    for path in [
        "/backups/integrations".to_owned(),
        "/user/integrations".to_owned(),
        format!("/backups/integrations/{site}"),
    ] {
        let text = get(&fake, &path).await.text;
        assert!(text.contains(SECRET_TOKEN_SENTINEL), "{path}");
        assert!(text.contains(SECRET_SECRET_SENTINEL), "{path}");
    }
    let body = get(&fake, "/user/integrations").await.json();
    let services: HashSet<&str> = body["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .filter_map(|i| i["integrated_service"].as_str())
        .collect();
    for service in [
        "cloudflare",
        "vultr",
        "aws-s3",
        "backblaze",
        "dropbox",
        "wasabi",
    ] {
        assert!(services.contains(service), "{service}");
    }
    let backups = get(&fake, "/backups/integrations").await.json();
    assert_eq!(backups["success"], true);
    assert!(backups["message"].is_string());
}

// --------------------------------------------------------------------- faults

#[tokio::test]
async fn status_fault_serves_html_for_502_and_json_for_500() {
    let fake = start(&spec(3)).await;
    fake.set_fault(FakeEndpoint::Sites, Fault::Status(502), FaultCount::Always);
    fake.set_fault(
        FakeEndpoint::Servers,
        Fault::Status(500),
        FaultCount::Always,
    );
    let reply = get(&fake, "/site").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(reply.text.contains("<html>"));
    assert_eq!(reply.header("content-type"), Some("text/html"));
    let reply = get(&fake, "/server").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json()["message"], "Server Error");
}

#[tokio::test]
async fn fault_applies_n_times_then_clears() {
    let fake = start(&spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::Status(503),
        FaultCount::Times(2),
    );
    assert_eq!(
        get(&fake, "/backups/schedules").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get(&fake, "/site").await.status,
        StatusCode::OK,
        "other endpoints unaffected"
    );
    assert_eq!(
        get(&fake, "/backups/schedules").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get(&fake, "/backups/schedules").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn always_fault_persists_until_cleared() {
    let fake = start(&spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Servers,
        Fault::Unauthorized,
        FaultCount::Always,
    );
    for _ in 0..3 {
        let reply = get(&fake, "/server").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()["message"], "Unauthenticated.");
    }
    fake.clear_faults();
    assert_eq!(get(&fake, "/server").await.status, StatusCode::OK);
}

#[tokio::test]
async fn rate_limited_fault_sends_429_with_endpoint_headers() {
    let fake = start(&spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::RateLimited {
            retry_after_endpoint_secs: 27,
        },
        FaultCount::Times(1),
    );
    let reply = get(&fake, "/site").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.text.contains("Beep, Beep, you're going too fast..."));
    assert_eq!(reply.header("retry-after-endpoint"), Some("27"));
    assert_eq!(reply.header("x-ratelimit-endpoint-remaining"), Some("0"));
    assert!(reply.header("x-ratelimit-endpoint-reset").is_some());
    assert!(reply.header("x-ratelimit-total-limit").is_some());
    assert!(reply.header("retry-after").is_none());
    assert_eq!(fake.rate_limited_count(), 1);
}

#[tokio::test]
async fn body_only_rate_limit_has_no_rate_limit_headers() {
    let fake = start_with(
        &spec(3),
        FakeOptions::default().with_rate_limit(RateLimit::gridpane()),
    )
    .await;
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::RateLimitedBodyOnly,
        FaultCount::Times(1),
    );
    let reply = get(&fake, "/site").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.text.contains("Beep, Beep"));
    assert!(
        reply
            .headers
            .keys()
            .all(|k| !k.as_str().contains("ratelimit") && !k.as_str().starts_with("retry-after"))
    );
    assert_eq!(fake.rate_limited_count(), 1);
}

#[tokio::test]
async fn truncated_json_does_not_parse() {
    let fake = start(&spec(3)).await;
    let whole = get(&fake, "/backups/schedules").await.text;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::TruncatedJson,
        FaultCount::Times(1),
    );
    let reply = get(&fake, "/backups/schedules").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text.len(), whole.len() / 2);
    assert!(serde_json::from_str::<Value>(&reply.text).is_err());
}

#[tokio::test]
async fn success_false_comes_with_a_200() {
    let fake = start(&spec(3)).await;
    fake.set_fault(
        FakeEndpoint::BackupIntegrations,
        Fault::SuccessFalse,
        FaultCount::Times(1),
    );
    let reply = get(&fake, "/backups/integrations").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["success"], false);
    assert!(reply.json()["message"].is_string());
}

#[tokio::test]
async fn wrong_types_turn_list_data_into_a_string_and_ids_into_objects() {
    let fake = start(&spec(3)).await;
    fake.set_fault(FakeEndpoint::Sites, Fault::WrongTypes, FaultCount::Always);
    fake.set_fault(
        FakeEndpoint::BackupIntegrations,
        Fault::WrongTypes,
        FaultCount::Always,
    );
    assert_eq!(get(&fake, "/site").await.json()["data"], "oops");
    let body = get(&fake, "/backups/integrations").await.json();
    assert!(body["integrations"][0]["id"].is_object());
}

#[tokio::test]
async fn missing_fields_drop_ids_and_urls() {
    let fake = start(&spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::MissingFields,
        FaultCount::Times(1),
    );
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::MissingFields,
        FaultCount::Times(1),
    );
    let body = get(&fake, "/backups/schedules").await.json();
    let first = &body["data"][0];
    assert!(first.get("url").is_none());
    assert!(first["schedule_backups"][0].get("id").is_none());
    let body = get(&fake, "/site").await.json();
    assert!(body["data"][0].get("id").is_none());
    assert!(body["links"]["first"].is_string(), "links untouched");
}

#[tokio::test]
async fn delay_fault_holds_the_response() {
    let fake = start(&spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Servers,
        Fault::Delay(Duration::from_millis(300)),
        FaultCount::Times(1),
    );
    let started = Instant::now();
    let reply = get(&fake, "/server").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["meta"]["total"], 3);
}

#[tokio::test]
async fn huge_body_streams_about_the_requested_size() {
    let fake = start(&spec(3)).await;
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::HugeBody(2_000_000),
        FaultCount::Times(1),
    );
    let reply = get(&fake, "/site").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-length").is_none());
    assert!(
        (1_900_000..=2_100_000).contains(&reply.text.len()),
        "{}",
        reply.text.len()
    );
    assert!(reply.json()["data"].is_array());
}

#[tokio::test]
async fn trickle_sends_the_correct_body_slowly() {
    let fake = start(&spec(3)).await;
    let site = fake.fleet().sites[0].id;
    let path = format!("/backups/prune-schedule/{site}");
    let whole = get(&fake, &path).await.text;
    fake.set_fault(
        FakeEndpoint::PruneSchedule,
        Fault::Trickle { bytes_per_sec: 400 },
        FaultCount::Times(1),
    );
    let started = Instant::now();
    let reply = get(&fake, &path).await;
    let expected = Duration::from_millis(1000 * whole.len() as u64 / 400);
    assert!(started.elapsed() >= expected.saturating_sub(Duration::from_millis(150)));
    assert_eq!(reply.text, whole);
}

#[tokio::test]
async fn endless_pagination_always_has_a_next_page() {
    let fake = start(&spec(20)).await;
    let first = get(&fake, "/site").await.json();
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::EndlessPagination,
        FaultCount::Always,
    );
    let body = get(&fake, "/site?page=5000").await.json();
    assert_eq!(body["data"], first["data"]);
    assert_eq!(body["meta"]["current_page"], 5000);
    assert!(body["meta"]["last_page"].as_u64() > Some(5000));
    assert_eq!(
        body["links"]["next"],
        format!("{}{API}/site?page=5001", fake.base_url())
    );

    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::EndlessPagination,
        FaultCount::Always,
    );
    let body = get(&fake, "/backups/schedules?page=3").await.json();
    assert!(body["links"]["next"].is_string());
    assert!(!body["data"].as_array().expect("data").is_empty());
}

#[tokio::test]
async fn refused_connection_gets_no_response_then_recovers() {
    let fake = start(&spec(3)).await;
    fake.set_fault(FakeEndpoint::Sites, Fault::Refuse, FaultCount::Times(1));
    let url = format!("{}{API}/site", fake.base_url());
    let client = reqwest::Client::new();
    let refused = client.get(&url).bearer_auth("demo-token").send().await;
    assert!(refused.is_err(), "{refused:?}");
    let ok = client
        .get(&url)
        .bearer_auth("demo-token")
        .send()
        .await
        .expect("second attempt");
    assert_eq!(ok.status(), StatusCode::OK);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 200]);
}

// ----------------------------------------------------------------- rate limit

#[tokio::test]
async fn seventh_site_page_in_a_minute_is_rate_limited() {
    let fake = start_with(
        &spec(40),
        FakeOptions::default().with_rate_limit(RateLimit::gridpane()),
    )
    .await;
    for n in 1..=6u32 {
        let reply = get(&fake, &format!("/site?per_page=6&page={n}")).await;
        assert_eq!(reply.status, StatusCode::OK);
        let remaining = (12 - 2 * n).to_string();
        assert_eq!(
            reply.header("x-ratelimit-endpoint-remaining"),
            Some(remaining.as_str())
        );
        assert_eq!(reply.header("x-ratelimit-endpoint-limit"), Some("12"));
        assert_eq!(reply.header("x-ratelimit-total-limit"), Some("60"));
        assert!(reply.header("x-ratelimit-endpoint-reset").is_none());
    }
    let reply = get(&fake, "/site?per_page=6&page=7").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        reply.json()["message"],
        "Beep, Beep, you're going too fast..."
    );
    let retry: u64 = reply
        .header("retry-after-endpoint")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After-Endpoint");
    assert!((1..=60).contains(&retry));
    assert!(reply.header("x-ratelimit-endpoint-reset").is_some());
    assert!(reply.header("retry-after").is_none());
    assert_eq!(fake.rate_limited_count(), 1);
    assert_eq!(
        get(&fake, "/server").await.status,
        StatusCode::OK,
        "own bucket per endpoint"
    );
}

#[tokio::test]
async fn account_budget_limits_requests_across_endpoints() {
    let limit = RateLimit {
        endpoint_per_minute: 100,
        account_per_minute: 4,
        site_page_cost: 2,
    };
    let fake = start_with(&spec(3), FakeOptions::default().with_rate_limit(limit)).await;
    for path in [
        "/site",
        "/server",
        "/backups/schedules",
        "/backups/integrations",
    ] {
        assert_eq!(get(&fake, path).await.status, StatusCode::OK);
    }
    let reply = get(&fake, "/domain").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("x-ratelimit-total-remaining"), Some("0"));
    fake.reset_rate_limits();
    assert_eq!(get(&fake, "/domain").await.status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_rate_limit_no_rate_limit_headers_are_sent() {
    let fake = start(&spec(3)).await;
    let reply = get(&fake, "/site").await;
    assert!(
        reply
            .headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-ratelimit"))
    );
}

// -------------------------------------------------------------------- records

#[tokio::test]
async fn requests_are_recorded_with_auth_accept_and_user_agent() {
    let fake = start(&spec(3)).await;
    get(&fake, "/site?per_page=2&page=1").await;
    let url = format!("{}{API}/server", fake.base_url());
    reqwest::Client::new()
        .get(&url)
        .send()
        .await
        .expect("request");
    let records = fake.requests();
    assert_eq!(records.len(), 2);
    let first = &records[0];
    assert_eq!(first.endpoint, Some(FakeEndpoint::Sites));
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, "/oauth/api/v1/site");
    assert_eq!(first.query, "per_page=2&page=1");
    assert_eq!(first.status, 200);
    assert!(first.authorized && first.accept_json);
    assert_eq!(first.user_agent.as_deref(), Some("fake-server-test/1"));
    let second = &records[1];
    assert_eq!(
        (second.status, second.authorized, second.accept_json),
        (401, false, false)
    );
    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn writes_are_refused_with_405() {
    let fake = start(&spec(3)).await;
    let url = format!("{}{API}/backups/prune-schedule/1", fake.base_url());
    let resp = reqwest::Client::new()
        .put(&url)
        .bearer_auth("demo-token")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(fake.requests()[0].method, "PUT");
}

#[tokio::test]
async fn fleet_updates_change_what_is_served() {
    let fake = start(&spec(20)).await;
    let gone = fake.fleet().sites[3].id;
    fake.update_fleet(|f| f.remove_site(gone));
    assert_eq!(fake.fleet().sites.len(), 19);
    assert_eq!(get(&fake, "/site").await.json()["meta"]["total"], 19);
    assert_eq!(
        get(&fake, &format!("/site/{gone}")).await.status,
        StatusCode::NOT_FOUND
    );
    let schedules = get(&fake, "/backups/schedules").await.json();
    assert!(
        schedules["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|d| d["site_id"] != gone)
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let fake = start(&spec(3)).await;
    let url = format!("{}{API}/site", fake.base_url());
    let client = reqwest::Client::new();
    assert!(
        client
            .get(&url)
            .bearer_auth("demo-token")
            .send()
            .await
            .is_ok()
    );
    fake.shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        client
            .get(&url)
            .bearer_auth("demo-token")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn empty_fleet_serves_an_empty_first_page() {
    let fake = start(&spec(0)).await;
    let body = get(&fake, "/site").await.json();
    assert_eq!(body["data"], serde_json::json!([]));
    assert_eq!(body["meta"]["last_page"], 1);
    assert_eq!(body["meta"]["total"], 0);
}

// ---------------------------------------------------------------------- fleet

#[test]
fn same_seed_gives_the_same_fleet() {
    let a = Fleet::generate(&FleetSpec::demo());
    let b = Fleet::generate(&FleetSpec::demo());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn different_seeds_give_different_fleets() {
    let a = Fleet::generate(&FleetSpec::demo());
    let b = Fleet::generate(&FleetSpec {
        seed: 43,
        ..FleetSpec::demo()
    });
    assert_ne!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn demo_fleet_has_every_problem_on_distinct_sites() {
    let fleet = Fleet::generate(&FleetSpec::demo());
    let problems = [
        SiteFault::LocalOff,
        SiteFault::RemoteOff,
        SiteFault::RemoteNeverSetUp,
        SiteFault::IntegrationDeleted,
        SiteFault::NoSchedule,
        SiteFault::ShortRetention,
        SiteFault::HostileName,
    ];
    let mut owners = HashSet::new();
    for p in problems {
        let site = fleet
            .site_with(p)
            .unwrap_or_else(|| panic!("{p:?} missing"));
        assert!(owners.insert(site.id), "{p:?} shares a site");
    }
    assert!(fleet.sites.iter().all(|s| s.problems.len() <= 1));

    let local_off = fleet.site_with(SiteFault::LocalOff).expect("LocalOff");
    assert!(!local_off.local_bup && local_off.local_schedule.is_some());
    let remote_off = fleet.site_with(SiteFault::RemoteOff).expect("RemoteOff");
    assert!(!remote_off.remote_bup && remote_off.remote_schedule.is_some());
    let never = fleet
        .site_with(SiteFault::RemoteNeverSetUp)
        .expect("RemoteNeverSetUp");
    assert!(!never.remote_bup && never.remote_schedule.is_none());
    let deleted = fleet
        .site_with(SiteFault::IntegrationDeleted)
        .expect("IntegrationDeleted");
    let target = deleted
        .remote_schedule
        .as_ref()
        .and_then(|s| s.integration_id)
        .expect("target");
    assert!(fleet.integration(target).is_none());
    let none = fleet.site_with(SiteFault::NoSchedule).expect("NoSchedule");
    assert!(none.local_bup && none.local_schedule.is_none() && none.remote_schedule.is_none());
    let short = fleet
        .site_with(SiteFault::ShortRetention)
        .expect("ShortRetention");
    assert!((1..=2).contains(&short.local_retain_days));
}

#[test]
fn every_problem_appears_in_a_fleet_of_twenty() {
    for seed in 0..20 {
        let fleet = Fleet::generate(&FleetSpec {
            seed,
            servers: 2,
            sites: 20,
        });
        let found: HashSet<SiteFault> = fleet
            .sites
            .iter()
            .flat_map(|s| s.problems.clone())
            .collect();
        assert_eq!(found.len(), 7, "seed {seed}");
    }
}

#[test]
fn most_demo_sites_are_healthy() {
    let fleet = Fleet::generate(&FleetSpec::demo());
    let troubled = fleet
        .sites
        .iter()
        .filter(|s| !s.problems.is_empty())
        .count();
    assert!(
        troubled * 4 <= fleet.sites.len(),
        "{troubled} of {}",
        fleet.sites.len()
    );
    for site in fleet.sites.iter().filter(|s| s.problems.is_empty()) {
        assert!(site.local_bup && site.remote_bup && site.local_schedule.is_some());
        let integration = site.remote_schedule.as_ref().and_then(|s| s.integration_id);
        assert!(integration.and_then(|id| fleet.integration(id)).is_some());
        for days in [site.local_retain_days, site.remote_retain_days] {
            assert!(days == 0 || days >= 30);
        }
        assert!(fleet.server(site.server_id).is_some());
    }
}

#[test]
fn demo_fleet_uses_every_provider_and_leaves_one_integration_unused() {
    let fleet = Fleet::generate(&FleetSpec::demo());
    let used: HashSet<u64> = fleet
        .sites
        .iter()
        .filter_map(|s| s.remote_schedule.as_ref()?.integration_id)
        .collect();
    for provider in ["aws-s3", "backblaze", "dropbox", "wasabi"] {
        assert!(
            fleet
                .integrations
                .iter()
                .any(|i| i.provider == provider && used.contains(&i.id)),
            "{provider}"
        );
    }
    assert!(fleet.integrations.iter().any(|i| !used.contains(&i.id)));
}

#[test]
fn every_frequency_appears_locally_and_remotely_with_valid_days() {
    let fleet = Fleet::generate(&FleetSpec {
        seed: 3,
        servers: 1,
        sites: 20,
    });
    let picks: [fn(&FakeSite) -> Option<FakeSchedule>; 2] =
        [|s| s.local_schedule.clone(), |s| s.remote_schedule.clone()];
    for pick in picks {
        let schedules: Vec<_> = fleet.sites.iter().filter_map(pick).collect();
        for f in FakeFrequency::ALL {
            assert!(schedules.iter().any(|s| s.frequency == f), "{f:?}");
        }
        for s in &schedules {
            match s.frequency {
                FakeFrequency::Weekly => assert!(s.day.is_some_and(|d| d <= 6)),
                FakeFrequency::Monthly => assert!(s.day.is_some_and(|d| (1..=28).contains(&d))),
                FakeFrequency::Hourly | FakeFrequency::Daily => assert!(s.day.is_none()),
            }
            assert!(s.hour < 24 && s.minute < 60);
        }
    }
}

#[test]
fn some_demo_site_keeps_all_backups() {
    let fleet = Fleet::generate(&FleetSpec::demo());
    assert!(
        fleet
            .sites
            .iter()
            .any(|s| s.local_retain_days == 0 || s.remote_retain_days == 0)
    );
}

#[test]
fn hostile_names_hold_quotes_backslashes_newlines_unicode_and_html() {
    let fleet = Fleet::generate(&FleetSpec::demo());
    let hostile: Vec<&str> = fleet
        .sites
        .iter()
        .filter(|s| s.problems.contains(&SiteFault::HostileName))
        .map(|s| s.url.as_str())
        .collect();
    assert!(hostile.len() >= 2);
    for needle in [
        "\"",
        "\\",
        "\n",
        "ünï-кириллица",
        "<script>alert(1)</script>",
    ] {
        assert!(hostile.iter().any(|u| u.contains(needle)), "{needle:?}");
    }
}

#[test]
fn ids_look_like_gridpane_ids() {
    let fleet = Fleet::generate(&FleetSpec::demo());
    assert!(
        fleet
            .servers
            .iter()
            .all(|s| s.id >= 33_000 && s.label.starts_with("web-"))
    );
    assert!(fleet.sites.iter().all(|s| s.id >= 495_000));
    assert!(fleet.integrations.iter().all(|i| i.id >= 2_700));
    let schedules = fleet
        .sites
        .iter()
        .flat_map(|s| s.local_schedule.iter().chain(s.remote_schedule.iter()));
    assert!(schedules.clone().all(|s| s.id >= 156_000));
    let unique: HashSet<u64> = schedules.clone().map(|s| s.id).collect();
    assert_eq!(unique.len(), schedules.count());
}

#[tokio::test]
async fn odd_query_strings_and_ids_never_break_the_server() {
    let fake = start(&spec(20)).await;
    for path in [
        "/site?page=18446744073709551615&per_page=500",
        "/site?page=99999999999999999999999&per_page=99999999999999999999999",
        "/site?page=%ZZ&per_page=%00&&=&page",
        "/server?per_page=0",
        "/site/18446744073709551616",
        "/backups/schedules/site/-1",
    ] {
        let reply = get(&fake, path).await;
        assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::NOT_FOUND,
            "{path}"
        );
        assert!(reply.json().is_object(), "{path}");
    }
    fake.set_fault(
        FakeEndpoint::Sites,
        Fault::EndlessPagination,
        FaultCount::Always,
    );
    let body = get(&fake, "/site?page=18446744073709551615").await.json();
    assert!(body["links"]["next"].is_string());
}
