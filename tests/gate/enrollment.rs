//! The enrollment fact: its sources, how long a false claim is trusted, Auth's answers cached per user,
//! enrollment config errors, access rules before any lookup.

use crate::common::gate::*;
use crate::common::*;
use aalgate::GateConfig;
use serde_json::{json, Value};

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
    assert_eq!(with_preset.enrollment().source.as_str(), "claim_then_api");
    let without = GateConfig::from_json(
        &json!({"supabase_url": URL, "preset": false, "routes": [{"path": "/auth/v1", "auth": "none"}]}).to_string(),
    )
    .unwrap();
    assert_eq!(without.enrollment().source.as_str(), "claim");
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
