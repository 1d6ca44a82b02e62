//! Configuration errors: one line naming the file (or variable) and the
//! key, in figment's words except where they mislead, never quoting a
//! secret.

use std::fmt;

use figment::Profile;

use super::Sources;

/// A configuration error: one line, naming where and which key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub(super) String);

impl ConfigError {
    pub(super) fn at(source: &str, key: &str, message: impl fmt::Display) -> Self {
        ConfigError(format!("{source}: key \"{key}\": {message}"))
    }
}

pub(super) fn figment_error(e: figment::Error, sources: &Sources) -> ConfigError {
    let key = e.path.iter().fold(String::new(), |mut key, seg| {
        if seg.parse::<usize>().is_ok() {
            key.push_str(&format!("[{seg}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(seg);
        }
        key
    });
    let source = match &e.metadata {
        Some(m) if m.name == "environment" => m.interpolate(&Profile::Default, &e.path),
        Some(m) => match &m.source {
            Some(figment::Source::File(p)) => p.display().to_string(),
            _ => sources.file_label(),
        },
        None => sources.file_label(),
    };
    // A value that fails to decode is quoted by the error ("found unsigned
    // int `123...`"): never for a secret.
    // A token at the top level is meant for an account: say where it goes,
    // whatever its type (and never quote it).
    let top_level_token = match &e.kind {
        figment::error::Kind::UnknownField(found, _) => found == "token" && e.path.len() <= 1,
        _ => e.path.len() == 1 && e.path.first().is_some_and(|k| k == "token"),
    };
    if top_level_token {
        return ConfigError(format!("{source}: {TOP_LEVEL_TOKEN}"));
    }
    let kind = if e.path.last().is_some_and(|k| k == "token") {
        "must be a string: put the token in quotes (the value is not shown)".to_string()
    } else {
        describe_kind(&e.kind)
    };
    if key.is_empty() {
        ConfigError(format!("{source}: {kind}"))
    } else {
        ConfigError::at(&source, &key, kind)
    }
}

/// Where a top-level `token:` belongs.
const TOP_LEVEL_TOKEN: &str =
    "unknown key `token`: the token belongs under `accounts[]` (or in GRIDPANE_API_TOKEN_FILE)";

/// figment's words, except where they mislead: its list of known keys
/// nests backticks, and a duration needs an example of what is expected.
pub(crate) fn describe_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::UnknownField(found, expected) => {
            format!("unknown key `{found}`{}", one_of(expected))
        }
        Kind::UnknownVariant(found, expected) => {
            format!("unknown value `{found}`{}", one_of(expected))
        }
        Kind::InvalidType(found, expected) | Kind::InvalidValue(found, expected)
            if expected == DURATION =>
        {
            format!("found {found}, {DURATION_HINT}")
        }
        other => other.to_string(),
    }
}

/// `, expected one of `a`, `b`` (each name in its own backticks).
fn one_of(expected: &[&str]) -> String {
    let names: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(", expected {one}"),
        _ => format!(", expected one of {}", names.join(", ")),
    }
}

/// What humantime-serde says it expects.
const DURATION: &str = "a duration";
const DURATION_HINT: &str =
    "expected a duration with its unit such as `5m`, `90s` or `1h30m` (units: ms, s, m, h, d)";
