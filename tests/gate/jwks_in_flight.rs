//! One JWKS fetch in flight per key store: requests that need keys another request is fetching wait
//! for it (`Outcome::Wait`, on their own timer) instead of fetching too, and a fetch that never
//! reports stops blocking after its timeout (JWKS storm at a cold start, a rotation's first tokens).

use crate::common::gate::*;
use crate::common::*;
use aalgate::error::Code;
use aalgate::gate::keystore::FetchReason;
use aalgate::gate::Outcome;

/// What 50 concurrent requests were told before any fetch reported: (fetches handed out, waits).
fn burst(gate: &mut aalgate::gate::Gate, tokens: &[String], now: u64) -> (usize, usize) {
    let (mut fetches, mut waits) = (0, 0);
    for t in tokens {
        match decide(gate, t, now) {
            Outcome::FetchKeys(urls) => {
                assert_eq!(urls.len(), 1);
                fetches += 1;
            }
            Outcome::Wait(ms, code) => {
                assert!(ms > 0 && ms <= 100, "poll {ms} ms");
                assert_eq!(code, Code::JwksUnavailable);
                waits += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    (fetches, waits)
}

fn fifty_users(key: &p256::ecdsa::SigningKey, kid: &str) -> Vec<String> {
    (0..50)
        .map(|i| {
            let mut c = supabase_claims();
            c["sub"] = serde_json::json!(format!("00000000-0000-4000-8000-{i:012}"));
            c["mfa_enrolled"] = serde_json::json!(false);
            sign(
                &serde_json::json!({"alg": "ES256", "kid": kid}),
                &c,
                &Signer_::Es256(key.clone()),
            )
        })
        .collect()
}

#[test]
fn jwks_storm_fifty_concurrent_cold_requests_make_one_fetch() {
    let key = es256_key(11);
    let mut gate = remote_gate();
    let tokens = fifty_users(&key, "k1");
    assert_eq!(burst(&mut gate, &tokens, NOW), (1, 49));
    // Later polls of the waiting requests still wait while the fetch runs.
    assert!(matches!(
        decide(&mut gate, &tokens[7], NOW + 1),
        Outcome::Wait(..)
    ));
    gate.jwks_fetched(
        JWKS_URL,
        &jwks_of(&[es256_jwk(&key, "k1")]),
        Some(600),
        NOW + 1,
    )
    .unwrap();
    for t in &tokens {
        assert_eq!(code(&done(decide(&mut gate, t, NOW + 1))), "forward");
    }
}

#[test]
fn jwks_storm_waiters_of_a_failed_fetch_get_503_without_fetching() {
    let key = es256_key(11);
    let mut gate = remote_gate();
    let tokens = fifty_users(&key, "k1");
    assert_eq!(burst(&mut gate, &tokens, NOW), (1, 49));
    gate.jwks_fetch_failed(JWKS_URL, NOW + 3);
    for t in &tokens {
        assert_eq!(
            code(&done(decide(&mut gate, t, NOW + 3))),
            "jwks_unavailable"
        );
    }
}

#[test]
fn a_fetch_that_never_reports_stops_blocking_after_its_timeout() {
    let key = es256_key(11);
    let mut gate = remote_gate();
    let t = user_token(&key, "k1", false, "aal1");
    assert!(matches!(decide(&mut gate, &t, NOW), Outcome::FetchKeys(_)));
    // Default fetch timeout 3,000 ms: the mark holds for 3 s + 1 s of clock granularity.
    assert!(matches!(decide(&mut gate, &t, NOW + 3), Outcome::Wait(..)));
    // Then the next request fetches itself.
    match decide(&mut gate, &t, NOW + 4) {
        Outcome::FetchKeys(urls) => {
            assert_eq!(urls, vec![(JWKS_URL.to_owned(), FetchReason::Missing)])
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(decide(&mut gate, &t, NOW + 5), Outcome::Wait(..)));
}

#[test]
fn key_rotation_first_tokens_wait_for_the_refetch_and_pass() {
    let old = es256_key(11);
    let new = es256_key(12);
    let mut gate = gate_with_fetched_key(&old);
    let tokens = fifty_users(&new, "k2");
    // Past the cooldown of the first fetch: the first token with the new kid refetches, the
    // others wait for it instead of being refused key_unknown while it runs.
    assert_eq!(burst(&mut gate, &tokens, NOW + 60), (1, 49));
    gate.jwks_fetched(
        JWKS_URL,
        &jwks_of(&[es256_jwk(&old, "k1"), es256_jwk(&new, "k2")]),
        Some(600),
        NOW + 60,
    )
    .unwrap();
    for t in &tokens {
        assert_eq!(code(&done(decide(&mut gate, t, NOW + 60))), "forward");
    }
}

const PARTNER: &str = "https://partner.example/auth";
const PARTNER_JWKS: &str = "https://partner.example/jwks.json";

/// A partner issuer's token, signed by `key` under `kid`.
fn partner_token(key: &p256::ecdsa::SigningKey, kid: &str) -> String {
    let mut c = supabase_claims();
    c["iss"] = serde_json::json!(PARTNER);
    c["mfa_enrolled"] = serde_json::json!(false);
    sign(
        &serde_json::json!({"alg": "ES256", "kid": kid}),
        &c,
        &Signer_::Es256(key.clone()),
    )
}

/// A gate whose project keys are fetched at `NOW` (a project token asks for them alone) while the
/// partner issuer's first fetch, handed to a partner token, never reports (its endpoint hangs).
fn gate_with_partner_fetch_hanging(project: &p256::ecdsa::SigningKey) -> aalgate::gate::Gate {
    let mut gate = gate_from(&serde_json::json!({
        "supabase_url": URL, "require_aal2_for_enrolled": true, "enrollment": {"source": "claim"},
        "keys": {"extra_issuers": [{"issuer": PARTNER, "jwks_url": PARTNER_JWKS}]}
    }));
    let t = user_token(project, "k1", false, "aal1");
    match decide(&mut gate, &t, NOW) {
        Outcome::FetchKeys(urls) => {
            assert_eq!(urls, vec![(JWKS_URL.to_owned(), FetchReason::Missing)])
        }
        other => panic!("{other:?}"),
    }
    gate.jwks_fetched(
        JWKS_URL,
        &jwks_of(&[es256_jwk(project, "k1")]),
        Some(600),
        NOW,
    )
    .unwrap();
    match decide(&mut gate, &partner_token(&es256_key(12), "p1"), NOW) {
        Outcome::FetchKeys(urls) => {
            assert_eq!(urls, vec![(PARTNER_JWKS.to_owned(), FetchReason::Missing)])
        }
        other => panic!("{other:?}"),
    }
    gate
}

#[test]
fn another_issuers_hanging_jwks_does_not_stall_project_tokens() {
    let key = es256_key(11);
    let mut gate = gate_with_partner_fetch_hanging(&key);
    // The project's own tokens go on while the partner's fetch runs.
    let t = user_token(&key, "k1", false, "aal1");
    assert_eq!(code(&done(decide(&mut gate, &t, NOW + 1))), "forward");
    // A project token naming an unknown kid does not wait for the partner's JWKS either (it cannot
    // hold a key for the project's issuer), nor refetch the project's within the cooldown.
    let unknown = user_token(&key, "k9", false, "aal1");
    assert_eq!(
        code(&done(decide(&mut gate, &unknown, NOW + 1))),
        "key_unknown"
    );
}

#[test]
fn a_token_of_the_issuer_being_fetched_waits_for_it() {
    let project = es256_key(11);
    let partner = es256_key(12);
    let mut gate = gate_with_partner_fetch_hanging(&project);
    let t = partner_token(&partner, "p1");
    assert!(matches!(
        decide(&mut gate, &t, NOW + 1),
        Outcome::Wait(_, Code::JwksUnavailable)
    ));
    // The partner's endpoint stays down: its tokens are refused 503 (no keys), not key_unknown.
    gate.jwks_fetch_failed(PARTNER_JWKS, NOW + 3);
    assert_eq!(
        code(&done(decide(&mut gate, &t, NOW + 3))),
        "jwks_unavailable"
    );
}

#[test]
fn a_clock_stepping_back_does_not_stretch_an_in_flight_mark() {
    let key = es256_key(11);
    let mut gate = remote_gate();
    let t = user_token(&key, "k1", false, "aal1");
    assert!(matches!(decide(&mut gate, &t, NOW), Outcome::FetchKeys(_)));
    // The clock jumps back an hour: the mark now lies further ahead than any fetch can last, so
    // it no longer blocks and the next request fetches itself.
    assert!(matches!(
        decide(&mut gate, &t, NOW - 3_600),
        Outcome::FetchKeys(_)
    ));
}

#[test]
fn a_clock_stepping_back_does_not_stretch_the_refetch_cooldown() {
    let (old, new) = (es256_key(11), es256_key(12));
    let mut gate = gate_with_fetched_key(&old);
    let rotated = user_token(&new, "k2", false, "aal1");
    let at = NOW + 100;
    // An unknown kid: one refetch, which still lacks it, so the cooldown (30 s) starts at `at`.
    assert!(matches!(
        decide(&mut gate, &rotated, at),
        Outcome::FetchKeys(_)
    ));
    gate.jwks_fetched(JWKS_URL, &jwks_of(&[es256_jwk(&old, "k1")]), Some(600), at)
        .unwrap();
    assert_eq!(
        code(&done(decide(&mut gate, &rotated, at + 1))),
        "key_unknown"
    );
    // The clock steps back 10 minutes: the last attempt now lies in the future. Without the fix the
    // kid stayed refused for the step plus the cooldown; it is refetched at once.
    assert!(matches!(
        decide(&mut gate, &rotated, at - 600),
        Outcome::FetchKeys(_)
    ));
}

#[test]
fn a_new_kid_during_the_refresh_of_expired_keys_waits_for_it_and_passes() {
    // Found by the soak (bench/soak.mjs): signing switched to a standby key while the gate's keys were
    // past max-age; the first request refreshed them (expired, not missing), and the others with the
    // new kid were refused key_unknown within the cooldown instead of waiting for that refresh.
    let old = es256_key(11);
    let new = es256_key(12);
    let mut gate = gate_with_fetched_key(&old);
    let later = NOW + 700; // past max-age 600, within max_stale
    let refresher = user_token(&old, "k1", false, "aal1");
    let rotated = fifty_users(&new, "k2");
    match decide(&mut gate, &refresher, later) {
        Outcome::FetchKeys(urls) => {
            assert_eq!(urls, vec![(JWKS_URL.to_owned(), FetchReason::Expired)])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(burst(&mut gate, &rotated, later), (0, 50));
    gate.jwks_fetched(
        JWKS_URL,
        &jwks_of(&[es256_jwk(&old, "k1"), es256_jwk(&new, "k2")]),
        Some(600),
        later,
    )
    .unwrap();
    for t in &rotated {
        assert_eq!(code(&done(decide(&mut gate, t, later))), "forward");
    }
}
