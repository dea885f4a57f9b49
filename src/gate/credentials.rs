//! Credential extraction and classification (DESIGN §5 step 2).
//!
//! Supabase clients send an API key in `apikey` and, when no user is signed in, the same key again as
//! `Authorization: Bearer <key>`. So a bearer value is classified before anything is verified:
//! `sb_publishable_…` and the legacy `anon` key JWT mean "no user"; `sb_secret_…` and the legacy
//! `service_role` key JWT are service credentials; anything else is a user token.

use super::Request;
use crate::b64;
use crate::error::{Code, Error};
use crate::json;
use serde_json::Value;

/// What the request presents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials<'r> {
    /// No user: no credential, a publishable key, or the anon key.
    Anonymous,
    /// A secret API key, a `service_role` key JWT, or S3 access-key signing.
    Service,
    /// A user access token (not yet verified); `service` if service credentials came with it.
    User {
        /// The token.
        token: &'r str,
        /// A secret key or `service_role` key was sent too (refused unless the route allows them).
        service: bool,
    },
}

/// The role of a JWT that is an API key rather than a user token: a legacy key JWT (`iss: "supabase"`, a
/// `ref`, a `role`, no `sub`), or any JWT whose `role` is `service_role` (a service credential whatever
/// else it says).
pub(crate) fn key_jwt_role(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let bytes = b64::decode(payload.as_bytes())?;
    // Fast path for user tokens: a key JWT spells `"ref"` or `service_role` literally. A token that hides
    // them behind JSON escapes is classified as a user token, which fails closed (it is verified, and a
    // `service_role` role is refused again by the policy).
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if !has(b"\"ref\"") && !has(b"service_role") {
        return None;
    }
    let claims = json::parse_object(&bytes).ok()?;
    let role = claims.get("role").and_then(Value::as_str)?;
    let legacy_key = claims.get("iss") == Some(&Value::String("supabase".into()))
        && claims.get("ref").is_some_and(Value::is_string)
        && !claims.contains_key("sub");
    (legacy_key || role == "service_role").then(|| role.to_owned())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    None,
    Service,
}

/// Classifies an API key value (from `apikey` or a bearer that is a key). `None` if it is not a key.
///
/// Key JWTs are recognised from their unverified payload on purpose: an "anon key" leads to the same
/// treatment as no credential at all (the upstream verifies it), and a `service_role` JWT is refused
/// unless the route allows service credentials (and then the upstream verifies it). Neither can make a
/// user token skip the checks: a user token claiming `service_role` is refused, not trusted.
fn key_kind(value: &str, max_bytes: usize) -> Option<Kind> {
    // New-style keys: the prefix and then only key characters. Anything else (a space, a second
    // token glued on) is not a key and falls through to be treated, and refused, as a user token.
    let key_chars = |rest: &str| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if let Some(rest) = value.strip_prefix("sb_publishable_") {
        return key_chars(rest).then_some(Kind::None);
    }
    if value.starts_with("sb_secret_") {
        // Even a malformed secret key is a service credential: never let it pass as "no user".
        return Some(Kind::Service);
    }
    if value.len() > max_bytes {
        return None;
    }
    match key_jwt_role(value)?.as_str() {
        "anon" => Some(Kind::None),
        _ => Some(Kind::Service),
    }
}

/// Remembers how bearer and `apikey` values were classified. Classifying a JWT-shaped value decodes
/// and parses its payload (≈ 5 µs natively, several times that in wasm), and clients send the same
/// values on every request (supabase-js repeats the anon key in `apikey`; a session reuses its access
/// token), so this is most of a cached decision's cost. Classification is a pure function of the value,
/// so remembering it cannot change a verdict.
#[derive(Default)]
pub struct ClassificationMemo {
    seen: std::collections::HashMap<Box<str>, Option<Kind>>,
}

impl ClassificationMemo {
    /// Entries kept at most; the memo starts over when full (values are re-derived, never wrong).
    const MAX_ENTRIES: usize = 512;

    fn kind(&mut self, value: &str, max_bytes: usize) -> Option<Kind> {
        if !value.contains('.') {
            return key_kind(value, max_bytes); // `sb_…` keys: a prefix check, nothing to save
        }
        if let Some(kind) = self.seen.get(value) {
            return *kind;
        }
        let kind = key_kind(value, max_bytes);
        if self.seen.len() >= Self::MAX_ENTRIES {
            self.seen.clear();
        }
        self.seen.insert(value.into(), kind);
        kind
    }
}

/// Extracts the request's credentials. `max_bytes` is the token size cap (larger bearers are not
/// decoded here; they fail verification with `token_too_large`).
pub fn extract<'r>(
    req: &Request<'r>,
    max_bytes: usize,
    memo: &mut ClassificationMemo,
) -> Result<Credentials<'r>, Error> {
    // Repeated headers arrive either as separate lines or joined with ", " (the fetch `Headers` of
    // every JS runtime joins them). Tokens and keys never contain a comma, so both forms are one
    // signal: conflicting credentials. (S3 SigV4 `Authorization` values do contain commas; only bearer
    // values are held to this.)
    let conflict = |name: &str| {
        Error::new(
            Code::CredentialsConflict,
            format!("several `{name}` values"),
        )
    };
    let single = |name: &str, commas_allowed: bool| -> Result<Option<&'r str>, Error> {
        let values = req.headers_named(name);
        if values.len() > 1 || (!commas_allowed && values.iter().any(|v| v.contains(','))) {
            return Err(conflict(name));
        }
        Ok(values.first().copied())
    };
    let authorization = single("authorization", true)?;
    let security_token = single("x-amz-security-token", false)?;
    let apikey = single("apikey", false)?;

    let mut service = false;
    if let Some(key) = apikey {
        match memo.kind(key.trim(), max_bytes) {
            Some(Kind::Service) => service = true,
            Some(Kind::None) => {}
            // An unrecognised `apikey` is the upstream's business (it will refuse it); it is not a user.
            None => {}
        }
    }

    let mut user: Option<&'r str> = None;
    if let Some(value) = authorization {
        let value = value.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let bearer = rest.trim_start_matches(' ');
            if bearer.contains(',') {
                return Err(conflict("authorization"));
            }
            if bearer.is_empty() {
                return Err(Error::new(
                    Code::TokenMalformed,
                    "`Authorization: Bearer` has no token",
                ));
            }
            match memo.kind(bearer, max_bytes) {
                Some(Kind::Service) => service = true,
                Some(Kind::None) => {}
                None => user = Some(bearer),
            }
        } else if scheme.eq_ignore_ascii_case("AWS4-HMAC-SHA256") {
            // Storage's S3 protocol: signed with access keys (service-level) unless a user session token
            // comes in `x-amz-security-token`.
            if security_token.is_none() {
                service = true;
            }
        } else {
            return Err(Error::new(
                Code::CredentialsUnsupported,
                "`Authorization` must use the Bearer scheme",
            ));
        }
    }
    if let Some(token) = security_token {
        let token = token.trim();
        match user {
            Some(existing) if existing != token => {
                return Err(Error::new(
                    Code::CredentialsConflict,
                    "`Authorization` and `x-amz-security-token` carry different tokens",
                ));
            }
            _ => user = Some(token),
        }
    }
    Ok(match (user, service) {
        (Some(token), service) => Credentials::User { token, service },
        (None, true) => Credentials::Service,
        (None, false) => Credentials::Anonymous,
    })
}
