//! The gate beyond the conformance table: configuration errors, the JWKS cache rules, the verified-token
//! cache, the fetch step, logs.

mod common;

use aalgate::gate::keystore::FetchReason;
use aalgate::gate::{Decision, Outcome, Request, Verdict};
use aalgate::{Gate, GateConfig, Resources};
use common::*;
use serde_json::{json, Value};

const URL: &str = "https://abcdefghijklmnopqrst.supabase.co";
const JWKS_URL: &str = "https://abcdefghijklmnopqrst.supabase.co/auth/v1/.well-known/jwks.json";

fn config_err(doc: Value) -> (String, String) {
    let e = GateConfig::from_json(&doc.to_string()).unwrap_err();
    (e.field, e.problem)
}

#[test]
fn minimal_config_is_url_plus_switch() {
    let cfg = GateConfig::from_json(
        &json!({"supabase_url": URL, "require_aal2_for_enrolled": true}).to_string(),
    )
    .unwrap();
    assert_eq!(cfg.supabase_issuer(), ISSUER);
    assert_eq!(cfg.issuers[0].jwks_url.as_deref(), Some(JWKS_URL));
    assert_eq!(cfg.validation.issuers, vec![ISSUER.to_owned()]);
    assert_eq!(cfg.validation.audiences, vec!["authenticated".to_owned()]);
    assert!(cfg.routes.iter().any(|r| r.name == "supabase:auth"));
}

#[test]
fn config_errors_name_the_field() {
    assert_eq!(config_err(json!({})).0, "supabase_url");
    assert_eq!(
        config_err(json!({"supabase_url": "http://example.com"})).0,
        "supabase_url"
    );
    assert_eq!(
        config_err(json!({"supabase_url": "https://x.supabase.co/rest"})).0,
        "supabase_url"
    );
    let (field, problem) =
        config_err(json!({"supabase_url": URL, "requre_aal2_for_enrolled": true}));
    assert!(
        problem.contains("requre_aal2_for_enrolled"),
        "{field} {problem}"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "routes": [{"path": "/x", "aal": "aal3"}]})).0,
        "routes[0].aal"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "routes": [{"path": "x"}]})).0,
        "routes[0].path"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "routes": [{"path": "/x", "methods": ["FETCH"]}]}))
            .0,
        "routes[0].methods[0]"
    );
    let (field, problem) = config_err(
        json!({"supabase_url": URL, "routes": [{"path": "/x", "claims": [{"claim": "user_metadata.role", "equals": "admin"}]}]}),
    );
    assert_eq!(field, "routes[0].claims[0].claim");
    assert!(problem.contains("user_metadata"));
    assert_eq!(config_err(json!({"supabase_url": URL, "routes": [{"path": "/x", "claims": [{"claim": "a", "equals": 1, "one_of": [1]}]}]})).0, "routes[0].claims[0]");
    assert_eq!(
        config_err(
            json!({"supabase_url": URL, "routes": [{"path": "/x", "auth": "none", "aal": "aal2"}]})
        )
        .0,
        "routes[0].auth"
    );
    assert_eq!(
        config_err(
            json!({"supabase_url": URL, "routes": [{"path": "/x", "roles": ["service_role"]}]})
        )
        .0,
        "routes[0].roles"
    );
    assert_eq!(config_err(json!({"supabase_url": URL, "routes": [{"path": "/x", "issuers": ["https://other/auth/v1"]}]})).0, "routes[0].issuers[0]");
    assert_eq!(
        config_err(json!({"supabase_url": URL, "tokens": {"algorithms": ["none"]}})).0,
        "tokens.algorithms[0]"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "tokens": {"leeway": 3600}})).0,
        "tokens.leeway"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "enrollment": {"claim": "user_metadata.mfa"}})).0,
        "enrollment.claim"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "mode": "audit"})).0,
        "mode"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "keys": {"jwks": {"nokeys": []}}})).0,
        "keys.jwks"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "keys": {"jwks_url": "ftp://x/jwks"}})).0,
        "keys.jwks_url"
    );
    assert_eq!(config_err(json!({"supabase_url": URL, "keys": {"extra_issuers": [{"issuer": "https://b/auth/v1"}]}})).0, "keys.extra_issuers[0]");
}

#[test]
fn config_problems_in_key_material_are_load_time_errors() {
    let mut private = es256_jwk(&es256_key(5), "k");
    private["d"] = json!("AAAA");
    let cfg = GateConfig::from_json(
        &json!({"supabase_url": URL, "keys": {"jwks": {"keys": [private]}}}).to_string(),
    )
    .unwrap();
    let e = Gate::new(cfg, Resources::default()).err().unwrap();
    assert_eq!(e.field, "keys.jwks");
    assert!(e.problem.contains("private"), "{}", e.problem);
    let cfg = GateConfig::from_json(
        &json!({"supabase_url": URL, "keys": {"hs256_secret_env": "SUPABASE_JWT_SECRET"}})
            .to_string(),
    )
    .unwrap();
    assert_eq!(
        Gate::new(cfg.clone(), Resources::default())
            .err()
            .unwrap()
            .field,
        "keys.hs256_secret"
    );
    let short = Resources {
        hs256_secret: Some(b"short".to_vec()),
        ..Resources::default()
    };
    assert!(Gate::new(cfg, short).err().unwrap().problem.contains("32"));
}

