//! Organisations: with `access` rules, each user sees only their accounts
//! on every data surface (the page, the JSON API, `/metrics`), over TLS
//! with basic auth and with client certificates; users with no account get
//! 403; new rules take effect on the next request.

use crate::security::{PASSWORD, client_pki_for, https_client, tls_files_for};
use crate::support;

use std::io::Read as _;
use std::path::Path;

use gridpane_backup_exporter::app::App;
use gridpane_backup_exporter::config::Config;
use gridpane_backup_exporter::config::access::{Access, AccessRule};
use gridpane_backup_exporter::config::web as web_config;
use gridpane_backup_exporter::domain::Policy;
use gridpane_backup_exporter::fake::{
    FakeEndpoint, FakeGridPane, FakeOptions, Fault, FaultCount, Fleet,
};
use gridpane_backup_exporter::server::ServerOptions;
use serde_json::Value;
use support::*;

/// Two organisations' accounts. Every name, site URL, server label and
/// integration name of an organisation carries its tag, whatever escaping
/// it goes through.
const ORG_A: &str = "ORGA \"client\" <b>a</b> & 'co'";
const ORG_B: &str = "ORGB</script><script>alert('b')</script>\\\"";
/// Offsets that make each organisation's site and server ids its own.
const A_IDS: u64 = 70_000_000;
const B_IDS: u64 = 80_000_000;

const USERS: [&str; 5] = ["alice", "bob", "ops", "nobody", "stranger"];

/// An organisation's fleet: hostile, tagged names and ids of its own.
fn org_fleet(seed: u64, tag: &str, ids: u64) -> Fleet {
    let mut fleet = Fleet::generate(&fleet_of(seed, 2, 12));
    for server in &mut fleet.servers {
        server.id += ids;
        server.label = format!("{tag}-server-{}\"<i>\n", server.id);
    }
    for site in &mut fleet.sites {
        site.id += ids;
        site.server_id += ids;
        site.url = format!(
            "{tag}-site-{}.example/\"><script>alert(1)</script>",
            site.id
        );
    }
    for integration in &mut fleet.integrations {
        integration.name = format!("{tag}-integration '{}' &", integration.id);
    }
    fleet
}

async fn org_fake(seed: u64, tag: &str, ids: u64) -> FakeGridPane {
    let opts = FakeOptions {
        token: TOKEN.to_string(),
        ..FakeOptions::default()
    };
    FakeGridPane::start(org_fleet(seed, tag, ids), opts)
        .await
        .unwrap()
}

fn rule(users: &[&str], accounts: &[&str]) -> AccessRule {
    AccessRule {
        users: users.iter().map(|s| s.to_string()).collect(),
        accounts: accounts.iter().map(|s| s.to_string()).collect(),
    }
}

fn access(rules: &[AccessRule]) -> Access {
    Access::new(rules, [ORG_A, ORG_B]).unwrap()
}

/// alice sees A, bob B, ops everything, nobody is listed without accounts,
/// stranger is not listed.
fn org_rules() -> Access {
    access(&[
        rule(&["alice"], &[ORG_A]),
        rule(&["bob"], &[ORG_B]),
        rule(&["ops"], &["*"]),
        rule(&["nobody"], &[]),
    ])
}

struct Orgs {
    a: FakeGridPane,
    b: FakeGridPane,
}

impl Orgs {
    async fn start() -> Orgs {
        Orgs {
            a: org_fake(5, "ORGA", A_IDS).await,
            b: org_fake(6, "ORGB", B_IDS).await,
        }
    }

    /// What must never reach a viewer of the other organisation: the tag
    /// (in every name, URL, label and error text) and every site and
    /// server id.
    fn secrets(&self, org: &str) -> Vec<String> {
        let (fake, tag) = if org == ORG_A {
            (&self.a, "ORGA")
        } else {
            (&self.b, "ORGB")
        };
        let fleet = fake.fleet();
        let mut out = vec![tag.to_string()];
        out.extend(fleet.sites.iter().map(|s| s.id.to_string()));
        out.extend(fleet.servers.iter().map(|s| s.id.to_string()));
        out
    }

