//! The server's UUID, from `/root/gridcreds/gridpane.uuid`: what every
//! snapshot id of the server starts with (`gridpane-<uuid>-<site url>`).
//!
//! Read with a size cap, and kept only if it looks like an id (letters,
//! digits and dashes), since it becomes a label value and a prefix.

use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

/// Longer files are not a UUID.
const MAX_BYTES: u64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum UuidError {
    #[error("cannot read the server UUID file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "the server UUID file {path} does not hold a UUID (letters, digits and dashes, at most {MAX_BYTES} bytes)"
    )]
    Invalid { path: PathBuf },
}

/// The UUID in `path`, surrounding whitespace removed.
pub fn read(path: &Path) -> Result<String, UuidError> {
    let read_error = |source| UuidError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut raw = Vec::new();
    super::open_regular(path)
        .and_then(|f| f.take(MAX_BYTES + 1).read_to_end(&mut raw))
        .map_err(read_error)?;
    let text = std::str::from_utf8(&raw).map(str::trim).unwrap_or_default();
    let valid = raw.len() as u64 <= MAX_BYTES
        && !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(UuidError::Invalid {
            path: path.to_path_buf(),
        });
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_read_without_its_newline_and_anything_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gridpane.uuid");
        std::fs::write(&path, "3f2b1c9e-aaaa-4bbb-8ccc-0123456789ab\n").unwrap();
        assert_eq!(read(&path).unwrap(), "3f2b1c9e-aaaa-4bbb-8ccc-0123456789ab");
        for bad in ["", "a b", "x\"}", &"a".repeat(300)] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(read(&path), Err(UuidError::Invalid { .. })),
                "{bad:?}"
            );
        }
        std::fs::write(&path, b"\xff\xfe").unwrap();
        assert!(matches!(read(&path), Err(UuidError::Invalid { .. })));
        // A folder where the file should be cannot be read (even as root).
        assert!(matches!(read(dir.path()), Err(UuidError::Read { .. })));
    }
}
