//! Full verification of one token not in the cache, against one key store and one set of rules: the
//! project's routes and each exchange provider have their own, and the steps are the same for all.

use super::cache::TokenDigest;
use super::keystore::{Due, KeyStore};
use super::outcome::{SignatureJob, Step};
use crate::crypto::{NativeProvider, SignatureProvider};
use crate::error::{Code, Error, Result};
use crate::exchange::settings::ProviderId;
use crate::keys::{KeyEntry, VerifyingKey};
use crate::validation::Validation;
use crate::verify::{prepare, validate_claims, KeySource, PendingSignature, VerifiedToken};
use crate::Algorithm;
use std::collections::HashMap;

/// Signature verdicts the adapter delivered, waiting for the next `decide` of their request.
pub(crate) type Concluded = HashMap<TokenDigest, Result<VerifiedToken>>;

/// The key store at one instant, for the issuer one token claims ([`KeyStore::claimed_issuer`]).
struct StoreAt<'a> {
    store: &'a KeyStore,
    claimed: Option<&'a str>,
    now: u64,
}

impl KeySource for StoreAt<'_> {
    fn select_key(&self, alg: Algorithm, kid: Option<&str>) -> Result<(&KeyEntry, Option<&str>)> {
        self.store
            .select(alg, kid, self.claimed, self.now)
            .map(|(k, iss)| (k, Some(iss)))
    }
}

/// What one token is verified against: a key store, its rules, and where the adapter's signature
/// verdicts wait.
pub(crate) struct Verification<'a> {
    pub(crate) keys: &'a mut KeyStore,
    pub(crate) validation: &'a Validation,
    pub(crate) concluded: &'a mut Concluded,
    /// `None`: asymmetric signatures are checked by the adapter ([`super::Outcome::VerifySignature`]).
    pub(crate) provider: Option<&'a dyn SignatureProvider>,
    /// Carried by a signature job, so its verdict comes back to the right place.
    pub(crate) exchange_provider: Option<ProviderId>,
    /// The refusal's context when no keys could be fetched.
    pub(crate) keys_unavailable: &'static str,
}

impl Verification<'_> {
    /// Full verification of a token not in the cache: keys (maybe a fetch first), signature (maybe by
    /// the adapter), claims.
    pub(crate) fn run(
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
                if !self
                    .keys
                    .still_vouches(v.key_fingerprint(), v.claims().iss.as_deref(), now)
                {
                    return Err(Error::new(
                        Code::KeyUnknown,
                        "the key that verified the token is gone",
                    ));
                }
                Ok(v)
            })
        });
        // Read once per token: which issuer's keys are looked at and fetched (see `KeyStore::select`).
        let claimed = self.keys.claimed_issuer(token);
        let result = match concluded {
            Some(result) => result,
            None => {
                step(self.keys.due(now, claimed.as_deref()))?;
                let source = StoreAt {
                    store: self.keys,
                    claimed: claimed.as_deref(),
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
                            finish(pending, valid, self.validation, now)
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
                step(self.keys.due_for_unknown_kid(now, claimed.as_deref()))?;
                if self.keys.missing_remote(now, claimed.as_deref()) {
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

/// What the key store asks for, as the decision's next step (nothing: go on).
fn step(due: Due) -> std::result::Result<(), Step> {
    match due {
        Due::Nothing => Ok(()),
        Due::Fetch(urls) => Err(Step::Fetch(urls)),
        Due::Wait(ms) => Err(Step::Wait(ms, Code::JwksUnavailable)),
    }
}

/// Concludes an adapter's signature verdict into `concluded`, for the next `decide` of its request.
pub(crate) fn conclude(
    job: SignatureJob,
    valid: bool,
    validation: &Validation,
    concluded: &mut Concluded,
    now: u64,
) {
    let result = finish(job.pending, valid, validation, now);
    // Verdicts wait only for the very next decide of their request; bound the map anyway.
    if concluded.len() >= 1024 {
        concluded.clear();
    }
    concluded.insert(job.digest, result);
}

/// A signature verdict, then the claims: the same end for a native check and an adapter's.
fn finish(
    pending: PendingSignature,
    valid: bool,
    validation: &Validation,
    now: u64,
) -> Result<VerifiedToken> {
    pending
        .conclude(valid)
        .and_then(|signed| validate_claims(signed, validation, now))
}
