//! Peak memory of reading one hostile backup record: 60 MB of zeros, as
//! `{"success": true, "backups": {"local": {"automatic": [0,0,0,...]}}}`.
//! One mode per process, so the peak (VmHWM) is that mode's alone:
//!
//!   cargo run --release --example record_rss -- tree    # the body as a JSON tree (the reader before)
//!   cargo run --release --example record_rss -- reader  # the bounded reader (src/gridpane/record.rs)
//!   cargo run --release --example record_rss -- client  # through the client, from the fake GridPane
//!
//! Prints the peak resident set before and after, in MiB. Driven by
//! scripts/bench/record_rss.sh; results in docs/performance.md.

use std::time::Instant;

use std::time::Duration;

use gridpane_backup_exporter::fake::{
    FakeGridPane, FakeHistory, FakeOptions, Fleet, FleetSpec, HostileRecord,
};
use gridpane_backup_exporter::gridpane::{BudgetOptions, Client, ClientOptions, Secret, record};

const TOKEN: &str = "record-rss-token";

const BYTES: usize = 60 * 1024 * 1024;

/// Peak and current resident set, in MiB, from /proc/self/status.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn zeros() -> Vec<u8> {
    let head = br#"{"success": true, "backups": {"local": {"automatic": [0"#;
    let mut body = Vec::with_capacity(BYTES + 64);
    body.extend_from_slice(head);
    while body.len() < BYTES {
        body.extend_from_slice(b",0");
    }
    body.extend_from_slice(b"]}}}");
    body
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let utc = chrono::FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!());
    let now = chrono::Utc::now().timestamp();
    let (before, _) = rss();
    let started = Instant::now();
    let outcome = match mode.as_str() {
        "tree" => {
            let body = zeros();
            let tree: Result<serde_json::Value, _> = serde_json::from_slice(&body);
            format!("tree of {} bytes: parsed {}", body.len(), tree.is_ok())
        }
        "reader" => {
            let body = zeros();
            let read = record::read(&body, utc, now);
            format!(
                "reader on {} bytes: {:?}",
                body.len(),
                read.map(|f| f.backups.len())
            )
        }
        "client" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"));
            runtime.block_on(async {
                let opts = FakeOptions {
                    token: TOKEN.to_string(),
                    ..FakeOptions::default()
                };
                let fake = FakeGridPane::start(Fleet::generate(&FleetSpec::demo()), opts)
                    .await
                    .unwrap_or_else(|e| panic!("fake: {e}"));
                let mut site = 0;
                fake.update_fleet(|f| {
                    if let Some(s) = f.sites.first_mut() {
                        s.history = FakeHistory::Hostile(HostileRecord::Zeros(BYTES));
                        site = s.id;
                    }
                });
                let options = ClientOptions {
                    base_url: url::Url::parse(&fake.base_url())
                        .unwrap_or_else(|e| panic!("url: {e}")),
                    timeout: Duration::from_secs(60),
                    connect_timeout: Duration::from_secs(5),
                    budget: BudgetOptions::UNPACED,
                    per_page: 200,
                    max_pages: 50,
                    // The default poll.max_body_bytes.
                    max_body_bytes: 64 * 1024 * 1024,
                    max_items: 250_000,
                    max_retries: 0,
                };
                let client = Client::new(options).unwrap_or_else(|e| panic!("client: {e}"));
                let read = client.backup_history(&Secret::from(TOKEN), site, utc).await;
                format!(
                    "client: {:?}",
                    read.map(|f| f.backups.len()).map_err(|e| e.reason())
                )
            })
        }
        _ => {
            eprintln!("usage: record_rss tree|reader|client");
            std::process::exit(2);
        }
    };
    let (peak, now_rss) = rss();
    println!(
        "{mode}: {outcome}; peak RSS {before:.1} MiB before, {peak:.1} MiB after (now {now_rss:.1}); {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
