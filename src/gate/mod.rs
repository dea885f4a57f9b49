//! The gate: one decision pipeline for one HTTP request (DESIGN §5), with no I/O.
//!
//! ```text
//! preflight? → path normalisation → route → credentials → [token cache | keys → verify] → policy → Decision
//! ```
//!
//! I/O is an explicit step: [`Gate::decide`] answers [`Outcome::FetchKeys`] when a JWKS must be fetched
//! first; the adapter fetches, reports through [`Gate::keys_mut`] (`fetched` / `fetch_failed`), and calls
//! `decide` again. The store's cooldown guarantees the second call decides. This keeps the core free of
//! async and lets each request do its own fetch (Workers forbid awaiting another request's promise).

pub mod cache;
pub mod config;
pub mod credentials;
pub mod enrollment;
pub mod exchange;
pub mod forwarding;
pub mod keystore;
pub mod policy;
pub mod proof;
pub mod route;

use crate::crypto::{NativeProvider, SignatureProvider};
use crate::error::{Code, Error, Result};
use crate::keys::{HmacSecret, KeyEntry, KeySet, VerifyingKey};
use crate::validation::Validation;
use crate::verify::{prepare, validate_claims, KeySource, PendingSignature, VerifiedToken};
use crate::wire::{reject_with_cors, Rejection};
use crate::Algorithm;
use cache::{TokenCache, TokenDigest};
use config::{AuthRequirement, ConfigError, GateConfig, Mode, OnApiFailure};
use credentials::Credentials;
use enrollment::{
    EnrollmentJob, EnrollmentStore, Fact, FactSource, LookupCredentials, LookupFailure,
};
use exchange::ExchangeState;
use keystore::{FetchReason, KeyStore};
use route::RouteRule;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Prefix of the identity headers the gate may set. Inbound headers with this prefix are always
/// stripped, so a client can never pose as a verified identity to the upstream.
pub const IDENTITY_HEADER_PREFIX: &str = "x-aalgate-";

/// The parts of an HTTP request the gate looks at.
#[derive(Clone, Copy, Debug)]
pub struct Request<'r> {
    /// Method, upper case.
    pub method: &'r str,
    /// Path as sent (percent-encoded, without query).
    pub path: &'r str,
    /// The query as sent, without `?` (empty when there is none). Credentials travel here too.
    pub query: &'r str,
    /// Headers as `(name, value)`; names are compared case-insensitively.
    pub headers: &'r [(&'r str, &'r str)],
}

impl<'r> Request<'r> {
    /// All values of a header.
    pub fn headers_named(&self, name: &str) -> Vec<&'r str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .collect()
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// Who the forwarded request is from, as far as the gate knows.
#[derive(Clone, Debug)]
pub enum Identity {
    /// Nobody was checked: exempt route, preflight, no user, or report-only refusal.
    Anonymous,
    /// Service credentials on a route that allows them (the upstream verifies them).
    Service,
    /// A verified user token.
    User(Arc<VerifiedToken>),
}

/// Forward the request upstream.
#[derive(Clone, Debug)]
pub struct Forward {
    /// Who it is from.
    pub identity: Identity,
    /// Headers to add (after stripping every inbound header for which [`Forward::strips`] is true).
    pub add_headers: Vec<(String, String)>,
    /// In `report_only` mode: the refusal that enforcement would have sent.
    pub would_reject: Option<Rejection>,
}

impl Forward {
    /// Whether an inbound header must be removed before forwarding.
    ///
    /// `_` counts as `-` (CGI-style upstreams read `x-aalgate_user-id` as `X-AALGATE-USER-ID`), and the
    /// bare name `x-aalgate` is stripped too.
    pub fn strips(name: &str) -> bool {
        let stem = IDENTITY_HEADER_PREFIX.trim_end_matches('-').as_bytes();
        let bytes = name.as_bytes();
        let same =
            |a: u8, b: u8| a.eq_ignore_ascii_case(&b) || (matches!(a, b'-' | b'_') && b == b'-');
        bytes.len() >= stem.len()
            && bytes.iter().zip(stem).all(|(a, b)| same(*a, *b))
            && matches!(bytes.get(stem.len()), None | Some(b'-' | b'_'))
    }
}

/// What to do with a request.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Send it upstream.
    Forward(Forward),
    /// Answer it with this refusal; the upstream never sees it.
    Reject(Rejection),
    /// The gate's own endpoint answers (the token exchange: a token, a preflight, or its refusal, which
    /// `report_only` does not turn into a forward: there is nothing upstream to forward to).
    Answer(Rejection),
}

