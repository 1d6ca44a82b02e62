//! What start would warn about, beyond the file itself: a configuration
//! read together with the web configuration and the disk. One list, which
//! `--config.check` prints and start logs, so that the check says what
//! start would say.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Config;
use super::web::WebConfig;

/// GridPane's account-wide request limit per minute (shared/gridpane-api.md,
/// "Rate limits": 60 requests a minute).
pub const GRIDPANE_REQUESTS_PER_MINUTE: u32 = 60;

/// A setting that loads but will not do what was meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartWarning {
    /// Access rules, and no way for a request to have a user.
    AccessWithoutUsers,
    /// An access rule names a user the web configuration does not define
    /// (basic auth only, no client certificates whose subjects could match).
    AccessUnknownUser { user: String },
    /// A base URL with a path of GridPane's API other than its root: the
    /// client adds `/oauth/api/v1` to it, so every request would miss.
    BaseUrlPath { account: String, path: String },
    /// The state file's folder does not exist.
    StateFolderMissing { folder: PathBuf },
    /// The state file's folder cannot be written.
    StateFolderNotWritable { folder: PathBuf, reason: String },
    /// A pace above what GridPane allows an account.
    RequestsPerMinuteHigh { requests_per_minute: u32 },
}

impl fmt::Display for StartWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartWarning::AccessWithoutUsers => write!(
                f,
                "access: rules are configured but --web.config.file sets neither basic_auth_users nor client certificates: no request has a user, so every data page answers 403"
            ),
            StartWarning::AccessUnknownUser { user } => write!(
                f,
                "access: user \"{user}\" is not in the web configuration's basic_auth_users: the rules naming it match no one"
            ),
            StartWarning::BaseUrlPath { account, path } => write!(
                f,
                "account \"{account}\": base_url has the path \"{path}\"; give the host only (such as https://my.gridpane.com), the exporter adds /oauth/api/v1 itself, so requests would go to {path}/oauth/api/v1/... and fail"
            ),
            StartWarning::StateFolderMissing { folder } => write!(
                f,
                "state_file: the folder {} does not exist: the state cannot be saved, and every restart starts cold",
                folder.display()
            ),
            StartWarning::StateFolderNotWritable { folder, reason } => write!(
                f,
                "state_file: the folder {} cannot be written ({reason}): the state cannot be saved, and every restart starts cold",
                folder.display()
            ),
            StartWarning::RequestsPerMinuteHigh {
                requests_per_minute,
            } => write!(
                f,
                "poll.requests_per_minute: {requests_per_minute} is above the {GRIDPANE_REQUESTS_PER_MINUTE} requests a minute GridPane allows an account: expect HTTP 429 and slower polls"
            ),
        }
    }
}

impl StartWarning {
    /// Logs the warning: its text, and its kind as a field.
    pub fn log(&self) {
        let kind = match self {
            StartWarning::AccessWithoutUsers => "access_without_users",
            StartWarning::AccessUnknownUser { .. } => "access_unknown_user",
            StartWarning::BaseUrlPath { .. } => "base_url_path",
            StartWarning::StateFolderMissing { .. } => "state_folder_missing",
            StartWarning::StateFolderNotWritable { .. } => "state_folder_not_writable",
            StartWarning::RequestsPerMinuteHigh { .. } => "requests_per_minute_high",
        };
        tracing::warn!(kind, "{self}");
    }
}

/// Everything start would warn about in `config` read with `web`.
pub fn start_warnings(config: &Config, web: Option<&WebConfig>) -> Vec<StartWarning> {
    let mut out = Vec::new();
    if let Some(access) = &config.access {
        let client_certificates = web.is_some_and(|w| w.client_certificates);
        let auth = web.and_then(|w| w.auth.as_deref());
        if auth.is_none() && !client_certificates {
            out.push(StartWarning::AccessWithoutUsers);
        } else if let Some(auth) = auth.filter(|_| !client_certificates) {
            for user in access.users() {
                if !auth.has_user(user) {
                    out.push(StartWarning::AccessUnknownUser {
                        user: user.to_owned(),
                    });
                }
            }
        }
    }
    for a in &config.accounts {
        // A path of GridPane's API other than its root (`/api`,
        // `/oauth/api/v1/site`); a proxy's own prefix (`/proxy/`) is fine.
        let path = a.base_url.path();
        let api_like = path
            .split('/')
            .any(|seg| seg.eq_ignore_ascii_case("api") || seg.eq_ignore_ascii_case("oauth"));
        if api_like {
            out.push(StartWarning::BaseUrlPath {
                account: a.name.clone(),
                path: path.trim_end_matches('/').to_owned(),
            });
        }
    }
    if let Some(file) = &config.state_file {
        out.extend(state_folder_warning(file));
    }
    if config.poll.requests_per_minute > GRIDPANE_REQUESTS_PER_MINUTE {
        out.push(StartWarning::RequestsPerMinuteHigh {
            requests_per_minute: config.poll.requests_per_minute,
        });
    }
    out
}

/// Whether the state file's folder exists and takes a new file (tried with
/// a probe file, removed at once: permissions alone do not say, for root or
/// a read-only mount).
fn state_folder_warning(file: &Path) -> Option<StartWarning> {
    let folder = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !folder.is_dir() {
        return Some(StartWarning::StateFolderMissing { folder });
    }
    let probe = folder.join(format!(
        ".gridpane-backup-exporter-check-{}",
        std::process::id()
    ));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) => Some(StartWarning::StateFolderNotWritable {
            folder,
            reason: e.kind().to_string(),
        }),
    }
}

/// What start will do, one line each, for `--config.check`: the state
/// file, per-site detail and history with their pace and the time a full
/// pass takes, and the access rules.
pub fn summary(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    out.push(match &config.state_file {
        Some(p) => format!(
            "state file: {} (saved after each change, read at start)",
            p.display()
        ),
        None => "state file: none (a restart serves no data until its first polls finish)".into(),
    });
    let d = &config.poll.detail;
    out.push(if d.enabled {
        let per_site = 2 + u32::from(d.history);
        let rpm = d.requests_per_minute.max(1);
        let pass = std::time::Duration::from_secs(u64::from(1000 * per_site) * 60 / u64::from(rpm));
        format!(
            "per-site detail: on, {} requests a minute per account, {per_site} per site{}{}; a full pass over 1,000 sites takes about {}",
            d.requests_per_minute,
            if d.history {
                " (backup record read: history on)"
            } else {
                " (history off: backup records not read)"
            },
            match d.refresh_every {
                Some(r) => format!(
                    ", records refreshed every {}",
                    humantime::format_duration(r)
                ),
                None => String::new(),
            },
            humantime::format_duration(pass)
        )
    } else {
        "per-site detail: off (retention and integrations from the bulk endpoints, no backup records read)".into()
    });
    out.push(match &config.access {
        Some(a) => format!(
            "access rules: on, {} user(s): {}",
            a.users().count(),
            a.users().collect::<Vec<_>>().join(", ")
        ),
        None => "access rules: none (every viewer sees every account)".into(),
    });
    out
}
