//! Warm restart: the state file is written after successful polls, served at
//! once after a restart, ignored (never fatal) when it is damaged, and always
//! loadable even when the process is SIGKILLed in the middle of a write.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use gridpane_backup_exporter::app::App;
use gridpane_backup_exporter::config::Config;
use gridpane_backup_exporter::fake::{FakeEndpoint, FakeGridPane, Fault, FaultCount, FleetSpec};
use gridpane_backup_exporter::persist;
use support::*;

async fn start_with_state(accounts: Vec<&str>, fake: &FakeGridPane, path: &Path) -> App {
    let config = Config {
        accounts: accounts
            .into_iter()
            .map(|name| account(name, fake, TOKEN))
            .collect(),
        poll: fast_poll(),
        state_file: Some(path.to_path_buf()),
        policy: Default::default(),
        access: None,
    };
    start_config(config).await
}

fn small() -> FleetSpec {
    FleetSpec {
        seed: 9,
        servers: 2,
        sites: 7,
    }
}

/// Blocks the first poll for a while, so tests see what is served before it.
fn hold_first_poll(fake: &FakeGridPane) {
    fake.set_fault(
        FakeEndpoint::Schedules,
        Fault::Delay(Duration::from_secs(2)),
        FaultCount::Times(1),
    );
}

async fn wait_for_file(path: &Path) -> Vec<persist::SavedAccount> {
    let mut found = None;
    wait_for(10, "the state file", || {
        let loaded = persist::load(path).ok().flatten();
        let ok = loaded.is_some();
        found = loaded;
        async move { ok }
    })
    .await;
    found.unwrap()
}

#[tokio::test]
async fn a_restart_serves_the_saved_snapshot_at_once_with_its_age_visible() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let fake = fake(small()).await;

    let first = start_with_state(vec!["acme"], &fake, &path).await;
    wait_first_poll(&first).await;
    let saved = wait_for_file(&path).await;
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].snapshot.sites.len(), 7);
    let (_, before) = get(&first, "/metrics").await;
    first.shutdown().await;
    let saved = persist::load(&path).unwrap().unwrap();
    let fetched_at = saved[0].snapshot.fetched_at;

    hold_first_poll(&fake);
    let second = start_with_state(vec!["acme"], &fake, &path).await;
    let (status, _) = get(&second, "/-/ready").await;
    assert_eq!(status, 200, "ready at once from the state file");
    let (_, text) = get(&second, "/metrics").await;
    assert_eq!(
        value(&text, "gridpane_sites{account=\"acme\"}").as_deref(),
        Some("7")
    );
    assert_eq!(
        value(&text, "gridpane_up{account=\"acme\"}").as_deref(),
        Some("0"),
        "no poll of this process has succeeded yet"
    );
    let served: f64 = value(
        &text,
        "gridpane_last_successful_poll_timestamp_seconds{account=\"acme\"}",
    )
    .unwrap()
    .parse()
    .unwrap();
    assert_eq!(served, fetched_at, "staleness comes from the file");
    let sites = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("gridpane_site_info{"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(sites(&text), sites(&before));

    wait_for(10, "the first poll after the restart", || async {
        value(
            &get(&second, "/metrics").await.1,
            "gridpane_up{account=\"acme\"}",
        )
        .as_deref()
            == Some("1")
    })
    .await;
    wait_for(10, "a newer state file", || async {
        persist::load(&path)
            .ok()
            .flatten()
            .is_some_and(|s| s[0].snapshot.fetched_at > fetched_at)
    })
    .await;
    second.shutdown().await;
}

#[tokio::test]
async fn accounts_no_longer_configured_are_not_restored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let fake = fake(small()).await;
    let first = start_with_state(vec!["acme", "gone"], &fake, &path).await;
    wait_first_poll(&first).await;
    wait_for(10, "both accounts saved", || async {
        persist::load(&path)
            .ok()
            .flatten()
            .is_some_and(|s| s.len() == 2)
    })
    .await;
    first.shutdown().await;

    hold_first_poll(&fake);
    let second = start_with_state(vec!["acme"], &fake, &path).await;
    let (_, text) = get(&second, "/metrics").await;
    assert!(text.contains("gridpane_sites{account=\"acme\"} 7"));
    assert!(!text.contains("account=\"gone\""), "{text}");
    second.shutdown().await;
}

