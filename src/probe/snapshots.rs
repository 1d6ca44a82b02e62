//! The local Duplicacy storage: `backups/duplications/snapshots/<snapshot
//! id>/<revision>`, one folder per site and one small file per revision,
//! written last when a backup finishes. Per snapshot id: how many revisions
//! and the newest one's modification time.
//!
//! Nothing is ever followed out of the folder: entries are judged by their
//! own metadata (`symlink_metadata`), so a link, to a folder or a file,
//! anywhere inside is skipped and counted, never opened.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::Skipped;

/// Where the snapshots are, under the GridPane folder.
pub const SNAPSHOTS: &str = "backups/duplications/snapshots";

/// At most this many snapshot ids are kept; further ones are counted as
/// skipped (a server holds a few hundred sites at most).
pub const MAX_SNAPSHOTS: usize = 10_000;

/// One site's local storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The folder's name, made valid UTF-8 (invalid bytes become U+FFFD).
    pub id: String,
    /// Revision files in it.
    pub revisions: u64,
    /// Modification time of the newest revision, unix seconds; `None` when
    /// the folder holds none.
    pub newest: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read the snapshots folder {path}: {source}")]
    Folder { path: PathBuf, source: io::Error },
    #[error("cannot read the snapshot folder {path}: {source}")]
    Snapshot { path: PathBuf, source: io::Error },
}

/// Scans `<gridpane_dir>/backups/duplications/snapshots`, sorted by id.
pub fn scan(gridpane_dir: &Path, skipped: &mut Skipped) -> Result<Vec<Snapshot>, ScanError> {
    let folder = gridpane_dir.join(SNAPSHOTS);
    let folder_error = |source| ScanError::Folder {
        path: folder.clone(),
        source,
    };
    // The folder itself may not be a link either: it would lead out of the
    // GridPane folder.
    let meta = fs::symlink_metadata(&folder).map_err(folder_error)?;
    if !meta.is_dir() {
        return Err(folder_error(io::Error::other(
            "not a folder (a link is not followed)",
        )));
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(&folder).map_err(folder_error)? {
        let entry = entry.map_err(folder_error)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|source| ScanError::Snapshot {
            path: path.clone(),
            source,
        })?;
        if kind.is_symlink() {
            tracing::warn!(path = %path.display(), "link in the snapshots folder not followed");
            skipped.link += 1;
            continue;
        }
        if !kind.is_dir() {
            skipped.not_a_revision += 1;
            continue;
        }
        if out.len() >= MAX_SNAPSHOTS {
            skipped.too_many_sites += 1;
            continue;
        }
        let (revisions, newest) =
            revisions(&path, skipped).map_err(|source| ScanError::Snapshot { path, source })?;
        out.push(Snapshot {
            id: entry.file_name().to_string_lossy().into_owned(),
            revisions,
            newest,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Counts the revision files of one snapshot folder (names of digits only,
/// regular files) and finds the newest modification time.
fn revisions(folder: &Path, skipped: &mut Skipped) -> io::Result<(u64, Option<i64>)> {
    let mut count = 0;
    let mut newest: Option<i64> = None;
    for entry in fs::read_dir(folder)? {
        let entry = entry?;
        // DirEntry::metadata does not follow a link.
        let meta = entry.metadata()?;
        if meta.file_type().is_symlink() {
            tracing::warn!(path = %entry.path().display(), "link in a snapshot folder not followed");
            skipped.link += 1;
            continue;
        }
        let name = entry.file_name();
        let numbered = name
            .to_str()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !meta.is_file() || !numbered {
            skipped.not_a_revision += 1;
            continue;
        }
        count += 1;
        let modified = meta.modified()?;
        let secs = match modified.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        newest = Some(newest.map_or(secs, |n| n.max(secs)));
    }
    Ok((count, newest))
}
