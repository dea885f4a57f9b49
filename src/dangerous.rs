//! APIs that read a token without verifying it. Fenced here, after rustls, so that every use is visible
//! in review: nothing else in the crate decodes an unverified payload. Each read says why it is safe.

use crate::b64;
use crate::error::Result;
use crate::json;
use crate::token::{parse_payload, Header, UnverifiedToken};
use serde_json::{Map, Value};

/// Decodes a token **without verifying anything but its structure** (for `aalgate inspect` and
/// debugging). Never base a decision on the result.
pub fn insecure_decode(token: &str, max_bytes: usize) -> Result<(Header, Map<String, Value>)> {
    let parsed = UnverifiedToken::parse(token, max_bytes)?;
    let payload = parse_payload(parsed.payload())?;
    Ok((parsed.header().clone(), payload))
}

/// The role of a JWT that is an API key rather than a user token, **from its unverified payload**: a legacy key JWT (`iss: "supabase"`, a
/// `ref`, a `role`, no `sub`), or any JWT whose `role` is `service_role` (a service credential whatever
/// else it says).
///
/// Unverified on purpose: key JWTs are classified before (and instead of) verification, because they
/// are not ours to verify (the upstream checks them); what this says only ever makes a request
/// *stricter* (a service credential is refused unless a route allows it).
pub fn key_jwt_role(token: &str) -> Option<String> {
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

/// A string claim from a decoded, **unverified** payload. Only for choosing among candidates (which
/// issuer's key, which exchange provider); the choice is enforced again after verification.
pub fn peek_claim(payload_json: &[u8], name: &str) -> Option<String> {
    let claims = json::parse_object(payload_json).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}

/// The unverified `iss` of a compact JWS (see [`peek_claim`]).
pub fn peek_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    peek_claim(&b64::decode(payload.as_bytes())?, "iss")
}
