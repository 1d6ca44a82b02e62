//! The state file: the last good snapshot of every account, kept across
//! restarts so that a restarted exporter serves data at once.
//!
//! One task writes it, after each change of the store's generation (a
//! successful poll, new per-site detail): JSON to a temporary file created
//! exclusively next to it under a random name (a link planted there is never
//! followed), fsync, rename over the old one, fsync the directory. A reader
//! therefore sees the old file or the new one, never half of one, even after
//! a SIGKILL or a power cut. The file is created owner-only (0600). A failed
//! write removes its temporary file and is counted
//! (`gridpane_state_write_errors_total`).
//!
//! Loading never fails the start: a missing file is a cold start, a
//! truncated, corrupt, oversized or other-version one is a warning and a cold
//! start. Impossible content is sanitised with a warning: an account whose
//! snapshot was fetched in the future (or at no real time) or that holds more
//! items than `poll.max_items_per_account` is dropped; duplicate ids keep their
//! first entry; a site's detail holding an impossible backup record (a time
//! in the future or before 1970, more backups than a record can hold) is
//! dropped, so the site is read again. It holds no secret: snapshots carry neither the token nor
//! integration credentials.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::domain::{AccountSnapshot, SiteDetail};
use crate::store::{Install, Store};

/// The format version; a file of another version is ignored.
pub(crate) const STATE_VERSION: u32 = 1;

/// A larger state file is refused unread (a site takes about 470 bytes:
/// some 500,000 sites).
pub(crate) const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// How far in the future a saved timestamp may be (clock skew) before the
/// entry holding it is dropped on load.
pub(crate) const MAX_CLOCK_SKEW_SECONDS: f64 = 300.0;

/// One account as saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedAccount {
    pub snapshot: AccountSnapshot,
    #[serde(default)]
    pub detail: BTreeMap<u64, SiteDetail>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// Unix seconds.
    written_at: f64,
    accounts: Vec<SavedAccount>,
}

#[derive(Debug, Deserialize)]
struct VersionOnly {
    version: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path}: not a state file ({message})")]
    Corrupt { path: PathBuf, message: String },
    #[error("state file {path}: version {found:?}, this exporter reads version {expected}")]
    Version {
        path: PathBuf,
        found: Option<u32>,
        expected: u32,
    },
    #[error("state file {path}: {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("state file {path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads the state file. `Ok(None)` when there is none. A file larger than
/// [`MAX_FILE_BYTES`] is refused before it is read.
pub fn load(path: &Path) -> Result<Option<Vec<SavedAccount>>, StateError> {
    let read_err = |source| StateError::Read {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size| StateError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: MAX_FILE_BYTES,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(read_err(source)),
    };
    let size = file.metadata().map_err(read_err)?.len();
    if size > MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    // The file may grow between the check and the read: read one byte past
    // the limit at most.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    parse(path, &bytes).map(Some)
}

/// Parses the bytes of a state file (`path` only names it in errors).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<SavedAccount>, StateError> {
    let corrupt = |e: serde_json::Error| StateError::Corrupt {
        path: path.to_path_buf(),
        // The category and position only: never a value from the file.
        message: match e.classify() {
            serde_json::error::Category::Eof => "truncated".to_string(),
            serde_json::error::Category::Syntax => "invalid JSON".to_string(),
            serde_json::error::Category::Io => "read error".to_string(),
            serde_json::error::Category::Data => {
                format!(
                    "unexpected content at line {} column {}",
                    e.line(),
                    e.column()
                )
            }
        },
    };
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(corrupt)?;
    if version.version != Some(STATE_VERSION) {
        return Err(StateError::Version {
            path: path.to_path_buf(),
            found: version.version,
            expected: STATE_VERSION,
        });
    }
    let file: StateFile = serde_json::from_slice(bytes).map_err(corrupt)?;
    Ok(file.accounts)
}

/// Writes the state file atomically: a temporary file created exclusively
/// beside it (random name, owner-only), fsync, rename, fsync of the
/// directory. On any error the temporary file is removed.
pub fn save(path: &Path, accounts: &[SavedAccount]) -> Result<(), StateError> {
    let write_err = |source| StateError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = StateFile {
        version: STATE_VERSION,
        written_at: crate::domain::unix_now(),
        accounts: accounts.to_vec(),
    };
    let body = serde_json::to_vec(&file).map_err(|e| write_err(std::io::Error::other(e)))?;

    let dir = parent_dir(path);
    // Dropping the temporary file (any early return) deletes it.
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(&dir)
        .map_err(write_err)?;
    tmp.write_all(&body).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    // Make the rename itself durable; not every platform can open a directory.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

const TEMP_SUFFIX: &str = ".tmp";

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Temporary files of `path` are named `.<name>.<random>.tmp`.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    format!(".{name}.")
}

