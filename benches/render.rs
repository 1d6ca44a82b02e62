//! In-process costs at fleet scale: decoding a poll's responses into a
//! snapshot, judging it, rendering the exposition from the assessed
//! snapshot (as the cache renders it: the verdicts are read, not made),
//! gzipping it, and what a cached scrape still renders; and the status
//! page's default view.
//!
//! ```sh
//! cargo bench --bench render                          # 1k, 10k and 100k sites
//! BENCH_SITES=1000,10000 cargo bench --bench render   # fewer sizes
//! BENCH_SITES=10000 cargo bench --bench render -- status_page
//! ```
//!
//! With `BENCH_INSTRUCTIONS=decode` (or `render`, `status_page`) nothing is
//! timed: each size runs that routine once inside [`counted`], for
//! `scripts/bench/instructions.sh` to count its instructions with callgrind.

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gridpane_backup_exporter::domain::{self, AccountSnapshot, Policy};
use gridpane_backup_exporter::fake::{FakeGridPane, FakeOptions, Fleet, FleetSpec};
use gridpane_backup_exporter::gridpane::wire;
use gridpane_backup_exporter::poller::{self, Fetched};
use gridpane_backup_exporter::render::api::View;
use gridpane_backup_exporter::render::metrics::{self, GzipHead};
use gridpane_backup_exporter::render::status_page;
use gridpane_backup_exporter::render::text;
use gridpane_backup_exporter::store::{AccountState, Counters, Install, PollResult, Store};

/// Raw response bodies of one poll, as GridPane sends them.
struct Bodies {
    schedules: Vec<u8>,
    integrations: Vec<u8>,
    servers: Vec<Vec<u8>>,
    sites: Vec<Vec<u8>>,
}

fn sizes() -> Vec<usize> {
    std::env::var("BENCH_SITES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000])
}

/// Serves a fleet of `sites` from the fake and fetches every response a
/// poll reads, 200 items per page as the exporter asks.
fn fetch_bodies(sites: usize) -> Bodies {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let opts = FakeOptions::default();
        let token = opts.token.clone();
        let fleet = Fleet::generate(&FleetSpec {
            seed: 42,
            servers: (sites / 25).max(1),
            sites,
        });
        let fake = FakeGridPane::start(fleet, opts).await.expect("fake");
        let http = reqwest::Client::new();
        let get = |path: String| {
            let req = http
                .get(format!("{}/oauth/api/v1/{path}", fake.base_url()))
                .bearer_auth(&token)
                .header("Accept", "application/json");
            async move {
                let resp = req.send().await.expect("response");
                resp.bytes().await.expect("body").to_vec()
            }
        };
        let pages = |n: usize| n.div_ceil(200).max(1);
        let mut servers = Vec::new();
        for page in 1..=pages((sites / 25).max(1)) {
            servers.push(get(format!("server?page={page}&per_page=200")).await);
        }
        let mut site_pages = Vec::new();
        for page in 1..=pages(sites) {
            site_pages.push(get(format!("site?page={page}&per_page=200")).await);
        }
        Bodies {
            schedules: get("backups/schedules".to_string()).await,
            integrations: get("backups/integrations".to_string()).await,
            servers,
            sites: site_pages,
        }
    })
}

/// What the client and `build_snapshot` do with the bodies (the client
/// wraps the same serde decoding in `serde_path_to_error`).
fn decode_and_build(b: &Bodies) -> AccountSnapshot {
    let schedules: wire::SchedulesResponse =
        serde_json::from_slice(&b.schedules).expect("schedules");
    let integrations: wire::IntegrationsResponse =
        serde_json::from_slice(&b.integrations).expect("integrations");
    let mut servers = Vec::new();
    for page in &b.servers {
        let p: wire::Page<wire::Server> = serde_json::from_slice(page).expect("servers");
        servers.extend(p.data);
    }
    let mut sites = Vec::new();
    for page in &b.sites {
        let p: wire::Page<wire::Site> = serde_json::from_slice(page).expect("sites");
        sites.extend(p.data);
    }
    poller::build_snapshot(
        "bench",
        1_795_000_000.0,
        Fetched {
            sites,
            servers,
            schedules: schedules.data,
            integrations: integrations.integrations,
        },
    )
}

/// Runs one routine, for callgrind to count (`--toggle-collect` on this
/// function): the routines it counts are exactly what it runs.
#[inline(never)]
fn counted<T>(routine: impl FnOnce() -> T) {
    black_box(routine());
}

/// The process metrics as a scrape writes them.
fn process_text(process: &prometheus::Registry) -> Vec<u8> {
    let mut out = Vec::new();
    text::write_gathered(&process.gather(), &mut out);
    out
}

