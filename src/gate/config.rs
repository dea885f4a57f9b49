//! The policy document (TOML for files, JSON for Workers and Deno) and its load-time validation.
//!
//! Every mistake is found here, once, as a [`ConfigError`] naming the field: unknown keys (typos) are
//! refused, values are range-checked, route patterns compiled, and the Supabase preset appended. A request
//! can never meet a configuration error.

use super::route::{PathPattern, RouteRule};
use crate::alg::{Algorithm, AlgorithmSet};
use crate::validation::Validation;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// A configuration problem: which field, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending field, e.g. `routes[2].aal` (empty for the document as a whole).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
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

/// Enforce, or only decide and log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Refusals are sent to the client (default).
    #[default]
    Enforce,
    /// Every request is forwarded; refusals are only logged (`would_reject`).
    ReportOnly,
}

/// Whether a route needs a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthRequirement {
    /// Exempt: nothing is checked (Auth endpoints, public Storage objects).
    None,
    /// Requests without a user pass as anonymous (RLS decides); a user token present must be valid.
    Optional,
    /// A valid user token is required.
    Required,
}

impl AuthRequirement {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthRequirement::None => "none",
            AuthRequirement::Optional => "optional",
            AuthRequirement::Required => "required",
        }
    }
}

/// Which assurance level a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AalRequirement {
    /// No requirement.
    Any,
    /// aal2 when the user has a verified MFA factor (the headline rule).
    Aal2IfEnrolled,
    /// aal2 always.
    Aal2,
}

impl AalRequirement {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AalRequirement::Any => "any",
            AalRequirement::Aal2IfEnrolled => "aal2_if_enrolled",
            AalRequirement::Aal2 => "aal2",
        }
    }
}

/// What to do when a rule needs the enrollment fact and the token does not carry it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenUnknown {
    /// Refuse with `enrollment_unknown` (default: fail closed).
    #[default]
    Refuse,
    /// Treat the user as enrolled: aal1 is refused.
    TreatAsEnrolled,
    /// Treat the user as not enrolled: aal1 passes. Only for a migration period.
    TreatAsNotEnrolled,
}