/// One decision and its log record.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The decision.
    pub decision: Decision,
    /// The log record (see [`Verdict::log_line`]).
    pub log: DecisionLog,
    /// Each step taken, for `aalgate explain`.
    pub steps: Vec<String>,
}

/// The facts of a decision that are logged (never token contents; the user id only if configured).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecisionLog {
    /// `forward` or `reject`.
    pub decision: &'static str,
    /// The refusal code (also set in report-only mode, where the request was forwarded).
    pub code: Option<&'static str>,
    /// The route rule's name.
    pub route: String,
    /// The request method.
    pub method: String,
    /// The token's aal, when a token was verified.
    pub aal: Option<&'static str>,
    /// The enrollment fact, when the policy needed it.
    pub enrolled: Option<bool>,
    /// Where that fact came from: `claim` or `auth_api`.
    pub enrollment_source: Option<&'static str>,
    /// Whether the token came from the verified-token cache.
    pub cached: bool,
    /// The user id (`sub`), only with `log.user_id = true`.
    pub user: Option<String>,
}

impl Verdict {
    /// One JSON line for the decision; `duration_us` is measured by the adapter.
    pub fn log_line(&self, duration_us: Option<u64>) -> String {
        let l = &self.log;
        let mut v = json!({
            "aalgate": "decision",
            "decision": l.decision,
            "code": l.code,
            "route": l.route,
            "method": l.method,
            "aal": l.aal,
            "enrolled": l.enrolled,
            "cached": l.cached,
        });
        if let Some(source) = l.enrollment_source {
            v["enrollment_source"] = Value::String(source.into());
        }
        if let Some(user) = &l.user {
            v["user"] = Value::String(user.clone());
        }
        if let Some(d) = duration_us {
            v["duration_us"] = json!(d);
        }
        v.to_string()
    }
}

/// What [`Gate::decide`] needs next.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // `Done` is the common case; boxing it would cost every request.
pub enum Outcome {
    /// The decision.
    Done(Verdict),
    /// Fetch these JWKS URLs, report the results to [`Gate::keys_mut`], and call `decide` again.
    FetchKeys(Vec<(String, FetchReason)>),
    /// Check this signature (only with [`Gate::with_external_signatures`]), report it with
    /// [`Gate::signature_checked`], and call `decide` again.
    VerifySignature(SignatureJob),
    /// Ask Supabase Auth whether the user has a verified factor (`GET` the job's URL with its
    /// headers), report the answer with [`Gate::enrollment_checked`], and call `decide` again.
    LookupEnrollment(EnrollmentJob),
    /// Another request is asking Auth about this user: call `decide` again after this many
    /// milliseconds, on this request's own timer (Workers forbid awaiting another request's promise).
    Wait(u32),
}

/// Material the adapter read at load time (the core reads no files and no environment).
#[derive(Clone, Default)]
pub struct Resources {
    /// The HS256 secret (from `keys.hs256_secret_env` or `keys.hs256_secret_file`), for the Supabase issuer.
    pub hs256_secret: Option<Vec<u8>>,
    /// Contents of `jwks_file` per issuer, in [`GateConfig::issuers`] order (`None` where there is none).
    pub jwks_files: Vec<Option<Vec<u8>>>,
    /// The token exchange's private signing key: a JWK, or a signing-keys file (its `sign` key).
    pub exchange_signing_key: Option<Vec<u8>>,
    /// The proof secret (from `forward.proof_secret_env`), for gate-only mode.
    pub proof_secret: Option<Vec<u8>>,
}

/// Secrets: `Debug` says only what is present.
impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resources")
            .field("hs256_secret", &self.hs256_secret.as_ref().map(|_| "…"))
            .field("jwks_files", &self.jwks_files.len())
            .field(
                "exchange_signing_key",
                &self.exchange_signing_key.as_ref().map(|_| "…"),
            )
            .field("proof_secret", &self.proof_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The gate. Build once (per isolate), call [`Gate::decide`] per request.
pub struct Gate {
    config: GateConfig,
    keys: KeyStore,
    cache: TokenCache,
    /// `None`: asymmetric signatures are checked by the adapter ([`Outcome::VerifySignature`]).
    provider: Option<Box<dyn SignatureProvider>>,
    concluded: HashMap<TokenDigest, Result<VerifiedToken>>,
    enrollment: EnrollmentStore,
    exchange: Option<ExchangeState>,
    /// Gate-only mode's secret (see [`proof`]).
    proof_secret: Option<Vec<u8>>,
    memo: credentials::ClassificationMemo,
    trace: bool,
}

struct StoreAt<'a> {
    store: &'a KeyStore,
    now: u64,
}

