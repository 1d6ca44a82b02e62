//! The `probe` subcommand, run as the real binary on a GridPane folder
//! built in a temporary directory: its textfile checked by `promtool check
//! metrics` and by value, hostile input (links, unreadable inputs, a 200 MB
//! log, invalid UTF-8, quotes and newlines, unknown dates), the
//! `--web.listen-address` mode, and the systemd units.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::gridpane_dir::{BIN, GridPaneDir, UUID, log_date};
use crate::support::{self, prom};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// The samples of an exposition: series (name and labels as written) to
/// value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn near(value: Option<&f64>, want: f64, what: &str) {
    let v = value.unwrap_or_else(|| panic!("{what}: no series"));
    assert!((v - want).abs() < 120.0, "{what}: {v}, want about {want}");
}

fn site_series(name: &str, site_url: &str) -> String {
    format!(
        "{name}{{site_url=\"{site_url}\",snapshot_id=\"{}\"}}",
        GridPaneDir::snapshot_id(site_url)
    )
}

#[test]
fn the_textfile_holds_each_sites_revisions_and_log_failures_and_passes_promtool() {
    let gp = GridPaneDir::new();
    for (rev, age) in [(1, 3 * DAY), (2, 2 * DAY), (3, DAY)] {
        gp.revision("example.com", rev, age);
    }
    gp.revision("stopped.org", 7, 20 * DAY);
    // GridPane's dashed form: the log names the site with its dots.
    gp.revision("shop-example-net", 4, HOUR);
    gp.write_log(format!(
        "{} | example.com | Duplicacy Success {{0}}\n\
         {} | shop.example.net | Duplicacy Fail {{1}}\n\
         Unable to push full manual backup to Local... storage threshold exceeded...\n\
         Automated Local Backup Failed!\n\
         {} | shop.example.net | Duplicacy Fail {{1}}\n\
         Automated Local Backup Failed!\n",
        log_date(2 * HOUR),
        log_date(5 * HOUR),
        log_date(3 * HOUR),
    ));
    let text = gp.textfile();
    support::promtool_check_metrics(text.as_bytes());
    let s = samples(&text);
    let t = now();
    assert_eq!(s["gridpane_probe_success"], 1.0, "{text}");
    near(
        s.get("gridpane_probe_last_run_timestamp_seconds"),
        t,
        "last run",
    );
    assert_eq!(
        s[&format!("gridpane_probe_info{{server_uuid=\"{UUID}\"}}")],
        1.0
    );

    let newest = "gridpane_local_backup_newest_timestamp_seconds";
    let revisions = "gridpane_local_backup_revisions";
    near(
        s.get(&site_series(newest, "example.com")),
        t - 86_400.0,
        "example.com",
    );
    assert_eq!(s[&site_series(revisions, "example.com")], 3.0);
    near(
        s.get(&site_series(newest, "stopped.org")),
        t - 20.0 * 86_400.0,
        "stopped.org",
    );
    // The dashed snapshot id is named by the log's URL.
    let dashed = format!(
        "{newest}{{site_url=\"shop.example.net\",snapshot_id=\"{}\"}}",
        GridPaneDir::snapshot_id("shop-example-net")
    );
    near(s.get(&dashed), t - 3600.0, "shop.example.net");

    let failures = |site: &str| s.get(&format!("gridpane_backup_failures{{site_url=\"{site}\"}}"));
    assert_eq!(failures("shop.example.net"), Some(&2.0));
    assert_eq!(failures("example.com"), Some(&0.0));
    assert_eq!(failures("stopped.org"), Some(&0.0));
    near(
        s.get("gridpane_backup_last_failure_timestamp_seconds{site_url=\"shop.example.net\"}"),
        t - 3.0 * 3600.0,
        "last failure",
    );
    assert!(!text.contains("last_failure_timestamp_seconds{site_url=\"example.com\"}"));
    assert_eq!(s["gridpane_backup_log_unknown_date_lines"], 0.0);
    // The reason is logged, never a label.
    assert!(!text.contains("Automated"), "{text}");
    assert_eq!(
        std::fs::read_dir(gp.textfile_dir()).unwrap().count(),
        1,
        "only the textfile is left in the directory"
    );
}

