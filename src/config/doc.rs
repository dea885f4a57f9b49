//! The configuration document as written (TOML for files, JSON for Workers and Deno): serde shapes
//! only. Unknown keys are refused everywhere (a typo must never silently mean a default). What each key
//! means, and its default, is in README "Configuration"; the sibling modules validate each section.

use crate::gate::enrollment::settings::{EnrollmentSource, Fallback};
use crate::gate::requirement::{AalRequirement, AuthRequirement};
use crate::gate::verdict::Mode;
use serde::Deserialize;
use serde_json::Value;

/// The configuration document as written. See README "Configuration" for every key and its default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDoc {
    pub(super) supabase_url: Option<String>,
    /// On unless the document says `false`: the headline rule must never be off by omission.
    #[serde(default = "yes")]
    pub(super) require_aal2_for_enrolled: bool,
    #[serde(default)]
    pub(super) mode: Mode,
    #[serde(default = "yes")]
    pub(super) preset: bool,
    #[serde(default)]
    pub(super) keys: KeysDoc,
    #[serde(default)]
    pub(super) tokens: TokensDoc,
    #[serde(default)]
    pub(super) enrollment: EnrollmentDoc,
    #[serde(default)]
    pub(super) responses: ResponsesDoc,
    #[serde(default)]
    pub(super) forward: ForwardDoc,
    #[serde(default)]
    pub(super) log: LogDoc,
    #[serde(default)]
    pub(super) cache: CacheDoc,
    #[serde(default)]
    pub(super) routes: Vec<RouteDoc>,
    #[serde(default)]
    pub(super) service_roles: Vec<ServiceRoleDoc>,
    #[serde(default)]
    pub(super) exchange: super::exchange::ExchangeDoc,
    #[serde(default)]
    pub(super) realtime: RealtimeDoc,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RealtimeDoc {
    pub(super) max_frame_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceRoleDoc {
    pub(super) role: String,
    pub(super) routes: Vec<ScopeDoc>,
    pub(super) max_lifetime: Option<u64>,
    pub(super) subs: Option<Vec<String>>,
    pub(super) issuers: Option<Vec<String>>,
    #[serde(default)]
    pub(super) accept_cli_tokens: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScopeDoc {
    pub(super) path: String,
    pub(super) methods: Option<Vec<String>>,
}

pub(super) fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeysDoc {
    pub(super) jwks_url: Option<String>,
    pub(super) jwks_file: Option<String>,
    pub(super) jwks: Option<Value>,
    pub(super) hs256_secret_env: Option<String>,
    pub(super) hs256_secret_file: Option<String>,
    #[serde(default)]
    pub(super) extra_issuers: Vec<IssuerDoc>,
    pub(super) jwks_default_max_age: Option<u64>,
    pub(super) jwks_refetch_cooldown: Option<u64>,
    pub(super) jwks_max_stale: Option<u64>,
    pub(super) jwks_timeout_ms: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssuerDoc {
    pub(super) issuer: String,
    pub(super) jwks_url: Option<String>,
    pub(super) jwks_file: Option<String>,
    pub(super) jwks: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokensDoc {
    pub(super) algorithms: Option<Vec<String>>,
    pub(super) audiences: Option<Vec<String>>,
    pub(super) leeway: Option<u64>,
    pub(super) max_lifetime: Option<u64>,
    pub(super) max_token_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EnrollmentDoc {
    pub(super) source: Option<EnrollmentSource>,
    pub(super) claim: Option<String>,
    #[serde(default)]
    pub(super) when_unknown: Fallback,
    pub(super) false_claim_max_age: Option<u64>,
    pub(super) api_cache_ttl: Option<u64>,
    pub(super) api_negative_cache_ttl: Option<u64>,
    pub(super) api_timeout_ms: Option<u32>,
    #[serde(default)]
    pub(super) on_api_failure: Fallback,
    pub(super) api_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResponsesDoc {
    pub(super) cors_allow_origin: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForwardDoc {
    #[serde(default)]
    pub(super) identity_headers: bool,
    pub(super) proof_secret_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogDoc {
    #[serde(default)]
    pub(super) user_id: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CacheDoc {
    pub(super) max_entries: Option<usize>,
    pub(super) max_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteDoc {
    pub(super) name: Option<String>,
    pub(super) path: String,
    pub(super) methods: Option<Vec<String>>,
    pub(super) auth: Option<AuthRequirement>,
    pub(super) aal: Option<AalRequirement>,
    pub(super) max_age: Option<u64>,
    pub(super) roles: Option<Vec<String>>,
    #[serde(default)]
    pub(super) allow_service_keys: bool,
    #[serde(default)]
    pub(super) allow_form_credentials: bool,
    pub(super) max_token_age: Option<u64>,
    pub(super) issuers: Option<Vec<String>>,
    #[serde(default)]
    pub(super) claims: Vec<ClaimDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClaimDoc {
    pub(super) claim: String,
    pub(super) equals: Option<Value>,
    pub(super) one_of: Option<Vec<Value>>,
    pub(super) contains: Option<Value>,
}
