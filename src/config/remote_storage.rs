//! `accounts[].remote_storage`: the S3-compatible buckets an account's
//! GridPane backups land in, and `poll.remote_storage`: how they are
//! listed. Keys are read like the GridPane token: inline, from a file
//! (read again at every listing pass, so a rotated key is picked up), or
//! from `GRIDPANE_EXPORTER_S3_<ACCOUNT>_<NAME>_ACCESS_KEY_ID` and
//! `..._SECRET_ACCESS_KEY` (account and entry name upper-cased, every other
//! character than a letter or a digit turned into `_`). They are held as
//! [`Secret`]s and never shown: errors name the key, never the value.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{
    ConfigError, Secret, Sources, TokenSource, check_token, parse_base_url, read_token_file,
};
use crate::bucket::{IntegrationRef, Limits};
use crate::gridpane::ExposeSecret as _;

/// The prefix of the key variables; the configuration's own environment
/// overrides skip it.
pub(crate) const ENV_KEY_PREFIX: &str = "GRIDPANE_EXPORTER_S3_";

/// How buckets are listed (`poll.remote_storage`), for every account.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ListingConfig {
    /// Time between the starts of two listing passes of one account.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Total time one request may take, body included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Time to establish a connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Retries of one request after a timeout, a network error, a 429 or a 5xx.
    pub max_retries: u32,
    /// A bucket holding more keys under `snapshots/` is listed up to here
    /// and counts as not listed (reason `key_cap`).
    pub max_keys_per_bucket: u64,
    /// Requests per second one entry may send; 0: unpaced.
    pub requests_per_second: u32,
}

impl Default for ListingConfig {
    fn default() -> Self {
        ListingConfig {
            interval: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            max_keys_per_bucket: 2_000_000,
            requests_per_second: 25,
        }
    }
}

impl ListingConfig {
    /// The bounds of one bucket's listing.
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_retries: self.max_retries,
            max_keys: self.max_keys_per_bucket,
            min_gap: match self.requests_per_second {
                0 => Duration::ZERO,
                n => Duration::from_secs(1) / n,
            },
            ..Limits::default()
        }
    }

    pub(super) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let key = |k: &str| format!("poll.remote_storage.{k}");
        if self.interval.is_zero() {
            return Err(ConfigError::at(file, &key("interval"), "must be > 0"));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::at(file, &key("timeout"), "must be > 0"));
        }
        if self.max_keys_per_bucket == 0 {
            return Err(ConfigError::at(
                file,
                &key("max_keys_per_bucket"),
                "must be > 0",
            ));
        }
        Ok(())
    }
}

/// One entry of `accounts[].remote_storage`.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteStorage {
    /// The `remote_storage` label.
    pub name: String,
    /// The S3 endpoint; AWS's regional one when the entry names none.
    pub endpoint: Url,
    /// Path-style requests (`endpoint/bucket`): every endpoint given in the
    /// configuration; AWS (no endpoint) takes virtual-hosted ones.
    pub path_style: bool,
    pub region: String,
    pub access_key_id: TokenSource,
    pub secret_access_key: TokenSource,
    pub buckets: Vec<String>,
    /// The GridPane integrations whose backups land here.
    pub integrations: Vec<IntegrationRef>,
}

