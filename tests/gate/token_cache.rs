//! The verified-token cache (hits, exp rechecks, revoked keys, bounds, disabled) and signature verdicts
//! delivered later by the adapter.

use crate::common::gate::*;
use crate::common::*;
use aalgate::gate::Outcome;
use aalgate::{Gate, GateConfig, Resources};
use serde_json::json;

#[test]
fn token_cache_hits_skip_verification_but_never_policy() {
    let key = es256_key(11);
    let mut gate = gate_with_fetched_key(&key);
    let t = user_token(&key, "k1", true, "aal1");
    let first = done(decide(&mut gate, &t, NOW));
    assert_eq!(code(&first), "aal2_required");
    assert!(!first.log.cached);
    assert_eq!(gate.cache().len(), 1);
    // Second time: from the cache, and the policy still refuses.
    let second = done(decide(&mut gate, &t, NOW + 1));
    assert!(second.log.cached);
    assert_eq!(code(&second), "aal2_required");
}

#[test]
fn token_cache_rechecks_exp_on_every_hit() {
    let key = es256_key(11);
    let mut gate = remote_gate();
    gate.jwks_fetched(
        JWKS_URL,
        &jwks_of(&[es256_jwk(&key, "k1")]),
        Some(86_400),
        NOW,
    )
    .unwrap();
    let t = user_token(&key, "k1", false, "aal1");
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "forward");
    // supabase_claims() expires at NOW + 3000; with 30 s leeway the cached entry dies at NOW + 3030.
    let v = done(decide(&mut gate, &t, NOW + 3029));
    assert!(v.log.cached);
    assert_eq!(code(&v), "forward");
    let v = done(decide(&mut gate, &t, NOW + 3030));
    assert_eq!(code(&v), "token_expired");
    assert!(!v.log.cached);
    assert_eq!(gate.cache().len(), 0);
}

#[test]
fn token_cache_drops_entries_whose_key_left_the_set() {
    let old = es256_key(11);
    let new = es256_key(12);
    let mut gate = remote_gate();
    gate.jwks_fetched(JWKS_URL, &jwks_of(&[es256_jwk(&old, "k1")]), Some(600), NOW)
        .unwrap();
    let t = user_token(&old, "k1", false, "aal1");
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "forward");
    assert_eq!(gate.cache().len(), 1);
    // The old key is revoked: the JWKS now has only the new one.
    gate.jwks_fetched(
        JWKS_URL,
        &jwks_of(&[es256_jwk(&new, "k2")]),
        Some(600),
        NOW + 100,
    )
    .unwrap();
    // Within the refetch cooldown of that fetch, so the refusal needs no further fetch.
    let v = done(decide(&mut gate, &t, NOW + 110));
    assert!(!v.log.cached);
    assert_eq!(code(&v), "key_unknown");
    assert_eq!(gate.cache().len(), 0);
}

#[test]
fn token_cache_is_bounded_by_entries_and_bytes() {
    let key = es256_key(11);
    let jwks = json!({"keys": [es256_jwk(&key, "k1")]});
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": false, "keys": {"jwks": jwks}, "cache": {"max_entries": 5, "max_bytes": 100_000}});
    let mut gate = gate_from(&cfg);
    let token_n = |n: u32| {
        let mut c = supabase_claims();
        c["n"] = json!(n);
        sign(
            &json!({"alg": "ES256", "kid": "k1"}),
            &c,
            &Signer_::Es256(key.clone()),
        )
    };
    for n in 0..20 {
        assert_eq!(code(&done(decide(&mut gate, &token_n(n), NOW))), "forward");
        assert!(gate.cache().len() <= 5);
    }
    assert_eq!(gate.cache().len(), 5);
    // Least recently used went first: token 19 is cached, token 0 is not.
    assert!(done(decide(&mut gate, &token_n(19), NOW)).log.cached);
    assert!(!done(decide(&mut gate, &token_n(0), NOW)).log.cached);

    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": false, "keys": {"jwks": jwks}, "cache": {"max_entries": 1000, "max_bytes": 4000}});
    let mut gate = gate_from(&cfg);
    for n in 0..50 {
        done(decide(&mut gate, &token_n(n), NOW));
        assert!(gate.cache().bytes() <= 4000, "{}", gate.cache().bytes());
    }
    assert!(gate.cache().len() < 50 && !gate.cache().is_empty());
}

#[test]
fn cache_disabled_with_zero_entries() {
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": false, "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}}, "cache": {"max_entries": 0}});
    let mut gate = gate_from(&cfg);
    let t = user_token(&key, "k1", false, "aal1");
    done(decide(&mut gate, &t, NOW));
    assert!(!done(decide(&mut gate, &t, NOW)).log.cached);
}

#[test]
fn a_signature_verdict_delivered_earlier_is_rechecked_against_the_current_time() {
    // Two concurrent requests for one token: both get a signature job; the second verdict waits in the
    // gate. If that token has expired by the time it is used, it must not pass.
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": false, "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}}, "cache": {"max_entries": 0}});
    let mut gate = Gate::with_external_signatures(
        GateConfig::from_json(&cfg.to_string()).unwrap(),
        Resources::default(),
    )
    .unwrap()
    .0;
    let t = user_token(&key, "k1", false, "aal1");
    let Outcome::VerifySignature(job) = decide(&mut gate, &t, NOW) else {
        panic!("expected a signature job")
    };
    gate.signature_checked(job, true, NOW);
    // supabase_claims() expires at NOW + 3000 (+30 s leeway).
    assert_eq!(
        code(&done(decide(&mut gate, &t, NOW + 4000))),
        "token_expired"
    );
    // And a fresh verdict used at once passes.
    let Outcome::VerifySignature(job) = decide(&mut gate, &t, NOW) else {
        panic!("expected a signature job")
    };
    gate.signature_checked(job, true, NOW);
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "forward");
    // A false verdict refuses.
    let Outcome::VerifySignature(job) = decide(&mut gate, &t, NOW) else {
        panic!("expected a signature job")
    };
    gate.signature_checked(job, false, NOW);
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "signature_invalid");
}
