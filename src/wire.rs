//! The one place where an [`Error`] becomes an HTTP answer: status, `WWW-Authenticate`, and a JSON body
//! in PostgREST's shape (`code`, `message`, `details`, `hint`), which postgrest-js shows as-is.

use crate::error::{Code, Error};
use serde_json::{json, Value};

/// How a refusal looks on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// The stable code (also in the body).
    pub code: &'static str,
    /// Value for `WWW-Authenticate`, when the status calls for one.
    pub www_authenticate: Option<String>,
    /// PostgREST-shaped JSON body.
    pub body: Value,
}

/// HTTP status for a code: 401 for anything wrong with the token, 503 when keys are unavailable, 500
/// when our own key material is unusable.
pub fn status(code: Code) -> u16 {
    match code {
        Code::JwksUnavailable => 503,
        Code::KeyInvalid => 500,
        _ => 401,
    }
}

fn hint(code: Code) -> Option<&'static str> {
    match code {
        Code::TokenExpired => Some("Refresh the session and retry with the new access token."),
        Code::JwksUnavailable => Some("Retry shortly; the signing keys could not be fetched."),
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

/// The answer for `error`.
pub fn reject(error: &Error) -> Rejection {
    let code = error.code();
    let status = status(code);
    let www_authenticate = (status == 401).then(|| {
        format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            header_safe(public_message(code))
        )
    });
    Rejection {
        status,
        code: code.as_str(),
        www_authenticate,
        body: json!({
            "code": code.as_str(),
            "message": public_message(code),
            // The context names the failing part (a claim, a header member, a limit), never its value.
            "details": error.context(),
            "hint": hint(code),
        }),
    }
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
            assert!(matches!(r.status, 401 | 500 | 503));
            assert_eq!(r.www_authenticate.is_some(), r.status == 401);
            assert_ne!(r.code, "session_not_found");
        }
    }

    #[test]
    fn expired_token_is_rfc6750_invalid_token() {
        let r = reject(&Error::new(Code::TokenExpired, "token has expired"));
        assert_eq!(r.status, 401);
        assert!(r
            .www_authenticate
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\""));
    }
}
