//! `poll`: how often accounts are polled and the HTTP client's bounds, the
//! per-site detail (`poll.detail`) and how buckets are listed
//! (`poll.remote_storage`); the client and budget options built from them.

use std::time::Duration;

use serde::Deserialize;

use super::{Account, ConfigError, remote_storage};
use crate::gridpane::budget::DEFAULT_ENDPOINT_UNITS_PER_MINUTE;
use crate::gridpane::{BudgetOptions, ClientOptions};

/// Polling and HTTP client settings, shared by all accounts.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PollConfig {
    /// Time between the starts of two polls of one account.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Total time one API request may take, body included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Time to establish a connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Requests per minute one account may send (the pacing budget).
    /// 0 disables pacing (tests and the demo only), the endpoint budget too.
    pub requests_per_minute: u32,
    /// Units per minute each endpoint may spend (a `/site` page costs 2).
    pub endpoint_units_per_minute: u32,
    /// `per_page` sent to paginated endpoints.
    pub per_page: u32,
    /// Hard cap on pages read from one paginated endpoint in one poll.
    pub max_pages: u32,
    /// A response body larger than this is rejected without being buffered.
    pub max_body_bytes: u64,
    /// Cap on the items of one list (sites, servers, schedules, integrations)
    /// per account, across all its pages; more fails the poll as `too_large`.
    pub max_items_per_account: usize,
    /// Retries of one request after a 429, a 5xx, a timeout or a network error.
    pub max_retries: u32,
    /// A complete `/site` sweep that would remove more than this share of
    /// the listed sites (or all of them) waits for the next sweep to confirm.
    pub max_site_removal_share: f64,
    /// Per-site detail requests (off by default).
    pub detail: DetailConfig,
    /// How `accounts[].remote_storage` buckets are listed.
    pub remote_storage: remote_storage::ListingConfig,
}

/// Per-site detail: `/backups/prune-schedule/{id}` and
/// `/backups/integrations/{id}` for every site, in a rolling order.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DetailConfig {
    pub enabled: bool,
    /// The detail's own budget, within the account's: requests a minute.
    pub requests_per_minute: u32,
    /// Results are laid over the snapshot together, at most this often.
    #[serde(with = "humantime_serde")]
    pub publish_every: Duration,
    /// Also read each site's backup record, `/backups/original/{id}`.
    pub history: bool,
    /// Ask GridPane to refresh a site's backup record
    /// (`/backups/refresh/{id}`, work on the customer's server) at most once
    /// per this period; off unless set.
    #[serde(with = "humantime_serde")]
    pub refresh_every: Option<Duration>,
}

impl Default for DetailConfig {
    fn default() -> Self {
        DetailConfig {
            enabled: false,
            requests_per_minute: 10,
            publish_every: Duration::from_secs(60),
            history: false,
            refresh_every: None,
        }
    }
}

impl PollConfig {
    /// The client settings of `account`.
    pub fn client_options(&self, account: &Account) -> ClientOptions {
        ClientOptions {
            base_url: account.base_url.clone(),
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            budget: self.budget_options(),
            per_page: self.per_page,
            max_pages: self.max_pages,
            max_body_bytes: self.max_body_bytes,
            max_items: self.max_items_per_account,
            max_retries: self.max_retries,
        }
    }

    /// The request budget of one account: `requests_per_minute: 0` switches
    /// all pacing off, the endpoint budget included.
    pub fn budget_options(&self) -> BudgetOptions {
        BudgetOptions::paced(self.requests_per_minute, self.endpoint_units_per_minute)
    }
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            interval: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            requests_per_minute: 30,
            endpoint_units_per_minute: DEFAULT_ENDPOINT_UNITS_PER_MINUTE,
            per_page: 200,
            max_pages: 500,
            max_body_bytes: 64 * 1024 * 1024,
            max_items_per_account: 250_000,
            max_retries: 3,
            max_site_removal_share: 0.5,
            detail: DetailConfig::default(),
            remote_storage: remote_storage::ListingConfig::default(),
        }
    }
}

impl PollConfig {
    /// Checks the bounds of `poll` and `poll.remote_storage`; an error
    /// names the key.
    pub(super) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let poll = self;
        if poll.interval.is_zero() {
            return Err(ConfigError::at(file, "poll.interval", "must be > 0"));
        }
        if poll.timeout.is_zero() {
            return Err(ConfigError::at(file, "poll.timeout", "must be > 0"));
        }
        if poll.per_page == 0 {
            return Err(ConfigError::at(file, "poll.per_page", "must be > 0"));
        }
        if poll.max_pages == 0 {
            return Err(ConfigError::at(file, "poll.max_pages", "must be > 0"));
        }
        if poll.max_items_per_account == 0 {
            let key = "poll.max_items_per_account";
            return Err(ConfigError::at(file, key, "must be > 0"));
        }
        if !(poll.max_site_removal_share > 0.0 && poll.max_site_removal_share <= 1.0) {
            let key = "poll.max_site_removal_share";
            return Err(ConfigError::at(file, key, "must be > 0 and <= 1"));
        }
        if poll.detail.enabled && poll.detail.requests_per_minute == 0 {
            return Err(ConfigError::at(
                file,
                "poll.detail.requests_per_minute",
                "must be > 0 when poll.detail.enabled is true",
            ));
        }
        if poll.detail.enabled && poll.detail.publish_every.is_zero() {
            return Err(ConfigError::at(
                file,
                "poll.detail.publish_every",
                "must be > 0 when poll.detail.enabled is true",
            ));
        }
        if poll.detail.history && !poll.detail.enabled {
            let key = "poll.detail.history";
            return Err(ConfigError::at(
                file,
                key,
                "needs poll.detail.enabled: true",
            ));
        }
        if poll.detail.refresh_every.is_some() && !poll.detail.history {
            let key = "poll.detail.refresh_every";
            return Err(ConfigError::at(
                file,
                key,
                "needs poll.detail.history: true",
            ));
        }
        if poll.detail.refresh_every.is_some_and(|d| d.is_zero()) {
            let key = "poll.detail.refresh_every";
            return Err(ConfigError::at(
                file,
                key,
                "must be > 0 (leave it out to never refresh)",
            ));
        }

        poll.remote_storage.validate(file)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, TokenSource};
    use url::Url;

    #[test]
    fn a_client_built_from_the_config_paces_at_the_configured_rates() {
        let account = Account {
            name: "acme".to_string(),
            base_url: Url::parse("https://my.gridpane.com").unwrap(),
            token: TokenSource::Inline(Secret::from("t")),
            time_zone: None,
            remote_storage: Vec::new(),
        };
        let poll = PollConfig {
            requests_per_minute: 40,
            endpoint_units_per_minute: 5,
            ..PollConfig::default()
        };
        let budget = poll.client_options(&account).budget;
        assert_eq!(budget, poll.budget_options());
        assert_eq!(
            budget,
            BudgetOptions {
                account_per_minute: 40,
                endpoint_units_per_minute: 5,
            }
        );
    }
}