/// The configuration document as written. See README "Configuration" for every key and its default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDoc {
    supabase_url: Option<String>,
    /// On unless the document says `false`: the headline rule must never be off by omission.
    #[serde(default = "yes")]
    require_aal2_for_enrolled: bool,
    #[serde(default)]
    mode: Mode,
    #[serde(default = "yes")]
    preset: bool,
    #[serde(default)]
    keys: KeysDoc,
    #[serde(default)]
    tokens: TokensDoc,
    #[serde(default)]
    enrollment: EnrollmentDoc,
    #[serde(default)]
    responses: ResponsesDoc,
    #[serde(default)]
    forward: ForwardDoc,
    #[serde(default)]
    log: LogDoc,
    #[serde(default)]
    cache: CacheDoc,
    #[serde(default)]
    routes: Vec<RouteDoc>,
    #[serde(default)]
    service_roles: Vec<ServiceRoleDoc>,
    #[serde(default)]
    exchange: super::exchange::ExchangeDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceRoleDoc {
    role: String,
    routes: Vec<ScopeDoc>,
    max_lifetime: Option<u64>,
    subs: Option<Vec<String>>,
    issuers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeDoc {
    path: String,
    methods: Option<Vec<String>>,
}

/// A backend service's own Postgres role (tokens from `aalgate mint --role …`): where its tokens may
/// go, how long they may live, and which `sub`s may carry it.
#[derive(Clone, Debug)]
pub struct ServiceRole {
    /// The `role` claim.
    pub role: String,
    /// Method + path scopes (as route rules; only their pattern and methods are used).
    pub scopes: Vec<RouteRule>,
    /// Largest `exp − iat` for this role's tokens.
    pub max_lifetime: u64,
    /// Accepted `sub` values; empty: any.
    pub subs: Vec<String>,
    /// Issuers whose tokens may carry this role (default: the project's own only, so a token of an
    /// extra issuer can never claim a service role).
    pub issuers: Vec<String>,
}

/// Roles Supabase owns or PostgREST relies on: never a service role of ours.
pub(crate) fn reserved_role(name: &str) -> bool {
    const NAMES: [&str; 7] = [
        "postgres",
        "anon",
        "authenticated",
        "authenticator",
        "service_role",
        "dashboard_user",
        "pgbouncer",
    ];
    NAMES.contains(&name) || name.starts_with("supabase") || name.starts_with("pg_")
}

/// A plain lower-case SQL name (what `aalgate sql role` creates).
pub(crate) fn plain_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn service_roles(
    docs: Vec<ServiceRoleDoc>,
    user_max_lifetime: u64,
    issuers: &[String],
) -> Result<Vec<ServiceRole>, ConfigError> {
    let mut out: Vec<ServiceRole> = Vec::new();
    for (i, d) in docs.into_iter().enumerate() {
        let field = |name: &str| format!("service_roles[{i}].{name}");
        if !plain_role_name(&d.role) || reserved_role(&d.role) {
            return Err(ConfigError::new(
                field("role"),
                "must be a plain lower-case role name of your own (not anon, authenticated, service_role or a Supabase role)",
            ));
        }
        if out.iter().any(|s| s.role == d.role) {
            return Err(ConfigError::new(field("role"), "is listed twice"));
        }
        if d.routes.is_empty() {
            return Err(ConfigError::new(
                field("routes"),
                "must list at least one path (a role with no routes could go nowhere)",
            ));
        }
        let mut scopes = Vec::new();
        for (j, s) in d.routes.into_iter().enumerate() {
            let pattern = PathPattern::parse(&s.path)
                .map_err(|p| ConfigError::new(format!("service_roles[{i}].routes[{j}].path"), p))?;
            let methods = parse_methods(
                s.methods,
                &format!("service_roles[{i}].routes[{j}].methods"),
            )?;
            scopes.push(RouteRule::scope(&d.role, pattern, methods));
        }
        let max_lifetime = match d.max_lifetime {
            None => user_max_lifetime,
            Some(v) if (1..=31_536_000).contains(&v) => v,
            Some(_) => {
                return Err(ConfigError::new(
                    field("max_lifetime"),
                    "must be 1..=31536000 (one year)",
                ))
            }
        };
        let subs = d.subs.unwrap_or_default();
        if let Some(k) = subs.iter().position(String::is_empty) {
            return Err(ConfigError::new(
                format!("service_roles[{i}].subs[{k}]"),
                "is empty",
            ));
        }
        let role_issuers = match d.issuers {
            None => vec![issuers[0].clone()],
            Some(list) => {
                if list.is_empty() {
                    return Err(ConfigError::new(field("issuers"), "must not be empty"));
                }
                if let Some(k) = list.iter().position(|i| !issuers.contains(i)) {
                    return Err(ConfigError::new(
                        format!("service_roles[{i}].issuers[{k}]"),
                        "is not a configured issuer",
                    ));
                }
                list
            }
        };
        out.push(ServiceRole {
            role: d.role,
            scopes,
            max_lifetime,
            subs,
            issuers: role_issuers,
        });
    }
    Ok(out)
}

fn parse_methods(list: Option<Vec<String>>, field: &str) -> Result<Vec<String>, ConfigError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(ConfigError::new(
            field,
            "must not be empty (omit it for any method)",
        ));
    }
    let mut out = Vec::new();
    for (j, m) in list.iter().enumerate() {
        let upper = m.to_ascii_uppercase();
        if !METHODS.contains(&upper.as_str()) {
            return Err(ConfigError::new(
                format!("{field}[{j}]"),
                "is not an HTTP method",
            ));
        }
        out.push(upper);
    }
    Ok(out)
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysDoc {
    jwks_url: Option<String>,
    jwks_file: Option<String>,
    jwks: Option<Value>,
    hs256_secret_env: Option<String>,
    hs256_secret_file: Option<String>,
    #[serde(default)]
    extra_issuers: Vec<IssuerDoc>,
    jwks_default_max_age: Option<u64>,
    jwks_refetch_cooldown: Option<u64>,
    jwks_max_stale: Option<u64>,
    jwks_timeout_ms: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerDoc {
    issuer: String,
    jwks_url: Option<String>,
    jwks_file: Option<String>,
    jwks: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensDoc {
    algorithms: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    leeway: Option<u64>,
    max_lifetime: Option<u64>,
    max_token_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollmentDoc {
    source: Option<EnrollmentSource>,
    claim: Option<String>,
    #[serde(default)]
    when_unknown: WhenUnknown,
    false_claim_max_age: Option<u64>,
    api_cache_ttl: Option<u64>,
    api_negative_cache_ttl: Option<u64>,
    api_timeout_ms: Option<u32>,
    #[serde(default)]
    on_api_failure: OnApiFailure,
    api_key: Option<String>,
}

/// Where the enrollment fact comes from (see [`super::enrollment`]).
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

/// What to do when the Auth API lookup fails (timeout, error status, unreadable answer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnApiFailure {
    /// 503 `enrollment_unavailable`; the upstream is not called (default: fail closed).
    #[default]
    Refuse,
    /// Treat the user as enrolled: aal1 is refused, aal2 passes.
    TreatAsEnrolled,
    /// Treat the user as not enrolled: aal1 passes. Availability over safety; not recommended.
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
    pub when_unknown: WhenUnknown,
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
    pub on_api_failure: OnApiFailure,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponsesDoc {
    cors_allow_origin: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForwardDoc {
    #[serde(default)]
    identity_headers: bool,
    proof_secret_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogDoc {
    #[serde(default)]
    user_id: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheDoc {
    max_entries: Option<usize>,
    max_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDoc {
    name: Option<String>,
    path: String,
    methods: Option<Vec<String>>,
    auth: Option<AuthRequirement>,
    aal: Option<AalRequirement>,
    max_age: Option<u64>,
    roles: Option<Vec<String>>,
    #[serde(default)]
    allow_service_keys: bool,
    #[serde(default)]
    allow_form_credentials: bool,
    max_token_age: Option<u64>,
    issuers: Option<Vec<String>>,
    #[serde(default)]
    claims: Vec<ClaimDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimDoc {
    claim: String,
    equals: Option<Value>,
    one_of: Option<Vec<Value>>,
    contains: Option<Value>,
}

/// A claim predicate on a trusted claim.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimPredicate {
    /// Dotted path into the claims, e.g. `app_metadata.tenant_id`.
    pub path: Vec<String>,
    /// The test.
    pub test: ClaimTest,
}

/// How a claim is tested.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimTest {
    /// The claim equals this JSON value.
    Equals(Value),
    /// The claim equals one of these values.
    OneOf(Vec<Value>),
    /// The claim is an array containing this value.
    Contains(Value),
}

/// Where keys for one issuer come from.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuerKeysConfig {
    /// The exact `iss` value.
    pub issuer: String,
    /// Remote JWKS the adapter fetches (absent when keys are given locally).
    pub jwks_url: Option<String>,
    /// A local JWKS file the adapter reads at load time (CLI, air-gapped).
    pub jwks_file: Option<String>,
    /// An inline JWKS.
    pub jwks_inline: Option<Value>,
}

/// JWKS caching rules (DESIGN §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JwksTiming {
    /// Freshness when `Cache-Control` gives no `max-age`. Default 600 s.
    pub default_max_age: u64,
    /// Minimum time between fetches of one JWKS (unknown `kid`, failures). Default 30 s.
    pub refetch_cooldown: u64,
    /// How long keys are still served after they went stale while the endpoint fails. Default 3,600 s.
    pub max_stale: u64,
    /// How long one JWKS fetch may take, in milliseconds (adapters). Default 3,000.
    pub timeout_ms: u32,
}

/// The validated configuration the gate runs on.
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// `https://<ref>.supabase.co`, no trailing slash.
    pub supabase_url: String,
    /// Enforce or report only.
    pub mode: Mode,
    /// Token rules shared by every route.
    pub validation: Validation,
    /// Key sources: the Supabase issuer first, then extra issuers.
    pub issuers: Vec<IssuerKeysConfig>,
    /// Where the HS256 secret comes from (resolved by the adapter).
    pub hs256_secret_env: Option<String>,
    /// File holding the HS256 secret (resolved by the adapter).
    pub hs256_secret_file: Option<String>,
    /// JWKS caching.
    pub jwks_timing: JwksTiming,
    /// Where the enrollment fact comes from, and how lookups behave.
    pub enrollment: EnrollmentConfig,
    /// Backend services' own roles and their scopes.
    pub service_roles: Vec<ServiceRole>,
    /// The token exchange endpoint, when identity providers are configured.
    pub exchange: Option<super::exchange::ExchangeConfig>,
    /// Largest `exp − iat` of tokens that are not service-role tokens (`tokens.max_lifetime`); the
    /// validation's cap is the largest of this and every service role's, and the policy applies each.
    pub user_max_lifetime: u64,
    /// `Access-Control-Allow-Origin` on refusals.
    pub cors_allow_origin: String,
    /// Add `x-aalgate-*` identity headers to forwarded requests.
    pub identity_headers: bool,
    /// Gate-only mode: the setting (environment variable, Worker secret) holding the secret the gate
    /// signs `x-aalgate-proof` with, for Data API requests (see `proof`).
    pub proof_secret_env: Option<String>,
    /// Put the user id into decision logs.
    pub log_user_id: bool,
    /// Verified-token cache bounds.
    pub cache_max_entries: usize,
    /// Verified-token cache bounds.
    pub cache_max_bytes: usize,
    /// User routes followed by the preset, first match wins.
    pub routes: Vec<Arc<RouteRule>>,
    /// Requirement for paths no route matches.
    pub fallback: Arc<RouteRule>,
    /// `require_aal2_for_enrolled` as loaded (on unless the document says `false`).
    pub require_aal2_for_enrolled: bool,
}

fn enrollment_config(
    e: EnrollmentDoc,
    preset: bool,
    supabase_url: &str,
) -> Result<EnrollmentConfig, ConfigError> {
    let claim = trusted_claim_path(
        e.claim.as_deref().unwrap_or("mfa_enrolled"),
        "enrollment.claim",
    )?;
    let within = |value: Option<u64>, default: u64, max: u64, field: &str| match value {
        None => Ok(default),
        Some(v) if v <= max => Ok(v),
        Some(_) => Err(ConfigError::new(field, format!("must be at most {max}"))),
    };
    // A TTL of 0 would make every waiting request look up again, one after another.
    let ttl = |value: Option<u64>, field: &str| match value {
        Some(0) => Err(ConfigError::new(field, "must be 1..=3600")),
        v => within(v, 60, 3600, field),
    };
    let api_timeout_ms = e.api_timeout_ms.unwrap_or(3000);
    if !(50..=30_000).contains(&api_timeout_ms) {
        return Err(ConfigError::new(
            "enrollment.api_timeout_ms",
            "must be 50..=30000",
        ));
    }
    if let Some(key) = &e.api_key {
        // A secret key would let anyone's lookup act as the service: only publishable keys belong here.
        let service_jwt = super::credentials::key_jwt_role(key).as_deref() == Some("service_role");
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
        false_claim_max_age: within(
            e.false_claim_max_age,
            300,
            86_400,
            "enrollment.false_claim_max_age",
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

/// Names of HTTP methods a route may list.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

impl GateConfig {
    /// Parses and validates a JSON document.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let doc: ConfigDoc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            ConfigError::new(
                e.path().to_string().trim_start_matches('.'),
                e.inner().to_string(),
            )
        })?;
        de.end()
            .map_err(|e| ConfigError::new("", format!("trailing data: {e}")))?;
        Self::from_doc(doc)
    }

    /// Parses and validates a TOML document.
    #[cfg(feature = "cli")]
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let de = toml::de::Deserializer::parse(text)
            .map_err(|e| ConfigError::new("", e.message().to_string()))?;
        let doc: ConfigDoc = serde_path_to_error::deserialize(de).map_err(|e| {
            ConfigError::new(
                e.path().to_string().trim_start_matches('.'),
                e.inner().message().to_string(),
            )
        })?;
        Self::from_doc(doc)
    }

    /// Validates a parsed document and applies the Supabase preset.
    pub fn from_doc(doc: ConfigDoc) -> Result<Self, ConfigError> {
        let supabase_url = base_url(
            doc.supabase_url.as_deref().ok_or_else(|| {
                ConfigError::new("supabase_url", "is required (https://<ref>.supabase.co)")
            })?,
            "supabase_url",
        )?;
        let supabase_issuer = format!("{supabase_url}/auth/v1");

        // Keys.
        let k = doc.keys;
        let local = k.jwks_file.is_some() || k.jwks.is_some();
        if k.jwks_file.is_some() && k.jwks.is_some() {
            return Err(ConfigError::new(
                "keys",
                "give `jwks_file` or `jwks`, not both",
            ));
        }
        let jwks_url = match (&k.jwks_url, local) {
            (Some(_), true) => {
                return Err(ConfigError::new(
                    "keys",
                    "give `jwks_url` or a local `jwks_file`/`jwks`, not both",
                ));
            }
            (Some(url), false) => Some(https_url(url, "keys.jwks_url")?),
            (None, true) => None,
            (None, false) => Some(format!("{supabase_issuer}/.well-known/jwks.json")),
        };
        if let Some(v) = &k.jwks {
            check_inline_jwks(v, "keys.jwks")?;
        }
        let mut issuers = vec![IssuerKeysConfig {
            issuer: supabase_issuer.clone(),
            jwks_url,
            jwks_file: k.jwks_file,
            jwks_inline: k.jwks,
        }];
        for (i, extra) in k.extra_issuers.into_iter().enumerate() {
            let field = format!("keys.extra_issuers[{i}]");
            if extra.issuer.is_empty() {
                return Err(ConfigError::new(
                    format!("{field}.issuer"),
                    "must not be empty",
                ));
            }
            if issuers.iter().any(|s| s.issuer == extra.issuer) {
                return Err(ConfigError::new(
                    format!("{field}.issuer"),
                    "is listed twice",
                ));
            }
            let sources = [
                extra.jwks_url.is_some(),
                extra.jwks_file.is_some(),
                extra.jwks.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                return Err(ConfigError::new(
                    field,
                    "give exactly one of `jwks_url`, `jwks_file`, `jwks`",
                ));
            }
            if let Some(v) = &extra.jwks {
                check_inline_jwks(v, &format!("{field}.jwks"))?;
            }
            let jwks_url = extra
                .jwks_url
                .map(|u| https_url(&u, &format!("{field}.jwks_url")))
                .transpose()?;
            if jwks_url.is_some() && issuers.iter().any(|s| s.jwks_url == jwks_url) {
                return Err(ConfigError::new(
                    format!("{field}.jwks_url"),
                    "is already used by another issuer",
                ));
            }
            issuers.push(IssuerKeysConfig {
                issuer: extra.issuer,
                jwks_url,
                jwks_file: extra.jwks_file,
                jwks_inline: extra.jwks,
            });
        }
        if k.hs256_secret_env.is_some() && k.hs256_secret_file.is_some() {
            return Err(ConfigError::new(
                "keys",
                "give `hs256_secret_env` or `hs256_secret_file`, not both",
            ));
        }
        let jwks_timing = JwksTiming {
            default_max_age: k.jwks_default_max_age.unwrap_or(600),
            refetch_cooldown: k.jwks_refetch_cooldown.unwrap_or(30),
            max_stale: k.jwks_max_stale.unwrap_or(3600),
            timeout_ms: k.jwks_timeout_ms.unwrap_or(3000),
        };
        if !(50..=30_000).contains(&jwks_timing.timeout_ms) {
            return Err(ConfigError::new(
                "keys.jwks_timeout_ms",
                "must be 50..=30000 milliseconds",
            ));
        }
        if jwks_timing.default_max_age == 0 || jwks_timing.default_max_age > 86_400 {
            return Err(ConfigError::new(
                "keys.jwks_default_max_age",
                "must be 1..=86400 seconds",
            ));
        }
        if !(1..=3600).contains(&jwks_timing.refetch_cooldown) {
            return Err(ConfigError::new(
                "keys.jwks_refetch_cooldown",
                "must be 1..=3600 seconds",
            ));
        }
        if jwks_timing.max_stale > 7 * 86_400 {
            return Err(ConfigError::new(
                "keys.jwks_max_stale",
                "must be at most 604800 seconds",
            ));
        }

        // Token validation.
        let t = doc.tokens;
        let mut validation = Validation {
            issuers: issuers.iter().map(|s| s.issuer.clone()).collect(),
            ..Validation::default()
        };
        if let Some(algs) = t.algorithms {
            let mut set = AlgorithmSet::EMPTY;
            for (i, a) in algs.iter().enumerate() {
                let alg = Algorithm::from_header(a).ok_or_else(|| {
                    ConfigError::new(
                        format!("tokens.algorithms[{i}]"),
                        "must be ES256, RS256 or HS256",
                    )
                })?;
                set = set.with(alg);
            }
            if set == AlgorithmSet::EMPTY {
                return Err(ConfigError::new("tokens.algorithms", "must not be empty"));
            }
            validation.algorithms = set;
        }
        if let Some(aud) = t.audiences {
            if aud.is_empty() || aud.iter().any(String::is_empty) {
                return Err(ConfigError::new(
                    "tokens.audiences",
                    "must be a non-empty list of non-empty strings",
                ));
            }
            validation.audiences = aud;
        }
        if let Some(leeway) = t.leeway {
            if leeway > 300 {
                return Err(ConfigError::new(
                    "tokens.leeway",
                    "must be at most 300 seconds",
                ));
            }
            validation.leeway = leeway;
        }
        if let Some(max) = t.max_lifetime {
            if max == 0 {
                return Err(ConfigError::new("tokens.max_lifetime", "must be positive"));
            }
            validation.max_lifetime = Some(max);
        }
        if let Some(max) = t.max_token_bytes {
            if !(512..=65_536).contains(&max) {
                return Err(ConfigError::new(
                    "tokens.max_token_bytes",
                    "must be 512..=65536",
                ));
            }
            validation.max_token_bytes = max;
        }
        let enrollment = enrollment_config(doc.enrollment, doc.preset, &supabase_url)?;
        // The validation lets the longest lifetime through; the policy holds each token to its own.
        let user_max_lifetime = validation.max_lifetime.unwrap_or(u64::MAX);
        let all_issuers: Vec<String> = issuers.iter().map(|i| i.issuer.clone()).collect();
        let service_roles = service_roles(doc.service_roles, user_max_lifetime, &all_issuers)?;

        let exchange = super::exchange::parse(doc.exchange, &all_issuers)?;
        if let Some(x) = &exchange {
            for (i, p) in x.providers.iter().enumerate() {
                if let Some((k, _)) = p
                    .claims
                    .app_metadata
                    .iter()
                    .find(|(k, _)| enrollment.claim == ["app_metadata", k.as_str()])
                {
                    return Err(ConfigError::new(
                        format!("exchange.providers[{i}].claims.app_metadata.{k}"),
                        "would write the enrollment claim (enrollment.claim); the exchange sets it itself",
                    ));
                }
            }
        }
        if let Some(longest) = service_roles.iter().map(|s| s.max_lifetime).max() {
            validation.max_lifetime = Some(longest.max(user_max_lifetime));
        }

        let cors_allow_origin = doc
            .responses
            .cors_allow_origin
            .unwrap_or_else(|| "*".into());
        if cors_allow_origin.is_empty() || !cors_allow_origin.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ConfigError::new(
                "responses.cors_allow_origin",
                "must be `*` or one origin",
            ));
        }

        let cache_max_entries = doc.cache.max_entries.unwrap_or(10_000);
        let cache_max_bytes = doc.cache.max_bytes.unwrap_or(16 * 1024 * 1024);
        if cache_max_entries > 1_000_000 {
            return Err(ConfigError::new(
                "cache.max_entries",
                "must be at most 1000000 (0 disables the cache)",
            ));
        }

        // Routes.
        let default_aal = if doc.require_aal2_for_enrolled {
            AalRequirement::Aal2IfEnrolled
        } else {
            AalRequirement::Any
        };
        let mut routes = Vec::new();
        for (i, r) in doc.routes.into_iter().enumerate() {
            let rule = route(r, i, default_aal, &validation.issuers)?;
            // A route naming a service role in `roles` would never apply to it (its scopes decide).
            if let Some(role) = rule
                .roles
                .iter()
                .find(|role| service_roles.iter().any(|s| &s.role == *role))
            {
                return Err(ConfigError::new(
                    format!("routes[{i}].roles"),
                    format!("names the service role `{role}`, whose access its `service_roles` scopes set"),
                ));
            }
            routes.push(rule);
        }
        if doc.preset {
            routes.extend(super::route::supabase_preset(default_aal));
        }
        let fallback = Arc::new(RouteRule::protected("fallback", default_aal));
        check_mfa_reachable(&routes, doc.preset)?;
        // Shared, so that a decision holds its rule without copying it.
        let routes: Vec<Arc<RouteRule>> = routes.into_iter().map(Arc::new).collect();

        Ok(GateConfig {
            supabase_url,
            mode: doc.mode,
            validation,
            issuers,
            hs256_secret_env: k.hs256_secret_env,
            hs256_secret_file: k.hs256_secret_file,
            jwks_timing,
            enrollment,
            service_roles,
            user_max_lifetime,
            exchange,
            cors_allow_origin,
            identity_headers: doc.forward.identity_headers,
            proof_secret_env: doc.forward.proof_secret_env,
            log_user_id: doc.log.user_id,
            cache_max_entries,
            cache_max_bytes,
            routes,
            fallback,
            require_aal2_for_enrolled: doc.require_aal2_for_enrolled,
        })
    }

    /// One line for start-up logs and `check-config`: whether the headline rule is on, and the mode.
    pub fn summary(&self) -> String {
        format!(
            "require_aal2_for_enrolled = {} ({}); mode = {}; {} routes",
            self.require_aal2_for_enrolled,
            if self.require_aal2_for_enrolled {
                "aal1 requests of users with a verified MFA factor are refused on data routes"
            } else {
                "OFF: enrolled users pass at aal1 unless a route says otherwise"
            },
            match self.mode {
                Mode::Enforce => "enforce",
                Mode::ReportOnly => "report_only",
            },
            self.routes.len() + 1
        )
    }

    /// The Supabase Auth issuer, `{supabase_url}/auth/v1`.
    pub fn supabase_issuer(&self) -> &str {
        &self.issuers[0].issuer
    }
}

