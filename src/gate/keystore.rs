//! Keys per issuer, and the JWKS caching rules, without I/O (after panva/jose: a pure local key set plus
//! a thin fetch layer that lives in the adapter).
//!
//! The store decides *when* a JWKS must be fetched and answers [`KeyStore::due`]; the adapter fetches and
//! reports back with [`KeyStore::fetched`] or [`KeyStore::fetch_failed`]. Rules:
//! - keys are fresh for the `Cache-Control: max-age` of their response (default 600 s);
//! - an unknown `kid` triggers a refetch at most once per cooldown (30 s) per JWKS;
//! - when the endpoint fails, stale keys are still served for `max_stale` (1 h), then dropped;
//! - a failed fetch is not retried before the cooldown either;
//! - one fetch per JWKS in flight: while a fetch of missing keys (or one for an unknown `kid`) runs,
//!   other requests that need it are told to wait ([`Due::Wait`]) and read the store afterwards, so
//!   50 concurrent first requests make one fetch; while expired keys are refreshed, requests keep
//!   using them, and only a token whose `kid` they lack waits for the refresh. The mark expires after the fetch timeout (an adapter
//!   that never reported does not block the JWKS), and the next request fetches itself.

use crate::alg::Algorithm;
use crate::error::{Code, Error, Result};
use crate::keys::{KeyEntry, KeySet, SkippedKey};
use serde_json::Value;

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

/// JWKS caching rules: how long a fetched key set is fresh, how often it may be refetched, how long
/// stale keys still serve while the endpoint fails.
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

impl JwksTiming {
    /// How long (seconds) a fetch handed out counts as running.
    fn in_flight_span(&self) -> u64 {
        u64::from(self.timeout_ms).div_ceil(1000) + 1
    }

    /// How long a fetched JWKS is fresh: its `max-age`, or the default; never trusted below the
    /// cooldown or above a day.
    pub fn freshness(&self, max_age: Option<u64>) -> u64 {
        max_age
            .unwrap_or(self.default_max_age)
            .clamp(self.refetch_cooldown.max(1), 86_400)
    }
}

/// Largest JWKS document accepted (Supabase's is ~1 KB; this leaves room for many keys).
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug)]
struct Remote {
    url: String,
    keys: Option<KeySet>,
    fresh_until: u64,
    usable_until: u64,
    last_attempt: Option<u64>,
    /// Until when a fetch handed out for missing keys or an unknown `kid` is still running (seconds).
    in_flight_until: Option<u64>,
}

impl Remote {
    /// Whether a fetch handed out is still running. A mark further ahead than one fetch can last
    /// (the clock stepped back) counts as expired, so it cannot block the JWKS for longer.
    fn in_flight(&self, now: u64, timing: &JwksTiming) -> bool {
        self.in_flight_until
            .is_some_and(|t| now < t && t - now <= timing.in_flight_span())
    }

    /// Marks a fetch as handed out: in flight until its timeout (a whole second more: `now` has
    /// one-second steps). The cooldown starts only when it reports a failure (missing keys: a lost
    /// fetch must not keep a key-less store from trying again) or, for an unknown `kid` or expired
    /// keys, at once.
    fn start(&mut self, now: u64, timing: &JwksTiming) {
        self.in_flight_until = Some(now.saturating_add(timing.in_flight_span()));
    }

    /// Whether the last attempt is too recent to try again. An attempt in the future (the clock
    /// stepped back) does not count: it would otherwise hold every refetch for the size of the step
    /// as well as the cooldown, refusing a rotation's new `kid` and keeping a store without keys
    /// from fetching them.
    fn cooling(&self, now: u64, timing: &JwksTiming) -> bool {
        self.last_attempt
            .is_some_and(|t| t <= now && now < t.saturating_add(timing.refetch_cooldown))
    }
}

/// What a decision must do about keys before it can select one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing: select from what the store has.
    Nothing,
    /// Fetch these JWKS URLs first.
    Fetch(Vec<(String, FetchReason)>),
    /// Another request is fetching keys this decision needs: decide again after this many ms.
    Wait(u32),
}

