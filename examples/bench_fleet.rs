//! Benchmarks only: serves a generated fleet from the fake GridPane on a
//! loopback port and writes an exporter configuration that polls it.
//! Used by `scripts/bench/run.sh`; runs until interrupted.
//!
//! ```sh
//! cargo run --release --example bench_fleet -- --sites 10000 --config /tmp/bench.yml
//! ```

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use gridpane_backup_exporter::fake::{
    FakeEndpoint, FakeGridPane, FakeOptions, Fault, FaultCount, Fleet, FleetSpec, RateLimit,
};

#[derive(Debug, Parser)]
struct Args {
    /// Sites in the fleet.
    #[arg(long)]
    sites: usize,
    /// Servers; by default one per 25 sites.
    #[arg(long)]
    servers: Option<usize>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Enforce GridPane's rate limits (12 units per endpoint and 60
    /// requests per account per minute).
    #[arg(long)]
    rate_limit: bool,
    /// Where to write the exporter's configuration.
    #[arg(long)]
    config: PathBuf,
    /// `poll.interval` in the configuration.
    #[arg(long, default_value = "10m")]
    interval: String,
    /// `poll.requests_per_minute` in the configuration (0: no pacing);
    /// the exporter's default budget when not given.
    #[arg(long)]
    requests_per_minute: Option<u32>,
    /// Hostile: every `/site` page holds this many minimal sites instead.
    #[arg(long)]
    site_page_items: Option<usize>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let servers = args.servers.unwrap_or((args.sites / 25).max(1));
    let fleet = Fleet::generate(&FleetSpec {
        seed: args.seed,
        servers,
        sites: args.sites,
    });
    let mut opts = FakeOptions::default();
    if args.rate_limit {
        opts = opts.with_rate_limit(RateLimit::gridpane());
    }
    let token = opts.token.clone();
    let fake = FakeGridPane::start(fleet, opts).await?;
    if let Some(items) = args.site_page_items {
        fake.set_fault(
            FakeEndpoint::Sites,
            Fault::ManyItems(items),
            FaultCount::Always,
        );
    }
    let mut yaml = format!(
        "accounts:\n  - name: bench\n    base_url: {}\n    token: {token}\n\
         poll:\n  interval: {}\n  max_body_bytes: 1073741824\n  timeout: 5m\n",
        fake.base_url(),
        args.interval,
    );
    if let Some(rpm) = args.requests_per_minute {
        yaml.push_str(&format!("  requests_per_minute: {rpm}\n"));
    }
    std::fs::write(&args.config, yaml)?;
    println!(
        "fake GridPane with {} sites on {} servers at {}",
        args.sites,
        servers,
        fake.base_url()
    );
    tokio::signal::ctrl_c().await?;
    fake.shutdown();
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
