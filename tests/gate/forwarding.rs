//! What the gate adds to what it forwards or answers: identity headers (and stripping their spoofs), CORS on
//! refusals, the decision log line.

use crate::common::gate::*;
use crate::common::*;
use aalgate::gate::{Decision, Request};
use serde_json::{json, Value};

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
