//! The key store: the first JWKS fetch, outages and cooldowns, unknown kids, max-age and stale keys,
//! garbage bodies, keys bound to their issuer.

use crate::common::gate::*;
use crate::common::*;
use aalgate::gate::keystore::FetchReason;
use aalgate::gate::{Decision, Outcome};
use serde_json::json;

#[test]
fn first_request_asks_for_the_jwks_then_decides() {
    let key = es256_key(11);
    let mut gate = remote_gate();
    let t = user_token(&key, "k1", false, "aal1");
    match decide(&mut gate, &t, NOW) {
        Outcome::FetchKeys(urls) => {
            assert_eq!(urls, vec![(JWKS_URL.to_owned(), FetchReason::Missing)])
        }
        other => panic!("{other:?}"),
    }
    gate.jwks_fetched(JWKS_URL, &jwks_of(&[es256_jwk(&key, "k1")]), Some(600), NOW)
        .unwrap();
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "forward");
}

#[test]
fn jwks_down_at_start_is_503_and_the_upstream_is_not_called() {
    let mut gate = remote_gate();
    let t = user_token(&es256_key(11), "k1", false, "aal1");
    assert!(matches!(decide(&mut gate, &t, NOW), Outcome::FetchKeys(_)));
    gate.jwks_fetch_failed(JWKS_URL, NOW);
    let v = done(decide(&mut gate, &t, NOW));
    assert_eq!(code(&v), "jwks_unavailable");
    let Decision::Reject(r) = &v.decision else {
        unreachable!()
    };
    assert_eq!(r.status, 503);
    // Within the cooldown no new fetch is attempted; after it, one is.
    assert_eq!(
        code(&done(decide(&mut gate, &t, NOW + 29))),
        "jwks_unavailable"
    );
    assert!(matches!(
        decide(&mut gate, &t, NOW + 30),
        Outcome::FetchKeys(_)
    ));
}

#[test]
fn unknown_kid_refetches_at_most_once_per_cooldown() {
    let old = es256_key(11);
    let new = es256_key(12);
    let mut gate = remote_gate();
    gate.jwks_fetched(JWKS_URL, &jwks_of(&[es256_jwk(&old, "k1")]), Some(600), NOW)
        .unwrap();
    let rotated = user_token(&new, "k2", false, "aal1");
    // Just fetched: the cooldown holds, so an unknown kid is refused without a fetch.
    assert_eq!(
        code(&done(decide(&mut gate, &rotated, NOW + 10))),
        "key_unknown"
    );
    // After the cooldown the unknown kid triggers one refetch, which brings the new key.
    match decide(&mut gate, &rotated, NOW + 31) {
        Outcome::FetchKeys(urls) => assert_eq!(urls[0].1, FetchReason::UnknownKid),
        other => panic!("{other:?}"),
    }
    gate.jwks_fetched(
        JWKS_URL,
        &jwks_of(&[es256_jwk(&old, "k1"), es256_jwk(&new, "k2")]),
        Some(600),
        NOW + 31,
    )
    .unwrap();
    assert_eq!(
        code(&done(decide(&mut gate, &rotated, NOW + 31))),
        "forward"
    );
    // A spray of random kids right after cannot cause more fetches.
    let bogus = user_token(&new, "bogus", false, "aal1");
    assert_eq!(
        code(&done(decide(&mut gate, &bogus, NOW + 32))),
        "key_unknown"
    );
}

#[test]
fn keys_expire_with_max_age_and_stale_keys_serve_while_the_endpoint_fails() {
    let key = es256_key(11);
    let mut gate = gate_with_fetched_key(&key);
    let fresh = user_token(&key, "k1", false, "aal1");
    // Cache-Control max-age 600: a token not seen before, at NOW+600, first refreshes the keys.
    let mut c = supabase_claims();
    c["mfa_enrolled"] = json!(false);
    c["jti"] = json!("different-token");
    let other = sign(
        &json!({"alg": "ES256", "kid": "k1"}),
        &c,
        &Signer_::Es256(key.clone()),
    );
    assert_eq!(code(&done(decide(&mut gate, &fresh, NOW + 599))), "forward");
    match decide(&mut gate, &other, NOW + 600) {
        Outcome::FetchKeys(urls) => assert_eq!(urls[0].1, FetchReason::Expired),
        o => panic!("{o:?}"),
    }
    // The endpoint fails: stale keys are still used (bounded by max_stale, default 3600 s).
    gate.jwks_fetch_failed(JWKS_URL, NOW + 600);
    assert_eq!(code(&done(decide(&mut gate, &other, NOW + 600))), "forward");
    // Past max-age + max_stale the keys are gone and tokens are refused with 503.
    let mut c2 = supabase_claims();
    c2["exp"] = json!(NOW + 5000);
    c2["iat"] = json!(NOW + 4000);
    c2["mfa_enrolled"] = json!(false);
    let late = sign(
        &json!({"alg": "ES256", "kid": "k1"}),
        &c2,
        &Signer_::Es256(key.clone()),
    );
    assert!(matches!(
        decide(&mut gate, &late, NOW + 4300),
        Outcome::FetchKeys(_)
    ));
    gate.jwks_fetch_failed(JWKS_URL, NOW + 4300);
    assert_eq!(
        code(&done(decide(&mut gate, &late, NOW + 4300))),
        "jwks_unavailable"
    );
}

