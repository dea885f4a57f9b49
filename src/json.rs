//! Strict JSON for token headers, payloads and key sets.
//!
//! Written by hand (on top of `serde_json`'s tokenizer) because no crate does what we need: serde_json
//! silently keeps the *last* of two members with the same name, so `{"role":"authenticated",
//! "role":"service_role"}` would mean different things to us and to a downstream parser that keeps the
//! first. We reject duplicates at every depth and cap nesting depth well below serde_json's own limit.
//! Everything else (UTF-8 validity, lone surrogates, trailing data, number syntax) is serde_json's.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Maximum nesting depth of objects and arrays (the top-level object counts as 1).
pub const MAX_DEPTH: usize = 16;

/// Why a document was refused. Messages name the problem, never the document's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    /// Not valid JSON (syntax, UTF-8, trailing data, number out of range).
    Syntax,
    /// The same member name twice in one object.
    DuplicateMember,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Valid JSON, but the top level is not an object.
    NotAnObject,
}

impl JsonError {
    /// A short description for error contexts.
    pub fn describe(&self) -> &'static str {
        match self {
            JsonError::Syntax => "is not valid JSON",
            JsonError::DuplicateMember => "has a duplicate member name",
            JsonError::TooDeep => "is nested too deeply",
            JsonError::NotAnObject => "is not a JSON object",
        }
    }
}

/// Parses `bytes` as one JSON object, strictly.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match parse_value(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// Whether `bytes` holds a JSON array (its first byte past white space is `[`), as a signing-keys
/// file does where a JWKS is an object; a hint for messages, not a parse.
pub fn looks_like_array(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// Parses `bytes` as one JSON value, strictly.
pub fn parse_value(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { depth: 0 }.deserialize(&mut de).map_err(classify)?;
    de.end().map_err(|_| JsonError::Syntax)?;
    Ok(value)
}

// Our own failures travel through serde's custom error message; recover the kind from it.
const DUPLICATE: &str = "aalgate:duplicate";
const TOO_DEEP: &str = "aalgate:too-deep";

fn classify(err: serde_json::Error) -> JsonError {
    let text = err.to_string();
    if text.starts_with(DUPLICATE) {
        JsonError::DuplicateMember
    } else if text.starts_with(TOO_DEEP) {
        JsonError::TooDeep
    } else {
        JsonError::Syntax
    }
}

#[derive(Clone, Copy)]
struct Strict {
    depth: usize,
}

impl Strict {
    fn nested<E: de::Error>(self) -> Result<Strict, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(TOO_DEEP));
        }
        Ok(Strict {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(inner)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let value = map.next_value_seed(inner)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_member_at_top_level_is_refused() {
        assert_eq!(
            parse_object(br#"{"a":1,"a":2}"#),
            Err(JsonError::DuplicateMember)
        );
    }

    #[test]
    fn duplicate_member_deep_inside_is_refused() {
        assert_eq!(
            parse_object(br#"{"a":[{"b":{"c":1,"c":1}}]}"#),
            Err(JsonError::DuplicateMember)
        );
    }

    #[test]
    fn escaped_duplicate_is_still_a_duplicate() {
        // "\u0061" is "a": the names are equal after unescaping.
        assert_eq!(
            parse_object(br#"{"a":1,"\u0061":2}"#),
            Err(JsonError::DuplicateMember)
        );
    }

    #[test]
    fn depth_cap_is_enforced() {
        let ok = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_object(format!("{{\"a\":{ok}}}").as_bytes()).is_ok());
        let deep = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(
            parse_object(format!("{{\"a\":{deep}}}").as_bytes()),
            Err(JsonError::TooDeep)
        );
    }

    #[test]
    fn non_objects_and_garbage_are_refused() {
        assert_eq!(parse_object(b"[]"), Err(JsonError::NotAnObject));
        assert_eq!(parse_object(b"{} x"), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{\"a\":\"\xff\"}"), Err(JsonError::Syntax));
        assert_eq!(parse_object(br#"{"a":"\ud800"}"#), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"\xef\xbb\xbf{}"), Err(JsonError::Syntax));
        assert_eq!(parse_object(br#"{"a":1e400}"#), Err(JsonError::Syntax));
    }
}