impl Eq for RemoteStorage {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRemoteStorage {
    name: String,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    access_key_id: Option<Secret>,
    #[serde(default)]
    access_key_id_file: Option<PathBuf>,
    #[serde(default)]
    secret_access_key: Option<Secret>,
    #[serde(default)]
    secret_access_key_file: Option<PathBuf>,
    #[serde(default)]
    buckets: Vec<String>,
    #[serde(default)]
    integrations: Vec<RawIntegration>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawIntegration {
    Id(u64),
    Name(String),
}

/// The region AWS's SDKs default to; Wasabi and B2 name theirs.
const DEFAULT_REGION: &str = "us-east-1";

/// Validates one account's entries. `at`: the account's key
/// (`accounts[0]`).
pub(super) fn validate(
    raw: Vec<RawRemoteStorage>,
    account: &str,
    at: &str,
    file: &str,
    sources: &Sources,
) -> Result<Vec<RemoteStorage>, ConfigError> {
    let mut out: Vec<RemoteStorage> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("{at}.remote_storage[{i}].{k}");
        let name = r.name.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(ConfigError::at(
                file,
                &key("name"),
                "must be letters, digits, '.', '_' or '-' (it is a label value)",
            ));
        }
        if out.iter().any(|e| e.name == name) {
            return Err(ConfigError::at(
                file,
                &key("name"),
                format!("duplicate entry \"{name}\""),
            ));
        }
        let region = r
            .region
            .as_deref()
            .map(str::trim)
            .unwrap_or(DEFAULT_REGION)
            .to_string();
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ConfigError::at(
                file,
                &key("region"),
                "must be a region name such as eu-central-1",
            ));
        }
        let (endpoint, path_style) = match &r.endpoint {
            Some(given) => (
                parse_base_url(given).map_err(|m| ConfigError::at(file, &key("endpoint"), m))?,
                true,
            ),
            None => {
                let aws = format!("https://s3.{region}.amazonaws.com");
                (
                    parse_base_url(&aws).map_err(|m| ConfigError::at(file, &key("region"), m))?,
                    false,
                )
            }
        };
        if r.buckets.is_empty() {
            return Err(ConfigError::at(
                file,
                &key("buckets"),
                "list at least one bucket",
            ));
        }
        let mut buckets: Vec<String> = Vec::with_capacity(r.buckets.len());
        for (j, b) in r.buckets.iter().enumerate() {
            let b = b.trim();
            if !bucket_name(b) {
                return Err(ConfigError::at(
                    file,
                    &key(&format!("buckets[{j}]")),
                    format!(
                        "\"{b}\" is not a bucket name (3 to 63 lowercase letters, digits, '.' or '-')"
                    ),
                ));
            }
            if !buckets.iter().any(|x| x == b) {
                buckets.push(b.to_string());
            }
        }
        if r.integrations.is_empty() {
            return Err(ConfigError::at(
                file,
                &key("integrations"),
                "list the GridPane integration ids (or names) whose backups land in these buckets",
            ));
        }
        let mut integrations = Vec::with_capacity(r.integrations.len());
        for (j, x) in r.integrations.into_iter().enumerate() {
            integrations.push(match x {
                RawIntegration::Id(id) => IntegrationRef::Id(id),
                RawIntegration::Name(n) if !n.trim().is_empty() => match n.trim().parse::<u64>() {
                    Ok(id) => IntegrationRef::Id(id),
                    Err(_) => IntegrationRef::Name(n.trim().to_string()),
                },
                RawIntegration::Name(_) => {
                    return Err(ConfigError::at(
                        file,
                        &key(&format!("integrations[{j}]")),
                        "must not be empty",
                    ));
                }
            });
        }
        let variable = |what: &str| env_key_name(account, &name, what);
        let access_key_id = secret(
            r.access_key_id,
            r.access_key_id_file,
            &variable("ACCESS_KEY_ID"),
            (
                "access_key_id",
                &key("access_key_id"),
                &key("access_key_id_file"),
            ),
            file,
            sources,
        )?;
        let secret_access_key = secret(
            r.secret_access_key,
            r.secret_access_key_file,
            &variable("SECRET_ACCESS_KEY"),
            (
                "secret_access_key",
                &key("secret_access_key"),
                &key("secret_access_key_file"),
            ),
            file,
            sources,
        )?;
        out.push(RemoteStorage {
            name,
            endpoint,
            path_style,
            region,
            access_key_id,
            secret_access_key,
            buckets,
            integrations,
        });
    }
    Ok(out)
}

/// `GRIDPANE_EXPORTER_S3_<ACCOUNT>_<NAME>_<WHAT>`.
pub fn env_key_name(account: &str, entry: &str, what: &str) -> String {
    let part = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{ENV_KEY_PREFIX}{}_{}_{what}", part(account), part(entry))
}

/// One key of an entry: inline, from a file, or from the environment.
/// `keys`: the word, the inline key's path and the file key's path.
fn secret(
    inline: Option<Secret>,
    path: Option<PathBuf>,
    variable: &str,
    (word, inline_key, file_key): (&str, &str, &str),
    file: &str,
    sources: &Sources,
) -> Result<TokenSource, ConfigError> {
    let from_env = sources.var(variable);
    match (inline, path) {
        (Some(_), Some(_)) => Err(ConfigError::at(
            file,
            inline_key,
            format!("set either {word} or {word}_file, not both"),
        )),
        (Some(s), None) => inline_secret(s.expose_secret(), inline_key, file),
        (None, Some(path)) => {
            read_token_file(&path).map_err(|e| ConfigError::at(file, file_key, e))?;
            Ok(TokenSource::File(path))
        }
        (None, None) => match from_env {
            Some(v) => inline_secret(v, variable, "environment"),
            None => Err(ConfigError::at(
                file,
                inline_key,
                format!("missing: set {word}, {word}_file or the variable {variable}"),
            )),
        },
    }
}

fn inline_secret(value: &str, key: &str, file: &str) -> Result<TokenSource, ConfigError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::at(file, key, "must not be empty"));
    }
    check_token(value).map_err(|e| ConfigError::at(file, key, e))?;
    Ok(TokenSource::Inline(Secret::from(value)))
}

/// An S3 bucket name as every provider accepts it.
fn bucket_name(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// What `--config.check` says an entry will verify.
pub fn summary(account: &str, entry: &RemoteStorage, listing: &ListingConfig) -> String {
    let integrations: Vec<String> = entry
        .integrations
        .iter()
        .map(|i| match i {
            IntegrationRef::Id(id) => id.to_string(),
            IntegrationRef::Name(n) => format!("{n:?}"),
        })
        .collect();
    format!(
        "  remote storage {:?} of account {account:?}: {} bucket(s) at {} ({} style, region {}), listed every {}; verifies the remote copies (missing, stale) of sites whose remote schedule points at integration {}",
        entry.name,
        entry.buckets.len(),
        entry.endpoint,
        if entry.path_style {
            "path"
        } else {
            "virtual-host"
        },
        entry.region,
        humantime::format_duration(listing.interval),
        integrations.join(", "),
    )
}

#[cfg(test)]
mod tests;
