//! `inspect --remote-storage NAME`: a look at one `remote_storage` entry's
//! buckets. Each bucket is listed once, through the lister the exporter
//! runs ([`crate::bucket::lister`]); the account's sites are read from
//! GridPane as a poll reads them; and the report says, per bucket, what
//! the listing took and found, each snapshot id with the site it matched
//! (or that it is ambiguous, or an orphan), and the sites the entry judges
//! that have no revision. It names buckets, snapshot ids and sites (ids
//! and URLs), never a key: the access key id and the secret key are only
//! handed to the signer.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::bucket::lister::{EntryListing, Lister, http_client};
use crate::bucket::{
    BucketEvidence, BucketListing, Listed, Match, Matcher, StorageEvidence, candidates,
};
use crate::config::remote_storage::{self, RemoteStorage};
use crate::config::{Account, Config};
use crate::domain::{AccountSnapshot, copies, unix_now};
use crate::gridpane::{ApiError, Client, Secret};
use crate::poller::build_snapshot;

use super::InspectError;

/// The account and entry `--remote-storage NAME` names: the entry of that
/// name of the account given with `--account`, or of the one account that
/// has such an entry.
pub fn remote_storage<'c>(
    config: &'c Config,
    account: Option<&str>,
    name: &str,
) -> Result<(&'c Account, &'c RemoteStorage), InspectError> {
    let entry_of = |a: &'c Account| a.remote_storage.iter().find(|e| e.name == name);
    if let Some(account) = account {
        let account = super::account(config, Some(account))?;
        return match entry_of(account) {
            Some(entry) => Ok((account, entry)),
            None => Err(InspectError::NoSuchStorage {
                account: account.name.clone(),
                name: name.to_string(),
                known: names(account),
            }),
        };
    }
    let mut holding = config
        .accounts
        .iter()
        .filter_map(|a| entry_of(a).map(|e| (a, e)));
    match (holding.next(), holding.next()) {
        (Some(found), None) => Ok(found),
        (None, _) => Err(InspectError::NoAccountHasStorage(name.to_string())),
        (Some(first), Some(second)) => {
            let accounts: Vec<String> = [first, second]
                .into_iter()
                .chain(holding)
                .map(|(a, _)| format!("\"{}\"", a.name))
                .collect();
            Err(InspectError::SeveralAccountsHaveStorage {
                name: name.to_string(),
                accounts: accounts.join(", "),
            })
        }
    }
}

/// The entry names of an account, for an error that names none of them.
fn names(account: &Account) -> String {
    if account.remote_storage.is_empty() {
        return "it has none".to_string();
    }
    let names: Vec<String> = account
        .remote_storage
        .iter()
        .map(|e| format!("\"{}\"", e.name))
        .collect();
    format!("its entries: {}", names.join(", "))
}

/// What the look found: the text to print, and whether every bucket was
/// listed and the sites read (else the command exits non-zero).
#[derive(Debug)]
pub struct Look {
    pub report: String,
    pub ok: bool,
}

/// Lists each bucket of `entry` once, reads the account's sites and
/// matches them. A bucket that cannot be listed or sites that cannot be
/// read are reported in their place, with the reason.
pub async fn run(
    config: &Config,
    account: &Account,
    entry: &RemoteStorage,
    client: &Client,
    token: &Secret,
) -> Result<Look, InspectError> {
    let listing = &config.poll.remote_storage;
    let http = http_client(listing)?;
    let lister = Lister::new(&account.name, std::slice::from_ref(entry), listing, http)?;
    let listed = lister.list_once().await;
    let sites = read_sites(client, token, &account.name).await;
    let header = remote_storage::summary(&account.name, entry, listing);
    let Some(buckets) = listed.first() else {
        return Ok(Look {
            report: format!("{}\nthe entry was not listed\n", header.trim()),
            ok: false,
        });
    };
    Ok(report(
        header.trim(),
        entry,
        buckets,
        sites.as_ref(),
        unix_now(),
    ))
}

/// The sites, schedules and integrations, read as a poll reads them.
async fn read_sites(
    client: &Client,
    token: &Secret,
    account: &str,
) -> Result<AccountSnapshot, ApiError> {
    let mut fetched = crate::poller::fetch_bulk(client, token, |_| {}).await?;
    fetched.sites = client.sites(token).await?;
    Ok(build_snapshot(account, unix_now(), fetched))
}