impl KeySource for StoreAt<'_> {
    fn select_key(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        payload: &[u8],
    ) -> Result<(&KeyEntry, Option<&str>)> {
        self.store
            .select(alg, kid, payload, self.now)
            .map(|(k, iss)| (k, Some(iss)))
    }
}

/// What one token is verified against: a key store, its rules, and where the adapter's signature
/// verdicts wait. The project's routes and each exchange provider have their own; the steps are the
/// same for all.
struct Verification<'a> {
    keys: &'a mut KeyStore,
    validation: &'a Validation,
    concluded: &'a mut HashMap<TokenDigest, Result<VerifiedToken>>,
    /// `None`: asymmetric signatures are checked by the adapter ([`Outcome::VerifySignature`]).
    provider: Option<&'a dyn SignatureProvider>,
    /// Carried by a signature job, so its verdict comes back to the right place.
    exchange_provider: Option<usize>,
    /// The refusal's context when no keys could be fetched.
    keys_unavailable: &'static str,
}

impl Verification<'_> {
    /// Full verification of a token not in the cache: keys (maybe a fetch first), signature (maybe by
    /// the adapter), claims.
    fn run(
        self,
        token: &str,
        digest: TokenDigest,
        now: u64,
    ) -> std::result::Result<VerifiedToken, Step> {
        // A verdict the adapter delivered for this exact token. It may be older than this request (a
        // concurrent request for the same token delivered it), so the time-dependent claims and the
        // key are checked again, as on a cache hit.
        let concluded = self.concluded.remove(&digest).map(|result| {
            result.and_then(|v| {
                self.validation.check(v.claims(), now)?;
                if !self.keys.has_fingerprint(v.key_fingerprint(), now) {
                    return Err(Error::new(
                        Code::KeyUnknown,
                        "the key that verified the token is gone",
                    ));
                }
                Ok(v)
            })
        });
        let result = match concluded {
            Some(result) => result,
            None => {
                let due = self.keys.due(now);
                if !due.is_empty() {
                    return Err(Step::Fetch(due));
                }
                let source = StoreAt {
                    store: self.keys,
                    now,
                };
                match prepare(token, &source, self.validation) {
                    Ok(pending) => match (self.provider, pending.key()) {
                        // HMAC is cheap everywhere; only asymmetric checks go out to the adapter.
                        (provider @ Some(_), _) | (provider @ None, VerifyingKey::Hs256(_)) => {
                            let provider: &dyn SignatureProvider =
                                provider.unwrap_or(&NativeProvider);
                            let valid = provider.verify(
                                pending.key(),
                                pending.message(),
                                pending.signature(),
                            );
                            pending
                                .conclude(valid)
                                .and_then(|signed| validate_claims(signed, self.validation, now))
                        }
                        (None, _) => {
                            return Err(Step::Verify(Box::new(SignatureJob {
                                digest,
                                pending,
                                provider: self.exchange_provider,
                            })))
                        }
                    },
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) if e.code() == Code::KeyUnknown => {
                let due = self.keys.due_for_unknown_kid(now);
                if !due.is_empty() {
                    return Err(Step::Fetch(due));
                }
                if self.keys.missing_remote(now) {
                    return Err(Step::Reject(Error::new(
                        Code::JwksUnavailable,
                        self.keys_unavailable,
                    )));
                }
                Err(Step::Reject(e))
            }
            Err(e) => Err(Step::Reject(e)),
        }
    }
}

fn local_keys(
    doc: &[u8],
    field: &str,
    warnings: &mut Vec<String>,
) -> std::result::Result<KeySet, ConfigError> {
    let (set, skipped) =
        KeySet::from_jwks(doc).map_err(|e| ConfigError::new(field, e.context().to_owned()))?;
    let reasons: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    if set.is_empty() {
        return Err(ConfigError::new(
            field,
            format!(
                "no usable key ({})",
                if reasons.is_empty() {
                    "empty".into()
                } else {
                    reasons.join("; ")
                }
            ),
        ));
    }
    warnings.extend(reasons.into_iter().map(|r| format!("{field}: skipped {r}")));
    Ok(set)
}

impl Gate {
    /// Builds a gate with the native signature provider. Returns warnings (skipped keys) beside it.
    pub fn new(
        config: GateConfig,
        resources: Resources,
    ) -> std::result::Result<(Gate, Vec<String>), ConfigError> {
        Self::build(config, resources, Some(Box::new(NativeProvider)))
    }

    /// Builds a gate with a given (synchronous) signature provider.
    pub fn with_provider(
        config: GateConfig,
        resources: Resources,
        provider: Box<dyn SignatureProvider>,
    ) -> std::result::Result<(Gate, Vec<String>), ConfigError> {
        Self::build(config, resources, Some(provider))
    }

