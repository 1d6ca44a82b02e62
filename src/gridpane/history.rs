//! A tolerant reader of GridPane's backup record
//! (`GET /backups/original/{site_id}`), whose body no public source shows.
//!
//! GridPane names a backup by its time, `YYYY-MM-DD HH:MM`, optionally
//! followed by a space and a tag (letters, digits and dashes, at most 32
//! characters), and qualifies it by a type (`manual`, `automatic`) and a
//! source (`local`, `aws-s3`, `backblaze`, `dropbox`, `wasabi`). The reader
//! finds such names wherever they sit: list items, object fields, map keys,
//! at any depth up to [`MAX_DEPTH`]. Each name takes its source and type from
//! the keys above it (`{"local": {"automatic": [...]}}`), from fields of the
//! object it sits in (`{"name": ..., "source": "aws-s3", "type": "manual"}`),
//! or from the value a name-keyed map gives it; a tag `gp-automated` marks an
//! automatic backup when nothing else says.
//!
//! A body with content in which no name is recognised is an
//! [`UnknownShape`], never "no backups"; a body holding only an envelope
//! (`success`, `message`) and empty lists or objects is "no backups".

use std::collections::HashSet;

use chrono::{FixedOffset, NaiveDateTime, TimeZone as _};
use serde_json::{Map, Value};

use super::shape;

/// Deeper values are not read.
pub(crate) const MAX_DEPTH: usize = 32;
/// Values read in one body at most; the rest is not read.
pub(crate) const MAX_NODES: usize = 200_000;
/// Longest tag after the time.
pub(crate) const MAX_TAG_CHARS: usize = 32;

/// Envelope keys at the top of a body that are not content.
const ENVELOPE_KEYS: [&str; 4] = ["success", "message", "status", "code"];
/// Fields whose string value names a source or a type.
const ATTRIBUTE_KEYS: [&str; 14] = [
    "source",
    "backup_source",
    "storage",
    "location",
    "destination",
    "provider",
    "service",
    "service_name",
    "type",
    "backup_type",
    "kind",
    "mode",
    "trigger",
    "origin",
];

/// How far ahead of the exporter's clock a backup name may be dated and
/// still count (clocks drift, and names carry no time zone): one hour. A
/// record holding a name further ahead is unreadable, never "the last
/// backup is in 26322 days".
pub const CLOCK_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Why a site's backup record could not be read or understood: a bounded
/// code, kept with the site and shown on every surface.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Unreadable {
    /// GridPane rejected the token.
    Auth,
    /// HTTP 4xx.
    Http4xx,
    /// HTTP 5xx.
    Http5xx,
    /// A redirect, not followed.
    Redirect,
    /// No answer in time.
    Timeout,
    /// No connection, or it broke.
    Network,
    /// Still rate limited after the retries.
    RateLimited,
    /// An HTML page instead of JSON.
    Html,
    /// A body that says nothing: empty (a 204), `{}`, `null`, `[]`, or an
    /// envelope without `backups`.
    Empty,
    /// `success` false, `"false"` or `0`, or an error envelope.
    Unsuccessful,
    /// JSON that ends early.
    Truncated,
    /// Not JSON.
    InvalidJson,
    /// Nested deeper than the reader's cap.
    TooDeep,
    /// More bytes or items than the reader's caps.
    TooLarge,
    /// JSON of a shape the reader does not know.
    UnknownShape,
    /// A name that is not GridPane's `YYYY-MM-DD HH:MM[ tag]` (an epoch
    /// number, an ISO-8601 time).
    BadName,
    /// A name dated more than [`CLOCK_ALLOWANCE`] ahead of the clock.
    FutureName,
    /// A code this version does not know (a state file from another).
    #[serde(other)]
    Other,
}