/// The report of one look at `entry`'s buckets, at `now` (unix seconds).
pub(crate) fn report(
    header: &str,
    entry: &RemoteStorage,
    buckets: &EntryListing<'_>,
    sites: Result<&AccountSnapshot, &ApiError>,
    now: f64,
) -> Look {
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n(its keys are not shown)");
    let mut ok = true;
    let urls: Vec<&str> = match sites {
        Ok(s) => s.sites.iter().map(|s| s.url.as_str()).collect(),
        Err(e) => {
            ok = false;
            let _ = writeln!(
                out,
                "\nthe sites could not be read from GridPane ({}): {}; snapshot ids are not matched",
                e.reason(),
                e.kind().detail()
            );
            Vec::new()
        }
    };
    let buckets = match buckets {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(out, "\nNOT LISTED ({}): {e}", e.reason());
            return Look {
                report: out,
                ok: false,
            };
        }
    };
    let matcher = Matcher::new(urls.iter().copied());
    for (name, listed) in buckets {
        ok &= listed.stopped.is_none();
        bucket_section(&mut out, name, listed, sites.ok(), &matcher, &urls, now);
    }
    if let Ok(snapshot) = sites {
        missing_section(&mut out, entry, buckets, snapshot);
    }
    Look { report: out, ok }
}

fn bucket_section(
    out: &mut String,
    name: &str,
    listed: &Listed,
    snapshot: Option<&AccountSnapshot>,
    matcher: &Matcher,
    urls: &[&str],
    now: f64,
) {
    let _ = writeln!(out, "\n== bucket {name}");
    match &listed.stopped {
        None => {
            let _ = writeln!(out, "listed in full");
        }
        Some(e) => {
            let _ = writeln!(out, "NOT LISTED ({}): {e}", e.reason());
        }
    }
    let _ = writeln!(
        out,
        "keys {}, requests {}, failed requests {}{}; snapshot ids {}",
        listed.keys,
        listed.requests,
        listed.errors.len(),
        if listed.errors.is_empty() {
            String::new()
        } else {
            format!(" ({})", listed.errors.join(", "))
        },
        listed.ids.len(),
    );
    for (id, revisions) in &listed.ids {
        let matched = match snapshot {
            None => "not matched".to_string(),
            Some(snapshot) => match matcher.find(id) {
                Match::Site(i) => format!("site {}", site(snapshot, i)),
                Match::Ambiguous => {
                    let fits: Vec<String> = candidates(id, urls.iter().copied())
                        .into_iter()
                        .map(|i| site(snapshot, i))
                        .collect();
                    format!("ambiguous: sites {}", fits.join(", "))
                }
                Match::Orphan => "orphan".to_string(),
            },
        };
        let _ = writeln!(
            out,
            "  {id}: {} revision(s), newest {}: {matched}",
            revisions.count,
            when(revisions.newest, now)
        );
    }
}

/// The sites the entry judges (remote schedule on one of its
/// integrations) of which no bucket holds a revision, as the assessment
/// finds them.
fn missing_section(
    out: &mut String,
    entry: &RemoteStorage,
    buckets: &[(&str, Listed)],
    snapshot: &AccountSnapshot,
) {
    let mut storage = StorageEvidence::new(&entry.name, entry.integrations.clone(), &[]);
    storage.buckets = buckets
        .iter()
        .map(|(name, listed)| BucketListing {
            name: name.to_string(),
            outcome: listed.outcome(),
            keys: listed.keys,
            ids: Arc::new(listed.ids.clone()),
        })
        .collect();
    let complete = storage.up();
    let evidence = BucketEvidence {
        storages: vec![storage],
    };
    let (proofs, _) = copies::prove(snapshot, &evidence);
    let judged = proofs.iter().flatten().count();
    let missing: Vec<String> = proofs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_some_and(|p| p.revisions == 0))
        .map(|(i, _)| site(snapshot, i))
        .collect();
    let _ = writeln!(
        out,
        "\n== sites judged by this entry: {judged} (remote schedule on one of its integrations); without a revision: {}{}",
        missing.len(),
        if complete {
            ""
        } else {
            " (a bucket was not listed in full: not proven missing)"
        }
    );
    for site in missing {
        let _ = writeln!(out, "  site {site}");
    }
}

