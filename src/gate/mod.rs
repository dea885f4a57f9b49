//! The gate: one decision for one HTTP request, with no I/O.
//!
//! Build a [`Gate`] once (per isolate) from a validated [`crate::config::GateConfig`], then call
//! [`Gate::decide`] per request. I/O is an explicit step: `decide` answers an [`Outcome`] ticket when a
//! JWKS must be fetched, a signature checked by the adapter (WebCrypto) or Auth asked about the user's
//! factors; the adapter does it, reports through this file's reporting API, and calls `decide` again.
//! This keeps the core free of async and lets each request do its own I/O (Workers forbid awaiting
//! another request's promise).
//!
//! Rooms: [`pipeline`] (the steps, in order), [`request`] (what is judged), [`verdict`] (what was
//! decided), [`outcome`] (the I/O tickets), [`credentials`] (every place a credential is read),
//! [`route`] and [`requirement`] (what a path requires), [`policy`] (the checks on a verified token),
//! [`keystore`] and [`cache`] (keys and verified tokens), [`enrollment`] (the enrollment fact),
//! [`forwarding`] (which headers go upstream), [`proof`] (gate-only mode), [`realtime_transport`]
//! (which Realtime paths pass), [`resources`] (what the
//! adapter read at load time), [`verification`] (one token against one key store).

pub mod cache;
pub mod credentials;
pub mod enrollment;
pub mod forwarding;
pub mod keystore;
pub mod outcome;
mod percent;
mod pipeline;
pub mod policy;
pub mod proof;
pub mod realtime_transport;
pub mod request;
pub mod requirement;
pub mod resources;
pub mod route;
pub mod verdict;
pub(crate) mod verification;

pub use outcome::{Outcome, SignatureJob};
pub use request::Request;
pub use resources::Resources;
pub use verdict::{
    Decision, DecisionLog, Forward, Identity, Mode, Verdict, IDENTITY_HEADER_PREFIX,
};

use crate::config::GateConfig;
use crate::crypto::{NativeProvider, SignatureProvider};
use crate::error::{ConfigError, Result};
use crate::exchange::Exchange;
use cache::TokenCache;
use credentials::ClassificationMemo;
use enrollment::{EnrollmentJob, EnrollmentStore, LookupFailure};
use keystore::KeyStore;
use verification::Concluded;

/// The gate. Build once (per isolate), call [`Gate::decide`] per request.
pub struct Gate {
    config: GateConfig,
    keys: KeyStore,
    cache: TokenCache,
    /// `None`: asymmetric signatures are checked by the adapter ([`Outcome::VerifySignature`]).
    provider: Option<Box<dyn SignatureProvider>>,
    concluded: Concluded,
    enrollment: EnrollmentStore,
    /// The token exchange (its configuration and its state), when identity providers are configured.
    exchange: Option<Exchange>,
    /// Gate-only mode's secret (see [`proof`]).
    proof_secret: Option<Vec<u8>>,
    memo: ClassificationMemo,
    trace: bool,
}

type Built = std::result::Result<(Gate, Vec<String>), ConfigError>;

impl Gate {
    /// Builds a gate with the native signature provider. Returns warnings (skipped keys) beside it.
    pub fn new(config: GateConfig, resources: Resources) -> Built {
        Self::build(config, resources, Some(Box::new(NativeProvider)))
    }

    /// Builds a gate with a given (synchronous) signature provider.
    pub fn with_provider(
        config: GateConfig,
        resources: Resources,
        provider: Box<dyn SignatureProvider>,
    ) -> Built {
        Self::build(config, resources, Some(provider))
    }

    /// Builds a gate whose ES256/RS256 signature checks are done by the adapter (WebCrypto), through
    /// [`Outcome::VerifySignature`]; HS256 stays native (it is cheap everywhere).
    pub fn with_external_signatures(config: GateConfig, resources: Resources) -> Built {
        Self::build(config, resources, None)
    }

    fn build(
        config: GateConfig,
        resources: Resources,
        provider: Option<Box<dyn SignatureProvider>>,
    ) -> Built {
        let mut warnings = Vec::new();
        let hs256_configured =
            config.hs256_secret_env().is_some() || config.hs256_secret_file().is_some();
        let local = resources::issuer_keys(
            config.issuers(),
            hs256_configured,
            &resources,
            &mut warnings,
        )?;
        let keys = KeyStore::new(config.issuers(), local, config.jwks_timing());
        let exchange = config
            .exchange()
            .map(|x| Exchange::new(x, &resources, config.jwks_timing(), &mut warnings))
            .transpose()?;
        let cache = TokenCache::new(config.cache_max_entries(), config.cache_max_bytes());
        let proof_secret = resources::proof_secret(config.proof_secret_env(), &resources)?;
        Ok((
            Gate {
                config,
                keys,
                cache,
                provider,
                concluded: Concluded::new(),
                enrollment: EnrollmentStore::default(),
                exchange,
                proof_secret,
                memo: ClassificationMemo::default(),
                trace: false,
            },
            warnings,
        ))
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

    /// The project's key store (read only: fetches are reported with [`Gate::jwks_fetched`]).
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// The verified-token cache.
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    // ---- The reporting API: the one way each ticket of an [`Outcome`] is answered. ----

    /// Records a JWKS fetched for an [`Outcome::FetchKeys`] URL, in every key store that fetches it
    /// (the project's issuers, and exchange providers, which may share a JWKS URL).
    pub fn jwks_fetched(
        &mut self,
        url: &str,
        body: &[u8],
        max_age: Option<u64>,
        now: u64,
    ) -> Result<Vec<crate::keys::SkippedKey>> {
        let mut result = None;
        if let Some(x) = self.exchange.as_mut() {
            for store in x.stores_for(url) {
                result = Some(store.fetched(url, body, max_age, now));
            }
        }
        match result {
            Some(r) if !self.keys.fetches(url) => r,
            _ => self.keys.fetched(url, body, max_age, now),
        }
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
        self.enrollment
            .answered(self.config.enrollment(), &job, &result, now);
        result
    }

    /// Delivers the adapter's verdict for an [`Outcome::VerifySignature`] job. The next
    /// [`Gate::decide`] for the same request uses it (and caches the token if it is valid).
    ///
    /// `valid` must be the verdict of a real signature check of `job.message()` / `job.signature()`
    /// under `job.key()`: the gate trusts it.
    pub fn signature_checked(&mut self, job: SignatureJob, valid: bool, now: u64) {
        match job.provider {
            None => verification::conclude(
                job,
                valid,
                self.config.validation(),
                &mut self.concluded,
                now,
            ),
            Some(id) => {
                // A provider job always comes from this gate's exchange: the ticket carries its id.
                if let Some(x) = self.exchange.as_mut() {
                    x.signature_checked(id, job, valid, now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Code, Error};

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