#[test]
fn every_metric_the_probe_writes_is_documented_and_every_documented_one_written() {
    let gp = GridPaneDir::new();
    gp.revision("a.com", 1, HOUR);
    gp.write_log(format!(
        "{} | a.com | Duplicacy Fail {{1}}\nwhy\n",
        log_date(HOUR)
    ));
    let text = gp.textfile();
    let written: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect();
    let documented: std::collections::BTreeSet<String> =
        support::documented_probe_metrics().into_iter().collect();
    assert_eq!(
        written,
        documented,
        "docs/metrics.md, {}",
        support::PROBE_METRICS_SECTION
    );
}

#[test]
fn the_first_reason_line_of_the_newest_failure_is_logged() {
    let gp = GridPaneDir::new();
    gp.write_log(format!(
        "{} | a.com | Duplicacy Fail {{1}}\nDisk quota exceeded on /opt\nmore\n",
        log_date(HOUR)
    ));
    let out = gp.run();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Disk quota exceeded on /opt") && stderr.contains("a.com"),
        "{stderr}"
    );
    assert!(!stderr.contains("more"), "{stderr}");
}

/// A folder holding two revisions, outside the GridPane folder.
fn outside_folder(gp: &GridPaneDir) -> std::path::PathBuf {
    let outside = gp.root.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    for rev in ["1", "2"] {
        std::fs::write(outside.join(rev), "x").unwrap();
    }
    outside
}

#[test]
fn a_link_in_the_snapshots_folder_is_never_followed_out_of_it() {
    let gp = GridPaneDir::new();
    let outside = outside_folder(&gp);
    gp.revision("real.com", 1, 5 * DAY);
    // A snapshot folder that is a link, and a revision that is a link to a
    // file modified just now.
    std::os::unix::fs::symlink(
        &outside,
        gp.snapshots().join(GridPaneDir::snapshot_id("linked.com")),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outside.join("1"),
        gp.snapshots()
            .join(GridPaneDir::snapshot_id("real.com"))
            .join("2"),
    )
    .unwrap();
    let text = gp.textfile();
    let s = samples(&text);
    assert_eq!(s["gridpane_probe_success"], 1.0);
    assert!(!text.contains("linked.com"), "{text}");
    assert_eq!(
        s[&site_series("gridpane_local_backup_revisions", "real.com")],
        1.0
    );
    near(
        s.get(&site_series(
            "gridpane_local_backup_newest_timestamp_seconds",
            "real.com",
        )),
        now() - 5.0 * 86_400.0,
        "real.com",
    );
    assert_eq!(
        s["gridpane_probe_skipped_entries{reason=\"link\"}"], 2.0,
        "{text}"
    );
}

#[test]
fn a_snapshots_folder_that_is_a_link_is_not_read() {
    let gp = GridPaneDir::new();
    let outside = outside_folder(&gp);
    std::fs::create_dir_all(outside.join("gridpane-x-y.com")).unwrap();
    let snapshots = gp.snapshots();
    std::fs::remove_dir(&snapshots).unwrap();
    std::os::unix::fs::symlink(&outside, &snapshots).unwrap();
    let text = gp.textfile();
    assert_eq!(samples(&text)["gridpane_probe_success"], 0.0, "{text}");
    assert!(!text.contains("y.com"), "{text}");
}

/// With one input unreadable: success 0, the probe's own series, and no
/// per-site value at all.
fn assert_failed_without_site_values(gp: &GridPaneDir, what: &str) {
    let text = gp.textfile();
    support::promtool_check_metrics(text.as_bytes());
    let s = samples(&text);
    assert_eq!(
        s.get("gridpane_probe_success"),
        Some(&0.0),
        "{what}: {text}"
    );
    assert!(s.contains_key("gridpane_probe_last_run_timestamp_seconds"));
    for name in [
        "gridpane_local_backup_",
        "gridpane_backup_failures",
        "gridpane_backup_last_failure",
        "gridpane_backup_log_unknown",
    ] {
        assert!(!text.contains(name), "{what}: {name} written:\n{text}");
    }
}