fn route(
    r: RouteDoc,
    i: usize,
    default_aal: AalRequirement,
    issuers: &[String],
) -> Result<RouteRule, ConfigError> {
    let field = |name: &str| format!("routes[{i}].{name}");
    let pattern = PathPattern::parse(&r.path).map_err(|p| ConfigError::new(field("path"), p))?;
    let methods = parse_methods(r.methods, &field("methods"))?;
    let aal = r.aal.unwrap_or(default_aal);
    // A rule that asks for aal2 or recent MFA means "a user must be there", unless it says otherwise.
    let auth = r
        .auth
        .unwrap_or(if aal == AalRequirement::Aal2 || r.max_age.is_some() {
            AuthRequirement::Required
        } else {
            AuthRequirement::Optional
        });
    if auth == AuthRequirement::None
        && (r.aal.is_some()
            || r.max_age.is_some()
            || r.roles.is_some()
            || !r.claims.is_empty()
            || r.max_token_age.is_some())
    {
        return Err(ConfigError::new(
            field("auth"),
            "is \"none\" (nothing checked) but the route also sets requirements",
        ));
    }
    if r.max_age == Some(0) {
        return Err(ConfigError::new(field("max_age"), "must be positive"));
    }
    if r.max_token_age == Some(0) {
        return Err(ConfigError::new(field("max_token_age"), "must be positive"));
    }
    let roles = match r.roles {
        None => vec!["authenticated".to_owned(), "anon".to_owned()],
        Some(roles) => {
            if roles.is_empty() || roles.iter().any(String::is_empty) {
                return Err(ConfigError::new(
                    field("roles"),
                    "must be a non-empty list of role names",
                ));
            }
            if roles.iter().any(|r| r == "service_role") {
                return Err(ConfigError::new(
                    field("roles"),
                    "cannot list service_role; set allow_service_keys = true",
                ));
            }
            roles
        }
    };
    let route_issuers = match r.issuers {
        None => Vec::new(),
        Some(list) => {
            if let Some(bad) = list.iter().position(|iss| !issuers.contains(iss)) {
                return Err(ConfigError::new(
                    format!("routes[{i}].issuers[{bad}]"),
                    "is not a configured issuer (the Supabase issuer or keys.extra_issuers)",
                ));
            }
            list
        }
    };
    let mut claims = Vec::new();
    for (j, c) in r.claims.into_iter().enumerate() {
        let cf = format!("routes[{i}].claims[{j}]");
        let path = trusted_claim_path(&c.claim, &format!("{cf}.claim"))?;
        let test = match (c.equals, c.one_of, c.contains) {
            (Some(v), None, None) => ClaimTest::Equals(v),
            (None, Some(list), None) if !list.is_empty() => ClaimTest::OneOf(list),
            (None, Some(_), None) => {
                return Err(ConfigError::new(
                    format!("{cf}.one_of"),
                    "must not be empty",
                ))
            }
            (None, None, Some(v)) => ClaimTest::Contains(v),
            _ => {
                return Err(ConfigError::new(
                    cf,
                    "give exactly one of `equals`, `one_of`, `contains`",
                ))
            }
        };
        claims.push(ClaimPredicate { path, test });
    }
    Ok(RouteRule {
        name: r.name.unwrap_or_else(|| format!("routes[{i}]")),
        pattern,
        methods,
        auth,
        aal,
        max_age: r.max_age,
        roles,
        allow_service_keys: r.allow_service_keys,
        allow_form_credentials: r.allow_form_credentials,
        max_token_age: r.max_token_age,
        issuers: route_issuers,
        claims,
    })
}

