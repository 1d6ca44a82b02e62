//! Reloads that cannot open the house: a SIGHUP whose file would drop the
//! access rules in force is refused whole and counted; a SIGHUP racing the
//! start neither kills the exporter nor is lost.

use crate::exporter::Spawned;
use crate::support;

use support::*;

/// The exporter's configuration: one account, polled once an hour, then
/// `rest`.
fn write_config(dir: &std::path::Path, base_url: &str, rest: &str) -> std::path::PathBuf {
    acme_config_file(
        dir,
        base_url,
        &format!("poll:\n  interval: 1h\n  requests_per_minute: 0\n{rest}"),
    )
}

async fn status_as(base: &str, user: &str, path: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .basic_auth(user, Some("pw"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_would_drop_the_access_rules_in_force_is_refused_whole_and_counted() {
    let fake = fake(fleet_of(3, 1, 4)).await;
    let dir = tempfile::tempdir().unwrap();
    let web = basic_auth_web_config(dir.path(), &["alice", "mallory"]);
    let rules = "access:\n  - users: [alice]\n    accounts: [acme]\n";
    let config = write_config(dir.path(), fake.base_url().as_str(), rules);
    let exporter = Spawned::start(
        &config,
        dir.path(),
        &["--web.config.file", web.to_str().unwrap()],
    );
    let base = exporter.base.clone();
    wait_for(10, "alice sees acme", || async {
        status_as(&base, "alice", "/api/v1/sites").await.0 == 200
    })
    .await;
    let failures = || async {
        let (_, text) = status_as(&base, "alice", "/metrics").await;
        value(&text, "gridpane_exporter_config_reload_failures_total")
    };
    assert_eq!(failures().await.as_deref(), Some("0"));
    assert_eq!(status_as(&base, "mallory", "/api/v1/sites").await.0, 403);

    // Each would let mallory see every account; each also changes the
    // policy, which must not be applied either.
    let policy = "policy:\n  min_retention_days: 99\n";
    let without_rules = [
        policy.to_string(),
        format!("{policy}access:\n#  - users: [alice]\n#    accounts: [acme]\n"),
        format!("{policy}access: []\n"),
    ];
    for (i, rest) in without_rules.iter().enumerate() {
        write_config(dir.path(), fake.base_url().as_str(), rest);
        exporter.hangup();
        wait_for(10, "the refused reload", || async {
            exporter
                .logged()
                .matches("configuration reload refused")
                .count()
                == i + 1
        })
        .await;
        assert_eq!(
            status_as(&base, "mallory", "/api/v1/sites").await.0,
            403,
            "{rest}"
        );
        let (_, status) = status_as(&base, "alice", "/api/v1/status").await;
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        assert_eq!(
            status["policy"]["min_retention_days"], 7,
            "the whole reload is refused: {rest}"
        );
        assert_eq!(failures().await, Some((i + 1).to_string()));
    }
    let refused: Vec<String> = exporter
        .logged()
        .lines()
        .filter(|l| l.contains("configuration reload refused"))
        .map(str::to_string)
        .collect();
    for line in &refused {
        assert!(
            line.contains("level=error")
                && line.contains("scopes_in_force=1")
                && line.contains("takes a restart"),
            "{line}"
        );
    }
    assert!(refused[0].contains("new_rules=absent"), "{}", refused[0]);
    assert!(refused[1].contains("new_rules=absent"), "{}", refused[1]);
    assert!(refused[2].contains("new_rules=empty"), "{}", refused[2]);
    assert!(!exporter.logged().contains("configuration reloaded"));

    // A file that keeps rules still reloads.
    write_config(
        dir.path(),
        fake.base_url().as_str(),
        &format!("{policy}{rules}"),
    );
    exporter.hangup();
    wait_for(10, "the reload", || async {
        exporter.logged().contains("configuration reloaded")
    })
    .await;
    let (_, status) = status_as(&base, "alice", "/api/v1/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["policy"]["min_retention_days"], 99);
    assert_eq!(failures().await.as_deref(), Some("3"));
}

/// A SIGHUP that comes while the exporter starts: the token file is a FIFO,
/// so the start waits (reading the configuration, before the state file,
/// the listening socket and the first polls) until the test writes the
/// token, and the SIGHUP is sent in that wait.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_while_the_exporter_starts_neither_ends_it_nor_is_lost() {
    use std::io::Write as _;
    let fake = fake(fleet_of(3, 1, 4)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), fake.base_url().as_str(), "");
    let token = dir.path().join("token");
    std::fs::remove_file(&token).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&token)
        .status()
        .unwrap();
    assert!(made.success());
    let mut exporter = Spawned::start(&config, dir.path(), &[]);
    // Opening the FIFO for writing returns once the exporter reads it.
    let fifo = {
        let token = token.clone();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tokio::task::spawn_blocking(move || {
                std::fs::OpenOptions::new().write(true).open(token)
            }),
        )
        .await
        .expect("the exporter reads its token file")
        .unwrap()
        .unwrap()
    };
    exporter.hangup();
    // Later reads (each poll, the reload) find a plain file.
    let plain = dir.path().join("token.plain");
    std::fs::write(&plain, TOKEN).unwrap();
    std::fs::rename(&plain, &token).unwrap();
    let mut fifo = fifo;
    fifo.write_all(TOKEN.as_bytes()).unwrap();
    drop(fifo);

    let ready = format!("{}/-/ready", exporter.base);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = exporter.child.try_wait().unwrap() {
            panic!("the exporter ended ({status}): {}", exporter.logged());
        }
        if reqwest::get(&ready).await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not ready: {}",
            exporter.logged()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The SIGHUP received while starting was kept and applied once started.
    wait_for(10, "the kept reload", || async {
        exporter.logged().contains("configuration reloaded")
    })
    .await;
    let logged = exporter.logged();
    assert_eq!(
        logged.matches("SIGHUP received").count(),
        1,
        "applied once: {logged}"
    );
    let listening = logged.find("listening").unwrap();
    let reloaded = logged.find("SIGHUP received").unwrap();
    assert!(listening < reloaded, "applied once started: {logged}");
    assert_eq!(exporter.child.try_wait().unwrap(), None);
}