#[test]
fn an_input_that_cannot_be_read_sets_success_to_0_and_writes_no_site_values() {
    // Root reads anything chmod forbids: a folder where a file is expected
    // cannot be read by anyone.
    let log_is_a_folder = GridPaneDir::new();
    log_is_a_folder.revision("a.com", 1, HOUR);
    std::fs::create_dir(log_is_a_folder.log_path()).unwrap();
    assert_failed_without_site_values(&log_is_a_folder, "log is a folder");

    let uuid_is_a_folder = GridPaneDir::new();
    uuid_is_a_folder.revision("a.com", 1, HOUR);
    std::fs::remove_file(uuid_is_a_folder.uuid_file()).unwrap();
    std::fs::create_dir(uuid_is_a_folder.uuid_file()).unwrap();
    assert_failed_without_site_values(&uuid_is_a_folder, "UUID file is a folder");

    let no_snapshots = GridPaneDir::new();
    no_snapshots.write_log(format!(
        "{} | a.com | Duplicacy Fail {{1}}\n",
        log_date(HOUR)
    ));
    std::fs::remove_dir(no_snapshots.snapshots()).unwrap();
    assert_failed_without_site_values(&no_snapshots, "no snapshots folder");

    let snapshots_is_a_file = GridPaneDir::new();
    std::fs::remove_dir(snapshots_is_a_file.snapshots()).unwrap();
    std::fs::write(snapshots_is_a_file.snapshots(), "x").unwrap();
    assert_failed_without_site_values(&snapshots_is_a_file, "snapshots folder is a file");
}

#[test]
fn a_log_that_does_not_exist_holds_no_failure() {
    let gp = GridPaneDir::new();
    gp.revision("a.com", 1, HOUR);
    let s = samples(&gp.textfile());
    assert_eq!(s["gridpane_probe_success"], 1.0);
    assert_eq!(s["gridpane_backup_failures{site_url=\"a.com\"}"], 0.0);
}

#[test]
fn a_fifo_where_the_log_should_be_does_not_block_the_probe() {
    let gp = GridPaneDir::new();
    let made = Command::new("mkfifo").arg(gp.log_path()).status().unwrap();
    assert!(made.success());
    let mut child = Command::new(BIN)
        .args(gp.args())
        .arg(format!(
            "--textfile.directory={}",
            gp.textfile_dir().display()
        ))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the probe blocked on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(gp.textfile_dir().join("gridpane_backups.prom")).unwrap();
    assert_eq!(samples(&text)["gridpane_probe_success"], 0.0);
}

#[test]
fn quotes_newlines_backslashes_and_invalid_utf8_in_names_are_escaped() {
    let gp = GridPaneDir::new();
    let hostile = format!("gridpane-{UUID}-q\"uo\\te\nnew.com");
    gp.revision_in(&hostile, 1, HOUR);
    let mut bytes = format!("gridpane-{UUID}-caf").into_bytes();
    bytes.extend_from_slice(b"\xe9.com");
    gp.revision_in(std::ffi::OsStr::from_bytes(&bytes), 1, HOUR);
    gp.write_log(b"Thu-Jul--1-01:00:11-EDT-2021 | x\"y\xff.com | Duplicacy Fail {1}\n");
    let text = gp.textfile();
    support::promtool_check_metrics(text.as_bytes());
    let s = samples(&text);
    assert_eq!(s["gridpane_probe_success"], 1.0);
    let escaped = "q\\\"uo\\\\te\\nnew.com";
    assert!(
        s.contains_key(&format!(
            "gridpane_local_backup_revisions{{site_url=\"{escaped}\",snapshot_id=\"gridpane-{UUID}-{escaped}\"}}"
        )),
        "{text}"
    );
    assert!(text.contains("site_url=\"caf\u{fffd}.com\""), "{text}");
    assert_eq!(
        s["gridpane_backup_failures{site_url=\"x\\\"y\u{fffd}.com\"}"],
        1.0
    );
}

#[test]
fn a_log_line_in_a_date_format_it_does_not_know_is_counted_not_dropped() {
    let gp = GridPaneDir::new();
    gp.write_log(
        "2021-07-01T01:00:11+02:00 | a.com | Duplicacy Fail {1}\n\
         Thu-Jul--1-01:00:11-CEST-2021 | a.com | Duplicacy Fail {1}\n\
         Thu-Jul--1-01:00:11-EDT-2021 | a.com | Duplicacy Success {0}\n",
    );
    let s = samples(&gp.textfile());
    assert_eq!(s["gridpane_backup_log_unknown_date_lines"], 2.0);
    assert_eq!(s["gridpane_backup_failures{site_url=\"a.com\"}"], 2.0);
    assert!(!s.contains_key("gridpane_backup_last_failure_timestamp_seconds{site_url=\"a.com\"}"));
}

/// Peak resident memory of a running process, polled from /proc until it
/// exits: a lower bound of the true peak, VmHWM being the high-water mark.
fn run_watching_memory(cmd: &mut Command) -> (std::process::ExitStatus, u64) {
    let mut child = cmd.spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak_kib);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Writes a 200 MB log: a 100 MB line without a newline, then failure
