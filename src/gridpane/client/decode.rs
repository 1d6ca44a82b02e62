//! Decoding a body: the JSON path of the first problem, never a value from
//! the body, `success: false` as an error, and the cap on list items.

use serde::de::DeserializeOwned;

use super::super::endpoint::Endpoint;
use super::super::error::ApiError;
use super::super::wire::{self, Envelope};

/// Decodes a body, naming the JSON path of the first problem. The message
/// never quotes a value from the body. Public so that property tests can
/// feed it arbitrary input.
pub fn decode<T: DeserializeOwned + Envelope>(ep: Endpoint, body: &[u8]) -> Result<T, ApiError> {
    decode_capped(ep, body, usize::MAX, usize::MAX)
}

/// [`decode`], failing as soon as the body's lists hold more than `items`
/// items in all (`limit` is the configured cap, for the message).
pub(super) fn decode_capped<T: DeserializeOwned + Envelope>(
    ep: Endpoint,
    body: &[u8],
    items: usize,
    limit: usize,
) -> Result<T, ApiError> {
    #[derive(serde::Deserialize)]
    struct SuccessOnly {
        #[serde(default, deserialize_with = "super::super::lenient::opt_bool")]
        success: Option<bool>,
    }
    let (decoded, over_cap) = super::super::lenient::with_item_cap(items, || {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize::<_, T>(&mut de)
    });
    if over_cap {
        return Err(ApiError::TooManyItems {
            endpoint: ep,
            limit,
        });
    }
    let value = decoded.map_err(|e| {
        // `{"success": false, "message": ...}` lacks the usual fields: say
        // what it is rather than which field is missing.
        if let Ok(SuccessOnly {
            success: Some(false),
        }) = serde_json::from_slice(body)
        {
            return ApiError::Unsuccessful { endpoint: ep };
        }
        let path = describe_path(e.path());
        let inner = e.into_inner();
        let message = match inner.classify() {
            serde_json::error::Category::Eof => "truncated JSON".to_string(),
            serde_json::error::Category::Syntax => "invalid JSON".to_string(),
            serde_json::error::Category::Io => "read error".to_string(),
            serde_json::error::Category::Data => {
                short(&redact_quoted(&inner.to_string()), MAX_MESSAGE_CHARS)
            }
        };
        ApiError::Decode {
            endpoint: ep,
            path,
            message,
        }
    })?;
    if value.unsuccessful() {
        return Err(ApiError::Unsuccessful { endpoint: ep });
    }
    Ok(value)
}

/// Longest key a decode error quotes, in characters.
pub(super) const MAX_KEY_CHARS: usize = 40;
/// Longest serde message a decode error repeats, in characters.
const MAX_MESSAGE_CHARS: usize = 160;

/// A decode error's JSON path, fit for a log line: keys are cut short and
/// escaped, and inside `integrations` (objects that hold provider
/// credentials) only the keys the decoder reads are quoted.
fn describe_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut credentials = false;
    for segment in path.iter() {
        let key = match segment {
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                continue;
            }
            Segment::Map { key } | Segment::Enum { variant: key } => key.as_str(),
            Segment::Unknown => "?",
        };
        if !out.is_empty() {
            out.push('.');
        }
        if credentials && !wire::INTEGRATION_FIELDS.contains(&key) {
            out.push_str("<key>");
        } else {
            out.push_str(&short(key, MAX_KEY_CHARS));
        }
        credentials |= key == "integrations";
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// At most `max` characters of `text`, control characters and quotes
/// escaped, with `…` when cut.
pub(super) fn short(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .by_ref()
        .take(max)
        .flat_map(char::escape_debug)
        .collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Drops quoted values from a serde message (`invalid type: string "x"`),
/// and the line/column suffix.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quote = false;
    for c in message.chars() {
        match (c, in_quote) {
            ('"', false) => {
                in_quote = true;
                out.push_str("\"…");
            }
            ('"', true) => {
                in_quote = false;
                out.push('"');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    match out.find(" at line ") {
        Some(i) => out[..i].to_string(),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_name_the_path_and_never_quote_the_body() {
        let body = br#"{"data": [{"id": 1, "url": "a"}, {"id": "secret-looking", "url": "b"}]}"#;
        let err = decode::<wire::Page<wire::Site>>(Endpoint::Sites, body).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("data[1].id"), "{msg}");
        assert!(!msg.contains("secret-looking"), "{msg}");
        assert_eq!(err.reason(), "decode");
    }

    #[test]
    fn a_missing_field_that_matters_is_an_error_naming_it() {
        let body = br#"{"data": [{"url": "a"}]}"#;
        let msg = decode::<wire::Page<wire::Site>>(Endpoint::Sites, body)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "/site: unexpected response at data[0]: missing field `id`"
        );
    }

    #[test]
    fn truncated_json_is_named_as_such() {
        let body = br#"{"data": [{"id": 1, "url": "a"#;
        let msg = decode::<wire::Page<wire::Site>>(Endpoint::Sites, body)
            .unwrap_err()
            .to_string();
        assert!(msg.ends_with("truncated JSON"), "{msg}");
    }

    #[test]
    fn success_false_inside_a_200_is_an_error() {
        let body = br#"{"success": false, "message": "nope", "integrations": []}"#;
        let err =
            decode::<wire::IntegrationsResponse>(Endpoint::BackupIntegrations, body).unwrap_err();
        assert_eq!(err.reason(), "unsuccessful");
    }

    #[test]
    fn a_page_without_data_is_an_error_not_an_empty_fleet() {
        let body = br#"{"success": false, "message": "nope"}"#;
        assert!(decode::<wire::Page<wire::Site>>(Endpoint::Sites, body).is_err());
    }
}