fn gate_from(cfg: &Value) -> Gate {
    Gate::new(
        GateConfig::from_json(&cfg.to_string()).unwrap(),
        Resources::default(),
    )
    .unwrap()
    .0
}

/// A remote-JWKS gate that has just fetched a JWKS holding `key` as "k1" (max-age 600) at `NOW`.
fn gate_with_fetched_key(key: &p256::ecdsa::SigningKey) -> Gate {
    let mut gate = remote_gate();
    gate.keys_mut()
        .fetched(JWKS_URL, &jwks_of(&[es256_jwk(key, "k1")]), Some(600), NOW)
        .unwrap();
    gate
}

fn remote_gate() -> Gate {
    let cfg = GateConfig::from_json(
        // These tests are about keys: the enrollment fact comes from the claim alone.
        &json!({"supabase_url": URL, "require_aal2_for_enrolled": true, "enrollment": {"source": "claim"}}).to_string(),
    )
    .unwrap();
    Gate::new(cfg, Resources::default()).unwrap().0
}

fn jwks_of(keys: &[Value]) -> Vec<u8> {
    json!({"keys": keys}).to_string().into_bytes()
}

fn user_token(key: &p256::ecdsa::SigningKey, kid: &str, enrolled: bool, aal: &str) -> String {
    let mut c = supabase_claims();
    c["mfa_enrolled"] = json!(enrolled);
    c["aal"] = json!(aal);
    sign(
        &json!({"alg": "ES256", "kid": kid}),
        &c,
        &Signer_::Es256(key.clone()),
    )
}

fn decide(gate: &mut Gate, token: &str, now: u64) -> Outcome {
    decide_with_apikey(gate, token, None, now)
}

fn done(o: Outcome) -> Verdict {
    match o {
        Outcome::Done(v) => v,
        other => panic!("unexpected {other:?}"),
    }
}

fn code(v: &Verdict) -> &'static str {
    match &v.decision {
        Decision::Forward(_) => "forward",
        Decision::Reject(r) | Decision::Answer(r) => r.code,
    }
}

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
    gate.keys_mut()
        .fetched(JWKS_URL, &jwks_of(&[es256_jwk(&key, "k1")]), Some(600), NOW)
        .unwrap();
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "forward");
}

#[test]
fn jwks_down_at_start_is_503_and_the_upstream_is_not_called() {
    let mut gate = remote_gate();
    let t = user_token(&es256_key(11), "k1", false, "aal1");
    assert!(matches!(decide(&mut gate, &t, NOW), Outcome::FetchKeys(_)));
    gate.keys_mut().fetch_failed(JWKS_URL, NOW);
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
    gate.keys_mut()
        .fetched(JWKS_URL, &jwks_of(&[es256_jwk(&old, "k1")]), Some(600), NOW)
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
    gate.keys_mut()
        .fetched(
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
    gate.keys_mut().fetch_failed(JWKS_URL, NOW + 600);
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
    gate.keys_mut().fetch_failed(JWKS_URL, NOW + 4300);
    assert_eq!(
        code(&done(decide(&mut gate, &late, NOW + 4300))),
        "jwks_unavailable"
    );
}

#[test]
fn garbage_or_oversized_jwks_counts_as_a_failure() {
    let mut gate = remote_gate();
    assert!(gate
        .keys_mut()
        .fetched(JWKS_URL, b"<html>nope</html>", None, NOW)
        .is_err());
    assert!(gate
        .keys_mut()
        .fetched(JWKS_URL, &vec![b' '; 70 * 1024], None, NOW)
        .is_err());
    let t = user_token(&es256_key(11), "k1", false, "aal1");
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "jwks_unavailable");
}

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
    gate.keys_mut()
        .fetched(
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
    gate.keys_mut()
        .fetched(JWKS_URL, &jwks_of(&[es256_jwk(&old, "k1")]), Some(600), NOW)
        .unwrap();
    let t = user_token(&old, "k1", false, "aal1");
    assert_eq!(code(&done(decide(&mut gate, &t, NOW))), "forward");
    assert_eq!(gate.cache().len(), 1);
    // The old key is revoked: the JWKS now has only the new one.
    gate.keys_mut()
        .fetched(
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
fn issuer_bound_keys_cannot_vouch_for_another_issuer() {
    // Project B's key signs a token claiming project A's issuer: refused.
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
    assert_eq!(
        code(&done(decide(&mut gate, &forged, NOW))),
        "issuer_mismatch"
    );
    c["iss"] = json!("https://bbbbbbbbbbbbbbbbbbbb.supabase.co/auth/v1");
    let genuine_b = sign(
        &json!({"alg": "ES256", "kid": "b1"}),
        &c,
        &Signer_::Es256(b),
    );
    assert_eq!(code(&done(decide(&mut gate, &genuine_b, NOW))), "forward");
}

#[test]
fn decision_log_line_is_json_and_omits_the_user_unless_configured() {
    let key = es256_key(11);
    let jwks = json!({"keys": [es256_jwk(&key, "k1")]});
    let make = |log_user: bool| {
        let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": true, "keys": {"jwks": jwks}, "log": {"user_id": log_user}, "enrollment": {"source": "claim"}});
        gate_from(&cfg)
    };
    let t = user_token(&key, "k1", true, "aal1");
    let v = done(decide(&mut make(false), &t, NOW));
    let line: Value = serde_json::from_str(&v.log_line(Some(42))).unwrap();
    assert_eq!(line["decision"], "reject");
    assert_eq!(line["code"], "aal2_required");
    assert_eq!(line["route"], "supabase:rest");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["aal"], "aal1");
    assert_eq!(line["enrolled"], true);
    assert_eq!(line["enrollment_source"], "claim");
    assert_eq!(line["duration_us"], 42);
    assert!(line.get("user").is_none());
    assert!(!v.log_line(None).contains(&t[..20]));
    let t2 = user_token(&key, "k1", false, "aal1");
    let v = done(decide(&mut make(true), &t2, NOW));
    let line: Value = serde_json::from_str(&v.log_line(None)).unwrap();
    assert_eq!(line["user"], USER);
}

#[test]
fn identity_headers_are_added_only_when_configured() {
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": false, "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}}, "forward": {"identity_headers": true}});
    let mut gate = gate_from(&cfg);
    let v = done(decide(
        &mut gate,
        &user_token(&key, "k1", false, "aal1"),
        NOW,
    ));
    let Decision::Forward(f) = v.decision else {
        panic!()
    };
    assert!(f
        .add_headers
        .contains(&("x-aalgate-user-id".to_owned(), USER.to_owned())));
    assert!(f
        .add_headers
        .contains(&("x-aalgate-aal".to_owned(), "aal1".to_owned())));
    assert!(aalgate::gate::Forward::strips("X-AalGate-User-Id"));
    assert!(!aalgate::gate::Forward::strips("x-aal"));
}

