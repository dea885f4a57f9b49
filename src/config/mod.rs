//! The policy document (TOML for files, JSON for Workers and Deno) and its load-time validation.
//!
//! Every mistake is found here, once, as a [`ConfigError`] naming the field: unknown keys (typos) are
//! refused, values are range-checked, route patterns compiled, and the Supabase preset appended. A request
//! can never meet a configuration error. The configuration builds the gate's vocabulary (routes,
//! requirements, key sources, enrollment settings, service roles, exchange providers); the gate never
//! reads the document.
//!
//! One file per section: [`doc`] (the serde shapes), [`keys`], [`routes`], [`enrollment`],
//! [`service_roles`], [`exchange`], and [`check`] (the checks they share).

mod check;
mod doc;
mod enrollment;
mod exchange;
mod keys;
mod resources;
mod routes;
mod service_roles;

pub use doc::ConfigDoc;

use crate::error::ConfigError;
use crate::exchange::settings::ExchangeConfig;
use crate::gate::enrollment::settings::EnrollmentConfig;
use crate::gate::keystore::{IssuerKeysConfig, JwksTiming};
use crate::gate::requirement::AalRequirement;
use crate::gate::route::{supabase_preset, RouteRule};
use crate::gate::verdict::Mode;
use crate::service_role::ServiceRole;
use crate::validation::Validation;
use std::sync::Arc;

