//! Service tokens in the shape `supabase gen bearer-jwt` mints (`exp`, `iat`, `role`, `sub`; no `iss`,
//! no `aud`): accepted only for a service role with `accept_cli_tokens = true` and only when one of
//! the project's own keys signed them. (tests/supabase-cli runs the same recipe with the real CLI.)

use crate::common::gate::*;
use crate::common::*;
use aalgate::gate::Gate;
use serde_json::{json, Value};

const ROLE: &str = "backend_agent_1";
const OTHER_ISSUER: &str = "https://bbbbbbbbbbbbbbbbbbbb.supabase.co/auth/v1";

fn gate(role: Value, project: &p256::ecdsa::SigningKey, other: &p256::ecdsa::SigningKey) -> Gate {
    let mut role = role;
    role["role"] = json!(ROLE);
    role["routes"] = json!([{"path": "/rest/v1/todos", "methods": ["GET"]}]);
    let mut gate = gate_from(&json!({
        "supabase_url": URL,
        "keys": {"jwks": {"keys": [es256_jwk(project, "project")]},
                 "extra_issuers": [{"issuer": OTHER_ISSUER, "jwks": {"keys": [es256_jwk(other, "other")]}}]},
        "service_roles": [role],
    }));
    gate.set_tracing(true);
    gate
}

/// What `supabase gen bearer-jwt --role R --sub S --valid-for <lifetime>` mints, signed by `key`.
fn cli_token(key: &p256::ecdsa::SigningKey, kid: &str, role: &str, lifetime: u64) -> String {
    let claims = json!({"exp": NOW + lifetime, "iat": NOW, "role": role, "sub": USER});
    sign(
        &json!({"alg": "ES256", "kid": kid, "typ": "JWT"}),
        &claims,
        &Signer_::Es256(key.clone()),
    )
}

/// The refusal code and the steps' text (where the reason is).
fn outcome(gate: &mut Gate, token: &str) -> (&'static str, String) {
    let v = done(decide(gate, token, NOW));
    (code(&v), v.steps.join("\n"))
}

#[test]
fn a_cli_token_passes_only_for_a_role_that_accepts_them() {
    let (project, other) = (es256_key(21), es256_key(22));
    let token = cli_token(&project, "project", ROLE, 900);
    let mut on = gate(json!({"accept_cli_tokens": true}), &project, &other);
    assert_eq!(outcome(&mut on, &token).0, "forward");

    let mut off = gate(json!({}), &project, &other);
    let (code, why) = outcome(&mut off, &token);
    assert_eq!(code, "claim_missing");
    assert!(why.contains("accept_cli_tokens = true"), "{why}");
}

#[test]
fn attack_issuerless_token_signed_by_another_issuers_key_is_refused() {
    // The role trusts both issuers for tokens that say who issued them; a token that says nothing may
    // only be vouched for by the project's own keys, or the other issuer could mint for the project.
    let (project, other) = (es256_key(21), es256_key(22));
    let mut g = gate(
        json!({"accept_cli_tokens": true, "issuers": [ISSUER, OTHER_ISSUER]}),
        &project,
        &other,
    );
    // Only the project's key sets are looked at for it, so the other issuer's `kid` is unknown.
    let (code, why) = outcome(&mut g, &cli_token(&other, "other", ROLE, 900));
    assert_eq!(code, "key_unknown");
    assert!(why.contains("no ES256 key has the token's `kid`"), "{why}");
    assert_eq!(
        outcome(&mut g, &cli_token(&project, "project", ROLE, 900)).0,
        "forward"
    );
}

#[test]
fn attack_cli_shape_for_a_user_role_or_another_role_stays_refused() {
    let (project, other) = (es256_key(21), es256_key(22));
    let mut g = gate(json!({"accept_cli_tokens": true}), &project, &other);
    for role in ["authenticated", "anon", "reporting_job"] {
        let (code, why) = outcome(&mut g, &cli_token(&project, "project", role, 900));
        assert_eq!(code, "claim_missing", "{role}");
        assert!(why.contains("accept_cli_tokens"), "{why}");
    }
}

#[test]
fn half_the_shape_is_not_the_cli_shape() {
    // `iss` without `aud` (or the reverse) is no CLI token: the usual rules apply.
    let (project, other) = (es256_key(21), es256_key(22));
    let mut g = gate(json!({"accept_cli_tokens": true}), &project, &other);
    let signer = Signer_::Es256(project.clone());
    let header = json!({"alg": "ES256", "kid": "project"});
    let base = json!({"exp": NOW + 900, "iat": NOW, "role": ROLE, "sub": USER});
    let mut with_iss = base.clone();
    with_iss["iss"] = json!(ISSUER);
    assert_eq!(
        outcome(&mut g, &sign(&header, &with_iss, &signer)).0,
        "claim_missing"
    );
    let mut with_aud = base;
    with_aud["aud"] = json!("authenticated");
    assert_eq!(
        outcome(&mut g, &sign(&header, &with_aud, &signer)).0,
        "claim_missing"
    );
}

#[test]
fn the_recipes_2400h_is_refused_naming_max_lifetime() {
    let (project, other) = (es256_key(21), es256_key(22));
    let mut g = gate(
        json!({"accept_cli_tokens": true, "max_lifetime": 3600}),
        &project,
        &other,
    );
    let (code, why) = outcome(&mut g, &cli_token(&project, "project", ROLE, 2400 * 3600));
    assert_eq!(code, "lifetime_too_long");
    assert!(why.contains("max_lifetime"), "{why}");
    assert_eq!(
        outcome(&mut g, &cli_token(&project, "project", ROLE, 3600)).0,
        "forward"
    );
}

#[test]
fn accept_cli_tokens_needs_the_projects_issuer() {
    let route = json!([{"path": "/rest/v1/todos"}]);
    let doc = json!({"supabase_url": URL,
        "keys": {"extra_issuers": [{"issuer": OTHER_ISSUER, "jwks_url": "https://bbbbbbbbbbbbbbbbbbbb.supabase.co/auth/v1/.well-known/jwks.json"}]},
        "service_roles": [{"role": ROLE, "routes": route, "accept_cli_tokens": true, "issuers": [OTHER_ISSUER]}]});
    let (field, problem) = config_err(doc);
    assert_eq!(field, "service_roles[0].accept_cli_tokens");
    assert!(problem.contains("project's own issuer"), "{problem}");
}

#[test]
fn another_issuers_key_with_the_projects_kid_does_not_hide_the_projects_key() {
    // Without `iss` there is nothing to pick the issuer by when two issuers have a key of that kid:
    // the project's own is the only one that may vouch for the token.
    let (project, other) = (es256_key(21), es256_key(22));
    let mut g = gate_from(&json!({
        "supabase_url": URL,
        "keys": {"jwks": {"keys": [es256_jwk(&project, "k1")]},
                 "extra_issuers": [{"issuer": OTHER_ISSUER, "jwks": {"keys": [es256_jwk(&other, "k1")]}}]},
        "service_roles": [{"role": ROLE, "accept_cli_tokens": true, "issuers": [ISSUER, OTHER_ISSUER],
                           "routes": [{"path": "/rest/v1/todos"}]}],
    }));
    assert_eq!(
        outcome(&mut g, &cli_token(&project, "k1", ROLE, 900)).0,
        "forward"
    );
    // The other issuer's key under the same kid: verified against the project's key, and fails.
    assert_eq!(
        outcome(&mut g, &cli_token(&other, "k1", ROLE, 900)).0,
        "signature_invalid"
    );
}