#[test]
fn when_unknown_settings() {
    let key = es256_key(11);
    let run = |when: &str| {
        let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": true, "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}}, "enrollment": {"source": "claim", "when_unknown": when}});
        let mut gate = gate_from(&cfg);
        let t = sign(
            &json!({"alg": "ES256", "kid": "k1"}),
            &supabase_claims(),
            &Signer_::Es256(key.clone()),
        );
        code(&done(decide(&mut gate, &t, NOW)))
    };
    assert_eq!(run("refuse"), "enrollment_unknown");
    assert_eq!(run("treat_as_enrolled"), "aal2_required");
    assert_eq!(run("treat_as_not_enrolled"), "forward");
}

#[test]
fn switch_off_means_aal1_passes_for_enrolled_users() {
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": false, "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}}});
    let mut gate = gate_from(&cfg);
    assert_eq!(
        code(&done(decide(
            &mut gate,
            &user_token(&key, "k1", true, "aal1"),
            NOW
        ))),
        "forward"
    );
}

#[test]
fn config_refuses_setups_that_break_key_fetching() {
    let jwks = json!({"keys": [es256_jwk(&es256_key(5), "k")]});
    assert_eq!(
        config_err(json!({"supabase_url": URL, "keys": {"jwks_refetch_cooldown": 0}})).0,
        "keys.jwks_refetch_cooldown"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "keys": {"jwks_url": JWKS_URL, "jwks": jwks}})).0,
        "keys"
    );
    let dup = json!({"supabase_url": URL, "keys": {"extra_issuers": [{"issuer": "https://custom.example.com/auth/v1", "jwks_url": JWKS_URL}]}});
    assert_eq!(config_err(dup).0, "keys.extra_issuers[0].jwks_url");
}

#[test]
fn config_refuses_rules_that_lock_users_out_of_mfa() {
    let (field, problem) =
        config_err(json!({"supabase_url": URL, "routes": [{"path": "/*", "aal": "aal2"}]}));
    assert_eq!(field, "routes[0]");
    assert!(problem.contains("/auth/v1"), "{problem}");
    assert_eq!(
        config_err(json!({"supabase_url": URL, "preset": false})).0,
        "preset"
    );
    let own = json!({"supabase_url": URL, "preset": false, "routes": [{"path": "/auth/v1", "auth": "none"}, {"path": "/*", "aal": "aal2"}]});
    assert!(GateConfig::from_json(&own.to_string()).is_ok());
}

#[test]
fn config_refuses_patterns_that_could_never_match() {
    for pattern in ["/rest/v1/%61dmin", "/rest/v1//x", "/rest/v1/../x"] {
        let (field, _) = config_err(json!({"supabase_url": URL, "routes": [{"path": pattern}]}));
        assert_eq!(field, "routes[0].path", "{pattern}");
    }
}

#[test]
fn unknown_kid_bursts_cause_one_fetch_per_cooldown() {
    let key = es256_key(11);
    let mut gate = gate_with_fetched_key(&key);
    let mut fetches = 0;
    for i in 0..1000 {
        let t = user_token(&key, &format!("random-{i}"), false, "aal1");
        match decide(&mut gate, &t, NOW + 40) {
            Outcome::FetchKeys(_) => fetches += 1, // handed out; the adapter has not reported back yet
            other => assert_eq!(code(&done(other)), "key_unknown"),
        }
    }
    assert_eq!(fetches, 1);
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

#[test]
fn refusals_carry_the_configured_cors_origin() {
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": true, "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}},
        "responses": {"cors_allow_origin": "https://app.example.com"}});
    let mut gate = gate_from(&cfg);
    let v = done(decide(
        &mut gate,
        &user_token(&key, "k1", true, "aal1"),
        NOW,
    ));
    let Decision::Reject(r) = v.decision else {
        panic!()
    };
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
}

