//! The state file: the last good snapshot of every account, kept across
//! restarts so that a restarted exporter serves data at once.
//!
//! One task writes it, after each change of the store's generation (a
//! successful poll, new per-site detail): JSON to a temporary file next to
//! it, fsync, rename over the old one, fsync the directory. A reader
//! therefore sees the old file or the new one, never half of one, even after
//! a SIGKILL or a power cut. The file is created owner-only (0600).
//!
//! Loading never fails the start: a missing file is a cold start, a
//! truncated, corrupt or other-version one is a warning and a cold start.
//! It holds no secret: snapshots carry neither the token nor integration
//! credentials.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::model::{AccountSnapshot, SiteDetail};
use crate::store::Store;

/// The format version; a file of another version is ignored.
pub const STATE_VERSION: u32 = 1;

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
    #[error("state file {path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads the state file. `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<Vec<SavedAccount>>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
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

/// Writes the state file atomically: temporary file, fsync, rename, fsync
/// of the directory. The file is owner-only.
pub fn save(path: &Path, accounts: &[SavedAccount]) -> Result<(), StateError> {
    let write_err = |source| StateError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = StateFile {
        version: STATE_VERSION,
        written_at: crate::poller::unix_now(),
        accounts: accounts.to_vec(),
    };
    let body = serde_json::to_vec(&file).map_err(|e| write_err(std::io::Error::other(e)))?;

    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    let tmp = dir.join(format!(".{name}.tmp"));

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(write_err)?;
    #[cfg(unix)]
    {
        // A temporary file left by an older run keeps its mode on open.
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(write_err)?;
    }
    f.write_all(&body).map_err(write_err)?;
    f.sync_all().map_err(write_err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(write_err)?;
    // Make the rename itself durable; not every platform can open a directory.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// What the store holds now, as saved: accounts with a snapshot only.
pub fn collect(store: &Store) -> Vec<SavedAccount> {
    store
        .accounts()
        .iter()
        .filter_map(|slot| {
            let state = slot.load();
            let snapshot = state.snapshot.as_ref()?;
            Some(SavedAccount {
                snapshot: AccountSnapshot::clone(snapshot),
                detail: BTreeMap::clone(&state.detail),
            })
        })
        .collect()
}

/// Loads the state file into the store: accounts still configured get their
/// saved snapshot (and are ready at once); the others are dropped. Problems
/// are logged and mean a cold start. Returns how many accounts were restored.
pub fn restore(store: &Store, path: &Path) -> usize {
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
    let mut restored = 0;
    for account in saved {
        let Some(slot) = store.account(&account.snapshot.account) else {
            tracing::info!(account = %account.snapshot.account, "state file account no longer configured, dropped");
            continue;
        };
        let SavedAccount { snapshot, detail } = account;
        let fetched_at = snapshot.fetched_at;
        let sites = snapshot.sites.len();
        store.replace_snapshot(slot, snapshot, |s| s.detail = Arc::new(detail));
        tracing::info!(account = %slot.name, sites, fetched_at, "restored the last good snapshot from the state file");
        restored += 1;
    }
    restored
}

/// Writes the state file whenever the store's generation changes, until
/// `shutdown`. Changes that arrive during a write are coalesced into the
/// next one.
pub async fn run_writer(store: Arc<Store>, path: PathBuf, mut shutdown: watch::Receiver<bool>) {
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
        match written {
            Ok(Ok(())) => tracing::debug!(path = %path.display(), "state file written"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot write the state file"),
            Err(e) => tracing::warn!(error = %e, "state file writer failed"),
        }
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
}
