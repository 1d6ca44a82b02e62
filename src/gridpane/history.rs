//! GridPane's backup record (`GET /backups/original/{site_id}`): what one
//! record says, and why one could not be read.
//!
//! The record's one production shape (MainWP's reader, see
//! `shared/gridpane-api.md`, "Backup history") is
//! `{"success": true, "backups": {"local": {"automatic": "2026-12-06
//! 03:00,2026-12-07 03:00", "manual": ""}, "aws-s3": {...}}}`: under each
//! source, `automatic` and `manual` list backup names, each
//! `YYYY-MM-DD HH:MM`, optionally followed by a space and a tag (letters,
//! digits and dashes, at most 32 characters). The streaming reader in `record.rs` reads it;
//! names count only in those positions.

use chrono::{FixedOffset, NaiveDateTime, TimeZone as _};

/// Longest tag after the time.
pub(crate) const MAX_TAG_CHARS: usize = 32;

/// How far ahead of the exporter's clock a backup name may be dated and
/// still count (clocks drift, and names carry no time zone): one hour. A
/// record holding a name further ahead is unreadable, never "the last
/// backup is in 26322 days".
pub const CLOCK_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Why a record could not be read: the domain's bounded code, which the
/// verdict keeps with the site (the reader and [`super::ApiError`] give it).
pub use crate::domain::Unreadable;

/// Where a backup is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Local,
    AwsS3,
    Backblaze,
    Dropbox,
    Wasabi,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::AwsS3 => "aws-s3",
            Source::Backblaze => "backblaze",
            Source::Dropbox => "dropbox",
            Source::Wasabi => "wasabi",
        }
    }

    /// The source a key under `backups` names, if it names one.
    pub(crate) fn parse(key: &str) -> Option<Source> {
        [
            Source::Local,
            Source::AwsS3,
            Source::Backblaze,
            Source::Dropbox,
            Source::Wasabi,
        ]
        .into_iter()
        .find(|s| s.as_str() == key)
    }

    /// Every source but `local` is a remote storage.
    pub(crate) fn is_local(self) -> bool {
        self == Source::Local
    }
}

/// How a backup was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackupType {
    Manual,
    Automatic,
}

impl BackupType {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Manual => "manual",
            BackupType::Automatic => "automatic",
        }
    }
}

/// One backup the record lists.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Backup {
    /// Unix seconds.
    pub at: i64,
    pub tag: Option<String>,
    pub source: Option<Source>,
    pub kind: Option<BackupType>,
}

/// What the reader found in one record: every backup it names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    pub backups: Vec<Backup>,
}

/// A backup name: the time (in `offset`) and the tag, if any.
pub fn parse_name(s: &str, offset: FixedOffset) -> Option<(i64, Option<String>)> {
    let s = s.trim();
    let bytes = s.as_bytes();
    let time = s.get(..16)?;
    let shape_ok = bytes.len() >= 16
        && bytes.iter().take(16).enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 => *b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let tag = match s.get(16..) {
        None | Some("") => None,
        Some(rest) => {
            let tag = rest.strip_prefix(' ')?;
            let valid = !tag.is_empty()
                && tag.len() <= MAX_TAG_CHARS
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                return None;
            }
            Some(tag.to_string())
        }
    };
    let naive = NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M").ok()?;
    let at = offset.from_local_datetime(&naive).single()?.timestamp();
    Some((at, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn a_name_is_a_time_with_an_optional_short_tag() {
        assert_eq!(
            parse_name("2021-11-24 08:59", utc()),
            Some((1_637_744_340, None))
        );
        assert_eq!(
            parse_name("2021-11-24 08:59 my-tag", utc()),
            Some((1_637_744_340, Some("my-tag".into())))
        );
        for bad in [
            "2021-11-24 08:59:10",
            "2021-13-24 08:59",
            "2021-11-24 08:59 a b",
            "2021-11-24T08:59",
            "2021-11-24 08:59 tag_with_underscore",
            "1637744340",
            "2021-11-24T08:59:00Z",
        ] {
            assert_eq!(parse_name(bad, utc()), None, "{bad}");
        }
        let long = format!("2021-11-24 08:59 {}", "a".repeat(33));
        assert_eq!(parse_name(&long, utc()), None);
    }
}
