//! Key selection looks only at the key sets of the issuer a token claims (no `iss`: the project's).
//! An extra issuer's JWKS is run by a third party: whatever it publishes must not refuse, verify, or
//! stall the project's tokens. Found by the attacker review of the unknown-kid narrowing (review 16).

use crate::common::gate::*;
use crate::common::*;
use aalgate::gate::keystore::FetchReason;
use aalgate::gate::Outcome;
use serde_json::json;

const PARTNER: &str = "https://partner.example/auth";
const PARTNER_JWKS: &str = "https://partner.example/jwks.json";

fn two_issuer_gate() -> aalgate::gate::Gate {
    gate_from(&json!({
        "supabase_url": URL, "require_aal2_for_enrolled": false,
        "keys": {"extra_issuers": [{"issuer": PARTNER, "jwks_url": PARTNER_JWKS}]}
    }))
}

/// A project user's token (`sub` numbered, so each is new to the verified-token cache).
fn project_token(key: &p256::ecdsa::SigningKey, kid: &str, n: u32) -> String {
    let mut c = supabase_claims();
    c["mfa_enrolled"] = json!(false);
    c["sub"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
    sign(
        &json!({"alg": "ES256", "kid": kid}),
        &c,
        &Signer_::Es256(key.clone()),
    )
}

fn fetched(gate: &mut aalgate::gate::Gate, url: &str, keys: &[serde_json::Value], now: u64) {
    gate.jwks_fetched(url, &jwks_of(keys), Some(600), now)
        .unwrap();
}

#[test]
fn attack_partner_jwks_listing_the_projects_kid_twice_does_not_make_project_tokens_ambiguous() {
    let project = es256_key(11);
    let mut gate = two_issuer_gate();
    fetched(&mut gate, JWKS_URL, &[es256_jwk(&project, "k1")], NOW);
    // The project's `kid` is public (its JWKS): the partner lists two keys under it.
    let twice = [
        es256_jwk(&es256_key(21), "k1"),
        es256_jwk(&es256_key(22), "k1"),
    ];
    fetched(&mut gate, PARTNER_JWKS, &twice, NOW);
    let t = project_token(&project, "k1", 1);
    assert_eq!(code(&done(decide(&mut gate, &t, NOW + 1))), "forward");
}

#[test]
fn attack_partner_holding_the_projects_next_kid_neither_verifies_nor_hides_the_rotation() {
    // The project rotates to `k2` while its cached keys are fresh; the partner's set has a `k2`.
    // Its key must not be tried (signature_invalid, no refetch): the project's JWKS is refetched.
    let (old, new) = (es256_key(11), es256_key(12));
    let mut gate = two_issuer_gate();
    fetched(&mut gate, JWKS_URL, &[es256_jwk(&old, "k1")], NOW);
    fetched(
        &mut gate,
        PARTNER_JWKS,
        &[es256_jwk(&es256_key(21), "k2")],
        NOW,
    );
    let t = project_token(&new, "k2", 2);
    match decide(&mut gate, &t, NOW + 60) {
        Outcome::FetchKeys(urls) => {
            assert_eq!(urls, vec![(JWKS_URL.to_owned(), FetchReason::UnknownKid)])
        }
        other => panic!("expected the project's refetch, got {other:?}"),
    }
    fetched(
        &mut gate,
        JWKS_URL,
        &[es256_jwk(&old, "k1"), es256_jwk(&new, "k2")],
        NOW + 60,
    );
    assert_eq!(code(&done(decide(&mut gate, &t, NOW + 60))), "forward");
}

#[test]
fn attack_token_claiming_an_unconfigured_issuer_is_refused_without_a_key_lookup() {
    // A spelling no issuer has (trailing slash) fetches nothing and names the issuer rule.
    let mut gate = two_issuer_gate();
    fetched(&mut gate, JWKS_URL, &[es256_jwk(&es256_key(11), "k1")], NOW);
    let mut c = supabase_claims();
    c["iss"] = json!(format!("{PARTNER}/"));
    let t = sign(
        &json!({"alg": "ES256", "kid": "k1"}),
        &c,
        &Signer_::Es256(es256_key(11)),
    );
    assert_eq!(
        code(&done(decide(&mut gate, &t, NOW + 40))),
        "issuer_mismatch"
    );
    // The exact partner issuer with an unknown `kid` fetches the partner's JWKS only.
    c["iss"] = json!(PARTNER);
    let t = sign(
        &json!({"alg": "ES256", "kid": "p9"}),
        &c,
        &Signer_::Es256(es256_key(30)),
    );
    match decide(&mut gate, &t, NOW + 40) {
        Outcome::FetchKeys(urls) => {
            assert_eq!(
                urls.into_iter().map(|(u, _)| u).collect::<Vec<_>>(),
                vec![PARTNER_JWKS]
            )
        }
        other => panic!("expected the partner's fetch, got {other:?}"),
    }
}

#[test]
fn attack_partner_republishing_a_dropped_project_key_does_not_keep_cached_tokens_passing() {
    // Found by the attacker review of the narrowing (review 17): cached verdicts checked their key
    // against every issuer's sets. The project drops `k1` (say it leaked); a partner's JWKS lists
    // the same public key under another kid. The project's cached tokens must die with the key.
    let (dropped, next) = (es256_key(11), es256_key(12));
    let mut gate = two_issuer_gate();
    fetched(&mut gate, JWKS_URL, &[es256_jwk(&dropped, "k1")], NOW);
    fetched(&mut gate, PARTNER_JWKS, &[es256_jwk(&dropped, "copy")], NOW);
    let t = project_token(&dropped, "k1", 4);
    assert_eq!(code(&done(decide(&mut gate, &t, NOW + 1))), "forward");
    // The project's JWKS no longer has `k1`: the cached verdict is gone, and so is the token.
    fetched(&mut gate, JWKS_URL, &[es256_jwk(&next, "k2")], NOW + 2);
    let again = done(decide(&mut gate, &t, NOW + 2));
    assert_eq!(code(&again), "key_unknown");
}
