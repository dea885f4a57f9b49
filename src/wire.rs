//! The one place where an [`Error`] becomes an HTTP answer: status, `WWW-Authenticate`, CORS headers, and
//! a JSON body in PostgREST's shape (`code`, `message`, `details`, `hint`), which postgrest-js shows as-is.
//!
//! Step-up refusals answer 401 with the RFC 9470 challenge
//! `Bearer error="insufficient_user_authentication", error_description="…", acr_values="aal2"` (plus
//! `max_age` when recency failed), as RFC 9470 §3 specifies. Other policy refusals are 403
//! `insufficient_scope` (RFC 6750 §3.1).

use crate::error::{Code, Error};
use serde_json::{json, Value};

/// How a refusal looks on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The stable code (also in the body).
    pub code: &'static str,
    /// Response headers, names in lower case: `content-type`, `www-authenticate` when the status calls for
    /// one, and CORS headers so browser apps can read the refusal.
    pub headers: Vec<(String, String)>,
    /// PostgREST-shaped JSON body.
    pub body: Value,
}

impl Answer {
    /// A header's value, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Which `WWW-Authenticate` challenge a code carries.
enum Challenge {
    None,
    /// RFC 6750 with no error: no credentials were sent.
    Bare,
    /// RFC 6750 `error="…"`.
    Bearer(&'static str),
    /// RFC 9470 step-up.
    StepUp,
}

/// Status and challenge per code.
fn shape(code: Code) -> (u16, Challenge) {
    use Challenge::*;
    match code {
        Code::JwksUnavailable | Code::EnrollmentUnavailable => (503, None),
        Code::KeyInvalid => (500, None),
        Code::TokenMissing | Code::ApikeyRequired => (401, Bare),
        Code::CredentialsConflict
        | Code::PathInvalid
        | Code::FormCredentialsUnsupported
        | Code::FrameMalformed
        | Code::FrameTooLarge
        | Code::FrameUnsupported
        | Code::TooManyChannels
        | Code::FrameBacklog
        | Code::TransportUnsupported
        | Code::UpgradeMalformed => (400, Bearer("invalid_request")),
        Code::MethodNotAllowed => (405, None),
        Code::Aal2Required | Code::MfaRecencyRequired => (401, StepUp),
        Code::ServiceKeyForbidden
        | Code::RoleForbidden
        | Code::ClaimForbidden
        | Code::IssuerForbidden
        | Code::EnrollmentUnknown => (403, Bearer("insufficient_scope")),
        Code::TokenMalformed
        | Code::TokenTooLarge
        | Code::AlgNotAllowed
        | Code::HeaderForbidden
        | Code::KeyUnknown
        | Code::KeyAmbiguous
        | Code::SignatureInvalid
        | Code::TokenExpired
        | Code::TokenNotYetValid
        | Code::IssuedInFuture
        | Code::LifetimeTooLong
        | Code::IssuerMismatch
        | Code::AudienceMismatch
        | Code::ClaimMissing
        | Code::ClaimInvalid
        | Code::CredentialsUnsupported
        | Code::ApikeyInvalid
        | Code::TokenRejected
        | Code::TokenTooOld => (401, Bearer("invalid_token")),
    }
}

/// HTTP status for a code.
pub fn status(code: Code) -> u16 {
    shape(code).0
}

fn hint(code: Code) -> Option<&'static str> {
    match code {
        Code::TokenExpired | Code::TokenTooOld => {
            Some("Refresh the session and retry with the new access token.")
        }
        Code::JwksUnavailable => Some("Retry shortly; the signing keys could not be fetched."),
        Code::EnrollmentUnavailable => {
            Some("Retry shortly; whether the account has MFA could not be checked.")
        }
        Code::TokenRejected => Some("Sign in again; the session may have ended."),
        Code::ApikeyRequired | Code::ApikeyInvalid => {
            Some("Send the publishable key as `apikey`, as supabase-js does.")
        }
        Code::FormCredentialsUnsupported => Some(
            "Upload with a signed request (header-signed or presigned URL), or allow form credentials on this route.",
        ),
        Code::Aal2Required | Code::MfaRecencyRequired => Some(
            "Complete an MFA challenge (supabase.auth.mfa.challengeAndVerify), then retry with the refreshed session.",
        ),
        Code::EnrollmentUnknown => Some(
            "Install the aalgate Custom Access Token hook so tokens carry `mfa_enrolled`, or set enrollment.when_unknown.",
        ),
        Code::ServiceKeyForbidden => {
            Some("Secret keys and service_role tokens belong on servers; this route does not accept them.")
        }
        Code::TokenMissing => Some("Sign in and send the access token as `Authorization: Bearer <token>`."),
        _ => None,
    }
}

fn public_message(code: Code) -> &'static str {
    match code {
        Code::TokenMalformed => "The access token is not a well-formed JWT.",
        Code::TokenTooLarge => "The access token is too large.",
        Code::AlgNotAllowed => "The access token's signing algorithm is not accepted.",
        Code::HeaderForbidden => "The access token's header uses a feature that is not accepted.",
        Code::KeyUnknown => "The access token was signed with an unknown key.",
        Code::KeyAmbiguous => "The access token does not identify its signing key.",
        Code::KeyInvalid => "The gate's signing keys are misconfigured.",
        Code::SignatureInvalid => "The access token's signature is invalid.",
        Code::TokenExpired => "The access token has expired.",
        Code::TokenNotYetValid => "The access token is not valid yet.",
        Code::IssuedInFuture => "The access token was issued in the future.",
        Code::LifetimeTooLong => "The access token's lifetime is too long.",
        Code::IssuerMismatch => "The access token was issued by an issuer that is not accepted.",
        Code::AudienceMismatch => "The access token is not meant for this audience.",
        Code::ClaimMissing => "The access token lacks a required claim.",
        Code::ClaimInvalid => "The access token has an invalid claim.",
        Code::JwksUnavailable => "The signing keys are temporarily unavailable.",
        Code::EnrollmentUnavailable => {
            "Whether the account has multi-factor authentication could not be checked."
        }
        Code::TokenRejected => "Supabase Auth did not accept the access token.",
        Code::ApikeyRequired => "This request needs the project's API key in the apikey header.",
        Code::ApikeyInvalid => "The apikey is not a valid API key for this project.",
        Code::FormCredentialsUnsupported => {
            "Uploads that carry credentials in a form body are not accepted on this endpoint."
        }
        Code::MethodNotAllowed => "This endpoint takes POST.",
        Code::TokenMissing => "This endpoint requires a signed-in user.",
        Code::CredentialsConflict => "The request carries conflicting credentials.",
        Code::CredentialsUnsupported => "The Authorization header must use the Bearer scheme.",
        Code::ServiceKeyForbidden => "Service credentials are not accepted on this endpoint.",
        Code::Aal2Required => "Multi-factor authentication is required for this request.",
        Code::MfaRecencyRequired => {
            "A recent multi-factor verification is required for this request."
        }
        Code::RoleForbidden => "The access token's role is not allowed on this endpoint.",
        Code::ClaimForbidden => "The access token does not grant access to this endpoint.",
        Code::IssuerForbidden => "Tokens from this issuer are not accepted on this endpoint.",
        Code::TokenTooOld => "The access token is too old for this endpoint.",
        Code::EnrollmentUnknown => {
            "The gate cannot tell whether this user has multi-factor authentication enrolled."
        }
        Code::PathInvalid => "The request path is not accepted.",
        Code::FrameMalformed => "The Realtime message is not a well-formed Phoenix message.",
        Code::FrameTooLarge => "The Realtime message is too large.",
        Code::FrameUnsupported => {
            "The Realtime message format is not supported (use vsn 1.0.0 or 2.0.0, and text frames for joins and tokens)."
        }
        Code::TooManyChannels => "The Realtime connection has too many channels.",
        Code::FrameBacklog => {
            "The Realtime connection sent messages faster than the gate could check them."
        }
        Code::TransportUnsupported => {
            "Only Realtime's WebSocket and REST API are accepted through the gate."
        }
        Code::UpgradeMalformed => "The WebSocket upgrade has no valid handshake.",
    }
}

