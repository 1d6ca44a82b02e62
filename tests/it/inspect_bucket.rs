//! `inspect --remote-storage NAME`, the real binary against the fake
//! GridPane and a real S3 server (s3s-fs on loopback): each snapshot id
//! with the site it matched, an ambiguous one with its candidates, an
//! orphan, the judged site without a revision; a bucket the key may not
//! list exits non-zero with the reason; no key is ever printed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use gridpane_backup_exporter::fake::{FakeGridPane, FakeOptions, FakeSite, Fleet, FleetSpec};

use crate::bucket::{BUCKET, UUID};
use crate::support::s3::{ACCESS_KEY, S3Server, SECRET_KEY};

const HOUR: Duration = Duration::from_secs(3600);
const TOKEN: &str = "inspect-bucket-token";

/// The sites of the look: `matched` and `missing` upload to the entry's
/// integration; two more whose URLs dash to one snapshot id.
struct Sites {
    matched: FakeSite,
    missing: FakeSite,
    dashed: FakeSite,
    dotted: FakeSite,
}

/// A fleet whose only sites judged by the entry are `matched` and
/// `missing`; its integration is the entry's.
fn fleet() -> (Fleet, Sites, u64) {
    let mut fleet = Fleet::generate(&FleetSpec {
        seed: 25,
        servers: 1,
        sites: 6,
    });
    let integration = fleet.integrations[0].id;
    let mut schedule = fleet
        .sites
        .iter()
        .find_map(|s| s.remote_schedule.clone())
        .unwrap();
    schedule.integration_id = Some(integration);
    for site in &mut fleet.sites {
        site.remote_schedule = None;
    }
    let urls = [
        "matched.example",
        "missing.example",
        "my-site.com",
        "my.site.com",
    ];
    for (site, url) in fleet.sites.iter_mut().zip(urls) {
        site.url = url.to_string();
    }
    for site in fleet.sites.iter_mut().take(2) {
        site.remote_bup = true;
        site.remote_schedule = Some(schedule.clone());
    }
    let sites = Sites {
        matched: fleet.sites[0].clone(),
        missing: fleet.sites[1].clone(),
        dashed: fleet.sites[2].clone(),
        dotted: fleet.sites[3].clone(),
    };
    (fleet, sites, integration)
}

/// The fake GridPane over `fleet`, and a config file whose entry
/// `wasabi-main` lists `BUCKET` at `s3` with `secret` read from a file.
async fn setup(
    fleet: Fleet,
    s3: &S3Server,
    integration: u64,
    secret: &str,
    dir: &Path,
) -> FakeGridPane {
    let fake = FakeGridPane::start(
        fleet,
        FakeOptions {
            token: TOKEN.to_string(),
            ..FakeOptions::default()
        },
    )
    .await
    .unwrap();
    let secret_file = dir.join("s3-secret");
    std::fs::write(&secret_file, secret).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        format!(
            "poll:\n  requests_per_minute: 0\n  remote_storage:\n    timeout: 5s\n    max_retries: 0\naccounts:\n  - name: acme\n    base_url: {}\n    token: {TOKEN}\n    remote_storage:\n      - name: wasabi-main\n        endpoint: {}\n        access_key_id: {ACCESS_KEY}\n        secret_access_key_file: {}\n        buckets: [{BUCKET}]\n        integrations: [{integration}]\n",
            fake.base_url(),
            s3.endpoint,
            secret_file.display(),
        ),
    )
    .unwrap();
    fake
}

/// Runs `inspect --remote-storage wasabi-main` on the config in `dir`.
async fn inspect(dir: &Path) -> Output {
    let config = dir.join("config.yaml");
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_gridpane-backup-exporter"))
            .args([
                "inspect",
                "--remote-storage",
                "wasabi-main",
                "--config.file",
            ])
            .arg(&config)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_no_key(stdout: &str, stderr: &str) {
    for key in [SECRET_KEY, ACCESS_KEY, TOKEN] {
        assert!(
            !stdout.contains(key) && !stderr.contains(key),
            "{key} printed:\n{stdout}\n{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_shows_each_snapshot_id_matched_ambiguous_or_orphaned_and_the_judged_site_without_a_revision()
 {
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    s3.put(
        BUCKET,
        &format!("snapshots/gridpane-{UUID}-matched.example/4"),
        HOUR * 2,
    );
    s3.put(
        BUCKET,
        &format!("snapshots/gridpane-{UUID}-matched.example/3"),
        HOUR * 30,
    );
    s3.put(BUCKET, "snapshots/my-site-com/1", HOUR * 5);
    s3.put(BUCKET, "snapshots/deleted-org/1", HOUR * 900);
    let (fleet, sites, integration) = fleet();
    let dir = tempfile::tempdir().unwrap();
    let _fake = setup(fleet, &s3, integration, SECRET_KEY, dir.path()).await;
    let out = inspect(dir.path()).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    assert!(
        stdout.contains(&format!("== bucket {BUCKET}\nlisted in full\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains("keys 4, requests 1, failed requests 0; snapshot ids 3"),
        "{stdout}"
    );
    // The newest of the site's two revisions, and the site by id and URL.
    assert!(
        stdout.contains(&format!(
            "  gridpane-{UUID}-matched.example: 2 revision(s), newest "
        )),
        "{stdout}"
    );
    let matched = stdout
        .lines()
        .find(|l| l.contains("matched.example: "))
        .unwrap();
    assert!(
        matched.ends_with(&format!(
            "(2h ago): site {} matched.example",
            sites.matched.id
        )),
        "{matched}"
    );
    // Ambiguous, never a match: both sites it fits.
    assert!(
        stdout.contains(&format!(
            "(5h ago): ambiguous: sites {} my-site.com, {} my.site.com\n",
            sites.dashed.id, sites.dotted.id
        )),
        "{stdout}"
    );
    let orphan = stdout
        .lines()
        .find(|l| l.starts_with("  deleted-org: "))
        .unwrap();
    assert!(
        orphan.starts_with("  deleted-org: 1 revision(s), newest ")
            && orphan.ends_with(" ago): orphan"),
        "{orphan}"
    );
    // The judged site the bucket holds nothing of, and only it.
    assert!(
        stdout.contains(&format!(
            "sites judged by this entry: 2 (remote schedule on one of its integrations); without a revision: 1\n  site {} missing.example\n",
            sites.missing.id
        )),
        "{stdout}"
    );
    assert_no_key(&stdout, &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_exits_non_zero_with_the_reason_when_the_key_may_not_list_the_bucket() {
    let Some(s3) = S3Server::start() else { return };
    s3.bucket(BUCKET);
    s3.put(BUCKET, "snapshots/matched-example/1", HOUR);
    let (fleet, _, integration) = fleet();
    let dir = tempfile::tempdir().unwrap();
    let wrong = "wrongsecretkey000000000000000000000000009";
    let _fake = setup(fleet, &s3, integration, wrong, dir.path()).await;
    let out = inspect(dir.path()).await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "== bucket {BUCKET}\nNOT LISTED (forbidden): HTTP 403: the key may not list this bucket (it needs s3:ListBucket on it)\nkeys 0, requests 1, failed requests 1 (forbidden); snapshot ids 0\n"
        )),
        "{stdout}"
    );
    // Nothing listed proves nothing missing.
    assert!(
        stdout.contains(
            "without a revision: 2 (a bucket was not listed in full: not proven missing)"
        ),
        "{stdout}"
    );
    assert!(stderr.contains("a bucket could not be listed"), "{stderr}");
    assert_no_key(&stdout, &stderr);
    assert!(!stdout.contains(wrong) && !stderr.contains(wrong));
}
