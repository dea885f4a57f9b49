//! The `enrollment` section: where the enrollment fact comes from and how Auth lookups behave.

use super::check;
use super::doc::EnrollmentDoc;
use crate::error::ConfigError;
use crate::gate::enrollment::settings::{EnrollmentConfig, EnrollmentSource};

/// The validated section; `preset` picks the default source (a Supabase project's Auth can always
/// be asked).
pub(super) fn enrollment(
    e: EnrollmentDoc,
    preset: bool,
    supabase_url: &str,
) -> Result<EnrollmentConfig, ConfigError> {
    let claim = check::trusted_claim_path(
        e.claim.as_deref().unwrap_or("mfa_enrolled"),
        "enrollment.claim",
    )?;
    // A TTL of 0 would make every waiting request look up again, one after another.
    let ttl =
        |value: Option<u64>, field: &str| check::in_range(value, 60, 1..=3600, field, " seconds");
    let api_timeout_ms = check::in_range(
        e.api_timeout_ms,
        3000,
        50..=30_000,
        "enrollment.api_timeout_ms",
        " milliseconds",
    )?;
    if let Some(key) = &e.api_key {
        // A secret key would let anyone's lookup act as the service: only publishable keys belong here.
        let service_jwt = crate::dangerous::key_jwt_role(key).as_deref() == Some("service_role");
        if key.starts_with("sb_secret_")
            || service_jwt
            || !key.bytes().all(|b| b.is_ascii_graphic())
            || key.is_empty()
        {
            return Err(ConfigError::new(
                "enrollment.api_key",
                "must be the project's publishable (or anon) key, never a secret key",
            ));
        }
    }
    Ok(EnrollmentConfig {
        // The preset assumes a Supabase project, whose Auth can always be asked.
        source: e.source.unwrap_or(if preset {
            EnrollmentSource::ClaimThenApi
        } else {
            EnrollmentSource::Claim
        }),
        claim,
        when_unknown: e.when_unknown,
        false_claim_max_age: check::in_range(
            e.false_claim_max_age,
            300,
            0..=86_400,
            "enrollment.false_claim_max_age",
            " seconds",
        )?,
        api_url: format!("{supabase_url}/auth/v1/user"),
        api_key: e.api_key,
        api_cache_ttl: ttl(e.api_cache_ttl, "enrollment.api_cache_ttl")?,
        api_negative_cache_ttl: ttl(
            e.api_negative_cache_ttl,
            "enrollment.api_negative_cache_ttl",
        )?,
        api_timeout_ms,
        on_api_failure: e.on_api_failure,
    })
}
