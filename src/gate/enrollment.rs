//! The enrollment fact: does the user have a verified MFA factor? (DESIGN §1: nothing in a Supabase
//! token says so.) Two sources:
//!
//! - the `mfa_enrolled` claim that the Custom Access Token hook in `sql/` adds at issuance;
//! - Supabase Auth itself, `GET /auth/v1/user` with the user's own token (`factors[].status`), asked by
//!   the adapter when the gate hands out an [`EnrollmentJob`], and cached here per user.
//!
//! A `false` claim is only trusted for a while after `iat` (`false_claim_max_age`): a token minted
//! before the user enrolled keeps saying `false` until it expires, and the API closes that window.
//!
//! Sans I/O like the key store: the gate asks for a lookup, marks it in flight (one per user at most;
//! other requests for that user wait on their own timer, never on another request's promise), and the
//! adapter reports the HTTP answer, which [`read_user_response`] turns into the fact.

use super::config::{EnrollmentConfig, EnrollmentSource};
use crate::claims::Claims;
use lru::LruCache;
use serde_json::Value;
use std::collections::HashMap;
use std::num::NonZeroUsize;

/// Users whose answers are remembered (LRU beyond that).
const MAX_USERS: usize = 10_000;
/// How long a failed lookup is remembered: requests for that user in the meantime get the configured
/// failure behaviour instead of hammering an Auth that is down.
pub const FAILURE_HOLD_SECS: u64 = 5;
/// How often a request waiting for another request's lookup looks again.
pub const WAIT_POLL_MS: u32 = 25;
/// Largest `/auth/v1/user` body read (a user with many identities is a few KiB).
pub const MAX_USER_BYTES: usize = 64 * 1024;

/// Where a known fact came from (for logs and `explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactSource {
    /// The token's claim.
    Claim,
    /// An Auth API answer this request asked for or found cached.
    Api,
}

impl FactSource {
    /// Name in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FactSource::Claim => "claim",
            FactSource::Api => "auth_api",
        }
    }
}

/// What the gate knows about a user's enrollment for one decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// Known.
    Known(bool, FactSource),
    /// Not in the token and no API to ask (claim-only source, or a third-party issuer).
    Unknown,
    /// The API lookup failed recently.
    Failed,
    /// Ask the API (this request does the lookup).
    Lookup(EnrollmentJob),
    /// Another request is asking the API about this user: look again after this many ms.
    Wait(u32),
}

/// A lookup for the adapter: `GET url` with `headers`, within `timeout_ms`, no redirects; report the
/// status and body (or a network failure) with `Gate::enrollment_checked`.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentJob {
    sub: String,
    url: String,
    headers: Vec<(String, String)>,
    timeout_ms: u32,
}

/// Header values carry the user's token: `Debug` shows names only.
impl std::fmt::Debug for EnrollmentJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("EnrollmentJob")
            .field("sub", &self.sub)
            .field("url", &self.url)
            .field("headers", &names)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl EnrollmentJob {
    /// `{supabase_url}/auth/v1/user`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `Authorization: Bearer <the request's token>` and `apikey` (the request's, or the configured
    /// one). They carry credentials: never log them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Give up after this long.
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// The user asked about.
    pub fn sub(&self) -> &str {
        &self.sub
    }
}

#[derive(Clone, Copy, Debug)]
enum Entry {
    Known { enrolled: bool, until: u64 },
    Failed { until: u64 },
}

/// Per-user API answers and lookups in flight.
pub struct EnrollmentStore {
    answers: LruCache<String, Entry>,
    /// sub → when the lookup may be considered lost (the adapter never reported back).
    in_flight: HashMap<String, u64>,
}

impl Default for EnrollmentStore {
    fn default() -> Self {
        EnrollmentStore {
            answers: LruCache::new(NonZeroUsize::new(MAX_USERS).expect("non-zero")),
            in_flight: HashMap::new(),
        }
    }
}

/// The request's credentials the lookup reuses.
pub struct LookupCredentials<'a> {
    /// The verified user token.
    pub token: &'a str,
    /// The request's `apikey` header, if any.
    pub apikey: Option<&'a str>,
}

impl EnrollmentStore {
    /// Number of users with a remembered answer.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The enrollment fact for a verified token whose route needs it.
    /// `from_project`: the token was issued by the project's own Auth (only then can the API be asked).
    pub fn fact(
        &mut self,
        cfg: &EnrollmentConfig,
        claims: &Claims,
        from_project: bool,
        creds: &LookupCredentials<'_>,
        now: u64,
    ) -> Fact {
        let claim = claim_at(claims, &cfg.claim).and_then(Value::as_bool);
        let api_usable = from_project && cfg.source != EnrollmentSource::Claim;
        let claim_fact = || claim.map_or(Fact::Unknown, |c| Fact::Known(c, FactSource::Claim));
        if !api_usable {
            return claim_fact();
        }
        if cfg.source == EnrollmentSource::ClaimThenApi {
            match claim {
                Some(true) => return Fact::Known(true, FactSource::Claim),
                // A `false` minted long ago may predate the user's enrollment: ask Auth after a while.
                Some(false)
                    if claims
                        .iat
                        .is_some_and(|iat| now.saturating_sub(iat) <= cfg.false_claim_max_age) =>
                {
                    return Fact::Known(false, FactSource::Claim)
                }
                _ => {}
            }
        }
        let Some(sub) = claims.sub.as_deref().filter(|s| !s.is_empty()) else {
            return Fact::Unknown;
        };
        self.api_fact(cfg, sub, creds, now)
    }