    /// Builds a gate whose ES256/RS256 signature checks are done by the adapter (WebCrypto), through
    /// [`Outcome::VerifySignature`]; HS256 stays native (it is cheap everywhere).
    pub fn with_external_signatures(
        config: GateConfig,
        resources: Resources,
    ) -> std::result::Result<(Gate, Vec<String>), ConfigError> {
        Self::build(config, resources, None)
    }

    fn build(
        config: GateConfig,
        resources: Resources,
        provider: Option<Box<dyn SignatureProvider>>,
    ) -> std::result::Result<(Gate, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();
        let mut local = Vec::new();
        for (i, issuer) in config.issuers.iter().enumerate() {
            let field = if i == 0 {
                "keys".to_owned()
            } else {
                format!("keys.extra_issuers[{}]", i - 1)
            };
            let mut set = KeySet::new();
            if let Some(inline) = &issuer.jwks_inline {
                set = local_keys(
                    inline.to_string().as_bytes(),
                    &format!("{field}.jwks"),
                    &mut warnings,
                )?;
            }
            if issuer.jwks_file.is_some() {
                let doc = resources
                    .jwks_files
                    .get(i)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| {
                        ConfigError::new(
                            format!("{field}.jwks_file"),
                            "was not read by the adapter",
                        )
                    })?;
                set = local_keys(doc, &format!("{field}.jwks_file"), &mut warnings)?;
            }
            if i == 0 {
                if let Some(secret) = &resources.hs256_secret {
                    let secret = HmacSecret::new(secret.clone()).map_err(|len| {
                        ConfigError::new(
                            "keys.hs256_secret",
                            format!("is {len} bytes; at least 32 are required"),
                        )
                    })?;
                    set.push(KeyEntry::new(None, VerifyingKey::Hs256(secret)));
                } else if config.hs256_secret_env.is_some() || config.hs256_secret_file.is_some() {
                    return Err(ConfigError::new(
                        "keys.hs256_secret",
                        "is configured but was not provided",
                    ));
                }
            }
            local.push(set);
        }
        let keys = KeyStore::new(&config.issuers, local, config.jwks_timing);
        let exchange = config
            .exchange
            .as_ref()
            .map(|x| ExchangeState::new(x, &resources, config.jwks_timing, &mut warnings))
            .transpose()?;
        let cache = TokenCache::new(config.cache_max_entries, config.cache_max_bytes);
        let proof_secret = match (&config.proof_secret_env, resources.proof_secret) {
            (None, _) => None,
            (Some(name), None) => {
                return Err(ConfigError::new(
                    "forward.proof_secret_env",
                    format!("names `{name}`, which is not set"),
                ))
            }
            (Some(_), Some(s)) if s.len() < proof::MIN_SECRET_BYTES => {
                return Err(ConfigError::new(
                    "forward.proof_secret_env",
                    format!(
                        "the secret is {} bytes; at least {} are required",
                        s.len(),
                        proof::MIN_SECRET_BYTES
                    ),
                ))
            }
            (Some(_), Some(s)) => Some(s),
        };
        Ok((
            Gate {
                config,
                keys,
                cache,
                provider,
                concluded: HashMap::new(),
                enrollment: EnrollmentStore::default(),
                exchange,
                proof_secret,
                memo: credentials::ClassificationMemo::default(),
                trace: false,
            },
            warnings,
        ))
    }

    /// A refusal verdict for `error` (adapters use it when they must fail closed on their own).
    pub fn reject_now(&self, error: &Error, req: &Request<'_>) -> Verdict {
        let rejection = reject_with_cors(error, &self.config.cors_allow_origin);
        if self.config.mode == Mode::ReportOnly {
            let run = Run {
                steps: self.trace.then(|| {
                    vec![format!(
                        "refuse: {} {} (report_only: forwarding anyway)",
                        rejection.status, rejection.code
                    )]
                }),
                log: DecisionLog {
                    code: Some(rejection.code),
                    method: log_method(req.method),
                    ..DecisionLog::default()
                },
            };
            return self.forward(Identity::Anonymous, Some(rejection), run);
        }
        Verdict {
            log: DecisionLog {
                decision: "reject",
                code: Some(rejection.code),
                method: log_method(req.method),
                ..DecisionLog::default()
            },
            steps: vec![format!("refuse: {} {}", rejection.status, rejection.code)],
            decision: Decision::Reject(rejection),
        }
    }

    /// Record each step of every decision in [`Verdict::steps`] (for `aalgate explain`; off by default
    /// because formatting the steps costs allocations on every request).
    pub fn set_tracing(&mut self, on: bool) {
        self.trace = on;
    }

    /// The configuration.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// The key store, for the adapter to report JWKS fetches.
    pub fn keys_mut(&mut self) -> &mut KeyStore {
        &mut self.keys
    }

    /// The key store.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// The verified-token cache.
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// Decides `req` at `now` (seconds since the epoch).
    pub fn decide(&mut self, req: &Request<'_>, now: u64) -> Outcome {
        let mut run = Run {
            steps: self.trace.then(Vec::new),
            log: DecisionLog {
                method: log_method(req.method),
                ..DecisionLog::default()
            },
        };
        match self.pipeline(req, now, &mut run) {
            Step::Fetch(urls) => Outcome::FetchKeys(urls),
            Step::Verify(job) => Outcome::VerifySignature(*job),
            Step::Lookup(job) => Outcome::LookupEnrollment(*job),
            Step::Wait(ms) => Outcome::Wait(ms),
            Step::Answer(answer) => {
                run.log.decision = "answer";
                run.log.code = Some(answer.code);
                run.step(|| format!("answer: {} {}", answer.status, answer.code));
                Outcome::Done(Verdict {
                    decision: Decision::Answer(answer),
                    log: run.log,
                    steps: run.steps.unwrap_or_default(),
                })
            }
            Step::Forward(identity) => {
                let mut verdict = self.forward(identity, None, run);
                self.add_proof(&mut verdict, req, now);
                Outcome::Done(verdict)
            }
            Step::Reject(error) => {
                let rejection = reject_with_cors(&error, &self.config.cors_allow_origin);
                run.log.code = Some(rejection.code);
                run.step(|| {
                    format!(
                        "refuse: {} {} ({})",
                        rejection.status,
                        rejection.code,
                        error.context()
                    )
                });
                if self.config.mode == Mode::ReportOnly {
                    run.step(|| "report_only: forwarding anyway".into());
                    let mut verdict = self.forward(Identity::Anonymous, Some(rejection), run);
                    self.add_proof(&mut verdict, req, now);
                    Outcome::Done(verdict)
                } else {
                    run.log.decision = "reject";
                    Outcome::Done(Verdict {
                        decision: Decision::Reject(rejection),
                        log: run.log,
                        steps: run.steps.unwrap_or_default(),
                    })
                }
            }
        }
    }

    /// Gate-only mode: a Data API request the gate lets through carries its proof.
    fn add_proof(&self, verdict: &mut Verdict, req: &Request<'_>, now: u64) {
        let (Some(secret), Decision::Forward(f)) = (&self.proof_secret, &mut verdict.decision)
        else {
            return;
        };
        if let Some(path) = proof::data_api_path(req.path) {
            f.add_headers.push((
                proof::PROOF_HEADER.to_owned(),
                proof::sign(secret, now, req.method, path),
            ));
        }
    }

    fn forward(
        &self,
        identity: Identity,
        would_reject: Option<Rejection>,
        mut run: Run,
    ) -> Verdict {
        run.log.decision = "forward";
        let mut add_headers = Vec::new();
        if let Identity::User(token) = &identity {
            let c = token.claims();
            if self.config.log_user_id {
                run.log.user = c.sub.clone();
            }
            if self.config.identity_headers {
                let mut add = |name: &str, value: Option<&str>| {
                    if let Some(v) =
                        value.filter(|v| v.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
                    {
                        add_headers.push((format!("{IDENTITY_HEADER_PREFIX}{name}"), v.to_owned()));
                    }
                };
                add("user-id", c.sub.as_deref());
                add("role", c.role.as_deref());
                add("aal", Some(c.aal.as_str()));
                add("session-id", c.session_id.as_deref());
            }
        }
        run.step(|| {
            format!(
                "forward upstream (inbound {IDENTITY_HEADER_PREFIX}* headers stripped{})",
                if add_headers.is_empty() {
                    String::new()
                } else {
                    format!(", {} identity headers added", add_headers.len())
                }
            )
        });
        Verdict {
            decision: Decision::Forward(Forward {
                identity,
                add_headers,
                would_reject,
            }),
            log: run.log,
            steps: run.steps.unwrap_or_default(),
        }
    }

    fn route(&self, method: &str, path: &str) -> &Arc<RouteRule> {
        self.config
            .routes
            .iter()
            .find(|r| r.applies(method, path))
            .unwrap_or(&self.config.fallback)
    }

    fn pipeline(&mut self, req: &Request<'_>, now: u64, run: &mut Run) -> Step {
        let method = req.method.to_ascii_uppercase();
        let path = match route::normalize_path(req.path) {
            Ok(p) => p,
            Err(why) => {
                run.log.route = "invalid-path".into();
                return Step::Reject(Error::new(Code::PathInvalid, why));
            }
        };
        // 0. The gate's own token exchange endpoint.
        if let Some(path_is_exchange) = self.config.exchange.as_ref().map(|x| x.path == path) {
            if path_is_exchange {
                run.log.route = "exchange".into();
                return self.exchange_step(req, &method, now, run);
            }
        }
        // 1. CORS preflight is never blocked. Browsers send it without credentials; an OPTIONS request
        // that carries some is not a preflight and goes through the checks like any other request.
        let presented = credentials::extract(
            req,
            &path,
            self.config.validation.max_token_bytes,
            &mut self.memo,
        );
        if method == "OPTIONS"
            && req.has_header("access-control-request-method")
            && !presented.any()
        {
            run.log.route = "preflight".into();
            run.step(|| "CORS preflight: passes unchecked".into());
            return Step::Forward(Identity::Anonymous);
        }
        let rule = self.route(&method, &path).clone();
        run.log.route = rule.name.clone();
        run.step(|| {
            format!(
                "route: `{}` ({} {}) matched {} {}",
                rule.name,
                pattern_methods(&rule),
                rule.pattern.as_str(),
                req.method,
                path
            )
        });

        // 2. Credentials, from every place a service behind the gate reads them (found above).
        let exempt = rule.auth == AuthRequirement::None;
        if let (false, Some(problem)) = (exempt, &presented.problem) {
            return Step::Reject(problem.clone());
        }
        if presented.service && !rule.allow_service_keys {
            // On exempt routes too: a secret-level credential is never usable from the public
            // internet unless a route says so.
            return Step::Reject(Error::new(
                Code::ServiceKeyForbidden,
                format!("route `{}` does not allow service keys", rule.name),
            ));
        }
        if exempt {
            run.step(|| "route is exempt (auth = none): passes unchecked".into());
            return Step::Forward(Identity::Anonymous);
        }
        if presented.form_credentials && !rule.allow_form_credentials {
            return Step::Reject(Error::new(
                Code::FormCredentialsUnsupported,
                format!(
                    "route `{}` does not allow S3 POST-policy uploads (their credentials travel in the form body, which the gate does not read)",
                    rule.name
                ),
            ));
        }
        let api_key = presented.api_key.clone();
        let token = match presented.credentials() {
            Err(e) => return Step::Reject(e),
            Ok(Credentials::Service) => {
                run.step(|| {
                    "credentials: service key (sb_secret_…, service_role key or S3 access key)"
                        .into()
                });
                return Step::Forward(Identity::Service);
            }
            Ok(Credentials::Anonymous) => {
                run.step(|| "credentials: no user (no token, publishable key or anon key)".into());
                return if rule.auth == AuthRequirement::Required {
                    Step::Reject(Error::new(
                        Code::TokenMissing,
                        format!("route `{}` requires a user token", rule.name),
                    ))
                } else {
                    run.step(|| {
                        "anonymous request on an auth = optional route: RLS decides".into()
                    });
                    Step::Forward(Identity::Anonymous)
                };
            }
            Ok(Credentials::User { token, .. }) => token,
        };
        let token: &str = &token;
        run.step(|| "credentials: user access token".into());

        // 3–6. Verification, from the cache when the exact token was verified before.
        let digest = TokenCache::digest(token);
        let verified = match self
            .cache
            .get(&digest, now, self.config.validation.leeway, &self.keys)
        {
            Some(hit) => {
                run.log.cached = true;
                run.step(|| "token: verified before (cache hit; exp and key rechecked)".into());
                hit
            }
            None => match self.verify_token(token, digest, now) {
                Ok(v) => {
                    run.step(|| {
                        format!(
                            "token: signature and claims verified ({}, aal {})",
                            v.header().alg(),
                            v.claims().aal.as_str()
                        )
                    });
                    self.cache.insert(digest, Arc::clone(&v), token.len());
                    v
                }
                Err(step) => return step,
            },
        };
        run.log.aal = Some(verified.claims().aal.as_str());

        // 7. A backend service's own role: its scopes replace the route's user rules.
        let role = verified.claims().role.as_deref().unwrap_or("");
        if let Some(service) = self.config.service_roles.iter().find(|s| s.role == role) {
            return match policy::check_service(service, &method, &path, &verified) {
                Ok(()) => {
                    run.step(|| format!("service role `{role}`: within its scopes"));
                    Step::Forward(Identity::User(verified))
                }
                Err(e) => Step::Reject(e),
            };
        }

        // 8. Access rules that need no enrollment fact: what they refuse never causes an Auth lookup.
        if let Err(e) = policy::check_access(&rule, &verified, &self.config, now) {
            return Step::Reject(e);
        }

        // 9. The enrollment fact, when the route needs it (may take an Auth lookup first).
        let enrolled = if policy::needs_enrollment(&rule, verified.claims()) {
            // Tokens the exchange minted are for users Supabase Auth does not know: their claim decides.
            let minted = match (&self.exchange, &self.config.exchange) {
                (Some(x), Some(c)) => x.minted(&verified, &c.issuer),
                _ => false,
            };
            let from_project =
                !minted && verified.claims().iss.as_deref() == Some(self.config.supabase_issuer());
            let creds = LookupCredentials {
                token,
                apikey: api_key.as_deref(),
            };
            let cfg = &self.config.enrollment;
            match self
                .enrollment
                .fact(cfg, verified.claims(), from_project, &creds, now)
            {
                Fact::Known(enrolled, source) => {
                    run.log.enrollment_source = Some(source.as_str());
                    run.step(|| match source {
                        FactSource::Claim => {
                            format!("enrollment: claim `{}` = {enrolled}", cfg.claim.join("."))
                        }
                        FactSource::Api => format!("enrollment: Auth API says {enrolled}"),
                    });
                    Some(enrolled)
                }
                Fact::Unknown => None,
                Fact::Failed => match cfg.on_api_failure {
                    OnApiFailure::Refuse => {
                        return Step::Reject(Error::new(
                            Code::EnrollmentUnavailable,
                            "the Auth API lookup of the user's factors failed",
                        ))
                    }
                    OnApiFailure::TreatAsEnrolled => Some(true),
                    OnApiFailure::TreatAsNotEnrolled => Some(false),
                },
                // Not an Auth outage: never subject to `on_api_failure`.
                Fact::Rejected => {
                    return Step::Reject(Error::new(
                        Code::TokenRejected,
                        "Supabase Auth refused the token or its apikey when asked for the user's factors",
                    ))
                }
                Fact::NoApiKey => {
                    return Step::Reject(Error::new(
                        Code::ApikeyRequired,
                        "the route needs Auth's answer about the user's MFA factors, and neither the request nor enrollment.api_key gives an apikey",
                    ))
                }
                Fact::Lookup(job) => {
                    run.step(|| format!("enrollment: ask Auth ({})", job.url()));
                    return Step::Lookup(Box::new(job));
                }
                Fact::Wait(ms) => return Step::Wait(ms),
            }
        } else {
            None
        };

        // 10. Assurance: aal (with the enrollment fact) and MFA recency.
        let (result, facts) =
            policy::check_assurance(&rule, &verified, &self.config, enrolled, now);
        run.log.enrolled = facts.enrolled;
        match result {
            Ok(()) => {
                run.step(|| format!("policy: route `{}` satisfied", rule.name));
                Step::Forward(Identity::User(verified))
            }
            Err(e) => Step::Reject(e),
        }
    }
}

