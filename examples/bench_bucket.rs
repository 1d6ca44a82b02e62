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
//!   bench_bucket serve PORT_FILE [SITES] [REVISIONS]
//!       a ListObjectsV2 server on a free loopback port (written to
//!       PORT_FILE) holding the same keys in memory, sorted, that pages by
//!       key as AWS S3 does: each page is found by binary search from its
//!       continuation token, so a page costs the same in a bucket of any
//!       size. s3s-fs walks and sorts its whole folder for every page; this
//!       server stands in for a provider, to time the exporter's side of a
//!       400k-key pass. Signatures are not checked.

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

/// Every key of the bucket `fill` writes, sorted as S3 sorts (by bytes),
/// each with its LastModified (RFC 3339, as S3 writes it).
fn keys(sites: u32, revisions: u32) -> Vec<(String, String)> {
    let now = chrono::Utc::now();
    let mut keys = Vec::with_capacity((sites * revisions) as usize);
    for s in 0..sites {
        for r in 1..=revisions {
            let when = now - chrono::Duration::days(i64::from(revisions + 1 - r));
            keys.push((
                format!("snapshots/site-{s:05}-example-com/{r}"),
                when.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
            ));
        }
    }
    keys.sort();
    keys
}

/// One ListObjectsV2 page: up to 1,000 keys after the continuation token
/// (or start-after), under the prefix.
fn page(keys: &[(String, String)], query: &std::collections::HashMap<String, String>) -> String {
    let prefix = query.get("prefix").map_or("", String::as_str);
    let after = query
        .get("continuation-token")
        .or_else(|| query.get("start-after"));
    let start = match after {
        Some(token) => keys.partition_point(|(k, _)| k.as_str() <= token.as_str()),
        None => keys.partition_point(|(k, _)| k.as_str() < prefix),
    };
    let max = query
        .get("max-keys")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000)
        .min(1000);
    let rest = keys.get(start..).unwrap_or_default();
    let taken: Vec<_> = rest
        .iter()
        .take_while(|(k, _)| k.starts_with(prefix))
        .take(max)
        .collect();
    let truncated = rest
        .get(taken.len())
        .is_some_and(|(k, _)| k.starts_with(prefix));
    let mut out = String::with_capacity(200 + taken.len() * 200);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#);
    out.push_str(&format!("<Name>{BUCKET}</Name><Prefix>{prefix}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max}</MaxKeys><IsTruncated>{truncated}</IsTruncated>", taken.len()));
    for (key, when) in &taken {
        out.push_str(&format!(
            "<Contents><Key>{key}</Key><LastModified>{when}</LastModified><ETag>\"d41d8cd98f00b204e9800998ecf8427e\"</ETag><Size>550</Size><StorageClass>STANDARD</StorageClass></Contents>"
        ));
    }
    if truncated {
        if let Some((last, _)) = taken.last() {
            out.push_str(&format!(
                "<NextContinuationToken>{last}</NextContinuationToken>"
            ));
        }
    }
    out.push_str("</ListBucketResult>");
    out
}

fn serve(port_file: &str, sites: u32, revisions: u32) -> Result<(), Box<dyn std::error::Error>> {
    use axum::extract::{Query, State};
    use std::collections::HashMap;
    use std::sync::Arc;
    let keys = Arc::new(keys(sites, revisions));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let list = axum::routing::get(
            |State(keys): State<Arc<Vec<(String, String)>>>,
             Query(query): Query<HashMap<String, String>>| async move {
                ([("content-type", "application/xml")], page(&keys, &query))
            },
        );
        // Path-style, with or without the slash after the bucket.
        let app = axum::Router::new()
            .route(&format!("/{BUCKET}"), list.clone())
            .route(&format!("/{BUCKET}/"), list)
            .with_state(keys);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        std::fs::write(port_file, listener.local_addr()?.port().to_string())?;
        axum::serve(listener, app).await?;
        Ok(())
    })
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
    if mode == "serve" {
        let sites = arg(2).parse().unwrap_or(10_000);
        let revisions = arg(3).parse().unwrap_or(40);
        return serve(&arg(1), sites, revisions);
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
