//! The validated `exchange` section (the document is read by `config::exchange`).

use crate::validation::Validation;
use serde_json::Value;

/// Default path of the endpoint.
pub const DEFAULT_PATH: &str = "/aalgate/v1/exchange";
/// Default name of the setting holding the private signing JWK.
pub const DEFAULT_KEY_SETTING: &str = "AALGATE_SIGNING_KEY";

/// Which configured identity provider (its index in [`ExchangeConfig::providers`]); carried by a
/// signature job so that the adapter's verdict comes back to that provider's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProviderId(pub(crate) usize);

/// One identity provider whose tokens may be exchanged.
#[derive(Clone, Debug)]
pub struct Provider {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// Its JWKS URL (fetched by the adapter), if its keys are not given inline.
    pub jwks_url: Option<String>,
    /// Its keys given inline (a JWKS document).
    pub jwks_inline: Option<Value>,
    /// What its tokens must satisfy: issuer, audiences, algorithms (never HS256), exp/sub/aud/iss.
    pub validation: Validation,
    /// IdP claim names copied into the minted token.
    pub claims: ClaimMap,
    /// `acr` values that mean MFA was done.
    pub aal2_acr: Vec<String>,
    /// `amr` values (strings or `{method}` objects) that mean MFA was done.
    pub aal2_amr: Vec<String>,
    /// Minted tokens say `mfa_enrolled: true` even at aal1 (so `aal2_if_enrolled` routes refuse them).
    pub require_mfa: bool,
}

/// IdP claim names (dotted paths) for the minted token's claims.
#[derive(Clone, Debug, Default)]
pub struct ClaimMap {
    /// The IdP's stable user id (default `sub`; e.g. `oid` for Entra ID), from which `sub` is derived.
    pub sub: Vec<String>,
    /// → `email` (only when the IdP says `email_verified: true`).
    pub email: Option<Vec<String>>,
    /// → `phone` (only when the IdP says `phone_number_verified: true`).
    pub phone: Option<Vec<String>>,
    /// → `app_metadata.tenant_id` and the top-level `tenant_id` (route predicates can use either).
    pub tenant: Option<Vec<String>>,
    /// → `app_metadata.<key>`.
    pub app_metadata: Vec<(String, Vec<String>)>,
}

/// The validated `exchange` section.
#[derive(Clone, Debug)]
pub struct ExchangeConfig {
    /// The endpoint's path.
    pub path: String,
    /// The setting (environment variable, Worker secret) holding the private signing JWK.
    pub signing_key_env: String,
    /// A signing-keys file instead (CLI, native adapters).
    pub signing_key_file: Option<String>,
    /// `iss` of minted tokens (default: the project's Auth issuer, which Supabase's services accept).
    pub issuer: String,
    /// Largest lifetime of a minted token (it never outlives the IdP token either).
    pub max_lifetime: u64,
    /// The providers.
    pub providers: Vec<Provider>,
}