    fn api_fact(
        &mut self,
        cfg: &EnrollmentConfig,
        sub: &str,
        creds: &LookupCredentials<'_>,
        now: u64,
    ) -> Fact {
        match self.answers.get(sub).copied() {
            Some(Entry::Known { enrolled, until }) if now < until => {
                return Fact::Known(enrolled, FactSource::Api)
            }
            Some(Entry::Failed { until }) if now < until => return Fact::Failed,
            Some(_) => {
                self.answers.pop(sub);
            }
            None => {}
        }
        if let Some(&deadline) = self.in_flight.get(sub) {
            if now < deadline {
                return Fact::Wait(WAIT_POLL_MS);
            }
        }
        // Lost lookups (an adapter that never reported) expire; a stale map must not grow forever.
        if self.in_flight.len() >= MAX_USERS {
            self.in_flight.retain(|_, deadline| now < *deadline);
        }
        let timeout_secs = u64::from(cfg.api_timeout_ms).div_ceil(1000);
        self.in_flight
            .insert(sub.to_owned(), now + timeout_secs + 1);
        let mut headers = vec![(
            "authorization".to_owned(),
            format!("Bearer {}", creds.token),
        )];
        if let Some(key) = creds.apikey.or(cfg.api_key.as_deref()) {
            headers.push(("apikey".to_owned(), key.to_owned()));
        }
        Fact::Lookup(EnrollmentJob {
            sub: sub.to_owned(),
            url: cfg.api_url.clone(),
            headers,
            timeout_ms: cfg.api_timeout_ms,
        })
    }

    /// Records the adapter's answer to `job`: `Ok(enrolled)` or `Err(())` for any failure.
    pub fn answered(
        &mut self,
        cfg: &EnrollmentConfig,
        job: &EnrollmentJob,
        result: Result<bool, ()>,
        now: u64,
    ) {
        self.in_flight.remove(&job.sub);
        let entry = match result {
            Ok(true) => Entry::Known {
                enrolled: true,
                until: now + cfg.api_cache_ttl,
            },
            Ok(false) => Entry::Known {
                enrolled: false,
                until: now + cfg.api_negative_cache_ttl,
            },
            Err(()) => Entry::Failed {
                until: now + FAILURE_HOLD_SECS,
            },
        };
        self.answers.put(job.sub.clone(), entry);
    }
}

fn claim_at<'c>(claims: &'c Claims, path: &[String]) -> Option<&'c Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(claims.get(first)?, |v, key| v.as_object()?.get(key))
}

/// Reads Supabase Auth's answer to `GET /auth/v1/user`: 200 and a user object whose `id` is `sub`;
/// enrolled iff some entry of `factors` (absent when the user has none) has `status` `"verified"`.
/// Anything else is a failure, described for the log (never echoed to clients).
pub fn read_user_response(status: u16, body: &[u8], sub: &str) -> Result<bool, String> {
    if status != 200 {
        return Err(format!("status {status}"));
    }
    if body.len() > MAX_USER_BYTES {
        return Err("body too large".into());
    }
    let user: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    if user.get("id").and_then(Value::as_str) != Some(sub) {
        return Err("the answer is about another user".into());
    }
    match user.get("factors") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Array(factors)) => Ok(factors
            .iter()
            .any(|f| f.get("status").and_then(Value::as_str) == Some("verified"))),
        Some(_) => Err("`factors` is not an array".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::read_user_response;

    const SUB: &str = "6f1c1b8e-0000-4000-8000-000000000001";

    #[test]
    fn factors_absent_means_not_enrolled() {
        let body = format!(r#"{{"id":"{SUB}","aud":"authenticated"}}"#);
        assert_eq!(read_user_response(200, body.as_bytes(), SUB), Ok(false));
    }

    #[test]
    fn only_a_verified_factor_counts() {
        let unverified = format!(
            r#"{{"id":"{SUB}","factors":[{{"factor_type":"totp","status":"unverified"}}]}}"#
        );
        assert_eq!(
            read_user_response(200, unverified.as_bytes(), SUB),
            Ok(false)
        );
        let verified = format!(
            r#"{{"id":"{SUB}","factors":[{{"status":"unverified"}},{{"factor_type":"webauthn","status":"verified"}}]}}"#
        );
        assert_eq!(read_user_response(200, verified.as_bytes(), SUB), Ok(true));
    }

    #[test]
    fn failures_are_errors() {
        let ok = format!(r#"{{"id":"{SUB}"}}"#);
        assert!(read_user_response(401, ok.as_bytes(), SUB).is_err());
        assert!(read_user_response(200, b"<html>", SUB).is_err());
        let other = r#"{"id":"someone-else","factors":[]}"#;
        assert!(read_user_response(200, other.as_bytes(), SUB).is_err());
        let bad = format!(r#"{{"id":"{SUB}","factors":{{"status":"verified"}}}}"#);
        assert!(read_user_response(200, bad.as_bytes(), SUB).is_err());
    }
}