impl Unreadable {
    /// Every code, for documentation and for counters at zero.
    pub const ALL: [Unreadable; 18] = [
        Unreadable::Auth,
        Unreadable::Http4xx,
        Unreadable::Http5xx,
        Unreadable::Redirect,
        Unreadable::Timeout,
        Unreadable::Network,
        Unreadable::RateLimited,
        Unreadable::Html,
        Unreadable::Empty,
        Unreadable::Unsuccessful,
        Unreadable::Truncated,
        Unreadable::InvalidJson,
        Unreadable::TooDeep,
        Unreadable::TooLarge,
        Unreadable::UnknownShape,
        Unreadable::BadName,
        Unreadable::FutureName,
        Unreadable::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Unreadable::Auth => "auth",
            Unreadable::Http4xx => "http_4xx",
            Unreadable::Http5xx => "http_5xx",
            Unreadable::Redirect => "redirect",
            Unreadable::Timeout => "timeout",
            Unreadable::Network => "network",
            Unreadable::RateLimited => "rate_limited",
            Unreadable::Html => "html",
            Unreadable::Empty => "empty",
            Unreadable::Unsuccessful => "unsuccessful",
            Unreadable::Truncated => "truncated",
            Unreadable::InvalidJson => "invalid_json",
            Unreadable::TooDeep => "too_deep",
            Unreadable::TooLarge => "too_large",
            Unreadable::UnknownShape => "unknown_shape",
            Unreadable::BadName => "bad_name",
            Unreadable::FutureName => "future_name",
            Unreadable::Other => "other",
        }
    }

    /// The words the status page shows.
    pub fn describe(self) -> &'static str {
        match self {
            Unreadable::Auth => "GridPane rejected the token",
            Unreadable::Http4xx | Unreadable::Http5xx => "GridPane answered with an HTTP error",
            Unreadable::Redirect => "GridPane answered with a redirect",
            Unreadable::Timeout => "GridPane did not answer in time",
            Unreadable::Network => "GridPane could not be reached",
            Unreadable::RateLimited => "GridPane kept rate limiting the request",
            Unreadable::Html => "an HTML page instead of JSON",
            Unreadable::Empty => "an answer that says nothing",
            Unreadable::Unsuccessful => "GridPane answered success: false",
            Unreadable::Truncated => "JSON that ends early",
            Unreadable::InvalidJson => "not JSON",
            Unreadable::TooDeep => "JSON nested deeper than the reader reads",
            Unreadable::TooLarge => "more than the reader reads",
            Unreadable::UnknownShape => "JSON of a shape the reader does not know",
            Unreadable::BadName => "a backup name not in GridPane's form",
            Unreadable::FutureName => "a backup dated in the future",
            Unreadable::Other => "not understood",
        }
    }
}

/// Where a backup is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Local,
    AwsS3,
    Backblaze,
    Dropbox,
    Wasabi,
    /// Remote, provider not named.
    Remote,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::AwsS3 => "aws-s3",
            Source::Backblaze => "backblaze",
            Source::Dropbox => "dropbox",
            Source::Wasabi => "wasabi",
            Source::Remote => "remote",
        }
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

/// What the reader found in one body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    /// Every distinct backup (same time, tag, source and type once).
    pub backups: Vec<Backup>,
    /// Strings that start like a backup name (`YYYY-MM-DD `) but are not
    /// one: a bad date, seconds, a tag too long or with other characters.
    pub malformed: usize,
    /// Whether the body went deeper than [`MAX_DEPTH`] or held more than
    /// [`MAX_NODES`] values, so part of it was not read.
    pub truncated: bool,
}

/// A body with content in which no backup name was recognised.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no backup name recognised in a body of shape {shape}")]
pub struct UnknownShape {
    /// The body's keys and kinds of values, never a value
    /// ([`shape::describe`]).
    pub shape: String,
}

/// Reads the backups of one record. Names are read as times in `offset`
/// (UTC unless the account sets `time_zone`).
pub fn read(body: &Value, offset: FixedOffset) -> Result<Found, UnknownShape> {
    let mut walker = Walker {
        offset,
        seen: HashSet::new(),
        found: Found::default(),
        nodes: 0,
        content: false,
    };
    walker.walk(body, Context::default(), 0);
    if walker.found.backups.is_empty() && (walker.content || walker.found.truncated) {
        return Err(UnknownShape {
            shape: shape::describe(body),
        });
    }
    Ok(walker.found)
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

/// Whether a string starts like a backup name (`YYYY-MM-DD `).
fn starts_like_name(s: &str) -> bool {
    let b = s.trim().as_bytes();
    b.len() >= 11
        && b.iter().take(11).enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            _ => c.is_ascii_digit(),
        })
}