/// Removes temporary files that a killed process left beside the state
/// file (a link among them is removed, never followed).
fn remove_stale_temp_files(path: &Path) {
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(TEMP_SUFFIX) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(path = %entry.path().display(), "removed a stale temporary state file")
                }
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), kind = %e.kind(), "cannot remove a stale temporary state file")
                }
            }
        }
    }
}

/// What the store holds now, as saved: accounts with a snapshot only.
pub(crate) fn collect(store: &Store) -> Vec<SavedAccount> {
    store
        .accounts()
        .iter()
        .filter_map(|slot| {
            let state = slot.load();
            let snapshot = state.snapshot.as_ref()?;
            Some(SavedAccount {
                snapshot: AccountSnapshot::clone(snapshot.snapshot()),
                detail: BTreeMap::clone(&state.detail),
            })
        })
        .collect()
}

/// Drops what a state file cannot truthfully hold, with a warning: accounts
/// saved twice (the first wins), snapshots fetched at no real time or more
/// than [`MAX_CLOCK_SKEW_SECONDS`] after `now`, accounts with more than
/// `max_items` sites, servers, integrations or per-site details. Duplicate
/// site, server and integration ids keep their first entry; per-site details
/// fetched in the future are dropped, and so are those whose backup record
/// is impossible ([`possible_record`]), so that their sites are read again.
pub(crate) fn sanitise(saved: Vec<SavedAccount>, now: f64, max_items: usize) -> Vec<SavedAccount> {
    let possible = |t: f64| t.is_finite() && t >= 0.0 && t <= now + MAX_CLOCK_SKEW_SECONDS;
    // A backup's own time may be as far ahead as the record reader allows.
    let backup_allowance = crate::gridpane::history::CLOCK_ALLOWANCE.as_secs_f64();
    let possible_backup = |t: f64| t.is_finite() && t >= 0.0 && t <= now + backup_allowance;
    let mut names = HashSet::new();
    let mut kept = Vec::new();
    for mut account in saved {
        let snap = &mut account.snapshot;
        let name = snap.account.clone();
        if !names.insert(name.clone()) {
            tracing::warn!(account = %name, "state file holds this account twice, keeping the first");
            continue;
        }
        if !possible(snap.fetched_at) {
            tracing::warn!(account = %name, fetched_at = snap.fetched_at, "state file snapshot has an impossible fetch time, ignored");
            continue;
        }
        let largest = [
            snap.sites.len(),
            snap.servers.len(),
            snap.integrations.len(),
            account.detail.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if largest > max_items {
            tracing::warn!(account = %name, items = largest, limit = max_items, "state file snapshot holds too many items, ignored");
            continue;
        }
        let duplicates = keep_first(&mut snap.sites, |s| s.id)
            + keep_first(&mut snap.servers, |s| s.id)
            + keep_first(&mut snap.integrations, |i| i.id);
        if duplicates > 0 {
            tracing::warn!(account = %name, duplicates, "state file snapshot repeats ids, keeping the first of each");
        }
        let details = account.detail.len();
        account.detail.retain(|_, d| possible(d.fetched_at));
        let dropped = details - account.detail.len();
        if dropped > 0 {
            tracing::warn!(account = %name, dropped, "state file per-site details with an impossible fetch time, ignored");
        }
        let details = account.detail.len();
        account.detail.retain(|_, d| {
            d.history
                .as_ref()
                .is_none_or(|h| possible_record(h, &possible, &possible_backup))
        });
        let dropped = details - account.detail.len();
        if dropped > 0 {
            tracing::warn!(
                account = %name,
                what = "backup_record",
                dropped,
                "state file per-site details holding an impossible backup record (a time in the future or at no real time, or more backups than a record can hold), ignored: those sites are read again"
            );
        }
        kept.push(account);
    }
    kept
}

/// The most backups one storage of a saved record may count: the record
/// reader stops at this many values, so no record it read holds more.
pub(crate) const MAX_SAVED_BACKUPS: u64 = crate::gridpane::record::MAX_NAMES as u64;

/// A saved backup record that could be true: read at a possible time, and
/// every backup time possible and at most [`MAX_SAVED_BACKUPS`] backups per
/// storage (a backup in the future, beyond the clock allowance, is not).
fn possible_record(
    h: &crate::domain::history::BackupHistory,
    possible: &impl Fn(f64) -> bool,
    possible_backup: &impl Fn(f64) -> bool,
) -> bool {
    possible(h.read_at)
        && h.refreshed_at.is_none_or(possible)
        && [h.local, h.remote, h.unattributed].iter().all(|b| {
            b.count <= MAX_SAVED_BACKUPS
                && b.last.is_none_or(possible_backup)
                && b.last_automatic.is_none_or(possible_backup)
        })
}

/// Keeps the first item of each id; returns how many were removed.
fn keep_first<T>(items: &mut Vec<T>, id: impl Fn(&T) -> u64) -> usize {
    let before = items.len();
    let mut seen = HashSet::with_capacity(before);
    items.retain(|item| seen.insert(id(item)));
    before - items.len()
}

/// Loads the state file into the store: accounts still configured get their
/// saved snapshot (and are ready at once); the others are dropped. Problems
/// are logged and mean a cold start (for the whole file, or for an account
/// whose saved snapshot is impossible). Temporary files left by a killed
/// process are removed. An account holding more than `max_items` sites,
/// servers, integrations or details (`poll.max_items_per_account`) is
/// dropped. Returns how many accounts were restored.
pub(crate) fn restore(store: &Store, path: &Path, max_items: usize) -> usize {
    remove_stale_temp_files(path);
    let saved = match load(path) {
        Ok(Some(saved)) => saved,
        Ok(None) => {
            tracing::info!(path = %path.display(), "no state file yet, cold start");
            return 0;
        }
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the state file, cold start");
            return 0;
        }
    };
    let saved = sanitise(saved, crate::domain::unix_now(), max_items);
    let mut restored = 0;
    for account in saved {
        let Some(slot) = store.account(&account.snapshot.account) else {
            tracing::info!(account = %account.snapshot.account, "state file account no longer configured, dropped");
            continue;
        };
        let SavedAccount { snapshot, detail } = account;
        let fetched_at = snapshot.fetched_at;
        let sites = snapshot.sites.len();
        // The backup record is saved with the detail only: laid over again.
        let install = Install::snapshot(snapshot, Utc::now()).with_detail(detail);
        store.install(slot, install, |_| {});
        tracing::info!(account = %slot.name, sites, fetched_at, "restored the last good snapshot from the state file");
        restored += 1;
    }
    restored
}