#[tokio::test]
async fn a_damaged_state_file_means_a_cold_start_never_a_crash() {
    let fake = fake(small()).await;
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "truncated",
            br#"{"version":1,"written_at":1,"accounts":[{"snap"#.to_vec(),
        ),
        ("corrupt", b"\x00\xffnot json at all".to_vec()),
        ("other version", br#"{"version":2,"accounts":[]}"#.to_vec()),
        (
            "wrong shape",
            br#"{"version":1,"accounts":{"acme":1}}"#.to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        let path = dir.path().join(format!("{}.json", what.replace(' ', "-")));
        std::fs::write(&path, &bytes).unwrap();
        hold_first_poll(&fake);
        let app = start_with_state(vec!["acme"], &fake, &path).await;
        assert_eq!(get(&app, "/-/ready").await.0, 503, "{what}: a cold start");
        wait_first_poll(&app).await;
        wait_for(10, "the file replaced by a good one", || async {
            persist::load(&path).is_ok_and(|s| s.is_some())
        })
        .await;
        app.shutdown().await;
    }
}

/// The state file a first run writes, after its shutdown.
async fn saved_by_a_first_run(fake: &FakeGridPane, path: &Path) -> Vec<persist::SavedAccount> {
    let first = start_with_state(vec!["acme"], fake, path).await;
    wait_first_poll(&first).await;
    wait_for_file(path).await;
    first.shutdown().await;
    persist::load(path).unwrap().unwrap()
}

#[cfg(unix)]
#[test]
fn a_link_planted_at_a_temporary_name_is_never_followed() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = dir.path().join("state.json");
    // The fixed name earlier versions wrote through.
    std::os::unix::fs::symlink(&victim, dir.path().join(".state.json.tmp")).unwrap();

    persist::save(&path, &[]).unwrap();

    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let mode = std::fs::metadata(&victim).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
    assert_eq!(persist::load(&path).unwrap(), Some(Vec::new()));
}

#[tokio::test]
async fn a_failed_write_leaves_no_temporary_file_and_is_counted() {
    let fake = fake(small()).await;
    let dir = tempfile::tempdir().unwrap();
    // A directory (not empty) where the file must go: every rename fails.
    let path = dir.path().join("state.json");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), b"").unwrap();
    // Counted per exporter, from 0.
    let before = 0;

    let app = start_with_state(vec!["acme"], &fake, &path).await;
    wait_first_poll(&app).await;
    wait_for(10, "a failed write counted", || async {
        metric(&app, "gridpane_state_write_errors_total")
            .await
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > before)
    })
    .await;
    app.shutdown().await;

    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["state.json"], "a temporary file was left behind");
}