    /// A policy that names each organisation: a group matching its account
    /// by name and a mute naming one of its sites by URL, both tagged.
    fn policy(&self) -> Policy {
        use gridpane_backup_exporter::domain::policy::{Group, Match, Mute, Rules, SiteRef};
        let group = |tag: &str, account: &str| Group {
            name: format!("{tag}-group").into(),
            matcher: Match {
                account: Some(account.to_string()),
                ..Match::default()
            },
            rules: Rules::default(),
        };
        let mute = |fake: &FakeGridPane, tag: &str| Mute {
            sites: vec![SiteRef::parse(&fake.fleet().sites[0].url)],
            problems: None,
            until: "2099-01-01T00:00:00Z".parse().unwrap(),
            reason: format!("{tag} migration").into(),
            ..Mute::default()
        };
        Policy {
            rules: Rules::default(),
            groups: vec![group("ORGA", ORG_A), group("ORGB", ORG_B)],
            mutes: vec![mute(&self.a, "ORGA"), mute(&self.b, "ORGB")],
            records_read: false,
        }
    }

    async fn app(&self, access: Access, web_config: &Path) -> App {
        let config = Config {
            accounts: vec![
                account(ORG_A, &self.a, TOKEN),
                account(ORG_B, &self.b, TOKEN),
            ],
            poll: fast_poll(),
            state_file: None,
            policy: self.policy(),
            access: Some(access),
        };
        App::start_with(
            config,
            test_web(),
            ServerOptions {
                web_config: Some(web_config::load(web_config).unwrap()),
                ..ServerOptions::default()
            },
        )
        .await
        .unwrap()
    }
}

/// Every route behind the access rules.
const SURFACES: [&str; 11] = [
    "/",
    "/?problems=1",
    "/metrics",
    "/api/v1/status",
    "/api/v1/sites",
    "/api/v1/schedules",
    "/api/v1/integrations",
    "/api/v1/",
    "/api/v1/no-such-endpoint",
    "/static/status.js",
    "/metrics#gzip",
];

/// The surfaces that show an account's data.
const DATA: [&str; 7] = [
    "/",
    "/metrics",
    "/metrics#gzip",
    "/api/v1/status",
    "/api/v1/sites",
    "/api/v1/schedules",
    "/api/v1/integrations",
];

