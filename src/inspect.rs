//! `gridpane-backup-exporter inspect`: calls the read-only endpoints the
//! exporter reads once (the bulk ones, first page only, and the per-site
//! ones for one site) and prints each body's shape with every value
//! redacted ([`crate::gridpane::shape`]), and what the backup record reader
//! found. Its output can be pasted into an issue: it holds keys, kinds of
//! values, list lengths and counts, never a value, an id or a credential.
//! With `--remote-storage NAME`, a look at that entry's buckets instead
//! ([`storage`]), which names buckets, snapshot ids and sites.

mod storage;

pub use storage::{Look, remote_storage, run as look_at_buckets};

use std::fmt::Write as _;

use chrono::FixedOffset;
use serde_json::Value;

use crate::config::{Account, Config};
use crate::gridpane::history::{self, BackupType, Found};
use crate::gridpane::{ApiError, Budget, Client, Endpoint, Secret, shape};

/// What to inspect.
#[derive(Clone, Debug, Default)]
pub struct InspectOptions {
    /// The site whose per-site endpoints are read; the first one `/site`
    /// lists when `None`.
    pub site: Option<u64>,
    /// Also call `/backups/refresh/{id}` (work on the site's server) before
    /// reading the record.
    pub refresh: bool,
}

/// Why `inspect` could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no account named \"{0}\" in the configuration")]
    NoSuchAccount(String),
    #[error("account \"{account}\": {source}")]
    Client { account: String, source: ApiError },
    #[error("account \"{account}\" has no remote_storage entry named \"{name}\" ({known})")]
    NoSuchStorage {
        account: String,
        name: String,
        known: String,
    },
    #[error("no account has a remote_storage entry named \"{0}\"")]
    NoAccountHasStorage(String),
    #[error(
        "accounts {accounts} each have a remote_storage entry named \"{name}\": choose one with --account"
    )]
    SeveralAccountsHaveStorage { name: String, accounts: String },
    #[error(transparent)]
    Lister(#[from] crate::bucket::lister::ListerError),
}

/// The account to inspect: the one named, or the first configured.
pub fn account<'c>(config: &'c Config, name: Option<&str>) -> Result<&'c Account, InspectError> {
    match name {
        Some(name) => config
            .accounts
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| InspectError::NoSuchAccount(name.to_string())),
        None => config
            .accounts
            .first()
            .ok_or_else(|| InspectError::NoSuchAccount(String::new())),
    }
}

/// A client for `account` with the configured limits and budget.
pub fn client(config: &Config, account: &Account) -> Result<Client, InspectError> {
    let client = Client::new(config.poll.client_options(account)).map_err(|source| {
        InspectError::Client {
            account: account.name.clone(),
            source,
        }
    })?;
    Ok(client
        .with_account(&account.name)
        .with_budget(std::sync::Arc::new(Budget::new(
            config.poll.budget_options(),
        ))))
}

/// Runs the requests and returns the report. A failed request is reported
/// in its place (reason and redacted detail), and the rest still run.
pub async fn run(
    client: &Client,
    token: &Secret,
    offset: FixedOffset,
    opts: &InspectOptions,
    per_page: u32,
) -> String {
    let mut out = String::new();
    let first_page = [
        ("page", "1".to_string()),
        ("per_page", per_page.to_string()),
    ];
    // The paginated routes: their first page only.
    let bulk = [
        (Endpoint::Sites, "site", true),
        (Endpoint::Servers, "server", true),
        (Endpoint::Schedules, "backups/schedules", false),
        (Endpoint::BackupIntegrations, "backups/integrations", false),
    ];
    let mut first_site = None;
    for (ep, path, paged) in bulk {
        let query: &[(&str, String)] = if paged { &first_page } else { &[] };
        let body = client.raw(token, ep, path, query).await;
        if ep == Endpoint::Sites {
            first_site = body.as_ref().ok().and_then(first_site_id);
        }
        section(&mut out, ep, body.as_ref());
    }

    let Some(site) = opts.site.or(first_site) else {
        out.push_str("\nNo site to inspect: give one with --site ID.\n");
        return out;
    };
    let _ = writeln!(
        out,
        "\nPer-site endpoints, for the site {} (its id is not shown):",
        if opts.site.is_some() {
            "given with --site"
        } else {
            "listed first by /site"
        }
    );
    let mut per_site = vec![
        (Endpoint::Site, format!("site/{site}")),
        (
            Endpoint::PruneSchedule,
            format!("backups/prune-schedule/{site}"),
        ),
        (
            Endpoint::SiteIntegrations,
            format!("backups/integrations/{site}"),
        ),
    ];
    if opts.refresh {
        per_site.push((Endpoint::BackupRefresh, format!("backups/refresh/{site}")));
    }
    per_site.push((Endpoint::BackupHistory, format!("backups/original/{site}")));
    for (ep, path) in per_site {
        let body = client.raw(token, ep, &path, &[]).await;
        section(&mut out, ep, body.as_ref());
        if ep == Endpoint::BackupHistory
            && let Ok(body) = &body
        {
            let bytes = serde_json::to_vec(body).unwrap_or_default();
            let now = chrono::Utc::now().timestamp();
            out.push_str(&reader_report(crate::gridpane::record::read(
                &bytes, offset, now,
            )));
        }
    }
    out
}

/// The id of the first site of a `/site` page.
fn first_site_id(body: &Value) -> Option<u64> {
    let first = body.get("data")?.as_array()?.first()?.get("id")?;
    first
        .as_u64()
        .or_else(|| first.as_str().and_then(|s| s.trim().parse().ok()))
}

fn section(out: &mut String, ep: Endpoint, body: Result<&Value, &ApiError>) {
    let _ = writeln!(out, "\n== GET {ep}");
    match body {
        Ok(body) => {
            let shown = serde_json::to_string_pretty(&shape::redact(body)).unwrap_or_default();
            let _ = writeln!(out, "{shown}");
        }
        Err(e) => {
            let _ = writeln!(out, "request failed ({}): {}", e.reason(), error_text(e));
        }
    }
}

/// An error without the URL (it holds the site's id).
fn error_text(e: &ApiError) -> String {
    e.kind().detail()
}

/// What the reader found, in counts only.
fn reader_report(read: Result<Found, history::Unreadable>) -> String {
    let found = match read {
        Err(reason) => {
            return format!(
                "history reader: NOT UNDERSTOOD ({}): the exporter counts this site as reason=\"{}\" and its status is unknown\n",
                reason.describe(),
                reason.as_str()
            );
        }
        Ok(f) => f,
    };
    if found.backups.is_empty() {
        return "history reader: no backups (a record that lists none)\n".to_string();
    }
    let count =
        |f: &dyn Fn(&history::Backup) -> bool| found.backups.iter().filter(|b| f(b)).count();
    format!(
        "history reader: {} backups: {} local, {} remote; {} automatic, {} manual; {} tagged\n",
        found.backups.len(),
        count(&|b| b.source.is_some_and(|s| s.is_local())),
        count(&|b| b.source.is_some_and(|s| !s.is_local())),
        count(&|b| b.kind == Some(BackupType::Automatic)),
        count(&|b| b.kind == Some(BackupType::Manual)),
        count(&|b| b.tag.is_some()),
    )
}
