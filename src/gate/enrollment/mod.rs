//! The enrollment fact: does the user have a verified MFA factor? (Nothing in a Supabase token
//! says so: `aal` tells how this session signed in, not whether the user could do better.) Two sources:
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

mod answer;
pub mod settings;

pub use answer::{read_user_response, LookupFailure, MAX_USER_BYTES};
pub use settings::{EnrollmentConfig, EnrollmentSource, Fallback};

use super::cache::TokenDigest;
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
    /// The API lookup failed recently (Auth down, slow or answering nonsense).
    Failed,
    /// Auth refused this token (revoked session, deleted user, or an `apikey` it does not accept): the
    /// request is refused. Never cached per user: one bad request must not affect the user's others.
    Rejected,
    /// A lookup is needed but there is no `apikey` to send (none on the request, none configured).
    NoApiKey,
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
    /// digest(sub): the key of the per-user answer.
    user: TokenDigest,
    /// digest(token, apikey): the key under which a failure of this lookup is held.
    request: TokenDigest,
    generation: u64,
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

/// What Auth said about a user, and until when it is believed.
#[derive(Clone, Copy, Debug)]
struct Entry {
    enrolled: bool,
    until: u64,
}

/// How one request's lookup failed, remembered under its credentials (token and apikey), never under
/// the user: one request's failure, whether Auth was down or the request itself was refused, must not
/// change the answer for the user's other requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Rejected,
    Failed,
}
/// Per-user API answers and lookups in flight. Everything is keyed by a SHA-256 digest (of the user id,
/// or of the request's token and apikey), so each entry has a fixed size whatever the client sent:
/// at most [`MAX_USERS`] entries per map, about 100 bytes each.
pub struct EnrollmentStore {
    answers: LruCache<TokenDigest, Entry>,
    /// digest(sub) → (when the lookup may be considered lost, its generation).
    in_flight: HashMap<TokenDigest, (u64, u64)>,
    /// Failed lookups by digest(token, apikey), until when (so the request's next round sees it, and
    /// its retries do not hammer an Auth that is down).
    held: LruCache<TokenDigest, (Held, u64)>,
    generation: u64,
}

impl Default for EnrollmentStore {
    fn default() -> Self {
        let users = NonZeroUsize::new(MAX_USERS).expect("non-zero");
        EnrollmentStore {
            answers: LruCache::new(users),
            in_flight: HashMap::new(),
            held: LruCache::new(users),
            generation: 0,
        }
    }
}

/// The request's credentials the lookup reuses.
pub struct LookupCredentials<'a> {
    /// The verified user token.
    pub token: &'a str,
    /// A well-formed publishable or anon key the request brought (see `credentials::extract`), if any.
    pub apikey: Option<&'a str>,
}

fn digest_of(parts: &[&str]) -> TokenDigest {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
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
        let claim = claims.at(&cfg.claim).and_then(Value::as_bool);
        let api_usable = from_project && cfg.source != EnrollmentSource::Claim;
        let claim_fact = || claim.map_or(Fact::Unknown, |c| Fact::Known(c, FactSource::Claim));
        if !api_usable {
            return claim_fact();
        }
        let Some(sub) = claims.sub.as_deref().filter(|s| !s.is_empty()) else {
            return Fact::Unknown;
        };
        let user = digest_of(&[sub]);
        // What Auth said recently outranks a claim: a fresh `false` must not undo a known `true`.
        if let Some(Entry {
            enrolled: true,
            until,
        }) = self.answers.peek(&user).copied()
        {
            if now < until {
                return Fact::Known(true, FactSource::Api);
            }
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
        self.api_fact(cfg, sub, user, creds, now)
    }

    fn api_fact(
        &mut self,
        cfg: &EnrollmentConfig,
        sub: &str,
        user: TokenDigest,
        creds: &LookupCredentials<'_>,
        now: u64,
    ) -> Fact {
        match self.answers.get(&user).copied() {
            Some(Entry { enrolled, until }) if now < until => {
                return Fact::Known(enrolled, FactSource::Api)
            }
            Some(_) => {
                self.answers.pop(&user);
            }
            None => {}
        }
        // The configured key first: the request's `apikey` is the client's choice, and a key Auth
        // refuses must not be a way to make the lookup fail on purpose (it is refused, see `answered`).
        let Some(apikey) = cfg.api_key.as_deref().or(creds.apikey) else {
            return Fact::NoApiKey;
        };
        let request = digest_of(&[creds.token, apikey]);
        if let Some(&(held, until)) = self.held.peek(&request) {
            if now < until {
                return match held {
                    Held::Rejected => Fact::Rejected,
                    Held::Failed => Fact::Failed,
                };
            }
            self.held.pop(&request);
        }
        if let Some(&(deadline, _)) = self.in_flight.get(&user) {
            if now < deadline {
                return Fact::Wait(WAIT_POLL_MS);
            }
        }
        // Lost lookups (an adapter that never reported) expire; a stale map must not grow forever.
        if self.in_flight.len() >= MAX_USERS {
            self.in_flight.retain(|_, (deadline, _)| now < *deadline);
            if self.in_flight.len() >= MAX_USERS {
                return Fact::Failed;
            }
        }
        let timeout_secs = u64::from(cfg.api_timeout_ms).div_ceil(1000);
        self.generation += 1;
        self.in_flight
            .insert(user, (now + timeout_secs + 1, self.generation));
        Fact::Lookup(EnrollmentJob {
            sub: sub.to_owned(),
            user,
            request,
            generation: self.generation,
            url: cfg.api_url.clone(),
            headers: vec![
                (
                    "authorization".to_owned(),
                    format!("Bearer {}", creds.token),
                ),
                ("apikey".to_owned(), apikey.to_owned()),
            ],
            timeout_ms: cfg.api_timeout_ms,
        })
    }

    /// Records the adapter's answer to `job`.
    pub fn answered(
        &mut self,
        cfg: &EnrollmentConfig,
        job: &EnrollmentJob,
        result: &Result<bool, LookupFailure>,
        now: u64,
    ) {
        // A lookup that was taken over (its adapter was too slow) must not clear the new one's mark,
        // nor overwrite an answer the new one already gave.
        let current = self.in_flight.get(&job.user).map(|&(_, g)| g);
        let superseded = current.is_some_and(|g| g != job.generation)
            || (current.is_none() && self.answers.peek(&job.user).is_some());
        if current == Some(job.generation) {
            self.in_flight.remove(&job.user);
        }
        let entry = match result {
            // Only this request's credentials: the user's other requests are unaffected.
            Err(LookupFailure::Rejected(_)) => {
                self.held
                    .put(job.request, (Held::Rejected, now + FAILURE_HOLD_SECS));
                return;
            }
            Err(LookupFailure::Unavailable(_)) => {
                self.held
                    .put(job.request, (Held::Failed, now + FAILURE_HOLD_SECS));
                return;
            }
            _ if superseded => return,
            Ok(true) => Entry {
                enrolled: true,
                until: now + cfg.api_cache_ttl,
            },
            Ok(false) => Entry {
                enrolled: false,
                until: now + cfg.api_negative_cache_ttl,
            },
        };
        self.answers.put(job.user, entry);
    }
}