#[test]
fn odd_header_names_and_methods_are_harmless() {
    assert!(!aalgate::gate::Forward::strips("x-aalgate\u{e9}"));
    assert!(!aalgate::gate::Forward::strips("é"));
    let key = es256_key(11);
    let mut gate = gate_with_fetched_key(&key);
    let auth = format!("Bearer {}", user_token(&key, "k1", false, "aal1"));
    let headers = [("authorization", auth.as_str())];
    let v = done(gate.decide(
        &Request {
            method: "X-EVIL\"}{",
            path: "/rest/v1/todos",
            query: "",
            headers: &headers,
        },
        NOW,
    ));
    let line: Value = serde_json::from_str(&v.log_line(None)).unwrap();
    assert_eq!(line["method"], "OTHER");
}

#[test]
fn raw_dot_segments_are_refused_when_they_reach_the_gate() {
    // JS runtimes resolve `..` and `%2e%2e` while parsing the URL, so these only reach the gate through
    // the native API (and the CLI); there they are refused rather than guessed at.
    let key = es256_key(11);
    let mut gate = gate_with_fetched_key(&key);
    let auth = format!("Bearer {}", user_token(&key, "k1", true, "aal1"));
    let headers = [("authorization", auth.as_str())];
    for path in [
        "/auth/v1/../rest/v1/todos",
        "/storage/v1/object/public/%2e%2e/authenticated/x",
        "/auth/v1/./x",
    ] {
        let v = done(gate.decide(
            &Request {
                method: "GET",
                path,
                query: "",
                headers: &headers,
            },
            NOW,
        ));
        assert_eq!(code(&v), "path_invalid", "{path}");
    }
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

#[test]
fn escaped_service_role_still_fails_closed() {
    // `service_role` written with a JSON escape skips the fast classification and is verified as a user
    // token; the policy refuses the role all the same.
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": false, "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}}});
    let mut gate = gate_from(&cfg);
    let claims = supabase_claims().to_string().replace(
        "\"role\":\"authenticated\"",
        "\"role\":\"\\u0073ervice_role\"",
    );
    assert!(claims.contains("\\u0073ervice_role"));
    let t = sign_raw(
        r#"{"alg":"ES256","kid":"k1"}"#,
        &claims,
        &Signer_::Es256(key),
    );
    assert_eq!(
        code(&done(decide(&mut gate, &t, NOW))),
        "service_key_forbidden"
    );
}

#[test]
fn identity_header_variants_are_stripped() {
    use aalgate::gate::Forward;
    for name in [
        "x-aalgate-user-id",
        "X-AALGATE-ROLE",
        "x-aalgate_user-id",
        "x_aalgate_user_id",
        "x-aalgate",
        "X_AalGate-Aal",
    ] {
        assert!(Forward::strips(name), "{name}");
    }
    for name in [
        "x-aalgatex",
        "x-aal",
        "aalgate-user-id",
        "x-aalgat",
        "authorization",
    ] {
        assert!(!Forward::strips(name), "{name}");
    }
}

// ---- The enrollment fact: the Auth API lookup, its cache, one lookup per user, the stale-claim window.

const USER_URL: &str = "https://abcdefghijklmnopqrst.supabase.co/auth/v1/user";

fn lookup_gate(enrollment: Value) -> (Gate, p256::ecdsa::SigningKey) {
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": true,
        "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}}, "enrollment": enrollment});
    (gate_from(&cfg), key)
}

/// An aal1 token of `sub`; `claim` is the `mfa_enrolled` value (None: absent), issued at `iat`.
fn aal1_token(key: &p256::ecdsa::SigningKey, sub: &str, claim: Option<bool>, iat: u64) -> String {
    let mut c = supabase_claims();
    c["sub"] = json!(sub);
    c["iat"] = json!(iat);
    if let Some(v) = claim {
        c["mfa_enrolled"] = json!(v);
    }
    sign(
        &json!({"alg": "ES256", "kid": "k1"}),
        &c,
        &Signer_::Es256(key.clone()),
    )
}

fn decide_with_apikey(gate: &mut Gate, token: &str, apikey: Option<&str>, now: u64) -> Outcome {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(k) = apikey {
        headers.push(("apikey", k));
    }
    gate.decide(
        &Request {
            method: "GET",
            path: "/rest/v1/todos",
            query: "",
            headers: &headers,
        },
        now,
    )
}

fn user_body(sub: &str, verified: bool) -> Vec<u8> {
    let status = if verified { "verified" } else { "unverified" };
    json!({"id": sub, "aud": "authenticated", "factors": [{"id": "f1", "factor_type": "totp", "status": status}]})
        .to_string()
        .into_bytes()
}