#[tokio::test]
async fn a_snapshot_saved_with_an_impossible_fetch_time_is_not_served_as_fresh() {
    let fake = fake(small()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut saved = saved_by_a_first_run(&fake, &path).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for fetched_at in [1e308, now + 86_400.0] {
        saved[0].snapshot.fetched_at = fetched_at;
        persist::save(&path, &saved).unwrap();
        hold_first_poll(&fake);
        let app = start_with_state(vec!["acme"], &fake, &path).await;
        assert_eq!(
            get(&app, "/-/ready").await.0,
            503,
            "{fetched_at}: a cold start"
        );
        let (_, text) = get(&app, "/metrics").await;
        assert_eq!(
            value(&text, "gridpane_data_age_seconds{account=\"acme\"}"),
            None,
            "{fetched_at}"
        );
        assert_eq!(value(&text, "gridpane_sites{account=\"acme\"}"), None);
        app.shutdown().await;
    }
}

#[tokio::test]
async fn repeated_ids_in_the_state_file_give_no_duplicate_series() {
    let fake = fake(small()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut saved = saved_by_a_first_run(&fake, &path).await;
    let snap = &mut saved[0].snapshot;
    let mut twin = snap.sites[0].clone();
    twin.url = "twin.example".to_string();
    snap.sites.push(twin);
    snap.servers.push(snap.servers[0].clone());
    persist::save(&path, &saved).unwrap();

    hold_first_poll(&fake);
    let app = start_with_state(vec!["acme"], &fake, &path).await;
    assert_eq!(get(&app, "/-/ready").await.0, 200);
    let (_, text) = get(&app, "/metrics").await;
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("gridpane_site_info{"), 7, "{text}");
    assert_eq!(count("gridpane_server_info{"), 2, "{text}");
    assert!(!text.contains("twin.example"), "the first entry wins");
    assert_eq!(
        value(&text, "gridpane_sites{account=\"acme\"}").as_deref(),
        Some("7")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn impossible_backup_records_in_the_state_file_are_dropped_with_a_log_line_never_served() {
    use gridpane_backup_exporter::domain::{BackupHistory, SiteDetail, StorageBackups};
    let fake = fake(small()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut saved = saved_by_a_first_run(&fake, &path).await;
    let now = saved[0].snapshot.fetched_at;
    let record = |read_at: f64, local: StorageBackups| SiteDetail {
        fetched_at: now,
        history: Some(BackupHistory {
            read_at,
            local,
            remote: local,
            ..BackupHistory::default()
        }),
        ..SiteDetail::default()
    };
    let backups = |count: u64, last: f64| StorageBackups {
        count,
        last: Some(last),
        last_automatic: Some(last),
    };
    let ids: Vec<u64> = saved[0].snapshot.sites.iter().map(|s| s.id).collect();
    let records = [
        record(now, backups(3, 1e300)),
        record(now, backups(1 << 63, now - 3_600.0)),
        record(now, backups(3, now + 30.0 * 86_400.0)),
        record(-5.0, backups(3, now - 3_600.0)),
        record(now, backups(3, -1.0)),
        record(now, backups(3, now - 3_600.0)),
    ];
    for (id, detail) in ids.iter().zip(records) {
        saved[0].detail.insert(*id, detail);
    }
    persist::save(&path, &saved).unwrap();

    let (log, _guard) = capture_logs();
    hold_first_poll(&fake);
    let app = start_with_state(vec!["acme"], &fake, &path).await;
    assert_eq!(get(&app, "/-/ready").await.0, 200, "served from the file");
    let (_, sites) = get(&app, "/api/v1/sites").await;
    let sites: serde_json::Value = serde_json::from_str(&sites).unwrap();
    let backups_of = |id: u64| {
        sites["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["backups"]
            .clone()
    };
    for id in &ids[..5] {
        assert!(backups_of(*id).is_null(), "{id}: {}", backups_of(*id));
    }
    assert_eq!(
        backups_of(ids[5])["local"]["count"],
        3,
        "a possible record is kept"
    );
    let (_, text) = get(&app, "/metrics").await;
    for id in &ids[..5] {
        assert_eq!(
            value(
                &text,
                &format!(
                    "gridpane_backup_last_timestamp_seconds{{account=\"acme\",site_id=\"{id}\",storage=\"local\"}}"
                )
            ),
            None
        );
    }
    assert!(
        value(
            &text,
            &format!(
                "gridpane_backup_last_timestamp_seconds{{account=\"acme\",site_id=\"{}\",storage=\"local\"}}",
                ids[5]
            )
        )
        .is_some(),
        "the possible record is served"
    );
    let logged = std::fs::read_to_string(log.path()).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains("impossible backup record"))
        .unwrap_or_else(|| panic!("logged: {logged}"));
    assert!(
        line.contains("account=acme")
            && line.contains("what=\"backup_record\"")
            && line.contains("dropped=5"),
        "{line}"
    );
    app.shutdown().await;
}

fn write_config(dir: &Path, fake: &FakeGridPane, state: &Path, interval: &str) -> PathBuf {
    acme_config_file(
        dir,
        fake.base_url().as_str(),
        &format!(
            "poll:\n  interval: {interval}\n  requests_per_minute: 0\n  per_page: 100\n  detail:\n    enabled: true\n    requests_per_minute: 600000\n    publish_every: 1ms\nstate_file: {}\n",
            state.display()
        ),
    )
}

/// A tiny xorshift, so the kill moments vary without a dependency.
struct Jitter(u64);

impl Jitter {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_file_always_loads_after_a_sigkill_during_writes() {
    // Big enough that a write takes a while, polled as fast as possible,
    // with per-site detail published every millisecond or so: each batch is
    // a new generation, so the writer writes nearly all the time.
    let fake = fake(FleetSpec {
        seed: 11,
        servers: 5,
        sites: 1000,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let config = write_config(dir.path(), &fake, &path, "10ms");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut jitter = Jitter(u64::from(seed) | 1);
    let started = std::time::Instant::now();
    let mut kills = 0;
    let mut loaded_with_data = 0;
    while started.elapsed() < Duration::from_secs(10) && kills < 25 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridpane-backup-exporter"))
            .args([
                "--config.file",
                config.to_str().unwrap(),
                "--web.listen-address",
                &format!("127.0.0.1:{}", free_port()),
                "--log.level",
                "error",
            ])
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if kills == 0 {
            // The first run writes the first whole snapshot (the first
            // sweep's publications come before it); later runs, warm
            // starts, kill anywhere.
            wait_for(10, "the first whole state file", || async {
                persist::load(&path)
                    .ok()
                    .flatten()
                    .is_some_and(|saved| saved[0].snapshot.sites.len() == 1000)
            })
            .await;
        } else {
            tokio::time::sleep(Duration::from_millis(50 + jitter.next_ms(600))).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        match persist::load(&path) {
            Ok(Some(saved)) => {
                assert_eq!(saved.len(), 1);
                assert_eq!(saved[0].snapshot.sites.len(), 1000, "a whole snapshot");
                loaded_with_data += 1;
            }
            Ok(None) => panic!("after kill {kills}: the file disappeared"),
            Err(e) => panic!("after kill {kills}: {e}"),
        }
        #[cfg(unix)]
        if path.exists() {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
    assert!(kills >= 10, "only {kills} kills");
    assert!(
        loaded_with_data >= kills / 2,
        "the exporter hardly ever wrote: {loaded_with_data} of {kills}"
    );
}
