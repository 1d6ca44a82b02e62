//! Where a token comes from (`token`, `token_file`, the environment) and
//! how one is read and checked: a file is read again at every use, a token
//! is visible ASCII only, and every error names the file, never the value.
//! The keys of `remote_storage` are read the same way.

use std::path::{Path, PathBuf};

use secrecy::zeroize::Zeroizing;

use super::Secret;
use crate::gridpane::ApiError;
use crate::gridpane::ExposeSecret as _;

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

    pub(super) fn unreadable(path: &Path, source: std::io::Error) -> Self {
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
pub(super) fn read_token_file(path: &Path) -> Result<Secret, TokenError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