/// Decides; on a lookup, answers it with `answer` and decides again. Returns (code, lookups).
fn decide_answering(
    gate: &mut Gate,
    token: &str,
    now: u64,
    answer: Option<(u16, Vec<u8>)>,
) -> (&'static str, usize) {
    let mut lookups = 0;
    loop {
        match decide_with_apikey(gate, token, Some("sb_publishable_x"), now) {
            Outcome::Done(v) => return (code(&v), lookups),
            Outcome::LookupEnrollment(job) => {
                lookups += 1;
                assert!(lookups < 3, "asked twice in one decision");
                let response = answer.as_ref().map(|(s, b)| (*s, b.as_slice()));
                let _ = gate.enrollment_checked(job, response, now);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn enrollment_lookup_carries_the_users_own_credentials() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let Outcome::LookupEnrollment(job) =
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_abc"), NOW)
    else {
        panic!("expected a lookup");
    };
    assert_eq!(job.url(), USER_URL);
    assert_eq!(job.sub(), USER);
    assert_eq!(
        job.headers(),
        &[
            ("authorization".to_owned(), format!("Bearer {t}")),
            ("apikey".to_owned(), "sb_publishable_abc".to_owned())
        ]
    );
    assert_eq!(job.timeout_ms(), 3000);
    // Without an apikey on the request, the configured publishable key is used.
    let (mut gate, key) = lookup_gate(json!({"api_key": "sb_publishable_cfg"}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let Outcome::LookupEnrollment(job) = decide_with_apikey(&mut gate, &t, None, NOW) else {
        panic!("expected a lookup");
    };
    assert!(job
        .headers()
        .contains(&("apikey".to_owned(), "sb_publishable_cfg".to_owned())));
}

#[test]
fn enrollment_answers_are_cached_per_user_for_their_ttls() {
    let (mut gate, key) = lookup_gate(json!({"api_cache_ttl": 120, "api_negative_cache_ttl": 30}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let not_enrolled = Some((200, user_body(USER, false)));
    assert_eq!(
        decide_answering(&mut gate, &t, NOW, not_enrolled.clone()),
        ("forward", 1)
    );
    // Another token of the same user: from the cache until the negative TTL ends.
    let t2 = aal1_token(&key, USER, None, NOW - 5);
    assert_eq!(
        decide_answering(&mut gate, &t2, NOW + 29, None),
        ("forward", 0)
    );
    let enrolled = Some((200, user_body(USER, true)));
    assert_eq!(
        decide_answering(&mut gate, &t2, NOW + 30, enrolled),
        ("aal2_required", 1)
    );
    assert_eq!(
        decide_answering(&mut gate, &t2, NOW + 149, None),
        ("aal2_required", 0)
    );
    assert_eq!(
        decide_answering(&mut gate, &t2, NOW + 150, not_enrolled),
        ("forward", 1)
    );
    // Another user is asked about separately.
    let other = aal1_token(&key, "6f1c1b8e-0000-4000-8000-00000000ffff", None, NOW - 10);
    let other_answer = Some((200, user_body("6f1c1b8e-0000-4000-8000-00000000ffff", true)));
    assert_eq!(
        decide_answering(&mut gate, &other, NOW + 150, other_answer),
        ("aal2_required", 1)
    );
}

#[test]
fn one_lookup_in_flight_per_user_others_wait_on_their_own_timer() {
    let (mut gate, key) = lookup_gate(json!({"api_timeout_ms": 2000}));
    let a = aal1_token(&key, USER, None, NOW - 10);
    let b = aal1_token(&key, USER, None, NOW - 20);
    let Outcome::LookupEnrollment(job) =
        decide_with_apikey(&mut gate, &a, Some("sb_publishable_k"), NOW)
    else {
        panic!("expected a lookup");
    };
    // B (another request of the same user) must not start a second lookup, nor block on A's.
    assert!(
        matches!(decide_with_apikey(&mut gate, &b, Some("sb_publishable_k"), NOW), Outcome::Wait(ms) if ms > 0)
    );
    assert!(matches!(
        decide_with_apikey(&mut gate, &b, Some("sb_publishable_k"), NOW + 2),
        Outcome::Wait(_)
    ));
    gate.enrollment_checked(job, Some((200, &user_body(USER, true))), NOW + 2)
        .unwrap();
    assert_eq!(
        code(&done(decide_with_apikey(
            &mut gate,
            &b,
            Some("sb_publishable_k"),
            NOW + 2
        ))),
        "aal2_required"
    );
    assert_eq!(
        code(&done(decide_with_apikey(
            &mut gate,
            &a,
            Some("sb_publishable_k"),
            NOW + 2
        ))),
        "aal2_required"
    );
}

#[test]
fn a_lookup_that_never_reports_back_is_taken_over_after_its_timeout() {
    let (mut gate, key) = lookup_gate(json!({"api_timeout_ms": 2000}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    assert!(matches!(
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW),
        Outcome::LookupEnrollment(_)
    ));
    assert!(matches!(
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW + 2),
        Outcome::Wait(_)
    ));
    assert!(matches!(
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW + 3),
        Outcome::LookupEnrollment(_)
    ));
}

#[test]
fn a_failed_lookup_fails_closed_and_is_held_briefly() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    for answer in [
        None,
        Some((500, b"{}".to_vec())),
        Some((200, b"not json".to_vec())),
    ] {
        let mut gate = lookup_gate(json!({})).0;
        let t = aal1_token(&key, USER, None, NOW - 10);
        assert_eq!(
            decide_answering(&mut gate, &t, NOW, answer),
            ("enrollment_unavailable", 1)
        );
    }
    assert_eq!(
        decide_answering(&mut gate, &t, NOW, None),
        ("enrollment_unavailable", 1)
    );
    let held = aalgate::gate::enrollment::FAILURE_HOLD_SECS;
    assert_eq!(
        decide_answering(&mut gate, &t, NOW + held - 1, None),
        ("enrollment_unavailable", 0)
    );
    let recovered = Some((200, user_body(USER, false)));
    assert_eq!(
        decide_answering(&mut gate, &t, NOW + held, recovered),
        ("forward", 1)
    );
    // The refusal is a 503 that names no token content.
    let mut gate = lookup_gate(json!({})).0;
    let v = loop {
        match decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW) {
            Outcome::Done(v) => break v,
            Outcome::LookupEnrollment(job) => {
                let _ = gate.enrollment_checked(job, None, NOW);
            }
            other => panic!("{other:?}"),
        }
    };
    let Decision::Reject(r) = &v.decision else {
        panic!()
    };
    assert_eq!(r.status, 503);
    assert!(!r.body.to_string().contains(&t[..20]));
}

#[test]
fn an_answer_about_another_user_is_a_failure() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let wrong = Some((200, user_body("someone-else", false)));
    assert_eq!(
        decide_answering(&mut gate, &t, NOW, wrong),
        ("enrollment_unavailable", 1)
    );
}

#[test]
fn on_api_failure_settings() {
    let key = es256_key(11);
    for (setting, want) in [
        ("refuse", "enrollment_unavailable"),
        ("treat_as_enrolled", "aal2_required"),
        ("treat_as_not_enrolled", "forward"),
    ] {
        let (mut gate, _) = lookup_gate(json!({"on_api_failure": setting}));
        let t = aal1_token(&key, USER, None, NOW - 10);
        assert_eq!(
            decide_answering(&mut gate, &t, NOW, None),
            (want, 1),
            "{setting}"
        );
    }
}

#[test]
fn a_false_claim_is_trusted_only_within_false_claim_max_age() {
    let (mut gate, key) = lookup_gate(json!({"false_claim_max_age": 100}));
    let fresh = aal1_token(&key, USER, Some(false), NOW - 100);
    assert_eq!(
        decide_answering(&mut gate, &fresh, NOW, None),
        ("forward", 0)
    );
    let stale = aal1_token(&key, USER, Some(false), NOW - 101);
    let enrolled_since = Some((200, user_body(USER, true)));
    assert_eq!(
        decide_answering(&mut gate, &stale, NOW, enrolled_since),
        ("aal2_required", 1)
    );
    // The default window is 300 s.
    let (mut gate, key) = lookup_gate(json!({}));
    assert_eq!(
        decide_answering(
            &mut gate,
            &aal1_token(&key, USER, Some(false), NOW - 300),
            NOW,
            None
        ),
        ("forward", 0)
    );
    // A true claim needs no confirmation, however old.
    assert_eq!(
        decide_answering(
            &mut gate,
            &aal1_token(&key, USER, Some(true), NOW - 3000),
            NOW,
            None
        ),
        ("aal2_required", 0)
    );
}

#[test]
fn enrollment_sources() {
    let key = es256_key(11);
    let stale_false = aal1_token(&key, USER, Some(false), NOW - 1000);
    let enrolled = Some((200, user_body(USER, true)));
    // claim: the token's word, never a lookup.
    let (mut gate, _) = lookup_gate(json!({"source": "claim"}));
    assert_eq!(
        decide_answering(&mut gate, &stale_false, NOW, None),
        ("forward", 0)
    );
    let missing = aal1_token(&key, USER, None, NOW - 10);
    assert_eq!(
        decide_answering(&mut gate, &missing, NOW, None),
        ("enrollment_unknown", 0)
    );
    // auth_api: always Auth, even against a fresh claim.
    let (mut gate, _) = lookup_gate(json!({"source": "auth_api"}));
    let fresh_false = aal1_token(&key, USER, Some(false), NOW - 10);
    assert_eq!(
        decide_answering(&mut gate, &fresh_false, NOW, enrolled.clone()),
        ("aal2_required", 1)
    );
    // The preset's default is claim_then_api; without the preset, claim.
    let with_preset = GateConfig::from_json(&json!({"supabase_url": URL}).to_string()).unwrap();
    assert_eq!(with_preset.enrollment.source.as_str(), "claim_then_api");
    let without = GateConfig::from_json(
        &json!({"supabase_url": URL, "preset": false, "routes": [{"path": "/auth/v1", "auth": "none"}]}).to_string(),
    )
    .unwrap();
    assert_eq!(without.enrollment.source.as_str(), "claim");
}

#[test]
fn enrollment_config_errors_name_the_field() {
    let bad = |e: Value| config_err(json!({"supabase_url": URL, "enrollment": e})).0;
    assert_eq!(bad(json!({"api_cache_ttl": 0})), "enrollment.api_cache_ttl");
    assert_eq!(
        bad(json!({"api_negative_cache_ttl": 0})),
        "enrollment.api_negative_cache_ttl"
    );
    let w = World::new();
    let service_key = w.hs_token(&json!({"iss": "supabase", "ref": "abcdefghijklmnopqrst", "role": "service_role", "iat": NOW, "exp": NOW + 10}));
    assert_eq!(bad(json!({"api_key": service_key})), "enrollment.api_key");
    assert_eq!(bad(json!({"source": "database"})), "enrollment.source");
    assert_eq!(
        bad(json!({"api_key": "sb_secret_abc"})),
        "enrollment.api_key"
    );
    assert_eq!(
        bad(json!({"api_timeout_ms": 10})),
        "enrollment.api_timeout_ms"
    );
    assert_eq!(
        bad(json!({"false_claim_max_age": 100000})),
        "enrollment.false_claim_max_age"
    );
    assert_eq!(
        bad(json!({"api_cache_ttl": 7200})),
        "enrollment.api_cache_ttl"
    );
    assert_eq!(
        bad(json!({"on_api_failure": "retry"})),
        "enrollment.on_api_failure"
    );
}

#[test]
fn the_lookup_and_its_source_are_logged_without_credentials() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let Outcome::LookupEnrollment(job) =
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW)
    else {
        panic!()
    };
    gate.enrollment_checked(job, Some((200, &user_body(USER, true))), NOW)
        .unwrap();
    let v = done(decide_with_apikey(
        &mut gate,
        &t,
        Some("sb_publishable_k"),
        NOW,
    ));
    let line = v.log_line(None);
    assert!(line.contains(r#""enrollment_source":"auth_api""#), "{line}");
    assert!(line.contains(r#""enrolled":true"#), "{line}");
    assert!(!line.contains(&t[t.len() - 20..]), "{line}");
}

#[test]
fn auth_refusing_a_token_refuses_that_token_only_and_never_counts_as_an_outage() {
    let key = es256_key(11);
    // Even where an outage would let aal1 through, a refusal by Auth does not.
    let (mut gate, _) = lookup_gate(json!({"on_api_failure": "treat_as_not_enrolled"}));
    let bad = aal1_token(&key, USER, None, NOW - 10);
    for status in [401, 403, 404] {
        let mut gate = lookup_gate(json!({"on_api_failure": "treat_as_not_enrolled"})).0;
        assert_eq!(
            decide_answering(&mut gate, &bad, NOW, Some((status, vec![]))),
            ("token_rejected", 1)
        );
    }
    assert_eq!(
        decide_answering(&mut gate, &bad, NOW, Some((401, vec![]))),
        ("token_rejected", 1)
    );
    // The same token stays refused for a moment without asking again ...
    assert_eq!(
        decide_answering(&mut gate, &bad, NOW + 1, None),
        ("token_rejected", 0)
    );
    // ... while another token of the same user is asked about normally.
    let other = aal1_token(&key, USER, None, NOW - 20);
    let enrolled = Some((200, user_body(USER, true)));
    assert_eq!(
        decide_answering(&mut gate, &other, NOW + 1, enrolled),
        ("aal2_required", 1)
    );
}

#[test]
fn no_apikey_anywhere_is_apikey_required_without_a_lookup() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    assert_eq!(
        code(&done(decide_with_apikey(&mut gate, &t, None, NOW))),
        "apikey_required"
    );
}

#[test]
fn a_fresh_false_claim_does_not_undo_a_known_enrollment() {
    let (mut gate, key) = lookup_gate(json!({}));
    let no_claim = aal1_token(&key, USER, None, NOW - 10);
    let enrolled = Some((200, user_body(USER, true)));
    assert_eq!(
        decide_answering(&mut gate, &no_claim, NOW, enrolled),
        ("aal2_required", 1)
    );
    // An older session's token, minted before enrollment, says false and is recent: Auth's answer wins.
    let fresh_false = aal1_token(&key, USER, Some(false), NOW - 5);
    assert_eq!(
        decide_answering(&mut gate, &fresh_false, NOW, None),
        ("aal2_required", 0)
    );
}

#[test]
fn a_late_answer_from_a_lookup_that_was_taken_over_is_ignored() {
    let (mut gate, key) = lookup_gate(json!({"api_timeout_ms": 1000}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let Outcome::LookupEnrollment(slow) =
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW)
    else {
        panic!()
    };
    let Outcome::LookupEnrollment(fresh) =
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW + 3)
    else {
        panic!("the lost lookup is taken over")
    };
    gate.enrollment_checked(fresh, Some((200, &user_body(USER, true))), NOW + 3)
        .unwrap();
    // The first adapter finally reports an older "not enrolled": it must not replace the newer answer.
    gate.enrollment_checked(slow, Some((200, &user_body(USER, false))), NOW + 4)
        .unwrap();
    assert_eq!(
        code(&done(decide_with_apikey(
            &mut gate,
            &t,
            Some("sb_publishable_k"),
            NOW + 4
        ))),
        "aal2_required"
    );
}

#[test]
fn access_rules_refuse_before_any_lookup() {
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": true,
        "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}},
        "routes": [{"path": "/rest/v1/todos", "roles": ["admin_only"]}]});
    let mut gate = gate_from(&cfg);
    let t = aal1_token(&key, USER, None, NOW - 10);
    assert_eq!(
        code(&done(decide_with_apikey(
            &mut gate,
            &t,
            Some("sb_publishable_k"),
            NOW
        ))),
        "role_forbidden"
    );
}

#[test]
fn service_role_config_errors_name_the_field() {
    let bad = |roles: Value| config_err(json!({"supabase_url": URL, "service_roles": roles}));
    let route = json!([{"path": "/rest/v1/weather*"}]);
    assert_eq!(
        bad(json!([{"role": "service_role", "routes": route}])).0,
        "service_roles[0].role"
    );
    assert_eq!(
        bad(json!([{"role": "authenticated", "routes": route}])).0,
        "service_roles[0].role"
    );
    assert_eq!(
        bad(json!([{"role": "Weather", "routes": route}])).0,
        "service_roles[0].role"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": []}])).0,
        "service_roles[0].routes"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": [{"path": "rest"}]}])).0,
        "service_roles[0].routes[0].path"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": [{"path": "/x", "methods": ["FETCH"]}]}])).0,
        "service_roles[0].routes[0].methods[0]"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": route, "max_lifetime": 0}])).0,
        "service_roles[0].max_lifetime"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": route}, {"role": "w", "routes": route}])).0,
        "service_roles[1].role"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": route, "subs": [""]}])).0,
        "service_roles[0].subs[0]"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": route, "scopes": []}])).0,
        "service_roles[0].scopes"
    );
}

#[test]
fn service_roles_are_bound_to_issuers_and_not_named_in_route_roles() {
    let route = json!([{"path": "/rest/v1/weather*"}]);
    let (field, problem) = config_err(
        json!({"supabase_url": URL, "service_roles": [{"role": "w", "routes": route}],
        "routes": [{"path": "/rest/v1/weather_admin", "roles": ["w"]}]}),
    );
    assert_eq!(field, "routes[0].roles");
    assert!(problem.contains("service role"), "{problem}");
    assert_eq!(
        config_err(json!({"supabase_url": URL, "service_roles": [{"role": "w", "routes": route, "issuers": ["https://idp.example.com"]}]})).0,
        "service_roles[0].issuers[0]"
    );
    let cfg = GateConfig::from_json(
        &json!({"supabase_url": URL, "service_roles": [{"role": "w", "routes": route}]})
            .to_string(),
    )
    .unwrap();
    assert_eq!(
        cfg.service_roles[0].issuers,
        vec![ISSUER.to_owned()],
        "the project's issuer only, by default"
    );
}

#[test]
fn a_lookup_failure_never_poisons_the_users_other_requests() {
    // One request's failed lookup (an outage for it, or its own fault) is held for that request's
    // credentials only; another token of the same user asks Auth for itself at once.
    for failure in [
        None,
        Some((500, b"{}".to_vec())),
        Some((431, b"{}".to_vec())),
    ] {
        let (mut gate, key) = lookup_gate(json!({}));
        let first = aal1_token(&key, USER, None, NOW - 10);
        let other = aal1_token(&key, USER, None, NOW - 11);
        let (code, lookups) = decide_answering(&mut gate, &first, NOW, failure.clone());
        assert_eq!(lookups, 1);
        assert!(
            matches!(code, "enrollment_unavailable" | "token_rejected"),
            "{code}"
        );
        // The same request's credentials again: held, no new lookup.
        assert_eq!(decide_answering(&mut gate, &first, NOW, None), (code, 0));
        // The user's other token: its own lookup, its own answer.
        let recovered = Some((200, user_body(USER, true)));
        assert_eq!(
            decide_answering(&mut gate, &other, NOW, recovered),
            ("aal2_required", 1)
        );
    }
}

#[test]
fn a_client_caused_4xx_from_auth_is_the_requests_fault_never_an_outage() {
    // With on_api_failure = treat_as_not_enrolled, an outage lets the user pass; a 4xx the request
    // itself caused (431: headers too large, 400, 413, …) must not.
    for status in [400, 413, 431] {
        let (mut gate, key) = lookup_gate(json!({"on_api_failure": "treat_as_not_enrolled"}));
        let t = aal1_token(&key, USER, None, NOW - 10);
        assert_eq!(
            decide_answering(&mut gate, &t, NOW, Some((status, b"{}".to_vec()))),
            ("token_rejected", 1),
            "status {status}"
        );
    }
    // 429 is Auth's rate limit: an outage, subject to on_api_failure.
    let (mut gate, key) = lookup_gate(json!({"on_api_failure": "treat_as_not_enrolled"}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    assert_eq!(
        decide_answering(&mut gate, &t, NOW, Some((429, b"{}".to_vec()))),
        ("forward", 1)
    );
}

#[test]
fn the_mfa_switch_is_on_unless_the_document_says_false() {
    for doc in [
        json!({"supabase_url": URL}),
        json!({"supabase_url": URL, "log": {"user_id": true}}),
    ] {
        let cfg = GateConfig::from_json(&doc.to_string()).unwrap();
        assert!(cfg.require_aal2_for_enrolled, "{doc}");
        assert!(cfg
            .summary()
            .starts_with("require_aal2_for_enrolled = true"));
    }
    let off = GateConfig::from_json(
        &json!({"supabase_url": URL, "require_aal2_for_enrolled": false}).to_string(),
    )
    .unwrap();
    assert!(!off.require_aal2_for_enrolled);
    assert!(off.summary().contains("OFF"));
}

#[test]
fn the_proof_secret_must_be_provided_and_long_enough() {
    let cfg = || {
        GateConfig::from_json(
            &json!({"supabase_url": URL, "forward": {"proof_secret_env": "AALGATE_PROOF_SECRET"}})
                .to_string(),
        )
        .unwrap()
    };
    let missing = Gate::new(cfg(), Resources::default()).err().unwrap();
    assert_eq!(missing.field, "forward.proof_secret_env");
    assert!(missing.problem.contains("AALGATE_PROOF_SECRET"));
    let short = Resources {
        proof_secret: Some(b"too short".to_vec()),
        ..Resources::default()
    };
    let e = Gate::new(cfg(), short).err().unwrap();
    assert!(e.problem.contains("at least 32"), "{}", e.problem);
    assert!(!e.problem.contains("too short"), "never echoes the secret");
}
