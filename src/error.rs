//! One error type for everything the core can refuse.
//!
//! Each [`Error`] carries a stable [`Code`] (the machine-readable signal clients, logs and tests rely on)
//! and a short context string for operators. Neither ever contains token content: contexts are built from
//! our own constants (claim names, limits, key ids from *our* key set) so they are safe to log and to put
//! into a client-facing `message`. Turning an error into an HTTP answer happens in exactly one place:
//! [`crate::wire`].

use std::borrow::Cow;
use std::fmt;

/// Stable error codes. The string forms are part of the public contract (README lists them): never rename
/// one, only add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// Not a well-formed compact JWS with JSON-object header and payload.
    TokenMalformed,
    /// Longer than the configured size cap (checked before any decoding).
    TokenTooLarge,
    /// Header `alg` missing, unknown, `none`, or not in the allow-list.
    AlgNotAllowed,
    /// Header carries a member we refuse (`crit`, `b64`, `cty`, `zip`).
    HeaderForbidden,
    /// No key in the key set fits the token (`kid` and algorithm).
    KeyUnknown,
    /// More than one key fits the token; refusing is safer than guessing.
    KeyAmbiguous,
    /// A key could not be imported or is not acceptable (size, curve, use, private members).
    KeyInvalid,
    /// The signature does not verify, or is not of the exact form the algorithm demands.
    SignatureInvalid,
    /// `exp` is not after `now - leeway`.
    TokenExpired,
    /// `nbf` is after `now + leeway`.
    TokenNotYetValid,
    /// `iat` is after `now + leeway`.
    IssuedInFuture,
    /// `exp - iat` exceeds the configured maximum lifetime.
    LifetimeTooLong,
    /// `iss` is not one of the accepted issuers.
    IssuerMismatch,
    /// `aud` does not contain an accepted audience.
    AudienceMismatch,
    /// A required claim is absent.
    ClaimMissing,
    /// A claim has the wrong type or an out-of-range value.
    ClaimInvalid,
    /// No key set could be obtained (adapters: JWKS endpoint down and nothing cached).
    JwksUnavailable,
    /// The route requires a user token and the request carries none.
    TokenMissing,
    /// The request carries several different credentials of the same kind (e.g. two user tokens).
    CredentialsConflict,
    /// `Authorization` uses a scheme the gate cannot check for this route.
    CredentialsUnsupported,
    /// A `service_role` token or a secret API key on a route that does not allow them.
    ServiceKeyForbidden,
    /// The route needs aal2 (or aal2 because the user has a verified factor) and the token is aal1.
    Aal2Required,
    /// The route needs an MFA verification more recent than its `max_age`.
    MfaRecencyRequired,
    /// The token's `role` is not allowed on the route.
    RoleForbidden,
    /// A claim predicate of the route is not satisfied.
    ClaimForbidden,
    /// The token's issuer is not allowed on the route.
    IssuerForbidden,
    /// The token is older (`now - iat`) than the route allows.
    TokenTooOld,
    /// The route needs to know whether the user has a verified factor, and the token does not say.
    EnrollmentUnknown,
    /// The route needs the enrollment fact and Supabase Auth could not be asked (`GET /auth/v1/user`
    /// failed or timed out).
    EnrollmentUnavailable,
    /// Supabase Auth refused the (locally valid) token when asked about the user: a revoked session, a
    /// deleted user, or an `apikey` Auth does not accept.
    TokenRejected,
    /// The route needs Auth's answer about the user and there is no `apikey` to ask with.
    ApikeyRequired,
    /// An API-key place (`apikey`, `x-api-key`, `?apikey=`) holds something that is neither a Supabase
    /// API key nor an access token (or an oversized key).
    ApikeyInvalid,
    /// A multipart POST to Storage's S3 API (a POST-policy upload): its credentials travel in the form
    /// body, which the gate does not read, and the route does not allow that.
    FormCredentialsUnsupported,
    /// The gate's own endpoint does not take this method.
    MethodNotAllowed,
    /// The request path is ambiguous (dot segments, encoded slashes) and cannot be routed safely.
    PathInvalid,
    /// A Realtime frame that is not a Phoenix message in the socket's format (or whose token field
    /// is not a string).
    FrameMalformed,
    /// A Realtime frame over `realtime.max_frame_bytes`.
    FrameTooLarge,
    /// A Realtime socket format (`vsn`) the gate cannot read, or a token event in a binary frame.
    FrameUnsupported,
    /// A Realtime socket asked for more channels than the gate keeps track of.
    TooManyChannels,
    /// A Realtime client sent frames faster than the gate could judge them (its inbox overflowed).
    FrameBacklog,
    /// A path under `/realtime/v1` other than the WebSocket and the REST API (Realtime's long-poll
    /// transport carries tokens in bodies the gate does not read).
    TransportUnsupported,
    /// A Realtime WebSocket upgrade without a valid handshake (`Sec-WebSocket-Key`, version 13):
    /// refused before any socket to the project is opened.
    UpgradeMalformed,
}