/// The method for logs: known methods as they are, anything else (attacker-chosen) as `OTHER`.
fn log_method(method: &str) -> String {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    let upper = method.to_ascii_uppercase();
    if KNOWN.contains(&upper.as_str()) {
        upper
    } else {
        "OTHER".into()
    }
}

impl Gate {
    /// Full verification of a token not in the cache: keys (maybe a fetch first), signature (maybe by the
    /// adapter), claims.
    fn verify_token(
        &mut self,
        token: &str,
        digest: TokenDigest,
        now: u64,
    ) -> std::result::Result<Arc<VerifiedToken>, Step> {
        Verification {
            keys: &mut self.keys,
            validation: &self.config.validation,
            concluded: &mut self.concluded,
            provider: self.provider.as_deref(),
            exchange_provider: None,
            keys_unavailable: "no signing keys could be fetched",
        }
        .run(token, digest, now)
        .map(Arc::new)
    }

    /// Records a JWKS fetched for an [`Outcome::FetchKeys`] URL, in whichever key store asked for it
    /// (the project's issuers, or an exchange provider's).
    pub fn jwks_fetched(
        &mut self,
        url: &str,
        body: &[u8],
        max_age: Option<u64>,
        now: u64,
    ) -> Result<Vec<crate::keys::SkippedKey>> {
        // Every store that fetches this URL gets it (providers may share a JWKS URL).
        let mut result = None;
        if let Some(x) = self.exchange.as_mut() {
            for store in x.stores_for(url) {
                result = Some(store.fetched(url, body, max_age, now));
            }
        }
        if self.keys.fetches(url) || result.is_none() {
            result = Some(self.keys.fetched(url, body, max_age, now));
        }
        result.expect("set above")
    }