/// The source or type a word (a key or an attribute's value) names.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Context {
    source: Option<Source>,
    kind: Option<BackupType>,
}

impl Context {
    /// What `word` says, over what this context says.
    fn with(self, word: &str) -> Context {
        let said = words(word);
        Context {
            source: said.source.or(self.source),
            kind: said.kind.or(self.kind),
        }
    }

    fn is_empty(self) -> bool {
        self == Context::default()
    }
}

fn word(w: &str) -> Context {
    let (mut source, mut kind) = (None, None);
    match w {
        "local" => source = Some(Source::Local),
        "aws-s3" | "aws_s3" | "awss3" | "s3" | "aws" | "amazon-s3" | "amazon_s3" => {
            source = Some(Source::AwsS3)
        }
        "backblaze" | "b2" | "backblaze-b2" | "backblaze_b2" => source = Some(Source::Backblaze),
        "dropbox" => source = Some(Source::Dropbox),
        "wasabi" => source = Some(Source::Wasabi),
        "remote" | "cloud" | "offsite" => source = Some(Source::Remote),
        "manual" | "manually" => kind = Some(BackupType::Manual),
        "automatic" | "auto" | "automated" | "scheduled" | "gp-automated" => {
            kind = Some(BackupType::Automatic)
        }
        _ => {}
    }
    Context { source, kind }
}

/// The source and type a key or value names: the whole word first, then its
/// parts split at `_`, `-` and spaces (`local_backups`, `remote-manual`).
fn words(w: &str) -> Context {
    let w = w.trim().to_ascii_lowercase();
    if w.len() > 64 {
        return Context::default();
    }
    let whole = word(&w);
    if !whole.is_empty() {
        return whole;
    }
    let mut out = Context::default();
    for part in w.split(['_', '-', ' ']) {
        let said = word(part);
        out.source = out.source.or(said.source);
        out.kind = out.kind.or(said.kind);
    }
    out
}

struct Walker {
    offset: FixedOffset,
    seen: HashSet<Backup>,
    found: Found,
    nodes: usize,
    /// Whether anything but nulls and empty containers was seen.
    content: bool,
}

impl Walker {
    /// Counts a value; false when the caps are reached.
    fn enter(&mut self, depth: usize) -> bool {
        self.nodes += 1;
        if depth > MAX_DEPTH || self.nodes > MAX_NODES {
            self.found.truncated = true;
            return false;
        }
        true
    }

    fn walk(&mut self, v: &Value, ctx: Context, depth: usize) {
        if !self.enter(depth) {
            return;
        }
        match v {
            Value::Null => {}
            Value::Bool(_) | Value::Number(_) => self.content = true,
            Value::String(s) => {
                self.content = true;
                self.name(s, ctx);
            }
            Value::Array(items) => {
                for item in items {
                    if self.found.truncated {
                        return;
                    }
                    self.walk(item, ctx, depth + 1);
                }
            }
            Value::Object(map) => self.object(map, ctx, depth),
        }
    }