/// Keeps a value safe inside a quoted-string of an HTTP header: printable ASCII without `"` and `\`.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}

/// The answer for `error`, with `Access-Control-Allow-Origin: cors_origin`.
pub fn reject_with_cors(error: &Error, cors_origin: &str) -> Answer {
    let code = error.code();
    let (status, challenge) = shape(code);
    let description = header_safe(public_message(code));
    let www = match challenge {
        Challenge::None => None,
        Challenge::Bare => Some("Bearer".to_owned()),
        Challenge::Bearer(err) => Some(format!(
            "Bearer error=\"{err}\", error_description=\"{description}\""
        )),
        Challenge::StepUp => {
            let mut v = format!(
                "Bearer error=\"insufficient_user_authentication\", error_description=\"{description}\", acr_values=\"aal2\""
            );
            if let Some(max_age) = error.max_age() {
                v.push_str(&format!(", max_age={max_age}"));
            }
            Some(v)
        }
    };
    let mut headers = vec![(
        "content-type".to_owned(),
        "application/json; charset=utf-8".to_owned(),
    )];
    if let Some(www) = www {
        headers.push(("www-authenticate".to_owned(), www));
    }
    headers.push((
        "access-control-allow-origin".to_owned(),
        cors_origin.to_owned(),
    ));
    headers.push((
        "access-control-expose-headers".to_owned(),
        "WWW-Authenticate".to_owned(),
    ));
    if cors_origin != "*" {
        headers.push(("vary".to_owned(), "Origin".to_owned()));
    }
    Answer {
        status,
        code: code.as_str(),
        headers,
        // The context names the failing part (a claim, a header member, a limit), never its value.
        body: error_body(
            code.as_str(),
            public_message(code),
            Some(error.context()),
            hint(code),
        ),
    }
}