    /// Records a failed fetch of an [`Outcome::FetchKeys`] URL.
    pub fn jwks_fetch_failed(&mut self, url: &str, now: u64) {
        if let Some(x) = self.exchange.as_mut() {
            for store in x.stores_for(url) {
                store.fetch_failed(url, now);
            }
        }
        self.keys.fetch_failed(url, now);
    }

    /// Delivers the adapter's answer to an [`Outcome::LookupEnrollment`] job: the HTTP status and body,
    /// or `None` when the request failed (network, timeout, too large). Returns the fact, or why the
    /// answer was unusable (for the adapter's log; never for clients).
    pub fn enrollment_checked(
        &mut self,
        job: EnrollmentJob,
        response: Option<(u16, &[u8])>,
        now: u64,
    ) -> std::result::Result<bool, LookupFailure> {
        let result = match response {
            Some((status, body)) => enrollment::read_user_response(status, body, job.sub()),
            None => Err(LookupFailure::Unavailable(
                "no answer (network error or timeout)".into(),
            )),
        };
        let cfg = &self.config.enrollment;
        self.enrollment.answered(cfg, &job, &result, now);
        result
    }

    /// Delivers the adapter's verdict for an [`Outcome::VerifySignature`] job. The next
    /// [`Gate::decide`] for the same request uses it (and caches the token if it is valid).
    ///
    /// `valid` must be the verdict of a real signature check of `job.message()` / `job.signature()`
    /// under `job.key()`: the gate trusts it.
    pub fn signature_checked(&mut self, job: SignatureJob, valid: bool, now: u64) {
        let (validation, concluded) = match job.provider {
            None => (&self.config.validation, &mut self.concluded),
            Some(i) => match (&self.config.exchange, &mut self.exchange) {
                (Some(cfg), Some(x)) => (&cfg.providers[i].validation, &mut x.concluded),
                _ => return,
            },
        };
        let result = job
            .pending
            .conclude(valid)
            .and_then(|signed| validate_claims(signed, validation, now));
        // Verdicts wait only for the very next decide of their request; bound the map anyway.
        if concluded.len() >= 1024 {
            concluded.clear();
        }
        concluded.insert(job.digest, result);
    }
}