impl Code {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [Code; 42] = [
        Code::TokenMalformed,
        Code::TokenTooLarge,
        Code::AlgNotAllowed,
        Code::HeaderForbidden,
        Code::KeyUnknown,
        Code::KeyAmbiguous,
        Code::KeyInvalid,
        Code::SignatureInvalid,
        Code::TokenExpired,
        Code::TokenNotYetValid,
        Code::IssuedInFuture,
        Code::LifetimeTooLong,
        Code::IssuerMismatch,
        Code::AudienceMismatch,
        Code::ClaimMissing,
        Code::ClaimInvalid,
        Code::JwksUnavailable,
        Code::TokenMissing,
        Code::CredentialsConflict,
        Code::CredentialsUnsupported,
        Code::ServiceKeyForbidden,
        Code::Aal2Required,
        Code::MfaRecencyRequired,
        Code::RoleForbidden,
        Code::ClaimForbidden,
        Code::IssuerForbidden,
        Code::TokenTooOld,
        Code::EnrollmentUnknown,
        Code::EnrollmentUnavailable,
        Code::TokenRejected,
        Code::ApikeyRequired,
        Code::ApikeyInvalid,
        Code::FormCredentialsUnsupported,
        Code::MethodNotAllowed,
        Code::PathInvalid,
        Code::FrameMalformed,
        Code::FrameTooLarge,
        Code::FrameUnsupported,
        Code::TooManyChannels,
        Code::FrameBacklog,
        Code::TransportUnsupported,
        Code::UpgradeMalformed,
    ];

    /// The stable string form, e.g. `"token_expired"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::TokenMalformed => "token_malformed",
            Code::TokenTooLarge => "token_too_large",
            Code::AlgNotAllowed => "alg_not_allowed",
            Code::HeaderForbidden => "header_forbidden",
            Code::KeyUnknown => "key_unknown",
            Code::KeyAmbiguous => "key_ambiguous",
            Code::KeyInvalid => "key_invalid",
            Code::SignatureInvalid => "signature_invalid",
            Code::TokenExpired => "token_expired",
            Code::TokenNotYetValid => "token_not_yet_valid",
            Code::IssuedInFuture => "issued_in_future",
            Code::LifetimeTooLong => "lifetime_too_long",
            Code::IssuerMismatch => "issuer_mismatch",
            Code::AudienceMismatch => "audience_mismatch",
            Code::ClaimMissing => "claim_missing",
            Code::ClaimInvalid => "claim_invalid",
            Code::JwksUnavailable => "jwks_unavailable",
            Code::TokenMissing => "token_missing",
            Code::CredentialsConflict => "credentials_conflict",
            Code::CredentialsUnsupported => "credentials_unsupported",
            Code::ServiceKeyForbidden => "service_key_forbidden",
            Code::Aal2Required => "aal2_required",
            Code::MfaRecencyRequired => "mfa_recency_required",
            Code::RoleForbidden => "role_forbidden",
            Code::ClaimForbidden => "claim_forbidden",
            Code::IssuerForbidden => "issuer_forbidden",
            Code::TokenTooOld => "token_too_old",
            Code::EnrollmentUnknown => "enrollment_unknown",
            Code::EnrollmentUnavailable => "enrollment_unavailable",
            Code::TokenRejected => "token_rejected",
            Code::ApikeyRequired => "apikey_required",
            Code::ApikeyInvalid => "apikey_invalid",
            Code::FormCredentialsUnsupported => "form_credentials_unsupported",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::PathInvalid => "path_invalid",
            Code::FrameMalformed => "frame_malformed",
            Code::FrameTooLarge => "frame_too_large",
            Code::FrameUnsupported => "frame_unsupported",
            Code::TooManyChannels => "too_many_channels",
            Code::FrameBacklog => "frame_backlog",
            Code::TransportUnsupported => "transport_unsupported",
            Code::UpgradeMalformed => "upgrade_malformed",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: a stable code plus context that is safe to show (it never quotes the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: Code,
    context: Cow<'static, str>,
    max_age: Option<u64>,
}

impl Error {
    pub(crate) fn new(code: Code, context: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            context: context.into(),
            max_age: None,
        }
    }

    /// A step-up refusal because the last MFA verification is older than `max_age` seconds.
    pub(crate) fn mfa_recency(max_age: u64) -> Self {
        Self {
            max_age: Some(max_age),
            ..Self::new(
                Code::MfaRecencyRequired,
                format!("the route needs an MFA verification within the last {max_age} s"),
            )
        }
    }

    /// For [`Code::MfaRecencyRequired`]: the route's `max_age`, echoed in the RFC 9470 challenge.
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    /// The stable code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// One line saying what was wrong, naming the part (claim, header member, limit) but never its
    /// content.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.context)
    }
}

impl std::error::Error for Error {}

/// Shorthand used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A configuration problem: which field, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending field, e.g. `routes[2].aal` (empty for the document as a whole).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl ConfigError {
    /// A problem with `field` (a dotted path such as `routes[2].aal`; empty for the whole document).
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "configuration: {}", self.problem)
        } else {
            write!(f, "configuration field `{}`: {}", self.field, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}
