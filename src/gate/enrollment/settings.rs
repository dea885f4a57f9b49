//! The enrollment settings the configuration validates: where the fact comes from and what happens
//! when it cannot be had.

use serde::Deserialize;

/// Where the enrollment fact comes from (see [`super`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentSource {
    /// Only the token's claim (the hook in `sql/`).
    Claim,
    /// Always Supabase Auth (`GET /auth/v1/user`, cached per user).
    AuthApi,
    /// The claim when it says `true`, or `false` and the token is recent; otherwise Auth (preset default).
    ClaimThenApi,
}

impl EnrollmentSource {
    /// Name in configuration and `explain`.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentSource::Claim => "claim",
            EnrollmentSource::AuthApi => "auth_api",
            EnrollmentSource::ClaimThenApi => "claim_then_api",
        }
    }
}

/// What to assume when the enrollment fact cannot be had. One vocabulary for both cases: no claim and
/// no API to ask (`enrollment.when_unknown`, where `refuse` answers `enrollment_unknown`), and a failed
/// Auth lookup (`enrollment.on_api_failure`, where `refuse` answers 503 `enrollment_unavailable`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Refuse the request (default: fail closed).
    #[default]
    Refuse,
    /// Treat the user as enrolled: aal1 is refused, aal2 passes.
    TreatAsEnrolled,
    /// Treat the user as not enrolled: aal1 passes. Availability over safety; only for a migration.
    TreatAsNotEnrolled,
}

/// The validated enrollment settings.
#[derive(Clone, Debug)]
pub struct EnrollmentConfig {
    /// Where the fact comes from.
    pub source: EnrollmentSource,
    /// The claim (path) the hook sets.
    pub claim: Vec<String>,
    /// No claim and no API to ask (claim-only source, or a token from another issuer).
    pub when_unknown: Fallback,
    /// Seconds after `iat` during which a `false` claim is trusted without asking Auth.
    pub false_claim_max_age: u64,
    /// `{supabase_url}/auth/v1/user`.
    pub api_url: String,
    /// `apikey` for lookups of requests that carry none (a publishable key; never a secret key).
    pub api_key: Option<String>,
    /// Seconds an "enrolled" answer is reused.
    pub api_cache_ttl: u64,
    /// Seconds a "not enrolled" answer is reused.
    pub api_negative_cache_ttl: u64,
    /// Lookup timeout.
    pub api_timeout_ms: u32,
    /// When a lookup fails.
    pub on_api_failure: Fallback,
}