impl Due {
    fn of(mut fetch: Vec<(String, FetchReason)>, wait: bool) -> Due {
        fetch.dedup();
        if !fetch.is_empty() {
            Due::Fetch(fetch)
        } else if wait {
            Due::Wait(WAIT_POLL_MS)
        } else {
            Due::Nothing
        }
    }
}

/// How often a request waiting for another request's JWKS fetch looks at the store again.
pub const WAIT_POLL_MS: u32 = 10;

#[derive(Clone, Debug)]
struct IssuerKeys {
    issuer: String,
    local: KeySet,
    remote: Option<Remote>,
}

impl IssuerKeys {
    /// Its configured keys, then its fetched keys while they are usable at `now`.
    fn sets(&self, now: u64) -> impl Iterator<Item = (&str, &KeySet)> {
        let remote = self
            .remote
            .as_ref()
            .filter(|r| now < r.usable_until)
            .and_then(|r| r.keys.as_ref());
        std::iter::once((self.issuer.as_str(), &self.local))
            .chain(remote.map(|k| (self.issuer.as_str(), k)))
    }
}

/// Why a fetch is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchReason {
    /// Never fetched, or the keys were dropped.
    Missing,
    /// Past `max-age`.
    Expired,
    /// A token names a `kid` the set does not have.
    UnknownKid,
}

/// All key sources of a gate.
#[derive(Clone, Debug)]
pub struct KeyStore {
    issuers: Vec<IssuerKeys>,
    timing: JwksTiming,
}

impl KeyStore {
    /// Builds the store. `local` gives, per issuer (same order as `configs`), the keys known at load time
    /// (inline or file JWKS, the HS256 secret for the Supabase issuer).
    pub fn new(configs: &[IssuerKeysConfig], local: Vec<KeySet>, timing: JwksTiming) -> Self {
        let issuers = configs
            .iter()
            .zip(local.into_iter().chain(std::iter::repeat_with(KeySet::new)))
            .map(|(c, local)| IssuerKeys {
                issuer: c.issuer.clone(),
                local,
                remote: c.jwks_url.as_ref().map(|url| Remote {
                    url: url.clone(),
                    keys: None,
                    fresh_until: 0,
                    usable_until: 0,
                    last_attempt: None,
                    in_flight_until: None,
                }),
            })
            .collect();
        KeyStore { issuers, timing }
    }

    /// What to do before deciding, because keys are missing or expired (and the cooldown allows).
    ///
    /// A fetch handed out is marked as started (`now` counts as an attempt). For *expired* keys,
    /// requests arriving while it runs keep using the stale keys. Missing keys another request is
    /// already fetching are not waited for here: a token whose key is elsewhere goes on, and one that
    /// needs them finds no key and waits in [`KeyStore::due_for_unknown_kid`].
    ///
    /// Only the JWKS of the issuer the token claims count ([`KeyStore::claimed_issuer`]): another
    /// issuer's missing or expired keys are fetched for its own tokens, so its slow endpoint never
    /// holds up the project's.
    pub fn due(&mut self, now: u64, claimed_iss: Option<&str>) -> Due {
        let timing = self.timing;
        let mut fetch = Vec::new();
        for r in self.remotes_for(claimed_iss) {
            if r.in_flight(now, &timing) || r.cooling(now, &timing) {
                continue;
            }
            match &r.keys {
                None => {
                    r.start(now, &timing);
                    fetch.push((r.url.clone(), FetchReason::Missing));
                }
                Some(_) if now >= r.fresh_until => {
                    // In flight too: a token whose `kid` the stale set lacks (a rotation's first
                    // tokens) waits for this refresh instead of being refused within the cooldown.
                    r.last_attempt = Some(now);
                    r.start(now, &timing);
                    fetch.push((r.url.clone(), FetchReason::Expired));
                }
                Some(_) => {}
            }
        }
        Due::of(fetch, false)
    }

