//! The harness of `tests/gate/`: gates built from a document or with a fetched JWKS, the usual user
//! tokens, one request decided, an enrollment lookup answered.

use super::*;
use aalgate::gate::{Decision, Outcome, Request, Verdict};
use aalgate::{Gate, GateConfig, Resources};
use serde_json::{json, Value};

pub const URL: &str = "https://abcdefghijklmnopqrst.supabase.co";
pub const JWKS_URL: &str = "https://abcdefghijklmnopqrst.supabase.co/auth/v1/.well-known/jwks.json";

pub fn config_err(doc: Value) -> (String, String) {
    let e = GateConfig::from_json(&doc.to_string()).unwrap_err();
    (e.field, e.problem)
}

pub fn gate_from(cfg: &Value) -> Gate {
    Gate::new(
        GateConfig::from_json(&cfg.to_string()).unwrap(),
        Resources::default(),
    )
    .unwrap()
    .0
}

/// A remote-JWKS gate that has just fetched a JWKS holding `key` as "k1" (max-age 600) at `NOW`.
pub fn gate_with_fetched_key(key: &p256::ecdsa::SigningKey) -> Gate {
    let mut gate = remote_gate();
    gate.jwks_fetched(JWKS_URL, &jwks_of(&[es256_jwk(key, "k1")]), Some(600), NOW)
        .unwrap();
    gate
}

pub fn remote_gate() -> Gate {
    let cfg = GateConfig::from_json(
        // These tests are about keys: the enrollment fact comes from the claim alone.
        &json!({"supabase_url": URL, "require_aal2_for_enrolled": true, "enrollment": {"source": "claim"}}).to_string(),
    )
    .unwrap();
    Gate::new(cfg, Resources::default()).unwrap().0
}

pub fn jwks_of(keys: &[Value]) -> Vec<u8> {
    json!({"keys": keys}).to_string().into_bytes()
}

pub fn user_token(key: &p256::ecdsa::SigningKey, kid: &str, enrolled: bool, aal: &str) -> String {
    let mut c = supabase_claims();
    c["mfa_enrolled"] = json!(enrolled);
    c["aal"] = json!(aal);
    sign(
        &json!({"alg": "ES256", "kid": kid}),
        &c,
        &Signer_::Es256(key.clone()),
    )
}

pub fn decide(gate: &mut Gate, token: &str, now: u64) -> Outcome {
    decide_with_apikey(gate, token, None, now)
}

pub fn done(o: Outcome) -> Verdict {
    match o {
        Outcome::Done(v) => v,
        other => panic!("unexpected {other:?}"),
    }
}

pub fn code(v: &Verdict) -> &'static str {
    match &v.decision {
        Decision::Forward(_) => "forward",
        Decision::Reject(r) | Decision::Answer(r) => r.code,
    }
}

pub fn lookup_gate(enrollment: Value) -> (Gate, p256::ecdsa::SigningKey) {
    let key = es256_key(11);
    let cfg = json!({"supabase_url": URL, "require_aal2_for_enrolled": true,
        "keys": {"jwks": {"keys": [es256_jwk(&key, "k1")]}}, "enrollment": enrollment});
    (gate_from(&cfg), key)
}

/// An aal1 token of `sub`; `claim` is the `mfa_enrolled` value (None: absent), issued at `iat`.
pub fn aal1_token(
    key: &p256::ecdsa::SigningKey,
    sub: &str,
    claim: Option<bool>,
    iat: u64,
) -> String {
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

pub fn decide_with_apikey(gate: &mut Gate, token: &str, apikey: Option<&str>, now: u64) -> Outcome {
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

pub fn user_body(sub: &str, verified: bool) -> Vec<u8> {
    let status = if verified { "verified" } else { "unverified" };
    json!({"id": sub, "aud": "authenticated", "factors": [{"id": "f1", "factor_type": "totp", "status": status}]})
        .to_string()
        .into_bytes()
}

/// Decides; on a lookup, answers it with `answer` and decides again. Returns (code, lookups).
pub fn decide_answering(
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
