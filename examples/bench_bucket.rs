//! One listing pass over a big bucket, for scripts/bench/bucket.sh
//! (results in docs/performance.md, "A bucket of 400k revisions").
//!
//!   bench_bucket fill ROOT [SITES] [REVISIONS]
//!       writes bucket `bench-bucket` under ROOT (the folder s3s-fs serves):
//!       SITES snapshot ids of REVISIONS revision files each, dated one to
//!       REVISIONS days in the past (sparse files of 550 bytes).
//!   bench_bucket list ENDPOINT ACCESS_KEY SECRET_KEY
//!       lists it once through the exporter's own lister, with the default
//!       `poll.remote_storage` bounds (pacing included), and prints one
//!       line: wall time, this process's CPU time, requests, keys, snapshot ids, and the peak
//!       resident set before and after the pass (VmHWM, MiB).
//!   bench_bucket idle ENDPOINT ACCESS_KEY SECRET_KEY
//!       the same process without the pass: the baseline peak.

use std::time::{Duration, Instant, SystemTime};

use gridpane_backup_exporter::bucket::lister::{Lister, http_client};
use gridpane_backup_exporter::bucket::{BucketEvidence, IntegrationRef};
use gridpane_backup_exporter::config::remote_storage::{ListingConfig, RemoteStorage};
use gridpane_backup_exporter::config::{Secret, TokenSource};

const BUCKET: &str = "bench-bucket";
const DAY: Duration = Duration::from_secs(86_400);

/// Peak resident set (VmHWM), in MiB, from /proc/self/status.
fn peak_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds this process used (user + system), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, fields 14 and 15 (11 and 12 after the name); 100 Hz.
    (ticks(11) + ticks(12)) / 100.0
}

fn fill(root: &str, sites: u32, revisions: u32) -> std::io::Result<()> {
    let started = Instant::now();
    let now = SystemTime::now();
    for s in 0..sites {
        let dir = std::path::Path::new(root)
            .join(BUCKET)
            .join("snapshots")
            .join(format!("site-{s:05}-example-com"));
        std::fs::create_dir_all(&dir)?;
        for r in 1..=revisions {
            let file = std::fs::File::create(dir.join(r.to_string()))?;
            file.set_len(550)?;
            file.set_modified(now - DAY * (revisions + 1 - r))?;
        }
    }
    println!(
        "filled {BUCKET}: {sites} snapshot ids x {revisions} revisions = {} keys in {:.1} s",
        u64::from(sites) * u64::from(revisions),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let mode = arg(0);
    if mode == "fill" {
        let sites = arg(2).parse().unwrap_or(10_000);
        let revisions = arg(3).parse().unwrap_or(40);
        return Ok(fill(&arg(1), sites, revisions)?);
    }
    let entry = RemoteStorage {
        name: "bench".to_string(),
        endpoint: arg(1).parse()?,
        path_style: true,
        region: "us-east-1".to_string(),
        access_key_id: TokenSource::Inline(Secret::from(arg(2))),
        secret_access_key: TokenSource::Inline(Secret::from(arg(3))),
        buckets: vec![BUCKET.to_string()],
        integrations: vec![IntegrationRef::Id(1)],
    };
    let listing = ListingConfig::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let lister = Lister::new("bench", &[entry], &listing, http_client(&listing)?)?;
    let before = peak_rss();
    if mode == "idle" {
        println!("idle: peak {before:.1} MiB");
        return Ok(());
    }
    let started = Instant::now();
    let evidence = runtime.block_on(lister.pass(&BucketEvidence::default()));
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds();
    let after = peak_rss();
    let (mut requests, mut keys, mut ids, mut up) = (0, 0, 0, true);
    for s in &evidence.storages {
        requests += s.requests;
        up &= s.up();
        for b in &s.buckets {
            keys += b.keys;
            ids += b.ids.len();
        }
    }
    println!(
        "list: wall {wall:.2} s, cpu {cpu:.2} s, requests {requests}, keys {keys}, ids {ids}, complete {up}, peak before {before:.1} MiB, after {after:.1} MiB, growth {:.1} MiB",
        after - before
    );
    Ok(())
}
