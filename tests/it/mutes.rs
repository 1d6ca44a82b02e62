//! Mutes and accounts: a mute can name its account; a mute by site id
//! without one, whose id several accounts hold, mutes none of them and says
//! so; a mute's reason and the policy counts reach only viewers of its
//! account (the page, `/api/v1/status`, `/metrics`).

use crate::support;

use std::sync::Arc;

use gridpane_backup_exporter::app::App;
use gridpane_backup_exporter::config::Config;
use gridpane_backup_exporter::config::access::{Access, AccessRule};
use gridpane_backup_exporter::config::web as web_config;
use gridpane_backup_exporter::domain::Policy;
use gridpane_backup_exporter::domain::policy::{Mute, SiteRef};
use gridpane_backup_exporter::server::ServerOptions;
use serde_json::Value;
use support::*;

const A_ONLY: &str = "A-ONLY-REASON";
const AMBIGUOUS: &str = "AMBIGUOUS-REASON";

fn mute(id: u64, account: Option<&str>, reason: &str) -> Mute {
    Mute {
        sites: vec![SiteRef::Id(id)],
        account: account.map(str::to_string),
        until: chrono::Utc::now() + chrono::Duration::days(30),
        reason: Arc::from(reason),
        ..Mute::default()
    }
}

async fn fetch(app: &App, user: &str, path: &str) -> String {
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", app.addr))
        .basic_auth(user, Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{user} {path}");
    resp.text().await.unwrap()
}

async fn json(app: &App, user: &str, path: &str) -> Value {
    serde_json::from_str(&fetch(app, user, path).await).unwrap()
}

/// The site `id` of `account` as `/api/v1/sites` shows it.
async fn site(app: &App, account: &str, id: u64) -> Value {
    let sites = json(app, "ops", &format!("/api/v1/sites?account={account}")).await;
    sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_mute_applies_in_its_account_an_ambiguous_id_nowhere_and_its_reason_reaches_only_that_accounts_viewers()
 {
    // Two accounts with the same fleet: every site id is in both.
    let (a, b) = (fake(fleet_of(4, 1, 6)).await, fake(fleet_of(4, 1, 6)).await);
    let ids: Vec<u64> = a.fleet().sites.iter().map(|s| s.id).collect();
    let dir = tempfile::tempdir().unwrap();
    let web = basic_auth_web_config(dir.path(), &["alice", "bob", "ops"]);
    let rule = |user: &str, account: &str| AccessRule {
        users: vec![user.to_string()],
        accounts: vec![account.to_string()],
    };
    let access = Access::new(
        &[rule("alice", "a"), rule("bob", "b"), rule("ops", "*")],
        ["a", "b"],
    )
    .unwrap();
    let policy = Policy {
        mutes: vec![
            mute(ids[0], Some("a"), A_ONLY),
            mute(ids[1], None, AMBIGUOUS),
        ],
        ..Policy::default()
    };
    let config = Config {
        accounts: vec![account("a", &a, TOKEN), account("b", &b, TOKEN)],
        poll: fast_poll(),
        state_file: None,
        policy,
        access: Some(access),
    };
    let (log, _guard) = capture_logs();
    let app = App::start_with(
        config,
        test_web(),
        ServerOptions {
            web_config: Some(web_config::load(&web).unwrap()),
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    wait_for(
        20,
        "both accounts polled and the ambiguity found",
        || async {
            let status = json(&app, "ops", "/api/v1/status").await;
            status["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| !a["data"].is_null())
                && status["policy"]["mutes"][1]["ambiguous_site_ids"] == serde_json::json!([ids[1]])
        },
    )
    .await;

    // By id in its account: muted there only.
    let (in_a, in_b) = (site(&app, "a", ids[0]).await, site(&app, "b", ids[0]).await);
    assert!(
        !in_a["muted_problems"].as_array().unwrap().is_empty(),
        "{in_a}"
    );
    assert!(
        in_a["muted_problems"].to_string().contains(A_ONLY),
        "{in_a}"
    );
    assert!(
        in_b["muted_problems"].as_array().unwrap().is_empty(),
        "{in_b}"
    );
    assert!(!in_b["problems"].as_array().unwrap().is_empty(), "{in_b}");
    // By an id both accounts hold, without an account: muted nowhere.
    for account in ["a", "b"] {
        let s = site(&app, account, ids[1]).await;
        assert!(s["muted_problems"].as_array().unwrap().is_empty(), "{s}");
        assert!(!s["problems"].as_array().unwrap().is_empty(), "{s}");
    }
    let status = json(&app, "ops", "/api/v1/status").await;
    let mutes = &status["policy"]["mutes"];
    assert_eq!(mutes[0]["account"], "a");
    assert_eq!(mutes[0]["ambiguous_site_ids"], serde_json::json!([]));
    assert!(mutes[1]["account"].is_null());
    let page = fetch(&app, "ops", "/").await;
    assert!(
        page.contains(&format!("data-mute-ambiguous=\"#{}\"", ids[1])),
        "the page says the mute is not applied"
    );
    let logged = std::fs::read_to_string(log.path()).unwrap();
    let warned: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("more than one account holds"))
        .collect();
    assert_eq!(warned.len(), 1, "once, when found: {logged}");
    assert!(
        warned[0].contains("WARN") && warned[0].contains(&format!("site_ids=[{}]", ids[1])),
        "{}",
        warned[0]
    );

    // Each viewer: the reason of a mute of their account only, and the
    // policy counts of their sites only.
    let active = |text: &str| value(text, "gridpane_policy_mutes{state=\"active\"}");
    for (user, sees_a_only, mutes) in [
        ("alice", true, "1"),
        ("bob", false, "0"),
        ("ops", true, "2"),
    ] {
        for path in ["/", "/api/v1/status", "/api/v1/sites", "/metrics"] {
            let body = fetch(&app, user, path).await;
            assert_eq!(
                body.contains(A_ONLY),
                sees_a_only && path != "/metrics",
                "{user} {path}"
            );
            assert_eq!(
                body.contains(AMBIGUOUS),
                user == "ops" && path != "/metrics" && path != "/api/v1/sites",
                "{user} {path}"
            );
        }
        let metrics = fetch(&app, user, "/metrics").await;
        assert_eq!(active(&metrics).as_deref(), Some(mutes), "{user}");
    }
    app.shutdown().await;
}
