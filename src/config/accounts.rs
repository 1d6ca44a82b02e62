//! `accounts`: each account's name, GridPane host, token, time zone and
//! remote storage, checked; with none listed, the account `default` from
//! `GRIDPANE_API_TOKEN[_FILE]` and `GRIDPANE_API_URL`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::base_url::{parse_base_url, without_api_root, without_secrets};
use super::token::{check_token, read_token_file};
use super::{
    Account, ConfigError, ConfigWarning, DEFAULT_ACCOUNT, DEFAULT_BASE_URL, Secret, Sources,
    TokenSource, remote_storage, time_zone,
};
use crate::gridpane::ExposeSecret as _;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    name: String,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    token: Option<Secret>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    remote_storage: Vec<remote_storage::RawRemoteStorage>,
}

/// Validates the accounts listed, or builds the one the environment gives.
pub(super) fn validate(
    raw: Vec<RawAccount>,
    file: &str,
    sources: &Sources,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Vec<Account>, ConfigError> {
    let mut accounts = Vec::with_capacity(raw.len());
    let mut names = BTreeSet::new();
    for (i, a) in raw.into_iter().enumerate() {
        let at = |field: &str| format!("accounts[{i}].{field}");
        let name = a.name.trim().to_string();
        if name.is_empty() {
            return Err(ConfigError::at(file, &at("name"), "must not be empty"));
        }
        if !names.insert(name.clone()) {
            return Err(ConfigError::at(
                file,
                &at("name"),
                format!("duplicate account name \"{name}\""),
            ));
        }
        let given = a.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let mut base_url =
            parse_base_url(given).map_err(|m| ConfigError::at(file, &at("base_url"), m))?;
        if let Some(host) = without_api_root(&base_url) {
            warnings.push(ConfigWarning::ApiRoot {
                at: format!("{file}: key \"{}\"", at("base_url")),
                given: without_secrets(given.trim()),
                host: host.clone(),
            });
            base_url = host;
        }
        let token = match (a.token, a.token_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::at(
                    file,
                    &format!("accounts[{i}]"),
                    "set either token or token_file, not both",
                ));
            }
            (None, None) => {
                return Err(ConfigError::at(
                    file,
                    &format!("accounts[{i}]"),
                    "missing token: set token or token_file",
                ));
            }
            (Some(t), None) => {
                let t = t.expose_secret().trim();
                if t.is_empty() {
                    return Err(ConfigError::at(file, &at("token"), "must not be empty"));
                }
                check_token(t).map_err(|e| ConfigError::at(file, &at("token"), e))?;
                TokenSource::Inline(Secret::from(t))
            }
            (None, Some(path)) if looks_like_a_token(&path) => {
                return Err(ConfigError::at(
                    file,
                    &at("token_file"),
                    "looks like a token, not a path (the value is not shown): put the token in a file and give its path here, or use `token:`",
                ));
            }
            (None, Some(path)) => {
                read_token_file(&path).map_err(|e| ConfigError::at(file, &at("token_file"), e))?;
                TokenSource::File(path)
            }
        };
        let time_zone = a
            .time_zone
            .as_deref()
            .map(time_zone::parse_offset)
            .transpose()
            .map_err(|m| ConfigError::at(file, &at("time_zone"), m))?;
        let remote_storage = remote_storage::validate(
            a.remote_storage,
            &name,
            &format!("accounts[{i}]"),
            file,
            sources,
        )?;
        accounts.push(Account {
            name,
            base_url,
            token,
            time_zone,
            remote_storage,
        });
    }

    if accounts.is_empty() {
        accounts.push(account_from_env(sources, warnings)?);
    } else {
        let variables: Vec<&'static str> = ENV_ACCOUNT
            .into_iter()
            .filter(|v| sources.var(v).is_some())
            .collect();
        if !variables.is_empty() {
            warnings.push(ConfigWarning::EnvAccountIgnored {
                variables,
                file: file.to_string(),
            });
        }
    }
    Ok(accounts)
}

/// A `token_file:` that holds what looks like a token rather than a path:
/// long (a GridPane token runs to many dozens of characters), no path
/// separator, the characters of a token, and no such file. Never echoed.
fn looks_like_a_token(path: &Path) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    text.len() >= 40 && !text.contains(['/', '\\']) && check_token(text).is_ok() && !path.exists()
}

/// The variables that make the account `default` when none is listed.
const ENV_ACCOUNT: [&str; 3] = [
    "GRIDPANE_API_TOKEN",
    "GRIDPANE_API_TOKEN_FILE",
    "GRIDPANE_API_URL",
];

/// With no accounts configured, `GRIDPANE_API_TOKEN` or
/// `GRIDPANE_API_TOKEN_FILE` (and optionally `GRIDPANE_API_URL`) give one
/// account named `default`.
fn account_from_env(
    sources: &Sources,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Account, ConfigError> {
    let token = sources.var("GRIDPANE_API_TOKEN").map(str::trim);
    let token_file = sources.var("GRIDPANE_API_TOKEN_FILE").map(str::trim);
    let token = match (token, token_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError(
                "environment: set either GRIDPANE_API_TOKEN or GRIDPANE_API_TOKEN_FILE, not both"
                    .into(),
            ));
        }
        (Some(""), None) => {
            return Err(ConfigError(
                "environment: GRIDPANE_API_TOKEN is empty".into(),
            ));
        }
        (Some(t), None) => {
            check_token(t)
                .map_err(|e| ConfigError(format!("environment: GRIDPANE_API_TOKEN: {e}")))?;
            TokenSource::Inline(Secret::from(t))
        }
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            read_token_file(&path)
                .map_err(|e| ConfigError(format!("environment: GRIDPANE_API_TOKEN_FILE: {e}")))?;
            TokenSource::File(path)
        }
        (None, None) => {
            return Err(ConfigError(format!(
                "{}: no accounts configured: add accounts to the config file, or set GRIDPANE_API_TOKEN or GRIDPANE_API_TOKEN_FILE",
                sources.file_label()
            )));
        }
    };
    let given = sources.var("GRIDPANE_API_URL").unwrap_or(DEFAULT_BASE_URL);
    let mut base_url = parse_base_url(given)
        .map_err(|m| ConfigError(format!("environment: GRIDPANE_API_URL: {m}")))?;
    if let Some(host) = without_api_root(&base_url) {
        warnings.push(ConfigWarning::ApiRoot {
            at: "environment: GRIDPANE_API_URL".to_string(),
            given: without_secrets(given.trim()),
            host: host.clone(),
        });
        base_url = host;
    }
    Ok(Account {
        name: DEFAULT_ACCOUNT.to_string(),
        base_url,
        token,
        time_zone: None,
        remote_storage: Vec::new(),
    })
}
