//! Configuration: defaults < YAML file (`--config.file`) < environment
//! (`GRIDPANE_EXPORTER_...`, nested with `__`). Flags that are not config keys
//! (`--web.*`, `--log.*`) live in `cli.rs`.
//!
//! Every error is one line that names the file (or variable) and the key.
//!
//! This file holds the validated configuration and the load. Its parts:
//! where it is read from (`sources.rs`), the errors (`errors.rs`), tokens
//! (`token.rs`), URLs (`base_url.rs`), `poll` (`poll.rs`), `accounts`
//! (`accounts.rs`), the warnings (`warning.rs`), and the sections with
//! files of their own (`policy.rs`, `access.rs`, `remote_storage.rs`,
//! `time_zone.rs`), the start checks (`preflight.rs`) and
//! `--web.config.file` (`web.rs`).

pub mod access;
mod accounts;
mod base_url;
mod errors;
pub mod policy;
mod poll;
pub mod preflight;
pub mod remote_storage;
mod sources;
pub(crate) mod time_zone;
mod token;
mod warning;
pub mod web;

use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Format, Yaml};
use serde::Deserialize;
use url::Url;

pub use crate::gridpane::Secret;
use base_url::parse_base_url;
pub use errors::ConfigError;
pub(crate) use errors::describe_kind;
use errors::figment_error;
pub use poll::{DetailConfig, PollConfig};
use sources::EnvVar;
pub use sources::Sources;
pub(crate) use token::check_token;
use token::read_token_file;
pub use token::{InvalidToken, TokenError, TokenSource};
pub use warning::ConfigWarning;
use warning::short_interval_warnings;

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "GRIDPANE_EXPORTER_";
/// The public GridPane host; agency instances use their own.
pub(crate) const DEFAULT_BASE_URL: &str = "https://my.gridpane.com";
/// Name of the single account built from `GRIDPANE_API_TOKEN[_FILE]`.
pub const DEFAULT_ACCOUNT: &str = "default";

/// One GridPane account to watch.
#[derive(Clone, Debug)]
pub struct Account {
    /// Value of the `account` label.
    pub name: String,
    /// Host of the GridPane instance, without `/oauth/api/v1`.
    pub base_url: Url,
    pub token: TokenSource,
    /// The UTC offset of the account's backup names (`time_zone`); `None`
    /// reads them as UTC.
    pub time_zone: Option<chrono::FixedOffset>,
    /// The buckets its backups land in (`remote_storage`), listed to prove
    /// them.
    pub remote_storage: Vec<remote_storage::RemoteStorage>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub accounts: Vec<Account>,
    pub poll: PollConfig,
    pub state_file: Option<PathBuf>,
    /// The backup policy (reloaded on SIGHUP).
    pub policy: crate::domain::Policy,
    /// Who may see which accounts; `None`: everyone sees every account.
    pub access: Option<access::Access>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    accounts: Vec<accounts::RawAccount>,
    #[serde(default)]
    poll: PollConfig,
    #[serde(default)]
    state_file: Option<PathBuf>,
    #[serde(default)]
    policy: policy::RawPolicy,
    access: Option<Vec<access::AccessRule>>,
}

/// A valid configuration and what looked wrong in it.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<ConfigWarning>,
}

/// Reads, merges and validates the configuration.
pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
    load_with_warnings(sources).map(|l| l.config)
}

/// Like [`load`], with the warnings.
pub fn load_with_warnings(sources: &Sources) -> Result<Loaded, ConfigError> {
    let mut figment = Figment::new();
    if let Some(path) = &sources.file {
        if let Err(e) = std::fs::metadata(path) {
            return Err(ConfigError(format!(
                "cannot read config file {}: {e}",
                path.display()
            )));
        }
        figment = figment.merge(Yaml::file_exact(path));
    }
    for (name, value) in &sources.env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        // Keys of remote storage, read by the entry they belong to.
        if name.starts_with(remote_storage::ENV_KEY_PREFIX) {
            continue;
        }
        let key = rest.to_ascii_lowercase().replace("__", ".");
        if key.is_empty() {
            continue;
        }
        figment = figment.merge(EnvVar {
            name: name.clone(),
            key,
            value: value.clone(),
        });
    }
    let raw: RawConfig = figment.extract().map_err(|e| figment_error(e, sources))?;
    let mut loaded = validate(raw, sources)?;
    let short = short_interval_warnings(&loaded.config);
    loaded.warnings.extend(short);
    Ok(loaded)
}

fn validate(raw: RawConfig, sources: &Sources) -> Result<Loaded, ConfigError> {
    let file = sources.file_label();
    let poll = raw.poll;
    poll.validate(&file)?;
    let policy = policy::validate(raw.policy, &file, chrono::Utc::now())?;
    let mut warnings = Vec::new();
    let accounts = accounts::validate(raw.accounts, &file, sources, &mut warnings)?;

    policy::check_accounts(&policy, accounts.iter().map(|a| a.name.as_str()), &file)?;
    let access = match &raw.access {
        Some(rules) => Some(
            access::Access::new(rules, accounts.iter().map(|a| a.name.as_str()))
                .map_err(|e| ConfigError::at(&file, &e.key, e.message))?,
        ),
        None => None,
    };

    Ok(Loaded {
        config: Config {
            accounts,
            poll,
            state_file: raw.state_file,
            policy,
            access,
        },
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gridpane::ExposeSecret as _;

    #[test]
    fn a_secret_never_prints_itself() {
        // A Secret has no Display: `format!("{s}")` does not compile.
        let s = Secret::from("hunter2-token");
        assert_eq!(format!("{s:?}"), "SecretBox<str>([REDACTED])");
        let source = TokenSource::Inline(s);
        assert!(!format!("{source:?}").contains("hunter2"));
        assert!(!format!("{:?}", source.load()).contains("hunter2"));
        assert_eq!(source.load().unwrap().expose_secret(), "hunter2-token");

        // Nor does an account, or the whole configuration, in any form.
        let sources = Sources {
            file: None,
            env: vec![("GRIDPANE_API_TOKEN".into(), "hunter2-token".into())],
        };
        let config = load(&sources).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!format!("{config:#?}").contains("hunter2"));
    }
}