#[test]
fn garbage_or_oversized_jwks_counts_as_a_failure() {
    let mut gate = remote_gate();
    assert!(gate
        .jwks_fetched(JWKS_URL, b"<html>nope</html>", None, NOW)
        .is_err());
    assert!(gate
        .jwks_fetched(JWKS_URL, &vec![b' '; 70 * 1024], None, NOW)
        .is_err());
    let t = user_token(&es256_key(11), "k1", false, "aal1");
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "jwks_unavailable");
}

#[test]
fn issuer_bound_keys_cannot_vouch_for_another_issuer() {
    // Project B's key signs a token claiming project A's issuer: refused. Only A's key sets are
    // looked at for a token claiming A, so B's `kid` is unknown there.
    let a = es256_key(21);
    let b = es256_key(22);
    let cfg = json!({
        "supabase_url": URL,
        "keys": {"jwks": {"keys": [es256_jwk(&a, "a1")]},
                 "extra_issuers": [{"issuer": "https://bbbbbbbbbbbbbbbbbbbb.supabase.co/auth/v1", "jwks": {"keys": [es256_jwk(&b, "b1")]}}]}
    });
    let mut gate = gate_from(&cfg);
    let mut c = supabase_claims();
    c["mfa_enrolled"] = json!(false);
    let forged = sign(
        &json!({"alg": "ES256", "kid": "b1"}),
        &c,
        &Signer_::Es256(b.clone()),
    );
    assert_eq!(code(&done(decide(&mut gate, &forged, NOW))), "key_unknown");
    c["iss"] = json!("https://bbbbbbbbbbbbbbbbbbbb.supabase.co/auth/v1");
    let genuine_b = sign(
        &json!({"alg": "ES256", "kid": "b1"}),
        &c,
        &Signer_::Es256(b),
    );
    assert_eq!(code(&done(decide(&mut gate, &genuine_b, NOW))), "forward");
}

#[test]
fn unknown_kid_bursts_cause_one_fetch_per_cooldown() {
    let key = es256_key(11);
    let mut gate = gate_with_fetched_key(&key);
    let mut fetches = 0;
    let random = |i: usize| user_token(&key, &format!("random-{i}"), false, "aal1");
    for i in 0..1000 {
        match decide(&mut gate, &random(i), NOW + 40) {
            Outcome::FetchKeys(_) => fetches += 1, // handed out; the adapter has not reported back yet
            // The others wait for that fetch instead of starting their own.
            other => assert!(matches!(other, Outcome::Wait(..)), "{other:?}"),
        }
    }
    assert_eq!(fetches, 1);
    // The fetch brings the same keys: every waiting request is then refused, without a new fetch.
    gate.jwks_fetched(
        JWKS_URL,
        &jwks_of(&[es256_jwk(&key, "k1")]),
        Some(600),
        NOW + 40,
    )
    .unwrap();
    for i in 0..1000 {
        assert_eq!(
            code(&done(decide(&mut gate, &random(i), NOW + 40))),
            "key_unknown"
        );
    }
}

#[test]
fn refreshing_expired_keys_lets_concurrent_requests_use_the_stale_ones() {
    let key = es256_key(11);
    let mut gate = gate_with_fetched_key(&key);
    let a = user_token(&key, "k1", false, "aal1");
    let mut c = supabase_claims();
    c["mfa_enrolled"] = json!(false);
    c["n"] = json!(2);
    let b = sign(
        &json!({"alg": "ES256", "kid": "k1"}),
        &c,
        &Signer_::Es256(key.clone()),
    );
    assert!(matches!(
        decide(&mut gate, &a, NOW + 700),
        Outcome::FetchKeys(_)
    ));
    // While that refresh is in flight, another new token is decided with the stale keys.
    assert_eq!(code(&done(decide(&mut gate, &b, NOW + 701))), "forward");
}

#[test]
fn colliding_kids_across_issuers_are_told_apart_by_iss() {
    let a = es256_key(21);
    let b = es256_key(22);
    let partner = "https://partner.example.com/auth/v1";
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": false,
        "keys": {"jwks": {"keys": [es256_jwk(&a, "same")]}, "extra_issuers": [{"issuer": partner, "jwks": {"keys": [es256_jwk(&b, "same")]}}]}});
    let mut gate = gate_from(&cfg);
    let mut c = supabase_claims();
    c["mfa_enrolled"] = json!(false);
    let ours = sign(
        &json!({"alg": "ES256", "kid": "same"}),
        &c,
        &Signer_::Es256(a.clone()),
    );
    assert_eq!(code(&done(decide(&mut gate, &ours, NOW))), "forward");
    c["iss"] = json!(partner);
    let theirs = sign(
        &json!({"alg": "ES256", "kid": "same"}),
        &c,
        &Signer_::Es256(b),
    );
    assert_eq!(code(&done(decide(&mut gate, &theirs, NOW))), "forward");
    // Our key claiming the partner's issuer: picked by iss (partner's key), so the signature fails.
    let spoof = sign(
        &json!({"alg": "ES256", "kid": "same"}),
        &c,
        &Signer_::Es256(a),
    );
    assert_eq!(
        code(&done(decide(&mut gate, &spoof, NOW))),
        "signature_invalid"
    );
}