/// lines of more distinct sites than the probe keeps.
pub fn write_200_mb_log(path: &Path) {
    use std::io::Write as _;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\n").unwrap();
    let mut written = 100u64 << 20;
    let mut i = 0u64;
    while written < 200 << 20 {
        let line = format!(
            "Thu-Jul--1-01:00:11-EDT-2021 | site-{}.example.com | Duplicacy Fail {{1}}\nAutomated Local Backup Failed!\n",
            i % 50_000
        );
        f.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        i += 1;
    }
    f.flush().unwrap();
}

#[test]
fn a_200_mb_log_is_streamed_in_bounded_memory() {
    let gp = GridPaneDir::new();
    write_200_mb_log(&gp.log_path());
    let (status, peak_kib) = run_watching_memory(
        Command::new(BIN)
            .args(gp.args())
            .arg(format!(
                "--textfile.directory={}",
                gp.textfile_dir().display()
            ))
            .arg("--log.level=error"),
    );
    assert!(status.success());
    assert!(peak_kib > 0, "no memory reading");
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
    let text = std::fs::read_to_string(gp.textfile_dir().join("gridpane_backups.prom")).unwrap();
    let s = samples(&text);
    assert_eq!(s["gridpane_probe_success"], 1.0);
    assert_eq!(
        s["gridpane_probe_skipped_entries{reason=\"line_too_long\"}"],
        1.0
    );
    assert!(s["gridpane_probe_skipped_entries{reason=\"too_many_sites\"}"] > 0.0);
    let sites = text
        .lines()
        .filter(|l| l.starts_with("gridpane_backup_failures{"))
        .count();
    assert_eq!(sites, 10_000);
}

