//! Configuration: defaults < YAML file (`--config.file`) < environment
//! (`GRIDPANE_EXPORTER_...`, nested with `__`). Flags that are not config keys
//! (`--web.*`, `--log.*`) live in `cli.rs`.
//!
//! Every error is one line that names the file (or variable) and the key.

pub mod access;
pub mod policy;
pub mod preflight;
pub mod remote_storage;
pub(crate) mod time_zone;
pub mod web;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::zeroize::Zeroizing;
use serde::Deserialize;
use url::Url;

use crate::gridpane::ExposeSecret as _;
pub use crate::gridpane::Secret;
use crate::gridpane::budget::DEFAULT_ENDPOINT_UNITS_PER_MINUTE;
use crate::gridpane::{ApiError, BudgetOptions, ClientOptions};

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "GRIDPANE_EXPORTER_";
/// The public GridPane host; agency instances use their own.
pub(crate) const DEFAULT_BASE_URL: &str = "https://my.gridpane.com";
/// Name of the single account built from `GRIDPANE_API_TOKEN[_FILE]`.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Where an account's token comes from. A file is read again at every poll,
/// so a rotated secret is picked up without a restart, and the token is held
/// only for the length of one poll.
#[derive(Clone, Debug)]
pub enum TokenSource {
    Inline(Secret),
    File(PathBuf),
}

/// A reload compares the running token with the new one: inline tokens by
/// value (a changed one needs a restart), files by path (each poll reads the
/// file again).
impl PartialEq for TokenSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TokenSource::Inline(a), TokenSource::Inline(b)) => {
                a.expose_secret() == b.expose_secret()
            }
            (TokenSource::File(a), TokenSource::File(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for TokenSource {}

impl TokenSource {
    /// Reads the token now. Errors name the file, never the content.
    pub fn load(&self) -> Result<Secret, TokenError> {
        match self {
            TokenSource::Inline(s) => Ok(s.clone()),
            TokenSource::File(path) => read_token_file(path),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read token file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot read token file {path}: the process is out of file descriptors ({source}); raise its open-file limit"
    )]
    OutOfFiles {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("token file {path} is empty")]
    Empty { path: PathBuf },
    #[error("token file {path}: {source}")]
    Invalid { path: PathBuf, source: InvalidToken },
}

impl TokenError {
    /// The token may well be fine: reading it failed for want of a
    /// resource (file descriptors), so the poll is worth retrying soon.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, TokenError::OutOfFiles { .. })
    }

    fn unreadable(path: &Path, source: std::io::Error) -> Self {
        let path = path.to_path_buf();
        // EMFILE and ENFILE: 24 and 23 on Linux, the BSDs and macOS.
        if cfg!(unix) && matches!(source.raw_os_error(), Some(23 | 24)) {
            TokenError::OutOfFiles { path, source }
        } else {
            TokenError::Unreadable { path, source }
        }
    }
}

/// A token the poll cannot have fails the poll like a rejected token
/// ("auth"), unless reading it failed for want of file descriptors.
impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::Token {
            transient: e.is_transient(),
            source: Box::new(e),
        }
    }
}

/// A token that cannot go into an `Authorization` header as it is. Names the
/// position of the first bad character, never the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the token holds {what} at character {position}; a token is visible ASCII only (the value is not shown)"
)]
pub struct InvalidToken {
    /// 1-based, in characters.
    pub position: usize,
    pub what: &'static str,
}

/// Checks that a (trimmed) token is visible ASCII only, as a bearer token
/// is: no control character (CR, LF, NUL...), space or non-ASCII character.
pub(crate) fn check_token(token: &str) -> Result<(), InvalidToken> {
    match token.chars().position(|c| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some(i) => {
            let what = match token.chars().nth(i) {
                Some(c) if c.is_ascii_control() => "a control character",
                Some(c) if c.is_ascii_whitespace() => "a space",
                _ => "a non-ASCII character",
            };
            Err(InvalidToken {
                position: i + 1,
                what,
            })
        }
    }
}

/// Reads a token file: a UTF-8 byte order mark and surrounding whitespace
/// are dropped; what is left must be a valid token.
fn read_token_file(path: &Path) -> Result<Secret, TokenError> {
    // Zeroed when dropped: the file's text is the token.
    let raw = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| TokenError::unreadable(path, source))?,
    );
    let token = raw.strip_prefix('\u{feff}').unwrap_or(&raw).trim();
    if token.is_empty() {
        return Err(TokenError::Empty {
            path: path.to_path_buf(),
        });
    }
    check_token(token).map_err(|source| TokenError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Secret::from(token))
}

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
    accounts: Vec<RawAccount>,
    #[serde(default)]
    poll: PollConfig,
    #[serde(default)]
    state_file: Option<PathBuf>,
    #[serde(default)]
    policy: policy::RawPolicy,
    access: Option<Vec<access::AccessRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
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