/// The body of every refusal, the gate's and the front doors' (PostgREST's error shape).
pub fn error_body(code: &str, message: &str, details: Option<&str>, hint: Option<&str>) -> Value {
    json!({"code": code, "message": message, "details": details, "hint": hint})
}

/// The token exchange's answer: `{"access_token","token_type","expires_in","expires_at"}`, never cached.
pub fn exchange_token(body: &Value, cors_allow_origin: &str) -> Answer {
    Answer {
        status: 200,
        code: "token_issued",
        headers: vec![
            (
                "content-type".to_owned(),
                "application/json; charset=utf-8".to_owned(),
            ),
            ("cache-control".to_owned(), "no-store".to_owned()),
            (
                "access-control-allow-origin".to_owned(),
                cors_allow_origin.to_owned(),
            ),
        ],
        body: body.clone(),
    }
}

/// The token exchange's answer to a CORS preflight (browsers call it before the `POST`).
pub fn exchange_preflight(cors_allow_origin: &str) -> Answer {
    Answer {
        status: 204,
        code: "preflight",
        headers: vec![
            (
                "access-control-allow-origin".to_owned(),
                cors_allow_origin.to_owned(),
            ),
            (
                "access-control-allow-methods".to_owned(),
                "POST, OPTIONS".to_owned(),
            ),
            (
                "access-control-allow-headers".to_owned(),
                "authorization, content-type, x-client-info, apikey".to_owned(),
            ),
            ("access-control-max-age".to_owned(), "86400".to_owned()),
        ],
        body: Value::Null,
    }
}

/// The answer for `error` with the default CORS origin `*`.
pub fn reject(error: &Error) -> Answer {
    reject_with_cors(error, "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_a_complete_answer() {
        for code in Code::ALL {
            let r = reject(&Error::new(code, "ctx"));
            assert_eq!(r.code, code.as_str());
            assert_eq!(r.body["code"], code.as_str());
            assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(matches!(r.status, 400 | 401 | 403 | 405 | 500 | 503));
            assert_eq!(
                r.header("www-authenticate").is_some(),
                matches!(r.status, 400 | 401 | 403)
            );
            assert_eq!(r.header("access-control-allow-origin"), Some("*"));
            assert_ne!(r.code, "session_not_found");
        }
    }

    #[test]
    fn expired_token_is_rfc6750_invalid_token() {
        let r = reject(&Error::new(Code::TokenExpired, "token has expired"));
        assert_eq!(r.status, 401);
        assert!(r
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\""));
    }

    #[test]
    fn step_up_is_rfc9470_with_max_age_when_recency_failed() {
        let r = reject(&Error::new(Code::Aal2Required, "x"));
        assert_eq!(r.status, 401);
        let www = r.header("www-authenticate").unwrap();
        assert!(www.starts_with("Bearer error=\"insufficient_user_authentication\""));
        assert!(www.ends_with("acr_values=\"aal2\""));
        let r = reject(&Error::mfa_recency(900));
        assert!(r
            .header("www-authenticate")
            .unwrap()
            .ends_with("acr_values=\"aal2\", max_age=900"));
    }

    #[test]
    fn custom_cors_origin_varies_on_origin() {
        let r = reject_with_cors(&Error::new(Code::RoleForbidden, "x"), "https://app.example");
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        assert_eq!(r.header("vary"), Some("Origin"));
    }
}

#[cfg(test)]
mod origin_wall {
    use super::*;

    /// The origin wall answers from the database with the gate's words: the SQL must carry exactly the
    /// body and challenge this module makes for `aal2_required`.
    #[test]
    fn the_wall_sql_says_what_the_gate_says() {
        let sql = include_str!("../sql/20261202000000_aalgate_wall.sql");
        let r = reject(&Error::new(
            Code::Aal2Required,
            "the user has a verified MFA factor and the token is aal1",
        ));
        assert_eq!(r.status, 401);
        for field in ["code", "message", "details", "hint"] {
            let text = r.body[field].as_str().unwrap();
            assert!(
                sql.contains(&format!("'{field}', '{}'", text.replace('\'', "''"))),
                "the wall SQL lacks the gate's {field}: {text}"
            );
        }
        let challenge = r.header("www-authenticate").unwrap();
        assert!(
            sql.contains(&format!("'WWW-Authenticate', '{challenge}'")),
            "{challenge}"
        );
        assert!(sql.contains("'status', 401"));
    }
}