/// Status, headers and body (gzip undone) of one request. `#gzip` asks
/// for gzip.
async fn fetch(req: reqwest::RequestBuilder, path: &str) -> (u16, String, String) {
    let req = if path.ends_with("#gzip") {
        req.header("accept-encoding", "gzip")
    } else {
        req
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = format!("{:?}", resp.headers());
    let gzipped = resp
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let bytes = resp.bytes().await.unwrap();
    let body = if gzipped {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        text
    } else {
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    (status, headers, body)
}

/// Asks `path` (without `#gzip`) as `user`.
type Ask<'a> = &'a dyn Fn(&str, &str) -> reqwest::RequestBuilder;

/// The whole matrix: users x surfaces x accounts, twice (the second time
/// from the caches).
async fn assert_each_user_sees_only_their_accounts(orgs: &Orgs, ask: Ask<'_>) {
    let a = orgs.secrets(ORG_A);
    let b = orgs.secrets(ORG_B);
    for round in 0..2 {
        for user in USERS {
            for path in SURFACES {
                let url_path = path.trim_end_matches("#gzip");
                let (status, headers, body) = fetch(ask(user, url_path), path).await;
                let at = format!("round {round}, {user} {path}");
                let (sees, hidden): (&[String], &[String]) = match user {
                    "alice" => (&a, &b),
                    "bob" => (&b, &a),
                    "ops" => (&[], &[]),
                    _ => {
                        assert_eq!(status, 403, "{at}: {body}");
                        assert_eq!(body, "Forbidden\n", "{at}");
                        for secret in a.iter().chain(&b) {
                            assert!(!headers.contains(secret.as_str()), "{at}: {secret}");
                        }
                        continue;
                    }
                };
                let expected = if path == "/api/v1/no-such-endpoint" {
                    404
                } else {
                    200
                };
                assert_eq!(status, expected, "{at}: {body}");
                for secret in hidden {
                    assert!(!body.contains(secret.as_str()), "{at} shows {secret:?}");
                    assert!(
                        !headers.contains(secret.as_str()),
                        "{at} header shows {secret:?}"
                    );
                }
                if DATA.contains(&path) {
                    for tag in ["ORGA", "ORGB"] {
                        let own = sees.first().is_none_or(|t| t == tag);
                        if own {
                            assert!(body.contains(tag), "{at} misses {tag}");
                        }
                    }
                }
            }
        }
    }
    for user in ["nobody", "stranger"] {
        for path in ["/-/healthy", "/-/ready"] {
            assert_eq!(fetch(ask(user, path), path).await.0, 200, "{user} {path}");
        }
    }
}

/// An account alice may not see answers exactly like one that does not
/// exist, on every API endpoint that takes an account.
async fn assert_a_hidden_account_answers_as_a_missing_one(ask: Ask<'_>) {
    let escaped = |name: &str| {
        let quoted = serde_json::to_string(name).unwrap();
        quoted[1..quoted.len() - 1].to_string()
    };
    let missing = "no-such-account";
    for endpoint in ["sites", "schedules", "integrations"] {
        let query = |name: &str| {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("account", name)
                .finish();
            format!("/api/v1/{endpoint}?{q}")
        };
        let hidden = fetch(ask("alice", &query(ORG_B)), "").await;
        let absent = fetch(ask("alice", &query(missing)), "").await;
        assert_eq!(hidden.0, 400, "{endpoint}: {}", hidden.2);
        assert_eq!(hidden.0, absent.0, "{endpoint}");
        assert_eq!(
            hidden.2,
            absent.2.replace(missing, &escaped(ORG_B)),
            "{endpoint}"
        );
    }
}

/// A site page of an account alice may not see answers exactly like one of
/// an account that does not exist: 404, the same words.
async fn assert_a_hidden_accounts_site_page_answers_as_a_missing_one(ask: Ask<'_>) {
    let (_, _, sites) = fetch(ask("bob", "/api/v1/sites"), "").await;
    let sites: Value = serde_json::from_str(&sites).unwrap();
    let site = &sites["sites"][0];
    let id = site["id"].as_u64().unwrap();
    let path = |account: &str| {
        let mut url = url::Url::parse("http://localhost/").unwrap();
        url.path_segments_mut()
            .unwrap()
            .push("site")
            .push(account)
            .push(&id.to_string());
        url.path().to_string()
    };
    assert_eq!(site["page"].as_str(), Some(path(ORG_B).as_str()));
    let html = |s: &str| {
        s.replace('&', "&#38;")
            .replace('<', "&#60;")
            .replace('>', "&#62;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;")
    };
    let missing = "no-such-account";
    let hidden = fetch(ask("alice", &path(ORG_B)), "").await;
    let absent = fetch(ask("alice", &path(missing)), "").await;
    assert_eq!((hidden.0, absent.0), (404, 404), "{}", hidden.2);
    assert_eq!(hidden.2.replace(&html(ORG_B), missing), absent.2);
    let seen = fetch(ask("bob", &path(ORG_B)), "").await;
    assert_eq!(seen.0, 200, "bob sees his own site's page");
    assert_eq!(fetch(ask("nobody", &path(ORG_B)), "").await.0, 403);
}

/// Waits until both accounts have data and org B's last poll failed, so
/// that the error texts are there to leak; returns B's error text.
async fn with_b_failing(orgs: &Orgs, ask: Ask<'_>) -> String {
    let status = || async {
        let (_, _, body) = fetch(ask("ops", "/api/v1/status"), "").await;
        serde_json::from_str::<Value>(&body).unwrap()
    };
    wait_for(20, "both accounts polled", || async {
        let s = status().await;
        s["accounts"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|a| !a["data"].is_null()))
    })
    .await;
    orgs.b.set_fault(
        FakeEndpoint::Servers,
        Fault::Status(500),
        FaultCount::Always,
    );
    let b_error = || async {
        status().await["accounts"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["account"] == ORG_B))
            .and_then(|a| a["last_poll"]["error"]["message"].as_str())
            .map(str::to_string)
    };
    wait_for(20, "org B's poll failed", || async {
        b_error().await.is_some()
    })
    .await;
    b_error().await.unwrap_or_default()
}

