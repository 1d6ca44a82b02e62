//! `--demo`: the exporter against the built-in fake GridPane, so anyone can
//! see it work without a token.

use std::time::Duration;

use crate::config::Config;
#[cfg(feature = "demo")]
use crate::fake::FakeGridPane;

pub(crate) const DEMO_ACCOUNT: &str = "demo";
pub(crate) const DEMO_INTERVAL: Duration = Duration::from_secs(15);

/// What `--config.check --demo` reports: the demo reads no configuration.
pub fn summary() -> String {
    format!(
        "demo: no configuration file or token is read; a built-in fake GridPane on a loopback port serves a generated fleet as the account \"{DEMO_ACCOUNT}\", polled every {}",
        humantime::format_duration(DEMO_INTERVAL)
    )
}

/// The line printed once the demo listens, with the page to open.
pub fn banner(url: &str) -> String {
    format!(
        "demo: the exporter runs against a built-in fake GridPane with a generated fleet (no token needed); open {url} (Ctrl-C stops it)"
    )
}

/// Starts the fake GridPane on a loopback port, with GridPane's observed rate
/// limits (so the rate-limit headers and metrics show), and returns it with a
/// configuration that polls it every 15 s as the account `demo`.
#[cfg(feature = "demo")]
pub async fn start() -> std::io::Result<(FakeGridPane, Config)> {
    use crate::config::{Account, DetailConfig, PollConfig, Secret, TokenSource};
    use crate::fake::{FakeOptions, Fleet, FleetSpec, RateLimit};
    use url::Url;

    let opts = FakeOptions::default().with_rate_limit(RateLimit::gridpane());
    let token = opts.token.clone();
    let fake = FakeGridPane::start(Fleet::generate(&FleetSpec::demo()), opts).await?;
    let base_url = Url::parse(&fake.base_url())
        .map_err(|e| std::io::Error::other(format!("fake GridPane URL: {e}")))?;
    let config = Config {
        accounts: vec![Account {
            name: DEMO_ACCOUNT.to_string(),
            base_url,
            token: TokenSource::Inline(Secret::from(token)),
            time_zone: None,
            remote_storage: vec![demo_bucket(&fake)?],
        }],
        poll: PollConfig {
            interval: DEMO_INTERVAL,
            requests_per_minute: 0,
            // Show the per-site detail too, backup record included: three
            // requests a site at 30 a minute (inside the fake's limits of 60
            // a minute per account and 12 per route) cover the 40 sites in about
            // five minutes, published every few seconds.
            detail: DetailConfig {
                enabled: true,
                history: true,
                requests_per_minute: 30,
                publish_every: Duration::from_secs(5),
                ..DetailConfig::default()
            },
            ..PollConfig::default()
        },
        state_file: None,
        policy: Default::default(),
        access: None,
    };
    Ok((fake, config))
}

/// A build without the `demo` feature has no fake GridPane to run against.
#[cfg(not(feature = "demo"))]
pub(crate) async fn start() -> std::io::Result<(NoDemo, Config)> {
    Err(std::io::Error::other(
        "this build has no demo: it was built without the `demo` feature (cargo build --features demo)",
    ))
}

/// Stands in for the fake GridPane in a build without the `demo` feature.
#[cfg(not(feature = "demo"))]
pub(crate) struct NoDemo;

/// The fake's own bucket, holding the demo fleet's remote integrations.
#[cfg(feature = "demo")]
fn demo_bucket(
    fake: &FakeGridPane,
) -> std::io::Result<crate::config::remote_storage::RemoteStorage> {
    use crate::bucket::IntegrationRef;
    use crate::config::{Secret, TokenSource};
    let endpoint = url::Url::parse(&fake.base_url())
        .map_err(|e| std::io::Error::other(format!("fake GridPane URL: {e}")))?;
    Ok(crate::config::remote_storage::RemoteStorage {
        name: "demo-bucket".to_string(),
        endpoint,
        path_style: true,
        region: "us-east-1".to_string(),
        access_key_id: TokenSource::Inline(Secret::from("demo")),
        secret_access_key: TokenSource::Inline(Secret::from("demo")),
        buckets: vec![crate::fake::bucket::DEMO_BUCKET.to_string()],
        integrations: fake
            .fleet()
            .integrations
            .iter()
            .map(|i| IntegrationRef::Id(i.id))
            .collect(),
    })
}