fn benches(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 30).single();
    let Some(now) = now else { return };
    let instructions = std::env::var("BENCH_INSTRUCTIONS").ok();
    for sites in sizes() {
        let bodies = fetch_bodies(sites);
        let snapshot = decode_and_build(&bodies);
        let store = Store::new(["bench".to_string()]);
        if let Some(slot) = store.account("bench").cloned() {
            store.install(
                &slot,
                Install::snapshot(snapshot.clone(), Utc::now()),
                |_| {},
            );
        }
        let view = View::load(&store);
        // Judged once, as the store judges a snapshot it takes in: what
        // every render reads.
        let assessed = domain::Assessed::new(snapshot.clone(), &Policy::default(), now);
        let judged = [&assessed];
        match instructions.as_deref() {
            Some("decode") => counted(|| decode_and_build(&bodies)),
            // The cache's steady state: the last render's buffers, unshared.
            Some("render") => {
                let previous = metrics::snapshot_text(&judged, now);
                counted(|| metrics::snapshot_text_recycled(&judged, now, previous));
            }
            Some("status_page") => counted(|| status_page::page(&view, None, now, "/metrics")),
            _ => {}
        }
        if instructions.is_some() {
            continue;
        }
        let text = metrics::snapshot_text(&judged, now);
        let body_bytes: usize = bodies.sites.iter().map(Vec::len).sum::<usize>()
            + bodies.servers.iter().map(Vec::len).sum::<usize>()
            + bodies.schedules.len()
            + bodies.integrations.len();
        let gz = GzipHead::new(&text.chunks);
        eprintln!(
            "{sites} sites: API bodies {} bytes in {} requests, exposition {} bytes, gzip {} bytes",
            body_bytes,
            2 + bodies.servers.len() + bodies.sites.len(),
            text.len,
            gz.bytes.len()
        );

        let mut g = c.benchmark_group(format!("{sites}_sites"));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(if sites >= 100_000 { 20 } else { 5 }))
            .throughput(Throughput::Elements(sites as u64));

        g.bench_function(BenchmarkId::new("poll_decode_and_build", sites), |b| {
            b.iter(|| black_box(decode_and_build(&bodies)))
        });
        // Judging every site, once per snapshot when it enters the store
        // (and when the policy changes or a mute ends); no render does.
        g.bench_function(BenchmarkId::new("assess", sites), |b| {
            b.iter(|| black_box(domain::Assessment::of(&snapshot, &Policy::default(), now)))
        });
        g.bench_function(BenchmarkId::new("render_text", sites), |b| {
            b.iter(|| black_box(metrics::snapshot_text(&judged, now)))
        });
        // What the cache does after its first render: every family's buffer
        // sized from the previous render.
        g.bench_function(BenchmarkId::new("render_text_resized", sites), |b| {
            b.iter(|| black_box(metrics::snapshot_text_sized(&judged, now, Some(&text))))
        });
        // What the cache does when no response still holds the last render:
        // the same buffers are written again.
        let mut previous = Some(metrics::snapshot_text(&judged, now));
        g.bench_function(BenchmarkId::new("render_text_recycled", sites), |b| {
            b.iter(|| {
                if let Some(p) = previous.take() {
                    let out = metrics::snapshot_text_recycled(&judged, now, p);
                    previous = Some(black_box(out));
                }
            })
        });
        g.bench_function(BenchmarkId::new("gzip", sites), |b| {
            b.iter(|| black_box(GzipHead::new(&text.chunks)))
        });
        // The page at `/` with no query: every site judged into a row and
        // sorted, the first 50 written out as HTML.
        g.bench_function(BenchmarkId::new("status_page", sites), |b| {
            b.iter(|| black_box(status_page::page(&view, None, now, "/metrics").html))
        });
        g.finish();
    }

    if instructions.is_some() {
        return;
    }
    // What a scrape renders when the snapshot part is cached: health and
    // process metrics, and the end of the gzip member. Independent of the
    // fleet's size.
    let process = prometheus::Registry::new();
    #[cfg(target_os = "linux")]
    {
        let pc = prometheus::process_collector::ProcessCollector::for_self();
        let _ = process.register(Box::new(pc));
    }
    let state = AccountState {
        ready: true,
        last_poll: Some(PollResult {
            finished_at: 1_795_000_000.0,
            duration_seconds: 1.5,
            requests: 53,
            error: None,
        }),
        counters: Counters::default(),
        ..AccountState::default()
    };
    let head = GzipHead::new(&[]);
    let mut g = c.benchmark_group("per_scrape");
    g.sample_size(30);
    g.bench_function("tail_plain", |b| {
        b.iter(|| {
            black_box(metrics::render_tail(
                &[("bench", &state)],
                &Policy::default(),
                &process_text(&process),
                now,
            ))
        })
    });
    g.bench_function("tail_gzip", |b| {
        b.iter(|| {
            let tail = metrics::render_tail(
                &[("bench", &state)],
                &Policy::default(),
                &process_text(&process),
                now,
            );
            black_box(head.finish(&tail))
        })
    });
    g.finish();
}

criterion_group!(render, benches);
criterion_main!(render);