/// Writes the state file whenever the store's generation changes, until
/// `shutdown`. Changes that arrive during a write are coalesced into the
/// next one. Failed writes are logged and counted in the store
/// (`gridpane_state_write_errors_total`).
pub(crate) async fn run_writer(
    store: Arc<Store>,
    path: PathBuf,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = store.subscribe();
    loop {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let accounts = collect(&store);
        if accounts.is_empty() {
            continue;
        }
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || save(&target, &accounts)).await;
        let source = match written {
            Ok(Ok(())) => {
                tracing::debug!(path = %path.display(), "state file written");
                continue;
            }
            Ok(Err(StateError::Write { source, .. })) => source,
            Ok(Err(e)) => std::io::Error::other(e.to_string()),
            Err(e) => std::io::Error::other(e.to_string()),
        };
        store.tasks().count_state_write_error();
        tracing::warn!(path = %path.display(), kind = %source.kind(), error = %source, "cannot write the state file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(account: &str) -> AccountSnapshot {
        AccountSnapshot {
            account: account.to_string(),
            fetched_at: 1_795_000_000.5,
            servers: Vec::new(),
            sites: Vec::new(),
            integrations: Vec::new(),
        }
    }

    #[test]
    fn a_saved_file_loads_back_the_same_accounts_and_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let accounts = vec![SavedAccount {
            snapshot: snapshot("a"),
            detail: BTreeMap::from([(
                7,
                SiteDetail {
                    fetched_at: 3.0,
                    ..SiteDetail::default()
                },
            )]),
        }];
        save(&path, &accounts).unwrap();
        assert_eq!(load(&path).unwrap(), Some(accounts));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn a_missing_file_is_no_state_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(&dir.path().join("nope.json")).unwrap(), None);
    }

    #[test]
    fn truncated_corrupt_and_other_version_files_are_errors_that_quote_nothing() {
        let path = Path::new("/x/state.json");
        let good = serde_json::to_vec(&StateFile {
            version: STATE_VERSION,
            written_at: 0.0,
            accounts: vec![SavedAccount {
                snapshot: snapshot("secret-looking-name"),
                detail: BTreeMap::new(),
            }],
        })
        .unwrap();
        for n in [0, 1, good.len() / 2, good.len() - 1] {
            let err = parse(path, &good[..n]).unwrap_err().to_string();
            assert!(!err.contains("secret-looking"), "{err}");
        }
        assert!(matches!(
            parse(path, br#"{"version": 99, "accounts": []}"#),
            Err(StateError::Version {
                found: Some(99),
                ..
            })
        ));
        assert!(matches!(
            parse(path, br#"{"accounts": []}"#),
            Err(StateError::Version { found: None, .. })
        ));
        assert!(matches!(
            parse(path, br#"{"version": 1, "accounts": [{"snapshot": 3}]}"#),
            Err(StateError::Corrupt { .. })
        ));
        assert!(parse(path, &good).is_ok());
    }
    fn site(id: u64) -> crate::domain::Site {
        crate::domain::Site {
            id,
            url: format!("s{id}.example"),
            server_id: None,
            site_type: None,
            local: Default::default(),
            remote: Default::default(),
            pending: false,
            history: None,
            record_failure: None,
        }
    }

    fn saved(account: &str, fetched_at: f64, site_ids: &[u64]) -> SavedAccount {
        let mut snapshot = snapshot(account);
        snapshot.fetched_at = fetched_at;
        snapshot.sites = site_ids.iter().copied().map(site).collect();
        SavedAccount {
            snapshot,
            detail: BTreeMap::new(),
        }
    }

    #[test]
    fn impossible_saved_accounts_are_dropped_and_repeated_ids_keep_the_first() {
        let now = 1_800_000_000.0;
        let mut with_detail = saved("detail", now - 10.0, &[1, 2]);
        with_detail.detail = BTreeMap::from([
            (
                1,
                SiteDetail {
                    fetched_at: now - 5.0,
                    ..SiteDetail::default()
                },
            ),
            (
                2,
                SiteDetail {
                    fetched_at: now + 86_400.0,
                    ..SiteDetail::default()
                },
            ),
        ]);
        let mut repeated = saved("repeated", now - 60.0, &[5, 6, 5]);
        repeated.snapshot.sites[2].url = "later.example".to_string();
        let input = vec![
            saved("huge-time", 1e308, &[1]),
            saved("future", now + MAX_CLOCK_SKEW_SECONDS + 1.0, &[1]),
            saved("negative", -1.0, &[1]),
            saved("infinite", f64::INFINITY, &[1]),
            saved("too-many", now, &[1, 2, 3, 4]),
            saved("skewed", now + MAX_CLOCK_SKEW_SECONDS - 1.0, &[1]),
            repeated,
            saved("repeated", now, &[9]),
            with_detail,
        ];
        let kept = sanitise(input, now, 3);
        let names: Vec<&str> = kept.iter().map(|a| a.snapshot.account.as_str()).collect();
        assert_eq!(names, ["skewed", "repeated", "detail"]);
        let sites: Vec<(u64, &str)> = kept[1]
            .snapshot
            .sites
            .iter()
            .map(|s| (s.id, s.url.as_str()))
            .collect();
        assert_eq!(sites, [(5, "s5.example"), (6, "s6.example")]);
        assert_eq!(kept[2].detail.keys().copied().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn a_state_file_over_the_size_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        // Sparse: costs no disk and no time.
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(matches!(
            load(&path),
            Err(StateError::TooLarge { size, limit: MAX_FILE_BYTES, .. }) if size == MAX_FILE_BYTES + 1
        ));
    }

    #[test]
    fn a_start_removes_temporary_files_a_killed_writer_left_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let stale = dir.path().join(".state.json.a1b2c3.tmp");
        std::fs::write(&stale, b"half a fi").unwrap();
        let others = [
            "other.tmp",
            ".state.json",
            "state.json.tmp",
            ".other.json.x.tmp",
        ];
        for name in others {
            std::fs::write(dir.path().join(name), b"keep").unwrap();
        }
        let store = Store::new(["a".to_string()]);
        assert_eq!(restore(&store, &path, 250_000), 0);
        assert!(!stale.exists());
        for name in others {
            assert!(dir.path().join(name).exists(), "{name} was removed");
        }
    }
}