/// A signature the adapter must check (asynchronous providers such as WebCrypto).
#[derive(Clone, Debug)]
pub struct SignatureJob {
    digest: TokenDigest,
    pending: PendingSignature,
    /// The exchange provider whose token this is (`None`: a token for the project's routes).
    provider: Option<usize>,
}

impl SignatureJob {
    /// The key (ES256 or RS256) to verify with.
    pub fn key(&self) -> &VerifyingKey {
        self.pending.key()
    }

    /// Fingerprint of the key, for caching imported keys.
    pub fn key_fingerprint(&self) -> &[u8; 32] {
        self.pending.key_fingerprint()
    }

    /// The signed bytes.
    pub fn message(&self) -> &[u8] {
        self.pending.message()
    }

    /// The signature (shape already checked: 64-byte r‖s for ES256, modulus length for RS256).
    pub fn signature(&self) -> &[u8] {
        self.pending.signature()
    }
}

fn pattern_methods(rule: &RouteRule) -> String {
    if rule.methods.is_empty() {
        "any method".into()
    } else {
        rule.methods.join("|")
    }
}

struct Run {
    /// `None` unless tracing: formatting each step costs allocations on every request.
    steps: Option<Vec<String>>,
    log: DecisionLog,
}

impl Run {
    fn step(&mut self, text: impl FnOnce() -> String) {
        if let Some(steps) = &mut self.steps {
            steps.push(text());
        }
    }
}

enum Step {
    Forward(Identity),
    Reject(Error),
    Fetch(Vec<(String, FetchReason)>),
    Verify(Box<SignatureJob>),
    Lookup(Box<EnrollmentJob>),
    Wait(u32),
    Answer(Rejection),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn giving_up_in_report_only_mode_still_forwards() {
        let cfg = GateConfig::from_json(
            r#"{"supabase_url": "https://abcdefghijklmnopqrst.supabase.co", "mode": "report_only"}"#,
        )
        .unwrap();
        let gate = Gate::new(cfg, Resources::default()).unwrap().0;
        let headers = [("authorization", "Bearer x")];
        let req = Request {
            method: "GET",
            path: "/rest/v1/todos",
            query: "",
            headers: &headers,
        };
        let v = gate.reject_now(&Error::new(Code::EnrollmentUnavailable, "gave up"), &req);
        match &v.decision {
            Decision::Forward(f) => assert_eq!(
                f.would_reject.as_ref().map(|r| r.code),
                Some("enrollment_unavailable")
            ),
            Decision::Reject(_) | Decision::Answer(_) => panic!("report_only must forward"),
        }
    }
}
