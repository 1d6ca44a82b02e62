//! A response body's shape with every value redacted: what `inspect`
//! prints and what an `unknown_shape` error logs. Strings become their kind
//! (`<date-like>`, `<url>`, `<number-like>`, `<string>`), numbers and
//! booleans their type, credentials `<dropped>`; lists keep their length and
//! the distinct shapes of their first items; keys that are not plain
//! identifiers (a domain, an id, a date) become their kind too.

use serde_json::{Map, Value};

/// Deeper values become `<...>`.
const MAX_DEPTH: usize = 16;
/// Keys shown per object; the rest are counted.
const MAX_KEYS: usize = 64;
/// Items of a list whose shapes are compared.
const MAX_ITEMS_LOOKED_AT: usize = 100;
/// Distinct item shapes shown per list.
const MAX_ITEM_SHAPES: usize = 3;
/// Longest [`describe`] answer, in characters.
const MAX_DESCRIBE_CHARS: usize = 2048;

/// Parts of keys whose values are credentials.
const CREDENTIAL_PARTS: [&str; 8] = [
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "private",
    "apikey",
    "api_key",
];

/// `body` with every value replaced by its kind.
pub(crate) fn redact(body: &Value) -> Value {
    redact_at(body, 0)
}

/// [`redact`] as one line of at most 2048 characters, for logs and errors.
pub fn describe(body: &Value) -> String {
    let text = redact(body).to_string();
    match text.char_indices().nth(MAX_DESCRIBE_CHARS) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text,
    }
}

/// The kind of a string value.
pub(crate) fn string_kind(s: &str) -> &'static str {
    let t = s.trim();
    let b = t.as_bytes();
    if t.is_empty() {
        "<empty>"
    } else if b.len() >= 10
        && b.iter().take(10).enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
    {
        "<date-like>"
    } else if t.contains("://") {
        "<url>"
    } else if t.parse::<f64>().is_ok() {
        "<number-like>"
    } else {
        "<string>"
    }
}

fn is_credential(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "key" || k.ends_with("_key") || CREDENTIAL_PARTS.iter().any(|p| k.contains(p))
}

/// A key as shown: plain identifiers as they are, anything else by kind.
fn shown_key(key: &str, index: usize) -> String {
    let plain = key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        key.to_string()
    } else {
        format!("{} key #{index}", string_kind(key))
    }
}

fn redact_at(v: &Value, depth: usize) -> Value {
    if depth >= MAX_DEPTH {
        return Value::from("<...>");
    }
    match v {
        Value::Null => Value::Null,
        Value::Bool(_) => Value::from("<bool>"),
        Value::Number(_) => Value::from("<number>"),
        Value::String(s) => Value::from(string_kind(s)),
        Value::Array(items) => {
            if items.is_empty() {
                return Value::Array(Vec::new());
            }
            let n = items.len();
            let mut out = vec![Value::from(format!(
                "<{n} item{}>",
                if n == 1 { "" } else { "s" }
            ))];
            for item in items.iter().take(MAX_ITEMS_LOOKED_AT) {
                let shape = redact_at(item, depth + 1);
                if !out.contains(&shape) {
                    out.push(shape);
                }
                if out.len() > MAX_ITEM_SHAPES {
                    break;
                }
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (index, (key, value)) in map.iter().enumerate().take(MAX_KEYS) {
                let shown = if is_credential(key) {
                    Value::from("<dropped>")
                } else {
                    redact_at(value, depth + 1)
                };
                out.insert(shown_key(key, index), shown);
            }
            if map.len() > MAX_KEYS {
                out.insert(format!("<{} more keys>", map.len() - MAX_KEYS), Value::Null);
            }
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_become_kinds_and_credentials_are_dropped() {
        let body = json!({
            "token": "abc",
            "url": "https://x.example",
            "n": "12",
            "when": "2021-11-24 08:59",
            "shop.example.com": [1, 2, 3],
        });
        assert_eq!(
            redact(&body),
            json!({
                "token": "<dropped>",
                "url": "<url>",
                "n": "<number-like>",
                "when": "<date-like>",
                "<string> key #1": ["<3 items>", "<number>"],
            })
        );
    }
}