/// A request to `app` over TLS as `user`, with the password.
fn with_password(
    client: &reqwest::Client,
    app: &App,
    user: &str,
    path: &str,
) -> reqwest::RequestBuilder {
    client
        .get(format!("https://127.0.0.1:{}{path}", app.addr.port()))
        .basic_auth(user, Some(PASSWORD))
}

/// Once org B's poll has failed (so that its error text is there to leak),
/// the whole matrix, and hidden accounts asked for by name.
async fn assert_organisations_apart(orgs: &Orgs, ask: Ask<'_>) {
    let error = with_b_failing(orgs, ask).await;
    assert!(error.contains("ORGB"), "{error}");
    let (_, _, page) = fetch(ask("ops", "/"), "").await;
    assert!(page.contains("data-failed-account"), "the banner is shown");
    assert_each_user_sees_only_their_accounts(orgs, ask).await;
    assert_a_hidden_account_answers_as_a_missing_one(ask).await;
    assert_a_hidden_accounts_site_page_answers_as_a_missing_one(ask).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_with_basic_auth_each_user_sees_only_their_organisations_accounts() {
    let orgs = Orgs::start().await;
    let tls = tls_files_for("", &USERS);
    let app = orgs.app(org_rules(), &tls.web_config).await;
    let client = https_client(&tls.ca_pem).build().unwrap();
    let ask = |user: &str, path: &str| with_password(&client, &app, user, path);
    assert_organisations_apart(&orgs, &ask).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_certificates_each_subject_sees_only_their_organisations_accounts() {
    let orgs = Orgs::start().await;
    let pki = client_pki_for(&USERS);
    let tls = tls_files_for(
        &format!(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            pki.dir.path().join("client-ca.crt").display()
        ),
        &[],
    );
    let app = orgs.app(org_rules(), &tls.web_config).await;
    let base = format!("https://127.0.0.1:{}", app.addr.port());
    let clients: Vec<(&str, reqwest::Client)> = USERS
        .iter()
        .zip(&pki.named)
        .map(|(user, pem)| {
            let client = https_client(&tls.ca_pem)
                .identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
                .build()
                .unwrap();
            (*user, client)
        })
        .collect();
    let ask = |user: &str, path: &str| {
        let (_, client) = clients.iter().find(|(u, _)| *u == user).unwrap();
        client.get(format!("{base}{path}"))
    };
    assert_organisations_apart(&orgs, &ask).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_access_rules_take_effect_on_the_next_request() {
    let orgs = Orgs::start().await;
    let tls = tls_files_for("", &["alice", "ops"]);
    let app = orgs
        .app(
            access(&[rule(&["alice"], &[ORG_A]), rule(&["ops"], &["*"])]),
            &tls.web_config,
        )
        .await;
    // One client: the same keep-alive connection before and after.
    let client = https_client(&tls.ca_pem).build().unwrap();
    let ask = |user: &str, path: &str| with_password(&client, &app, user, path);
    wait_for(20, "both accounts polled", || async {
        let (_, _, m) = fetch(ask("ops", "/metrics"), "").await;
        m.matches("gridpane_last_successful_poll_timestamp_seconds{")
            .count()
            == 2
    })
    .await;
    let alice_sees = |path: &'static str| {
        let ask = &ask;
        async move {
            let (status, _, body) = fetch(ask("alice", path), path).await;
            (status, body.contains("ORGA"), body.contains("ORGB"))
        }
    };
    for path in ["/metrics", "/api/v1/sites", "/"] {
        assert_eq!(alice_sees(path).await, (200, true, false), "{path}");
    }

    app.replace_access(Some(access(&[rule(&["alice"], &[ORG_B])])));
    for path in ["/metrics", "/api/v1/sites", "/"] {
        assert_eq!(
            alice_sees(path).await,
            (200, false, true),
            "{path} after the swap"
        );
    }
    assert_eq!(
        fetch(ask("ops", "/metrics"), "").await.0,
        403,
        "ops no longer listed"
    );

    app.replace_access(Some(access(&[rule(&["alice"], &[])])));
    assert_eq!(alice_sees("/metrics").await.0, 403, "no accounts");

    app.replace_access(None);
    for path in ["/metrics", "/api/v1/sites", "/"] {
        assert_eq!(
            alice_sees(path).await,
            (200, true, true),
            "{path} without rules"
        );
    }
    app.shutdown().await;
}