/// Requests every MFA flow needs at aal1 (refresh, read the user, enroll, challenge, verify, log out).
const MFA_PROBES: [(&str, &str); 6] = [
    ("POST", "/auth/v1/token"),
    ("GET", "/auth/v1/user"),
    ("POST", "/auth/v1/factors"),
    (
        "POST",
        "/auth/v1/factors/00000000-0000-4000-8000-000000000000/challenge",
    ),
    (
        "POST",
        "/auth/v1/factors/00000000-0000-4000-8000-000000000000/verify",
    ),
    ("POST", "/auth/v1/logout"),
];

/// Refuses a route table in which a rule checks tokens on `/auth/v1` before it is exempted: users could
/// then never complete MFA (and an expired token could never be refreshed).
fn check_mfa_reachable(routes: &[RouteRule], preset: bool) -> Result<(), ConfigError> {
    for (method, path) in MFA_PROBES {
        match routes.iter().position(|r| r.applies(method, path)) {
            Some(i) if routes[i].auth == AuthRequirement::None => {}
            Some(i) => {
                let field = if routes[i].name.starts_with("supabase:") {
                    "routes".to_owned()
                } else {
                    format!("routes[{i}]")
                };
                return Err(ConfigError::new(
                    field,
                    format!("rule `{}` checks tokens on {method} {path}; /auth/v1 must stay reachable at aal1 or users cannot complete MFA (add a rule with auth = \"none\" for /auth/v1 before it)", routes[i].name),
                ));
            }
            None if !preset => {
                return Err(ConfigError::new(
                    "preset",
                    format!("is false and no rule exempts {method} {path}; add a rule `path = \"/auth/v1\"`, `auth = \"none\"`"),
                ));
            }
            None => {}
        }
    }
    Ok(())
}