/// The validated configuration the gate runs on. Sealed: it can only be made by loading a document
/// (every value passed its check), and it is read through getters.
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// `https://<ref>.supabase.co`, no trailing slash.
    supabase_url: String,
    /// Enforce or report only.
    mode: Mode,
    /// Token rules shared by every route.
    validation: Validation,
    /// Key sources: the Supabase issuer first, then extra issuers.
    issuers: Vec<IssuerKeysConfig>,
    /// Where the HS256 secret comes from (resolved by the adapter).
    hs256_secret_env: Option<String>,
    /// File holding the HS256 secret (resolved by the adapter).
    hs256_secret_file: Option<String>,
    /// JWKS caching.
    jwks_timing: JwksTiming,
    /// Where the enrollment fact comes from, and how lookups behave.
    enrollment: EnrollmentConfig,
    /// Backend services' own roles and their scopes.
    service_roles: Vec<ServiceRole>,
    /// The token exchange endpoint, when identity providers are configured.
    exchange: Option<ExchangeConfig>,
    /// Largest `exp − iat` of tokens that are not service-role tokens (`tokens.max_lifetime`); the
    /// validation's cap is the largest of this and every service role's, and the policy applies each.
    user_max_lifetime: u64,
    /// `Access-Control-Allow-Origin` on refusals.
    cors_allow_origin: String,
    /// Add `x-aalgate-*` identity headers to forwarded requests.
    identity_headers: bool,
    /// Gate-only mode: the setting (environment variable, Worker secret) holding the secret the gate
    /// signs `x-aalgate-proof` with, for Data API requests (see `proof`).
    proof_secret_env: Option<String>,
    /// Put the user id into decision logs.
    log_user_id: bool,
    /// Verified-token cache bounds.
    cache_max_entries: usize,
    /// Verified-token cache bounds.
    cache_max_bytes: usize,
    /// Largest Realtime frame a client may send through the gate.
    realtime_max_frame_bytes: usize,
    /// User routes followed by the preset, first match wins.
    routes: Vec<Arc<RouteRule>>,
    /// Requirement for paths no route matches.
    fallback: Arc<RouteRule>,
    /// `require_aal2_for_enrolled` as loaded (on unless the document says `false`).
    require_aal2_for_enrolled: bool,
}

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
    pub fn from_doc(mut doc: ConfigDoc) -> Result<Self, ConfigError> {
        let supabase_url = check::base_url(
            doc.supabase_url.as_deref().ok_or_else(|| {
                ConfigError::new("supabase_url", "is required (https://<ref>.supabase.co)")
            })?,
            "supabase_url",
        )?;
        let supabase_issuer = format!("{supabase_url}/auth/v1");
        let issuers = keys::issuers(&mut doc.keys, &supabase_issuer)?;
        let jwks_timing = keys::jwks_timing(&doc.keys)?;
        let mut validation = keys::validation(doc.tokens, &issuers)?;
        let enrollment = enrollment::enrollment(doc.enrollment, doc.preset, &supabase_url)?;
        // The validation lets the longest lifetime through; the policy holds each token to its own.
        let user_max_lifetime = validation.max_lifetime.unwrap_or(u64::MAX);
        let all_issuers: Vec<String> = issuers.iter().map(|i| i.issuer.clone()).collect();
        let service_roles =
            service_roles::service_roles(doc.service_roles, user_max_lifetime, &all_issuers)?;
        let exchange = exchange::parse(doc.exchange, &all_issuers, &enrollment.claim)?;
        validation.issuerless_roles = service_roles
            .iter()
            .filter(|s| s.accept_cli_tokens)
            .map(|s| s.role.clone())
            .collect();
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
        let cache_max_entries = check::in_range(
            doc.cache.max_entries,
            10_000,
            0..=1_000_000,
            "cache.max_entries",
            " (0 disables the cache)",
        )?;
        let cache_max_bytes = doc.cache.max_bytes.unwrap_or(16 * 1024 * 1024);
        // Realtime's own cap (its endpoint's `max_frame_size`): the gate refuses nothing by default
        // that Realtime would take.
        let realtime_max_frame_bytes = check::in_range(
            doc.realtime.max_frame_bytes,
            5_000_000,
            1024..=64 * 1024 * 1024,
            "realtime.max_frame_bytes",
            " bytes",
        )?;

        // Routes.
        let default_aal = if doc.require_aal2_for_enrolled {
            AalRequirement::Aal2IfEnrolled
        } else {
            AalRequirement::Any
        };
        let mut routes =
            routes::routes(doc.routes, default_aal, &validation.issuers, &service_roles)?;
        if doc.preset {
            routes.extend(supabase_preset(default_aal));
        }
        let fallback = Arc::new(RouteRule::protected("fallback", default_aal));
        routes::check_mfa_reachable(&routes, doc.preset)?;
        // Shared, so that a decision holds its rule without copying it.
        let routes: Vec<Arc<RouteRule>> = routes.into_iter().map(Arc::new).collect();

        Ok(GateConfig {
            supabase_url,
            mode: doc.mode,
            validation,
            issuers,
            hs256_secret_env: doc.keys.hs256_secret_env,
            hs256_secret_file: doc.keys.hs256_secret_file,
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
            realtime_max_frame_bytes,
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

    /// The rule for a request: the first route that applies, else the fallback.
    pub fn route_for(&self, method: &str, path: &str) -> &Arc<RouteRule> {
        self.routes
            .iter()
            .find(|r| r.applies(method, path))
            .unwrap_or(&self.fallback)
    }
}

/// Read access: every value passed its check at load time.
impl GateConfig {
    /// `https://<ref>.supabase.co`, no trailing slash.
    pub fn supabase_url(&self) -> &str {
        &self.supabase_url
    }

    /// Enforce or report only.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Token rules shared by every route.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// Key sources: the Supabase issuer first, then extra issuers.
    pub fn issuers(&self) -> &[IssuerKeysConfig] {
        &self.issuers
    }

    /// The setting holding the HS256 secret (read by the adapter).
    pub fn hs256_secret_env(&self) -> Option<&str> {
        self.hs256_secret_env.as_deref()
    }

    /// The file holding the HS256 secret (read by the adapter).
    pub fn hs256_secret_file(&self) -> Option<&str> {
        self.hs256_secret_file.as_deref()
    }

    /// JWKS caching rules.
    pub fn jwks_timing(&self) -> JwksTiming {
        self.jwks_timing
    }

    /// Where the enrollment fact comes from, and how lookups behave.
    pub fn enrollment(&self) -> &EnrollmentConfig {
        &self.enrollment
    }

    /// Backend services' own roles and their scopes.
    pub fn service_roles(&self) -> &[ServiceRole] {
        &self.service_roles
    }

    /// The token exchange endpoint, when identity providers are configured.
    pub fn exchange(&self) -> Option<&ExchangeConfig> {
        self.exchange.as_ref()
    }

    /// Largest `exp − iat` of tokens that are not service-role tokens.
    pub fn user_max_lifetime(&self) -> u64 {
        self.user_max_lifetime
    }

    /// `Access-Control-Allow-Origin` on refusals.
    pub fn cors_allow_origin(&self) -> &str {
        &self.cors_allow_origin
    }

    /// Whether forwarded requests get `x-aalgate-*` identity headers.
    pub fn identity_headers(&self) -> bool {
        self.identity_headers
    }

    /// Gate-only mode: the setting holding the proof secret.
    pub fn proof_secret_env(&self) -> Option<&str> {
        self.proof_secret_env.as_deref()
    }

    /// Whether decision logs carry the user id.
    pub fn log_user_id(&self) -> bool {
        self.log_user_id
    }

    /// Verified-token cache: most entries.
    pub fn cache_max_entries(&self) -> usize {
        self.cache_max_entries
    }

    /// Verified-token cache: most bytes of tokens.
    pub fn cache_max_bytes(&self) -> usize {
        self.cache_max_bytes
    }

    /// Largest Realtime frame a client may send (`realtime.max_frame_bytes`, default 5,000,000).
    pub fn realtime_max_frame_bytes(&self) -> usize {
        self.realtime_max_frame_bytes
    }

    /// User routes followed by the preset, first match wins.
    pub fn routes(&self) -> &[Arc<RouteRule>] {
        &self.routes
    }

    /// The requirement for paths no route matches.
    pub fn fallback(&self) -> &Arc<RouteRule> {
        &self.fallback
    }

    /// `require_aal2_for_enrolled` as loaded (on unless the document says `false`).
    pub fn require_aal2_for_enrolled(&self) -> bool {
        self.require_aal2_for_enrolled
    }
}