    /// What to do for a token whose `kid` no key has: refetch (cooldown permitting), or wait for a
    /// fetch another request is running. Marked as started at once: unknown `kid`s are
    /// attacker-controlled, so a burst of them yields one fetch per cooldown; requests that arrive
    /// while it runs wait for it (a key rotation's first tokens all find the new key).
    ///
    /// Only the JWKS that could hold the token's key count (`claimed_iss`, unverified, see
    /// [`could_vouch`]): another issuer's slow endpoint neither stalls nor is fetched for it.
    pub fn due_for_unknown_kid(&mut self, now: u64, claimed_iss: Option<&str>) -> Due {
        let timing = self.timing;
        let mut fetch = Vec::new();
        let mut wait = false;
        for r in self.remotes_for(claimed_iss) {
            if r.in_flight(now, &timing) {
                wait = true;
            } else if !r.cooling(now, &timing) {
                r.last_attempt = Some(now);
                r.start(now, &timing);
                fetch.push((r.url.clone(), FetchReason::UnknownKid));
            }
        }
        Due::of(fetch, wait)
    }

    fn remotes_for<'a>(
        &'a mut self,
        claimed_iss: Option<&'a str>,
    ) -> impl Iterator<Item = &'a mut Remote> {
        self.issuers
            .iter_mut()
            .enumerate()
            .filter(move |(n, i)| could_vouch(*n, &i.issuer, claimed_iss))
            .filter_map(|(_, i)| i.remote.as_mut())
    }

    /// Whether `url` is one of the JWKS URLs this store fetches.
    pub fn fetches(&self, url: &str) -> bool {
        self.issuers
            .iter()
            .any(|i| i.remote.as_ref().is_some_and(|r| r.url == url))
    }

    /// Records a fetched JWKS. `max_age` is the response's `Cache-Control: max-age`, if any. A document
    /// that is not a JWKS counts as a failure. Returns the keys that were skipped, for logging.
    pub fn fetched(
        &mut self,
        url: &str,
        body: &[u8],
        max_age: Option<u64>,
        now: u64,
    ) -> Result<Vec<SkippedKey>> {
        if body.len() > MAX_JWKS_BYTES {
            self.fetch_failed(url, now);
            return Err(Error::new(
                Code::JwksUnavailable,
                "JWKS response is too large",
            ));
        }
        let parsed = KeySet::from_jwks(body);
        let timing = self.timing;
        let remote = self
            .issuers
            .iter_mut()
            .filter_map(|i| i.remote.as_mut())
            .find(|r| r.url == url)
            .ok_or_else(|| {
                Error::new(
                    Code::JwksUnavailable,
                    "fetched a JWKS URL that is not configured",
                )
            })?;
        remote.last_attempt = Some(now);
        remote.in_flight_until = None;
        match parsed {
            Ok((keys, skipped)) => {
                let age = timing.freshness(max_age);
                remote.keys = Some(keys);
                remote.fresh_until = now.saturating_add(age);
                remote.usable_until = remote.fresh_until.saturating_add(timing.max_stale);
                Ok(skipped)
            }
            Err(e) => {
                self.fetch_failed(url, now);
                Err(Error::new(
                    Code::JwksUnavailable,
                    format!("JWKS response unusable: {}", e.context()),
                ))
            }
        }
    }

    /// Records a failed fetch (network error, timeout, non-200, redirect, oversized or garbage body).
    pub fn fetch_failed(&mut self, url: &str, now: u64) {
        for remote in self
            .issuers
            .iter_mut()
            .filter_map(|i| i.remote.as_mut())
            .filter(|r| r.url == url)
        {
            remote.last_attempt = Some(now);
            remote.in_flight_until = None;
            if remote.keys.is_some() && now >= remote.usable_until {
                remote.keys = None;
            }
        }
    }

    /// Whether a remote issuer that could vouch for a token claiming `claimed_iss` has no usable keys
    /// at `now`.
    pub fn missing_remote(&self, now: u64, claimed_iss: Option<&str>) -> bool {
        self.vouching(claimed_iss)
            .filter_map(|i| i.remote.as_ref())
            .any(|r| r.keys.is_none() || now >= r.usable_until)
    }

    /// The issuers that may vouch for a token claiming `claimed_iss` (see [`could_vouch`]).
    fn vouching<'s, 'c>(
        &'s self,
        claimed_iss: Option<&'c str>,
    ) -> impl Iterator<Item = &'s IssuerKeys> + use<'s, 'c> {
        self.issuers
            .iter()
            .enumerate()
            .filter(move |(n, i)| could_vouch(*n, &i.issuer, claimed_iss))
            .map(|(_, i)| i)
    }

    /// The issuer a compact JWS claims (unverified `iss`), as [`KeyStore::due`] and
    /// [`KeyStore::due_for_unknown_kid`] take it. With one issuer every token can only need its keys,
    /// so the payload is not read (`None` stands for the first issuer).
    pub fn claimed_issuer(&self, token: &str) -> Option<String> {
        match self.issuers.len() {
            1 => None,
            _ => crate::dangerous::peek_issuer(token),
        }
    }

    /// Selects the key for a token (rules of [`KeySet::select`]) among the key sets of the issuer its
    /// unverified `iss` names (`claimed_iss`, from [`KeyStore::claimed_issuer`]; `None`: the first
    /// issuer, the project's) and returns it with that
    /// issuer; `verify::validate_claims` then binds the verified `iss` to it, so one issuer's key can
    /// never vouch for another's tokens. Only that issuer's sets are looked at: another issuer's
    /// set (a partner's JWKS, run by a third party) holding the project's `kid` twice, or the `kid`
    /// of the project's next key, must neither make the project's tokens ambiguous nor verify them
    /// with its key and so hide the unknown `kid` that should trigger the project's refetch.
    pub fn select(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        claimed: Option<&str>,
        now: u64,
    ) -> Result<(&KeyEntry, &str)> {
        let mut vouching = self.vouching(claimed).peekable();
        if vouching.peek().is_none() {
            return Err(Error::new(
                Code::IssuerMismatch,
                "the token's `iss` is not an issuer this gate accepts",
            ));
        }
        let mut found = None;
        for (issuer, set) in vouching.flat_map(|i| i.sets(now)) {
            match set.select(alg, kid) {
                // Its configured keys and its JWKS both fit: the token cannot say which.
                Ok(_) if found.is_some() => {
                    return Err(Error::new(
                        Code::KeyAmbiguous,
                        format!("several {alg} keys of the issuer fit this token"),
                    ))
                }
                Ok(entry) => found = Some((entry, issuer)),
                Err(e) if e.code() == Code::KeyAmbiguous => return Err(e),
                Err(_) => {}
            }
        }
        found.ok_or_else(|| crate::keys::set::key_unknown(alg, kid))
    }

    /// Whether the key with this fingerprint is still usable for a verified token whose `iss` is
    /// `iss` (cache entries die with their key). Only that issuer's sets count (no `iss`: the
    /// project's), as in [`KeyStore::select`]: a partner's JWKS that republishes a project key (under
    /// any `kid`: the fingerprint is the key material) must not keep the project's cached tokens
    /// passing after the project has dropped that key.
    pub fn still_vouches(&self, fingerprint: &[u8; 32], iss: Option<&str>, now: u64) -> bool {
        self.vouching(iss)
            .flat_map(|i| i.sets(now))
            .any(|(_, set)| set.keys().iter().any(|k| k.fingerprint() == fingerprint))
    }
}

/// Whether the issuer at `index` (named `issuer`) may vouch for a token claiming `claimed_iss`: its
/// own, or for a token without `iss` the project's (the first issuer). `verify::validate_claims`
/// enforces both after verification, so no other issuer's keys can ever verify such a token.
fn could_vouch(index: usize, issuer: &str, claimed_iss: Option<&str>) -> bool {
    match claimed_iss {
        Some(iss) => issuer == iss,
        None => index == 0,
    }
}