    fn object(&mut self, map: &Map<String, Value>, ctx: Context, depth: usize) {
        let ctx = attributes(map, ctx);
        // Names in this object's own fields count once per minute, the
        // tagged spelling first: `name` and `created_at` may both hold it.
        let mut own: Vec<(i64, Option<String>, Context)> = Vec::new();
        for (key, value) in map {
            if self.found.truncated {
                break;
            }
            let lower = key.to_ascii_lowercase();
            if depth == 0 && ENVELOPE_KEYS.contains(&lower.as_str()) {
                continue;
            }
            if let Some((at, tag)) = parse_name(key, self.offset) {
                // A map keyed by names: the value qualifies the backup.
                self.content = true;
                let own = match value {
                    Value::String(s) => ctx.with(s),
                    Value::Object(inner) => attributes(inner, ctx),
                    _ => ctx,
                };
                self.push(at, tag, own);
                continue;
            }
            if starts_like_name(key) {
                self.content = true;
                self.found.malformed += 1;
                continue;
            }
            let is_attribute = ATTRIBUTE_KEYS.contains(&lower.as_str());
            if is_attribute && matches!(value, Value::String(s) if !words(s).is_empty()) {
                self.content = true;
                continue;
            }
            if let Some((at, tag)) = value.as_str().and_then(|s| parse_name(s, self.offset)) {
                self.content = true;
                match own.iter_mut().find(|(seen, _, _)| *seen == at) {
                    Some((_, seen_tag, _)) => {
                        if seen_tag.is_none() {
                            *seen_tag = tag;
                        }
                    }
                    None => own.push((at, tag, ctx.with(key))),
                }
                continue;
            }
            self.walk(value, ctx.with(key), depth + 1);
        }
        for (at, tag, ctx) in own {
            self.push(at, tag, ctx);
        }
    }

    fn name(&mut self, s: &str, ctx: Context) {
        match parse_name(s, self.offset) {
            Some((at, tag)) => self.push(at, tag, ctx),
            None if starts_like_name(s) => self.found.malformed += 1,
            None => {}
        }
    }

    fn push(&mut self, at: i64, tag: Option<String>, ctx: Context) {
        let kind = ctx
            .kind
            .or_else(|| tag.as_deref().and_then(|t| words(t).kind));
        let backup = Backup {
            at,
            tag,
            source: ctx.source,
            kind,
        };
        if self.seen.insert(backup.clone()) {
            self.found.backups.push(backup);
        }
    }
}

/// The context an object's attribute fields (`source`, `type`, ...) give
/// the names inside it.
fn attributes(map: &Map<String, Value>, ctx: Context) -> Context {
    map.iter()
        .filter(|(k, _)| ATTRIBUTE_KEYS.contains(&k.to_ascii_lowercase().as_str()))
        .filter_map(|(_, v)| v.as_str())
        .fold(ctx, |c, v| c.with(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        ] {
            assert_eq!(parse_name(bad, utc()), None, "{bad}");
        }
        let long = format!("2021-11-24 08:59 {}", "a".repeat(33));
        assert_eq!(parse_name(&long, utc()), None);
    }

    #[test]
    fn keys_above_a_list_attribute_source_and_type() {
        let body =
            json!({"success": true, "backups": {"aws-s3": {"manual": ["2021-11-24 08:59 x"]}}});
        let found = read(&body, utc()).unwrap_or_default();
        assert_eq!(found.backups.len(), 1);
        assert_eq!(found.backups[0].source, Some(Source::AwsS3));
        assert_eq!(found.backups[0].kind, Some(BackupType::Manual));
    }

    #[test]
    fn one_backup_named_in_two_fields_of_its_object_counts_once_with_its_tag() {
        let body = json!({"data": [
            {"created_at": "2021-11-24 08:59", "name": "2021-11-24 08:59 gp-automated", "source": "local"},
            {"created_at": "2021-11-25 08:59", "name": "2021-11-25 08:59", "source": "local"},
        ]});
        let found = read(&body, utc()).unwrap_or_default();
        assert_eq!(found.backups.len(), 2, "{found:?}");
        assert_eq!(found.backups[0].tag.as_deref(), Some("gp-automated"));
        assert_eq!(found.backups[0].kind, Some(BackupType::Automatic));
        assert_eq!(found.backups[1].kind, None);
    }

    #[test]
    fn an_envelope_with_empty_lists_is_no_backups_and_other_content_an_unknown_shape() {
        let empty = json!({"success": true, "data": {"local": [], "aws-s3": {}}});
        assert_eq!(read(&empty, utc()), Ok(Found::default()));
        let odd = json!({"success": true, "data": [{"file": "x.tar"}]});
        assert!(read(&odd, utc()).is_err());
    }
}
