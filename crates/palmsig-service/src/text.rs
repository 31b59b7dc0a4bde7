//! The one rule for text coming in: no control characters (U+0000–U+001F, U+007F–U+009F) in any
//! string — JSON values and keys, form fields, path segments, query strings. None of the API's
//! fields (ids, names, phones, codes, URLs, base64) has a use for one, and PostgreSQL refuses NUL
//! in text, which would otherwise surface as a 500 after half a use case ran. Checked once, where
//! a request is parsed, before anything reaches a use case or storage.
use serde_json::Value;

/// A text input with a control character in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: control characters (such as NUL) are not allowed in text")]
pub struct TextError {
    /// Where: a JSON path (`captures[0].hand`), a form field, `path` or `query`.
    pub field: String,
}

/// Refuse `s` if it holds a control character.
pub fn check_str(field: &str, s: &str) -> Result<(), TextError> {
    if s.chars().any(char::is_control) {
        return Err(TextError {
            field: printable(field),
        });
    }
    Ok(())
}

/// `field` with its control characters escaped (`\u{7}`): the name of a refused field comes
/// from the client and goes back in the error message.
fn printable(field: &str) -> String {
    field
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Refuse a JSON document with a control character in any string or object key.
pub fn check_json(v: &Value) -> Result<(), TextError> {
    check_value("body", v)
}

fn check_value(at: &str, v: &Value) -> Result<(), TextError> {
    match v {
        Value::String(s) => check_str(at, s),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_value(&format!("{at}[{i}]"), x)),
        Value::Object(m) => m.iter().try_for_each(|(k, x)| {
            let field = format!("{at}.{k}");
            check_str(&field, k)?;
            check_value(&field, x)
        }),
        _ => Ok(()),
    }
}

/// Refuse form fields (names and values, already percent-decoded) with a control character.
pub fn check_pairs(pairs: &[(String, String)]) -> Result<(), TextError> {
    pairs.iter().try_for_each(|(k, v)| {
        check_str(k, k)?;
        check_str(k, v)
    })
}

/// Refuse a percent-encoded URI part (path or query) that decodes to a control character.
pub fn check_uri_part(field: &str, raw: &str) -> Result<(), TextError> {
    let bytes = raw.as_bytes();
    let decoded_control = bytes.windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .is_some_and(|b| b < 0x20 || b == 0x7f)
    });
    // C1 controls arrive UTF-8 encoded (%C2%80–%C2%9F); decode those leniently too.
    let c1 =
        raw.to_ascii_uppercase().contains("%C2%8") || raw.to_ascii_uppercase().contains("%C2%9");
    if decoded_control || c1 || bytes.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return Err(TextError {
            field: field.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert!(check_str("name", "Café Zürich +41 (0)").is_ok());
        for bad in ["a\u{0}", "\u{1}", "a\nb", "\t", "\u{7f}", "\u{85}"] {
            assert_eq!(check_str("name", bad).unwrap_err().field, "name", "{bad:?}");
        }
    }

    #[test]
    fn json_paths() {
        let v = serde_json::json!({"a": [{"b": "ok"}, {"c": "x\u{0}"}]});
        assert_eq!(check_json(&v).unwrap_err().field, "body.a[1].c");
        let k = serde_json::json!({"k\u{0}": 1});
        let e = check_json(&k).unwrap_err();
        assert_eq!(
            e.field, "body.k\\u{0}",
            "the name is echoed without the control character"
        );
        assert!(!e.to_string().chars().any(char::is_control));
        assert!(check_json(&serde_json::json!({"n": 1, "s": "fine", "l": [true, null]})).is_ok());
    }

    #[test]
    fn uri_parts() {
        assert!(check_uri_part("path", "/v1/me/cards/tok_1%20x%2F").is_ok());
        for bad in ["/a%00", "cursor=a%1f", "x%7F", "a%C2%85", "%0a"] {
            assert!(check_uri_part("path", bad).is_err(), "{bad}");
        }
    }
}