/// A configuration error: one line, naming where and which key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn at(source: &str, key: &str, message: impl fmt::Display) -> Self {
        ConfigError(format!("{source}: key \"{key}\": {message}"))
    }
}

/// What the configuration is read from, besides built-in defaults.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// `--config.file`.
    pub file: Option<PathBuf>,
    /// The process environment (all of it; only the relevant names are read).
    pub env: Vec<(String, String)>,
}

impl Sources {
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Sources {
            file,
            env: std::env::vars().collect(),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn file_label(&self) -> String {
        match &self.file {
            Some(p) => p.display().to_string(),
            None => "configuration".to_string(),
        }
    }
}

/// One `GRIDPANE_EXPORTER_A__B=value` variable as a figment provider, so that
/// errors name the variable.
struct EnvVar {
    name: String,
    key: String,
    value: String,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        let name = self.name.clone();
        Metadata::named("environment").interpolater(move |_: &Profile, _: &[&str]| name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let value: Value = self
            .value
            .parse()
            .unwrap_or_else(|_| Value::from(self.value.clone()));
        let dict = figment::util::nest(&self.key, value)
            .into_dict()
            .unwrap_or_default();
        Ok(Profile::Default.collect(dict))
    }
}

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

fn figment_error(e: figment::Error, sources: &Sources) -> ConfigError {
    let key = e.path.iter().fold(String::new(), |mut key, seg| {
        if seg.parse::<usize>().is_ok() {
            key.push_str(&format!("[{seg}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(seg);
        }
        key
    });
    let source = match &e.metadata {
        Some(m) if m.name == "environment" => m.interpolate(&Profile::Default, &e.path),
        Some(m) => match &m.source {
            Some(figment::Source::File(p)) => p.display().to_string(),
            _ => sources.file_label(),
        },
        None => sources.file_label(),
    };
    // A value that fails to decode is quoted by the error ("found unsigned
    // int `123...`"): never for a secret.
    // A token at the top level is meant for an account: say where it goes,
    // whatever its type (and never quote it).
    let top_level_token = match &e.kind {
        figment::error::Kind::UnknownField(found, _) => found == "token" && e.path.len() <= 1,
        _ => e.path.len() == 1 && e.path.first().is_some_and(|k| k == "token"),
    };
    if top_level_token {
        return ConfigError(format!("{source}: {TOP_LEVEL_TOKEN}"));
    }
    let kind = if e.path.last().is_some_and(|k| k == "token") {
        "must be a string: put the token in quotes (the value is not shown)".to_string()
    } else {
        describe_kind(&e.kind)
    };
    if key.is_empty() {
        ConfigError(format!("{source}: {kind}"))
    } else {
        ConfigError::at(&source, &key, kind)
    }
}

/// Where a top-level `token:` belongs.
const TOP_LEVEL_TOKEN: &str =
    "unknown key `token`: the token belongs under `accounts[]` (or in GRIDPANE_API_TOKEN_FILE)";

/// A `token_file:` that holds what looks like a token rather than a path:
/// long (a GridPane token runs to many dozens of characters), no path
/// separator, the characters of a token, and no such file. Never echoed.
fn looks_like_a_token(path: &Path) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    text.len() >= 40 && !text.contains(['/', '\\']) && check_token(text).is_ok() && !path.exists()
}

/// figment's words, except where they mislead: its list of known keys
/// nests backticks, and a duration needs an example of what is expected.
pub(crate) fn describe_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::UnknownField(found, expected) => {
            format!("unknown key `{found}`{}", one_of(expected))
        }
        Kind::UnknownVariant(found, expected) => {
            format!("unknown value `{found}`{}", one_of(expected))
        }
        Kind::InvalidType(found, expected) | Kind::InvalidValue(found, expected)
            if expected == DURATION =>
        {
            format!("found {found}, {DURATION_HINT}")
        }
        other => other.to_string(),
    }
}

/// `, expected one of `a`, `b`` (each name in its own backticks).
fn one_of(expected: &[&str]) -> String {
    let names: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(", expected {one}"),
        _ => format!(", expected one of {}", names.join(", ")),
    }
}

/// What humantime-serde says it expects.
const DURATION: &str = "a duration";
const DURATION_HINT: &str =
    "expected a duration with its unit such as `5m`, `90s` or `1h30m` (units: ms, s, m, h, d)";

