//! `--demo`: the exporter against the built-in fake GridPane, so anyone can
//! see it work without a token.

use std::time::Duration;

use url::Url;

use crate::config::{Account, Config, DetailConfig, PollConfig, Secret, TokenSource};
use crate::fake::{FakeGridPane, FakeOptions, Fleet, FleetSpec, RateLimit};

pub const DEMO_ACCOUNT: &str = "demo";
pub const DEMO_INTERVAL: Duration = Duration::from_secs(15);

/// Starts the fake GridPane on a loopback port, with GridPane's observed rate
/// limits (so the rate-limit headers and metrics show), and returns it with a
/// configuration that polls it every 15 s as the account `demo`.
pub async fn start() -> std::io::Result<(FakeGridPane, Config)> {
    let opts = FakeOptions::default().with_rate_limit(RateLimit::gridpane());
    let token = opts.token.clone();
    let fake = FakeGridPane::start(Fleet::generate(&FleetSpec::demo()), opts).await?;
    let base_url = Url::parse(&fake.base_url())
        .map_err(|e| std::io::Error::other(format!("fake GridPane URL: {e}")))?;
    let config = Config {
        accounts: vec![Account {
            name: DEMO_ACCOUNT.to_string(),
            base_url,
            token: TokenSource::Inline(Secret::new(token)),
        }],
        poll: PollConfig {
            interval: DEMO_INTERVAL,
            requests_per_minute: 0,
            // Show the per-site detail too: within its own budget it covers
            // the 40 sites in a few minutes.
            detail: DetailConfig {
                enabled: true,
                ..DetailConfig::default()
            },
            ..PollConfig::default()
        },
        state_file: None,
    };
    Ok((fake, config))
}
