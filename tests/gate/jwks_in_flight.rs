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