fn validate(raw: RawConfig, sources: &Sources) -> Result<Loaded, ConfigError> {
    let file = sources.file_label();
    let poll = raw.poll;
    if poll.interval.is_zero() {
        return Err(ConfigError::at(&file, "poll.interval", "must be > 0"));
    }
    if poll.timeout.is_zero() {
        return Err(ConfigError::at(&file, "poll.timeout", "must be > 0"));
    }
    if poll.per_page == 0 {
        return Err(ConfigError::at(&file, "poll.per_page", "must be > 0"));
    }
    if poll.max_pages == 0 {
        return Err(ConfigError::at(&file, "poll.max_pages", "must be > 0"));
    }
    if poll.max_items_per_account == 0 {
        let key = "poll.max_items_per_account";
        return Err(ConfigError::at(&file, key, "must be > 0"));
    }
    if !(poll.max_site_removal_share > 0.0 && poll.max_site_removal_share <= 1.0) {
        let key = "poll.max_site_removal_share";
        return Err(ConfigError::at(&file, key, "must be > 0 and <= 1"));
    }
    if poll.detail.enabled && poll.detail.requests_per_minute == 0 {
        return Err(ConfigError::at(
            &file,
            "poll.detail.requests_per_minute",
            "must be > 0 when poll.detail.enabled is true",
        ));
    }
    if poll.detail.enabled && poll.detail.publish_every.is_zero() {
        return Err(ConfigError::at(
            &file,
            "poll.detail.publish_every",
            "must be > 0 when poll.detail.enabled is true",
        ));
    }
    if poll.detail.history && !poll.detail.enabled {
        let key = "poll.detail.history";
        return Err(ConfigError::at(
            &file,
            key,
            "needs poll.detail.enabled: true",
        ));
    }
    if poll.detail.refresh_every.is_some() && !poll.detail.history {
        let key = "poll.detail.refresh_every";
        return Err(ConfigError::at(
            &file,
            key,
            "needs poll.detail.history: true",
        ));
    }
    if poll.detail.refresh_every.is_some_and(|d| d.is_zero()) {
        let key = "poll.detail.refresh_every";
        return Err(ConfigError::at(
            &file,
            key,
            "must be > 0 (leave it out to never refresh)",
        ));
    }

    poll.remote_storage.validate(&file)?;
    let policy = policy::validate(raw.policy, &file, chrono::Utc::now())?;
    let mut warnings = Vec::new();
    let mut accounts = Vec::with_capacity(raw.accounts.len());
    let mut names = BTreeSet::new();
    for (i, a) in raw.accounts.into_iter().enumerate() {
        let at = |field: &str| format!("accounts[{i}].{field}");
        let name = a.name.trim().to_string();
        if name.is_empty() {
            return Err(ConfigError::at(&file, &at("name"), "must not be empty"));
        }
        if !names.insert(name.clone()) {
            return Err(ConfigError::at(
                &file,
                &at("name"),
                format!("duplicate account name \"{name}\""),
            ));
        }
        let given = a.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let mut base_url =
            parse_base_url(given).map_err(|m| ConfigError::at(&file, &at("base_url"), m))?;
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
                    &file,
                    &format!("accounts[{i}]"),
                    "set either token or token_file, not both",
                ));
            }
            (None, None) => {
                return Err(ConfigError::at(
                    &file,
                    &format!("accounts[{i}]"),
                    "missing token: set token or token_file",
                ));
            }
            (Some(t), None) => {
                let t = t.expose_secret().trim();
                if t.is_empty() {
                    return Err(ConfigError::at(&file, &at("token"), "must not be empty"));
                }
                check_token(t).map_err(|e| ConfigError::at(&file, &at("token"), e))?;
                TokenSource::Inline(Secret::from(t))
            }
            (None, Some(path)) if looks_like_a_token(&path) => {
                return Err(ConfigError::at(
                    &file,
                    &at("token_file"),
                    "looks like a token, not a path (the value is not shown): put the token in a file and give its path here, or use `token:`",
                ));
            }
            (None, Some(path)) => {
                read_token_file(&path).map_err(|e| ConfigError::at(&file, &at("token_file"), e))?;
                TokenSource::File(path)
            }
        };
        let time_zone = a
            .time_zone
            .as_deref()
            .map(time_zone::parse_offset)
            .transpose()
            .map_err(|m| ConfigError::at(&file, &at("time_zone"), m))?;
        let remote_storage = remote_storage::validate(
            a.remote_storage,
            &name,
            &format!("accounts[{i}]"),
            &file,
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
        accounts.push(account_from_env(sources, &mut warnings)?);
    } else {
        let variables: Vec<&'static str> = ENV_ACCOUNT
            .into_iter()
            .filter(|v| sources.var(v).is_some())
            .collect();
        if !variables.is_empty() {
            warnings.push(ConfigWarning::EnvAccountIgnored {
                variables,
                file: file.clone(),
            });
        }
    }

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

/// The variables that make the account `default` when none is listed.
const ENV_ACCOUNT: [&str; 3] = [
    "GRIDPANE_API_TOKEN",
    "GRIDPANE_API_TOKEN_FILE",
    "GRIDPANE_API_URL",
];

