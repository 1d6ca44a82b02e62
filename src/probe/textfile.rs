//! `DIR/gridpane_backups.prom` for node_exporter's textfile collector,
//! written atomically: a temporary file in DIR (named so that the collector,
//! which reads only `*.prom`, ignores it), flushed to disk, then renamed
//! over the old file. On any error the temporary file is removed and the
//! old file stays as it was.

use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// The file the probe writes in `--textfile.directory`.
pub const FILE: &str = "gridpane_backups.prom";

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "--textfile.directory {dir} is inside --gridpane.dir {gridpane}: the probe never writes under the GridPane folder"
    )]
    InsideGridPane { dir: PathBuf, gridpane: PathBuf },
}

/// Refuses a textfile directory inside the GridPane folder (compared with
/// links resolved, where both exist).
pub fn check_outside(dir: &Path, gridpane_dir: &Path) -> Result<(), WriteError> {
    let resolve = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (d, g) = (resolve(dir), resolve(gridpane_dir));
    if d.starts_with(&g) {
        return Err(WriteError::InsideGridPane {
            dir: dir.to_path_buf(),
            gridpane: gridpane_dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Replaces `dir/gridpane_backups.prom` with `content`; returns its path.
pub fn write(dir: &Path, content: &[u8]) -> Result<PathBuf, WriteError> {
    let target = dir.join(FILE);
    let io_error = |source| WriteError::Io {
        path: target.clone(),
        source,
    };
    // Dropped on any early return: the temporary file goes with it.
    let mut tmp = tempfile::Builder::new()
        .prefix(".gridpane_backups.prom.")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_error)?;
    tmp.write_all(content).map_err(io_error)?;
    tmp.as_file().sync_all().map_err(io_error)?;
    // node_exporter usually runs as another user than the probe.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(io_error)?;
    tmp.persist(&target).map_err(|e| io_error(e.error))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_file_is_replaced_whole_and_nothing_else_is_left() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), b"a 1\n").unwrap();
        let path = write(dir.path(), b"a 2\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a 2\n");
        assert_eq!(names(dir.path()), [FILE]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn a_failed_rename_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        // A folder in the way of the file: the rename fails, even as root.
        std::fs::create_dir(dir.path().join(FILE)).unwrap();
        std::fs::write(dir.path().join(FILE).join("keep"), "x").unwrap();
        assert!(matches!(
            write(dir.path(), b"a 1\n"),
            Err(WriteError::Io { .. })
        ));
        assert_eq!(names(dir.path()), [FILE]);
    }

    #[test]
    fn a_textfile_directory_inside_the_gridpane_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let gridpane = dir.path().join("gridpane");
        let inside = gridpane.join("metrics");
        std::fs::create_dir_all(&inside).unwrap();
        assert!(check_outside(&inside, &gridpane).is_err());
        assert!(check_outside(&gridpane, &gridpane).is_err());
        assert!(check_outside(dir.path(), &gridpane).is_ok());
        // Through a link, too.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&inside, &link).unwrap();
        assert!(check_outside(&link, &gridpane).is_err());
    }
}
