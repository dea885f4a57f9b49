//! What one credential value is (publishable key, anon key, secret, user token, unknown), and the
//! memo that keeps repeated values cheap.

use std::borrow::Cow;

/// Longest publishable key accepted (real ones are `sb_publishable_` and about 31 more characters; a
/// 70 KB one would make Auth answer 431 to the enrollment lookup).
pub const MAX_API_KEY_BYTES: usize = 256;

/// What a credential value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `sb_publishable_…`: no user.
    Publishable,
    /// The legacy `anon` key JWT: no user.
    AnonKey,
    /// `sb_secret_…` (in any spelling), a `service_role` JWT or another key JWT: a service credential.
    Secret,
    /// A JWT that is no key: a user access token (verified before anything is decided on it).
    User,
    /// None of these.
    Unknown,
}

/// One `Authorization` value read as the Bearer scheme (RFC 6750 §2.1), the way every front door and
/// the exchange read it.
#[derive(Debug, PartialEq, Eq)]
pub enum Bearer<'a> {
    /// `Bearer <token>`.
    Token(&'a str),
    /// `Bearer a,b`: several tokens in one value.
    Several(&'a str),
    /// `Bearer` with nothing after it.
    Empty,
    /// Another scheme (its name).
    OtherScheme(&'a str),
}

/// Reads one `Authorization` value (surrounding whitespace ignored; the scheme is case-insensitive).
pub fn bearer(value: &str) -> Bearer<'_> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Bearer::OtherScheme(scheme);
    }
    let token = rest.trim_start_matches(' ');
    if token.contains(',') {
        Bearer::Several(token)
    } else if token.is_empty() {
        Bearer::Empty
    } else {
        Bearer::Token(token)
    }
}

/// Whether `value` has the shape of a compact JWS (three base64url segments). Only a shape: the
/// token is verified before anything depends on it.
pub(crate) fn jwt_shaped(value: &str) -> bool {
    let mut segments = 0;
    for part in value.split('.') {
        segments += 1;
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    segments == 3
}

/// Classifies one credential value. `max_bytes` is the token size cap: larger values are not decoded.
///
/// Key JWTs are recognised from their unverified payload on purpose: an "anon key" leads to the same
/// treatment as no credential at all (the upstream verifies it), and a `service_role` JWT is refused
/// unless the route allows service credentials (and then the upstream verifies it). Neither can make a
/// user token skip the checks: a user token claiming `service_role` is refused, not trusted.
pub fn classify(value: &str, max_bytes: usize) -> Class {
    // A secret key in any spelling (quoted, prefixed, glued to something) is a service credential:
    // never let it pass as "no user" or as an unknown value some service might still accept.
    if value
        .as_bytes()
        .windows(b"sb_secret_".len())
        .any(|w| w.eq_ignore_ascii_case(b"sb_secret_"))
    {
        return Class::Secret;
    }
    if let Some(rest) = value.strip_prefix("sb_publishable_") {
        let key_chars = rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        return if !rest.is_empty() && key_chars && value.len() <= MAX_API_KEY_BYTES {
            Class::Publishable
        } else {
            Class::Unknown
        };
    }
    if value.len() > max_bytes {
        // Too large to decode; as a bearer it is refused as `token_too_large`.
        return if jwt_shaped(value) {
            Class::User
        } else {
            Class::Unknown
        };
    }
    if !jwt_shaped(value) {
        return Class::Unknown;
    }
    match crate::dangerous::key_jwt_role(value).as_deref() {
        Some("anon") => Class::AnonKey,
        Some(_) => Class::Secret,
        None => Class::User,
    }
}

/// Remembers how JWT-shaped values were classified. Classifying one decodes and parses its payload
/// (≈ 5 µs natively, several times that in wasm), and clients send the same values on every request
/// (supabase-js repeats the anon key in `apikey`; a session reuses its access token), so this is most
/// of a cached decision's cost. Classification is a pure function of the value, so remembering it
/// cannot change a verdict. Bounded in entries and in bytes (values over the token cap are not kept).
#[derive(Default)]
pub struct ClassificationMemo {
    pub(super) seen: std::collections::HashMap<Box<str>, Class>,
    pub(super) bytes: usize,
}

impl ClassificationMemo {
    /// Entries kept at most; the memo starts over when full (values are re-derived, never wrong).
    pub const MAX_ENTRIES: usize = 512;
    /// Bytes of remembered values kept at most (512 values of 8 KiB at worst).
    pub const MAX_BYTES: usize = 4 * 1024 * 1024;

    pub(crate) fn classify(&mut self, value: &str, max_bytes: usize) -> Class {
        if !value.contains('.') || value.len() > max_bytes {
            return classify(value, max_bytes); // nothing to decode, or too large to keep
        }
        if let Some(class) = self.seen.get(value) {
            return *class;
        }
        let class = classify(value, max_bytes);
        if self.seen.len() >= Self::MAX_ENTRIES || self.bytes + value.len() > Self::MAX_BYTES {
            self.seen.clear();
            self.bytes = 0;
        }
        self.bytes += value.len();
        self.seen.insert(value.into(), class);
        class
    }
}

/// An API-key place's value as the services would still read it: surrounding whitespace and quotes
/// and a `Bearer ` prefix removed (the gate judges what any reader could make of it).
pub(crate) fn unwrap_key(value: &str) -> &str {
    let mut v = value.trim();
    if let Some(inner) = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
    {
        v = inner.trim();
    }
    // `get`, not indexing: the 8th byte may fall inside a character of a client's value.
    if v.len() > 7
        && v.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
    {
        v = v[7..].trim();
    }
    v
}

/// Whether a secret-level credential hides anywhere in `value`: the whole value, or any part of it
/// between whitespace or commas, each unwrapped like an API key.
pub(crate) fn secret_anywhere(value: &str, max_bytes: usize) -> bool {
    classify(unwrap_key(value), max_bytes) == Class::Secret
        || value
            .split(|c: char| c.is_ascii_whitespace() || c == ',')
            .any(|part| classify(unwrap_key(part), max_bytes) == Class::Secret)
}

/// `unwrap_key` keeping the borrow when there is one.
pub(crate) fn unwrap_cow<'r>(value: &Cow<'r, str>) -> Cow<'r, str> {
    match value {
        Cow::Borrowed(v) => Cow::Borrowed(unwrap_key(v)),
        Cow::Owned(v) => Cow::Owned(unwrap_key(v).to_owned()),
    }
}