/// The path of GridPane's API under its host, which the client adds.
const API_ROOT_PATH: &str = "/oauth/api/v1";

/// GridPane's docs show the API root (`https://my.gridpane.com/oauth/api/v1`)
/// where the exporter wants the host: the URL without that path, if it ends
/// with it.
fn without_api_root(url: &Url) -> Option<Url> {
    let path = url.path().trim_end_matches('/');
    let prefix = path.strip_suffix(API_ROOT_PATH)?;
    let mut host = url.clone();
    host.set_path(&format!("{prefix}/"));
    Some(host)
}

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

fn parse_base_url(raw: &str) -> Result<Url, String> {
    let shown = without_secrets(raw);
    let url = Url::parse(raw.trim()).map_err(|e| format!("invalid URL \"{shown}\": {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "invalid URL \"{shown}\": scheme must be http or https"
        ));
    }
    if url.host_str().is_none() {
        return Err(format!("invalid URL \"{shown}\": no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "invalid URL \"{shown}\": credentials (user:password@) are not allowed; the token authenticates"
        ));
    }
    if url.query().is_some() {
        return Err(format!("invalid URL \"{shown}\": no query string allowed"));
    }
    Ok(url)
}

/// A URL as given, for messages: credentials before the host and the query
/// string replaced by `<redacted>`, since either may hold a secret.
fn without_secrets(raw: &str) -> String {
    let start = raw.find("://").map_or(0, |i| i + 3);
    let (scheme, rest) = raw.split_at_checked(start).unwrap_or(("", raw));
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = match rest.get(..host_end).and_then(|host| host.rfind('@')) {
        Some(at) => format!("<redacted>{}", rest.get(at..).unwrap_or_default()),
        None => rest.to_string(),
    };
    match rest.split_once('?') {
        Some((before, _)) => format!("{scheme}{before}?<redacted>"),
        None => format!("{scheme}{rest}"),
    }
}

/// True when the URL points at this machine (tests, the demo).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Accounts whose poll interval is short enough to risk GridPane's rate
/// limits (under a minute, and not a loopback test server).
fn short_interval_warnings(config: &Config) -> Vec<ConfigWarning> {
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

    #[test]
    fn a_reload_sees_a_changed_inline_token_but_not_a_rewritten_file() {
        let inline = |t: &str| TokenSource::Inline(Secret::from(t));
        let file = |p: &str| TokenSource::File(PathBuf::from(p));
        assert_eq!(inline("first"), inline("first"));
        assert_ne!(inline("first"), inline("rotated"));
        assert_eq!(file("/run/token"), file("/run/token"));
        assert_ne!(file("/run/token"), file("/run/other"));
        assert_ne!(inline("/run/token"), file("/run/token"));
    }

    #[test]
    fn a_token_file_is_trimmed_and_read_at_each_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let source = TokenSource::File(path.clone());
        assert_eq!(source.load().unwrap().expose_secret(), "first");
        std::fs::write(&path, "rotated\n").unwrap();
        assert_eq!(source.load().unwrap().expose_secret(), "rotated");
    }

    #[test]
    fn a_byte_order_mark_before_a_token_file_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "\u{feff}abc-token\r\n").unwrap();
        assert_eq!(
            TokenSource::File(path).load().unwrap().expose_secret(),
            "abc-token"
        );
    }

    #[test]
    fn a_token_file_rewritten_with_a_bad_character_is_a_token_error_that_hides_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "good-token").unwrap();
        let source = TokenSource::File(path.clone());
        assert!(source.load().is_ok());
        std::fs::write(&path, "SECRET\0tail").unwrap();
        let err = source.load().unwrap_err();
        assert!(matches!(
            err,
            TokenError::Invalid {
                source: InvalidToken { position: 7, .. },
                ..
            }
        ));
        let api = ApiError::from(err);
        assert_eq!(api.reason(), "auth");
        let text = api.to_string();
        assert!(!text.contains("SECRET") && !text.contains("tail"), "{text}");
        assert!(!text.contains("HTTP"), "{text}");
    }

    #[test]
    fn running_out_of_file_descriptors_is_a_network_error_not_auth() {
        let path = Path::new("/run/secrets/gridpane");
        for errno in [24, 23] {
            let err = TokenError::unreadable(path, std::io::Error::from_raw_os_error(errno));
            assert!(err.is_transient(), "{err}");
            assert!(err.to_string().contains("out of file descriptors"), "{err}");
            assert_eq!(ApiError::from(err).reason(), "network");
        }
        let missing = TokenError::unreadable(path, std::io::ErrorKind::NotFound.into());
        assert!(!missing.is_transient());
        assert_eq!(ApiError::from(missing).reason(), "auth");
    }

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