/// Every file and folder under `dir` with its size and modification time.
fn tree(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            out.push((
                e.path().display().to_string(),
                m.len(),
                m.modified().unwrap(),
            ));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn nothing_under_the_gridpane_folder_is_written() {
    let gp = GridPaneDir::new();
    gp.revision("a.com", 1, HOUR);
    gp.write_log(format!(
        "{} | a.com | Duplicacy Fail {{1}}\nwhy\n",
        log_date(HOUR)
    ));
    let before = tree(&gp.gridpane());
    gp.textfile();
    assert_eq!(tree(&gp.gridpane()), before);

    // A textfile directory inside the GridPane folder is refused.
    let inside = gp.gridpane().join("metrics");
    std::fs::create_dir(&inside).unwrap();
    let before = tree(&gp.gridpane());
    let out = Command::new(BIN)
        .args(gp.args())
        .arg(format!("--textfile.directory={}", inside.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("never writes under the GridPane folder")
    );
    assert_eq!(tree(&gp.gridpane()), before);
}

#[test]
fn a_textfile_that_cannot_be_written_fails_and_leaves_nothing_behind() {
    let gp = GridPaneDir::new();
    let target = gp.textfile_dir().join("gridpane_backups.prom");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), "x").unwrap();
    let out = gp.run();
    assert_eq!(out.status.code(), Some(1));
    let left: Vec<_> = std::fs::read_dir(gp.textfile_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["gridpane_backups.prom"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listen_address_mode_serves_the_same_lines_read_on_each_scrape() {
    let gp = GridPaneDir::new();
    gp.revision("a.com", 1, HOUR);
    let addr = format!("127.0.0.1:{}", prom::free_port());
    let mut args = gp.args();
    args.push(format!("--web.listen-address={addr}"));
    let mut server = prom::Server::spawn("probe", Path::new(BIN), &args, addr, gp.root.path());
    server.wait_ready("/metrics", Duration::from_secs(20)).await;
    let served = prom::get_ok(&server.url("/metrics")).await;
    support::promtool_check_metrics(served.as_bytes());
    let without_time = |text: &str| {
        let mut s = samples(text);
        s.remove("gridpane_probe_last_run_timestamp_seconds");
        s
    };
    assert_eq!(without_time(&served), without_time(&gp.textfile()));
    // A new revision shows on the next scrape.
    gp.revision("a.com", 2, Duration::ZERO);
    let again = samples(&prom::get_ok(&server.url("/metrics")).await);
    assert_eq!(
        again[&site_series("gridpane_local_backup_revisions", "a.com")],
        2.0
    );
}

// ---------------------------------------------------------------- systemd

const SERVICE: &str = "deploy/systemd/gridpane-backup-probe.service";
const TIMER: &str = "deploy/systemd/gridpane-backup-probe.timer";

#[test]
fn the_probe_unit_runs_read_only_and_hardened_every_5_minutes() {
    let d = crate::deploy::unit_directives(SERVICE);
    let get = |k: &str| crate::deploy::directive_values(&d, k);
    for (key, value) in [
        ("Type", "oneshot"),
        ("ProtectSystem", "strict"),
        (
            "ReadWritePaths",
            "/var/lib/node_exporter/textfile_collector",
        ),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("PrivateNetwork", "yes"),
        ("CapabilityBoundingSet", "CAP_DAC_READ_SEARCH"),
        ("RestrictAddressFamilies", "AF_UNIX"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
        ("MemoryMax", "64M"),
    ] {
        assert!(
            get(key).contains(&value),
            "{key}={value} missing from {SERVICE}"
        );
    }
    let exec = get("ExecStart");
    let words: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(words[0], "/usr/local/bin/gridpane-backup-exporter");
    let cli = crate::deploy::parses_as_flags(&words[1..]).unwrap();
    match cli.command {
        Some(gridpane_backup_exporter::cli::Command::Probe(a)) => {
            assert_eq!(
                a.textfile_directory.as_deref(),
                Some(Path::new("/var/lib/node_exporter/textfile_collector"))
            );
            assert_eq!(a.gridpane_dir, Path::new("/opt/gridpane"));
        }
        other => panic!("ExecStart is not probe: {other:?}"),
    }
    let timer = crate::deploy::unit_directives(TIMER);
    assert!(
        timer.contains(&("OnUnitActiveSec".into(), "5min".into())),
        "{timer:?}"
    );
    assert!(
        timer.contains(&("OnBootSec".into(), "1min".into())),
        "{timer:?}"
    );
}

#[test]
fn the_probe_units_pass_systemd_analyze_verify() {
    if !support::has_command("systemd-analyze") {
        eprintln!("SKIPPED: systemd-analyze not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for unit in [SERVICE, TIMER] {
        let text =
            prom::read_repo_file(unit).replace("/usr/local/bin/gridpane-backup-exporter", BIN);
        let name = Path::new(unit).file_name().unwrap();
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("gridpane-backup-probe.service"))
        .arg(dir.path().join("gridpane-backup-probe.timer"))
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}

// ------------------------------------------------------------ end to end

/// Nominal seconds of a fake schedule's frequency, as the exporter exports
/// them.
fn period(f: gridpane_backup_exporter::fake::FakeFrequency) -> u64 {
    use gridpane_backup_exporter::fake::FakeFrequency;
    match f {
        FakeFrequency::Hourly => 3600,
        FakeFrequency::Daily => 86_400,
        FakeFrequency::Weekly => 604_800,
        FakeFrequency::Monthly => 2_592_000,
    }
}

async fn instant_query(prom: &str, q: &str) -> Vec<serde_json::Value> {
    let v = prom::get_json(&format!("{prom}/api/v1/query"), &[("query", q)]).await;
    assert_eq!(v["status"], "success", "{q}: {v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// The demo exporter and a probe on a GridPane folder holding some of the
/// demo fleet's sites, both scraped by a real Prometheus with the shipped
/// rules: the alert that joins them fires for the one site whose local
/// revisions stopped, and the dashboard's server columns have data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_whose_local_revisions_stopped_raises_the_joined_alert_in_prometheus() {
    use gridpane_backup_exporter::fake::{Fleet, FleetSpec, SiteFault};
    let Some(prometheus) = prom::prometheus() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exporter = prom::start_demo_exporter(dir).await;

    // Four sites of the demo fleet whose local backups are on: the first
    // stopped three periods and two hours ago, the others backed up a
    // minute ago, one of them with a failure in the log.
    let fleet = Fleet::generate(&FleetSpec::demo());
    let sites: Vec<_> = fleet
        .sites
        .iter()
        .filter(|s| s.local_bup && s.local_schedule.is_some())
        .filter(|s| !s.problems.contains(&SiteFault::HostileName))
        .take(4)
        .collect();
    assert_eq!(sites.len(), 4);
    let gp = GridPaneDir::new();
    let stopped = sites[0];
    let frequency = stopped
        .local_schedule
        .as_ref()
        .map(|s| s.frequency)
        .unwrap();
    gp.revision(
        &stopped.url,
        1,
        Duration::from_secs(3 * period(frequency)) + 2 * HOUR,
    );
    for s in &sites[1..] {
        gp.revision(&s.url, 1, Duration::from_secs(60));
    }
    gp.write_log(format!(
        "{} | {} | Duplicacy Fail {{1}}\nAutomated Local Backup Failed!\n",
        log_date(Duration::from_secs(120)),
        sites[1].url
    ));
    let probe_addr = format!("127.0.0.1:{}", prom::free_port());
    let mut args = gp.args();
    args.push(format!("--web.listen-address={probe_addr}"));
    let mut probe = prom::Server::spawn("probe", Path::new(BIN), &args, probe_addr, dir);
    probe.wait_ready("/metrics", Duration::from_secs(20)).await;

    let rules = prom::shorten_durations(&prom::read_repo_file(prom::RULES), "6s", "10s");
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: gridpane\n    static_configs:\n      - targets: ['{}']\n  \
             - job_name: node\n    static_configs:\n      - targets: ['{}']\n",
            exporter.addr, probe.addr
        ),
    )
    .unwrap();
    let (_prometheus, p) = prom::start_prometheus(&prometheus, dir).await;

    let deadline = Instant::now() + Duration::from_secs(90);
    let (stopped_alerts, failure_alerts) = loop {
        let v = prom::get_json(&format!("{p}/api/v1/alerts"), &[]).await;
        let firing: Vec<serde_json::Value> = v["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["state"] == "firing")
            .collect();
        let named = |name: &str| -> Vec<serde_json::Value> {
            firing
                .iter()
                .filter(|a| a["labels"]["alertname"] == name)
                .map(|a| a["labels"].clone())
                .collect()
        };
        let (stopped_alerts, failure_alerts) = (
            named("GridPaneServerLocalBackupsStopped"),
            named("GridPaneServerBackupFailuresLogged"),
        );
        if !stopped_alerts.is_empty() && !failure_alerts.is_empty() {
            break (stopped_alerts, failure_alerts);
        }
        probe.assert_running();
        assert!(
            Instant::now() < deadline,
            "the probe's alerts never fired; firing: {firing:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Exactly the stopped site, named by the exporter.
    assert_eq!(stopped_alerts.len(), 1, "{stopped_alerts:#?}");
    let a = &stopped_alerts[0];
    assert_eq!(a["site_url"], stopped.url.as_str());
    assert_eq!(a["site_id"], stopped.id.to_string());
    assert_eq!(a["account"], "demo");
    assert_eq!(a["severity"], "critical");
    assert_eq!(failure_alerts.len(), 1, "{failure_alerts:#?}");
    assert_eq!(failure_alerts[0]["site_url"], sites[1].url.as_str());
    // No probe alert about the probe itself.
    for name in ["GridPaneProbeStale", "GridPaneProbeFailing"] {
        let v = prom::get_json(&format!("{p}/api/v1/alerts"), &[]).await;
        let any = v["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["labels"]["alertname"] == name);
        assert!(!any, "{name} is active: {v}");
    }

    // The dashboard's "the server says" columns have data for the sites.
    let (_, d) = prom::dashboards()
        .into_iter()
        .find(|(f, _)| f == "gridpane-backups.json")
        .unwrap();
    let table = prom::panels(&d)
        .into_iter()
        .find(|p| p["title"] == "What each source says, per site")
        .expect("the four witnesses' table");
    let vars = [("job", ".+"), ("instance", ".+"), ("account", "demo")];
    let mut checked = 0;
    for (ref_id, expr) in prom::panel_queries(table) {
        let from_probe = [
            "gridpane_local_backup_",
            "gridpane_backup_failures",
            "gridpane_backup_last_failure_",
        ]
        .iter()
        .any(|m| expr.contains(m));
        if !from_probe {
            continue;
        }
        let q = prom::substitute(&expr, &vars);
        let result = instant_query(&p, &q).await;
        let urls: Vec<&str> = result
            .iter()
            .filter_map(|r| r["metric"]["site_url"].as_str())
            .collect();
        // Only one site has a failure with a time.
        let want = if expr.contains("last_failure") {
            &sites[1..2]
        } else {
            &sites[..]
        };
        assert_eq!(urls.len(), want.len(), "query {ref_id}: {urls:?}");
        for s in want {
            assert!(
                urls.contains(&s.url.as_str()),
                "query {ref_id}: {urls:?} lacks {}",
                s.url
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}
