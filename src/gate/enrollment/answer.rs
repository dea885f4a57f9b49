//! Supabase Auth's answer to `GET /auth/v1/user`, read into the enrollment fact.

use serde_json::Value;

/// Largest `/auth/v1/user` body read (a user with many identities is a few KiB).
pub const MAX_USER_BYTES: usize = 64 * 1024;

/// Why a lookup gave no fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupFailure {
    /// Auth answered a 4xx other than 429: it does not accept this request (the token, or the `apikey`
    /// or a header sent with it). The request's fault, never an outage.
    Rejected(String),
    /// Anything else: no answer, a timeout, 429, 5xx, an unreadable or wrong answer.
    Unavailable(String),
}

impl std::fmt::Display for LookupFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupFailure::Rejected(why) => write!(f, "Auth refused the token: {why}"),
            LookupFailure::Unavailable(why) => write!(f, "Auth unavailable: {why}"),
        }
    }
}

/// Reads Supabase Auth's answer to `GET /auth/v1/user`: 200 and a user object whose `id` is `sub`;
/// enrolled iff some entry of `factors` (absent when the user has none) has `status` `"verified"`.
/// A 4xx other than 429 means Auth refuses this request (the token, the `apikey`, or something else the
/// client sent, such as a header too large: 431), which the client caused, so it can never count as an
/// outage; anything else is unavailability. The description is for the log, never for clients.
pub fn read_user_response(status: u16, body: &[u8], sub: &str) -> Result<bool, LookupFailure> {
    use LookupFailure::{Rejected, Unavailable};
    match status {
        200 => {}
        400..=499 if status != 429 => return Err(Rejected(format!("status {status}"))),
        _ => return Err(Unavailable(format!("status {status}"))),
    }
    if body.len() > MAX_USER_BYTES {
        return Err(Unavailable("body too large".into()));
    }
    let user: Value =
        serde_json::from_slice(body).map_err(|e| Unavailable(format!("body is not JSON: {e}")))?;
    if user.get("id").and_then(Value::as_str) != Some(sub) {
        return Err(Unavailable("the answer is about another user".into()));
    }
    match user.get("factors") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Array(factors)) => Ok(factors
            .iter()
            .any(|f| f.get("status").and_then(Value::as_str) == Some("verified"))),
        Some(_) => Err(Unavailable("`factors` is not an array".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::read_user_response;

    const SUB: &str = "6f1c1b8e-0000-4000-8000-000000000001";

    #[test]
    fn factors_absent_means_not_enrolled() {
        let body = format!(r#"{{"id":"{SUB}","aud":"authenticated"}}"#);
        assert_eq!(read_user_response(200, body.as_bytes(), SUB), Ok(false));
    }

    #[test]
    fn only_a_verified_factor_counts() {
        let unverified = format!(
            r#"{{"id":"{SUB}","factors":[{{"factor_type":"totp","status":"unverified"}}]}}"#
        );
        assert_eq!(
            read_user_response(200, unverified.as_bytes(), SUB),
            Ok(false)
        );
        let verified = format!(
            r#"{{"id":"{SUB}","factors":[{{"status":"unverified"}},{{"factor_type":"webauthn","status":"verified"}}]}}"#
        );
        assert_eq!(read_user_response(200, verified.as_bytes(), SUB), Ok(true));
    }

    #[test]
    fn failures_are_errors() {
        use super::LookupFailure::{Rejected, Unavailable};
        let ok = format!(r#"{{"id":"{SUB}"}}"#);
        for status in [400, 401, 403, 404, 413, 431] {
            assert!(matches!(
                read_user_response(status, ok.as_bytes(), SUB),
                Err(Rejected(_))
            ));
        }
        for status in [0, 500, 502, 429, 302] {
            assert!(matches!(
                read_user_response(status, ok.as_bytes(), SUB),
                Err(Unavailable(_))
            ));
        }
        assert!(read_user_response(200, b"<html>", SUB).is_err());
        let other = r#"{"id":"someone-else","factors":[]}"#;
        assert!(read_user_response(200, other.as_bytes(), SUB).is_err());
        let bad = format!(r#"{{"id":"{SUB}","factors":{{"status":"verified"}}}}"#);
        assert!(read_user_response(200, bad.as_bytes(), SUB).is_err());
    }
}