/// `12 example.com`: a site's id and URL.
fn site(snapshot: &AccountSnapshot, index: usize) -> String {
    match snapshot.sites.get(index) {
        Some(s) => format!("{} {}", s.id, s.url),
        None => "?".to_string(),
    }
}

/// A revision's time, and how long ago it landed (in minutes under an
/// hour, hours under a day, else days and hours).
fn when(unix: f64, now: f64) -> String {
    let at = chrono::DateTime::from_timestamp(unix.floor() as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "?".to_string());
    let minutes = ((now - unix).max(0.0) / 60.0).floor() as u64;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let age = match (days, hours, minutes) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    };
    format!("{at} ({age} ago)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::IntegrationRef;
    use crate::config::{PollConfig, TokenSource};

    fn entry(name: &str) -> RemoteStorage {
        RemoteStorage {
            name: name.to_string(),
            endpoint: "http://127.0.0.1:9/".parse().unwrap(),
            path_style: true,
            region: "us-east-1".to_string(),
            access_key_id: TokenSource::Inline(Secret::from("id")),
            secret_access_key: TokenSource::Inline(Secret::from("key")),
            buckets: vec!["gridpane-backups-a".to_string()],
            integrations: vec![IntegrationRef::Id(2700)],
        }
    }

    fn config(accounts: &[(&str, &[&str])]) -> Config {
        Config {
            accounts: accounts
                .iter()
                .map(|(name, entries)| Account {
                    name: name.to_string(),
                    base_url: "https://my.gridpane.com".parse().unwrap(),
                    token: TokenSource::Inline(Secret::from("t")),
                    time_zone: None,
                    remote_storage: entries.iter().map(|e| entry(e)).collect(),
                })
                .collect(),
            poll: PollConfig::default(),
            state_file: None,
            policy: Default::default(),
            access: None,
        }
    }

    fn chosen(config: &Config, account: Option<&str>, name: &str) -> Result<String, String> {
        remote_storage(config, account, name)
            .map(|(a, e)| format!("{}/{}", a.name, e.name))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_entry_is_the_one_account_s_that_has_it_unless_an_account_is_chosen() {
        let c = config(&[
            ("acme", &["wasabi"]),
            ("beta", &["b2", "wasabi"]),
            ("gamma", &[]),
        ]);
        assert_eq!(chosen(&c, None, "b2").as_deref(), Ok("beta/b2"));
        assert_eq!(
            chosen(&c, Some("acme"), "wasabi").as_deref(),
            Ok("acme/wasabi")
        );
        assert_eq!(
            chosen(&c, Some("beta"), "wasabi").as_deref(),
            Ok("beta/wasabi")
        );
        assert_eq!(
            chosen(&c, None, "wasabi"),
            Err("accounts \"acme\", \"beta\" each have a remote_storage entry named \"wasabi\": choose one with --account".to_string())
        );
    }

    #[test]
    fn an_entry_no_account_has_is_an_error_that_names_what_there_is() {
        let c = config(&[("acme", &["wasabi"]), ("gamma", &[])]);
        assert_eq!(
            chosen(&c, None, "b2"),
            Err("no account has a remote_storage entry named \"b2\"".to_string())
        );
        assert_eq!(
            chosen(&c, Some("acme"), "b2"),
            Err("account \"acme\" has no remote_storage entry named \"b2\" (its entries: \"wasabi\")".to_string())
        );
        assert_eq!(
            chosen(&c, Some("gamma"), "b2"),
            Err(
                "account \"gamma\" has no remote_storage entry named \"b2\" (it has none)"
                    .to_string()
            )
        );
        assert_eq!(
            chosen(&c, Some("nobody"), "wasabi"),
            Err("no account named \"nobody\" in the configuration".to_string())
        );
    }

    #[test]
    fn a_revision_s_age_reads_in_minutes_hours_or_days() {
        let at = 1_795_143_600.0;
        assert_eq!(when(at, at + 59.0), "2026-11-20T03:00:00Z (0m ago)");
        assert_eq!(when(at, at + 7_260.0), "2026-11-20T03:00:00Z (2h 1m ago)");
        assert_eq!(when(at, at + 7_200.0), "2026-11-20T03:00:00Z (2h ago)");
        assert_eq!(
            when(at, at + 900.0 * 3600.0 + 50.0),
            "2026-11-20T03:00:00Z (37d 12h ago)"
        );
        assert_eq!(when(at, at - 10.0), "2026-11-20T03:00:00Z (0m ago)");
    }
}