/// A dotted claim path that a gate may trust. `user_metadata` is writable by the user
/// (`supabase.auth.updateUser`), so authorising on it would let users grant themselves access.
fn trusted_claim_path(path: &str, field: &str) -> Result<Vec<String>, ConfigError> {
    let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
    if parts.iter().any(String::is_empty) {
        return Err(ConfigError::new(
            field,
            "must be a dotted claim path like `app_metadata.tenant_id`",
        ));
    }
    if parts[0] == "user_metadata" {
        return Err(ConfigError::new(
            field,
            "user_metadata is writable by the user and must never be used for authorization; use app_metadata or a hook claim",
        ));
    }
    Ok(parts)
}

fn check_inline_jwks(v: &Value, field: &str) -> Result<(), ConfigError> {
    match v.get("keys") {
        Some(Value::Array(_)) => Ok(()),
        _ => Err(ConfigError::new(
            field,
            "must be a JWKS object with a `keys` array",
        )),
    }
}

/// `https://host[:port]` without path, query or credentials; `http://` only for loopback development.
fn base_url(raw: &str, field: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim_end_matches('/');
    let rest = if let Some(rest) = trimmed.strip_prefix("https://") {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        let host = rest.split(':').next().unwrap_or("");
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err(ConfigError::new(
                field,
                "must use https:// (http:// only for localhost)",
            ));
        }
        rest
    } else {
        return Err(ConfigError::new(field, "must start with https://"));
    };
    if rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' ', '\\'])
        || !rest.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ConfigError::new(
            field,
            "must be a bare origin like https://<ref>.supabase.co (no path, query or credentials)",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A full URL (path allowed) with the same scheme rules as [`base_url`].
fn https_url(raw: &str, field: &str) -> Result<String, ConfigError> {
    let (origin, path) = match raw.find("://").map(|i| i + 3) {
        Some(start) => match raw[start..].find('/') {
            Some(p) => raw.split_at(start + p),
            None => (raw, ""),
        },
        None => return Err(ConfigError::new(field, "must be an absolute https:// URL")),
    };
    base_url(origin, field)?;
    if path.contains(['#', ' ', '\\']) || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            field,
            "has characters that are not allowed in a URL",
        ));
    }
    Ok(raw.to_owned())
}
