//! What loads but may not do what was meant: printed by `--config.check`
//! and logged at start, in the same words.

use std::fmt;
use std::time::Duration;

use url::Url;

use super::Config;
use super::base_url::{API_ROOT_PATH, is_loopback};

/// A configuration that loads but may not do what was meant. Printed by
/// `--config.check` and logged at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigWarning {
    /// A base URL that named GridPane's API root: its `/oauth/api/v1` was
    /// dropped, since the client adds it.
    ApiRoot {
        /// Where: `config.yml: key "accounts[0].base_url"`.
        at: String,
        given: String,
        host: Url,
    },
    /// `GRIDPANE_API_TOKEN[_FILE]` or `GRIDPANE_API_URL` set while the
    /// configuration lists accounts: they make the account `default` only
    /// when none is listed.
    EnvAccountIgnored {
        variables: Vec<&'static str>,
        file: String,
    },
    /// Polling a remote host more than once a minute risks its rate limits.
    ShortInterval { account: String, interval: Duration },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarning::ApiRoot { at, given, host } => write!(
                f,
                "{at}: \"{given}\" is GridPane's API root; using {host} (the exporter adds {API_ROOT_PATH} itself)"
            ),
            ConfigWarning::EnvAccountIgnored { variables, file } => {
                let verb = if variables.len() == 1 { "is" } else { "are" };
                write!(
                    f,
                    "environment: {} {verb} ignored because {file} lists accounts, each with its own token; unset {}, or remove accounts from {file}",
                    variables.join(" and "),
                    if variables.len() == 1 { "it" } else { "them" },
                )
            }
            ConfigWarning::ShortInterval { account, interval } => write!(
                f,
                "poll.interval: {} polls account \"{account}\" more than once a minute, which risks GridPane's rate limits (the default is 5m)",
                humantime::format_duration(*interval)
            ),
        }
    }
}

impl ConfigWarning {
    /// Logs the warning with its fields, in the words `--config.check`
    /// prints.
    pub fn log(&self) {
        match self {
            ConfigWarning::ApiRoot { at, host, .. } => {
                tracing::warn!(key = %at, base_url = %host, "{self}");
            }
            ConfigWarning::EnvAccountIgnored { variables, file } => {
                tracing::warn!(variables = %variables.join(","), file = %file, "{self}");
            }
            ConfigWarning::ShortInterval { account, interval } => {
                tracing::warn!(account = %account, interval = %humantime::format_duration(*interval), "{self}");
            }
        }
    }
}

/// Accounts whose poll interval is short enough to risk GridPane's rate
/// limits (under a minute, and not a loopback test server).
pub(super) fn short_interval_warnings(config: &Config) -> Vec<ConfigWarning> {
    if config.poll.interval >= Duration::from_secs(60) {
        return Vec::new();
    }
    config
        .accounts
        .iter()
        .filter(|a| !is_loopback(&a.base_url))
        .map(|a| ConfigWarning::ShortInterval {
            account: a.name.clone(),
            interval: config.poll.interval,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Account, PollConfig, Secret, TokenSource};

    #[test]
    fn short_intervals_are_warned_about_only_for_remote_hosts() {
        let account = |url: &str| Account {
            name: url.to_string(),
            base_url: Url::parse(url).unwrap(),
            token: TokenSource::Inline(Secret::from("t")),
            time_zone: None,
            remote_storage: Vec::new(),
        };
        let config = Config {
            accounts: vec![
                account("http://127.0.0.1:1"),
                account("https://my.gridpane.com"),
            ],
            poll: PollConfig {
                interval: Duration::from_secs(15),
                ..PollConfig::default()
            },
            state_file: None,
            policy: Default::default(),
            access: None,
        };
        assert_eq!(
            short_interval_warnings(&config),
            vec![ConfigWarning::ShortInterval {
                account: "https://my.gridpane.com".to_string(),
                interval: Duration::from_secs(15),
            }]
        );
    }
}
