//! Claim validation edge cases and the typed Supabase view.

mod common;

use aalgate::{Aal, RequiredClaim};
use common::*;
use serde_json::json;

fn code_with(w: &World, f: impl FnOnce(&mut serde_json::Value)) -> &'static str {
    let mut c = supabase_claims();
    f(&mut c);
    w.code(&w.es_token(&c))
}

#[test]
fn iat_in_the_future_beyond_leeway_is_refused() {
    let w = World::new();
    assert_eq!(code_with(&w, |c| c["iat"] = json!(NOW + 30)), "ok");
    assert_eq!(
        code_with(&w, |c| c["iat"] = json!(NOW + 31)),
        "issued_in_future"
    );
}

#[test]
fn nbf_is_honoured_when_present() {
    let w = World::new();
    assert_eq!(code_with(&w, |c| c["nbf"] = json!(NOW + 30)), "ok");
    assert_eq!(
        code_with(&w, |c| c["nbf"] = json!(NOW + 31)),
        "token_not_yet_valid"
    );
    assert_eq!(code_with(&w, |c| c["nbf"] = json!("soon")), "claim_invalid");
}

#[test]
fn lifetime_cap() {
    let w = World::new();
    assert_eq!(
        code_with(&w, |c| {
            c["iat"] = json!(NOW - 100);
            c["exp"] = json!(NOW - 100 + 86_400)
        }),
        "ok"
    );
    assert_eq!(
        code_with(&w, |c| {
            c["iat"] = json!(NOW - 100);
            c["exp"] = json!(NOW - 100 + 86_401)
        }),
        "lifetime_too_long"
    );
    assert_eq!(
        code_with(&w, |c| {
            c["iat"] = json!(NOW);
            c["exp"] = json!(NOW - 1)
        }),
        "claim_invalid"
    );
    let mut w = World::new();
    w.validation.max_lifetime = None;
    assert_eq!(
        code_with(&w, |c| {
            c["iat"] = json!(NOW);
            c["exp"] = json!(NOW + 10 * 86_400)
        }),
        "ok"
    );
}

#[test]
fn issuer_must_match_exactly() {
    let w = World::new();
    assert_eq!(
        code_with(&w, |c| c["iss"] = json!(format!("{ISSUER}/"))),
        "issuer_mismatch"
    );
    assert_eq!(
        code_with(&w, |c| c["iss"] = json!("https://evil.supabase.co/auth/v1")),
        "issuer_mismatch"
    );
    assert_eq!(
        code_with(&w, |c| c["iss"] = json!(ISSUER.to_uppercase())),
        "issuer_mismatch"
    );
    assert_eq!(code_with(&w, |c| c["iss"] = json!(["x"])), "claim_invalid");
    assert_eq!(
        code_with(&w, |c| {
            c.as_object_mut().unwrap().remove("iss");
        }),
        "claim_missing"
    );
}

#[test]
fn missing_or_mistyped_sub() {
    let w = World::new();
    let mut c = supabase_claims();
    c.as_object_mut().unwrap().remove("sub");
    let err = w.verify(&w.es_token(&c)).unwrap_err();
    assert_eq!(err.code().as_str(), "claim_missing");
    assert_eq!(err.context(), "claim `sub` is required");
    assert_eq!(code_with(&w, |c| c["sub"] = json!(42)), "claim_invalid");
}

#[test]
fn required_claims_are_configurable() {
    let mut w = World::new();
    w.validation.required = vec![RequiredClaim::Exp];
    w.validation.audiences.clear();
    assert_eq!(
        code_with(&w, |c| {
            let o = c.as_object_mut().unwrap();
            o.remove("sub");
            o.remove("aud");
        }),
        "ok"
    );
    w.validation.required.push(RequiredClaim::Iat);
    assert_eq!(
        code_with(&w, |c| {
            c.as_object_mut().unwrap().remove("iat");
        }),
        "claim_missing"
    );
}

#[test]
fn aal_absent_means_aal1_and_unknown_values_are_refused() {
    let w = World::new();
    let mut c = supabase_claims();
    c.as_object_mut().unwrap().remove("aal");
    assert_eq!(w.verify(&w.es_token(&c)).unwrap().claims().aal, Aal::Aal1);
    c["aal"] = json!("aal2");
    assert_eq!(w.verify(&w.es_token(&c)).unwrap().claims().aal, Aal::Aal2);
    assert_eq!(code_with(&w, |c| c["aal"] = json!("AAL2")), "claim_invalid");
    assert_eq!(code_with(&w, |c| c["aal"] = json!(2)), "claim_invalid");
}

#[test]
fn amr_objects_and_strings_are_both_read() {
    let w = World::new();
    let mut c = supabase_claims();
    c["aal"] = json!("aal2");
    c["amr"] = json!([
        {"method": "totp", "timestamp": NOW - 60},
        {"method": "oauth", "timestamp": NOW - 900, "provider": "github"},
        "password",
        {"method": "mfa/webauthn", "timestamp": NOW - 30},
    ]);
    let v = w.verify(&w.es_token(&c)).unwrap();
    let amr = &v.claims().amr;
    assert_eq!(amr.len(), 4);
    assert_eq!(amr[1].provider.as_deref(), Some("github"));
    assert_eq!(amr[2].method, "password");
    assert_eq!(amr[2].timestamp, None);
    assert_eq!(v.claims().newest_mfa_at(), Some(NOW - 30));
    assert_eq!(
        code_with(&w, |c| c["amr"] = json!("password")),
        "claim_invalid"
    );
    assert_eq!(
        code_with(&w, |c| c["amr"] = json!([{"timestamp": 1}])),
        "claim_invalid"
    );
    assert_eq!(
        code_with(&w, |c| c["amr"] =
            json!([{"method": "totp", "timestamp": "1"}])),
        "claim_invalid"
    );
    assert_eq!(code_with(&w, |c| c["amr"] = json!([7])), "claim_invalid");
}

#[test]
fn typed_view_reads_supabase_claims() {
    let w = World::new();
    let mut c = supabase_claims();
    c["client_id"] = json!("client-1");
    c["scope"] = json!("openid email");
    c["mfa_enrolled"] = json!(true);
    let v = w.verify(&w.es_token(&c)).unwrap();
    let claims = v.claims();
    assert_eq!(claims.sub.as_deref(), Some(USER));
    assert_eq!(claims.role.as_deref(), Some("authenticated"));
    assert_eq!(claims.phone.as_deref(), Some(""));
    assert!(!claims.is_anonymous);
    assert_eq!(claims.client_id.as_deref(), Some("client-1"));
    assert_eq!(claims.scope.as_deref(), Some("openid email"));
    assert_eq!(claims.get("mfa_enrolled"), Some(&json!(true)));
    assert_eq!(claims.get("app_metadata").unwrap()["provider"], "email");
    assert_eq!(v.header().kid(), Some("es-1"));
    assert_eq!(
        code_with(&w, |c| c["is_anonymous"] = json!("false")),
        "claim_invalid"
    );
    assert_eq!(code_with(&w, |c| c["email"] = json!(1)), "claim_invalid");
}

#[test]
fn null_is_not_a_value_for_typed_claims() {
    let w = World::new();
    for name in [
        "role",
        "session_id",
        "email",
        "phone",
        "client_id",
        "scope",
        "is_anonymous",
        "amr",
        "aal",
        "sub",
        "iss",
    ] {
        assert_eq!(
            code_with(&w, |c| c[name] = json!(null)),
            "claim_invalid",
            "{name}"
        );
    }
}

#[test]
fn wrong_types_for_each_typed_string_claim() {
    let w = World::new();
    for name in [
        "role",
        "session_id",
        "email",
        "phone",
        "client_id",
        "scope",
        "iss",
        "sub",
    ] {
        assert_eq!(
            code_with(&w, |c| c[name] = json!(["x"])),
            "claim_invalid",
            "{name}"
        );
        assert_eq!(
            code_with(&w, |c| c[name] = json!(7)),
            "claim_invalid",
            "{name}"
        );
    }
}

#[test]
fn empty_sub_is_refused() {
    let w = World::new();
    assert_eq!(code_with(&w, |c| c["sub"] = json!("")), "claim_invalid");
}

#[test]
fn default_validation_accepts_no_issuer_until_told() {
    let w = World::new();
    let t = w.es_token(&supabase_claims());
    let strict = aalgate::Validation::default();
    let r = aalgate::verify(&t, &w.keys, &strict, &aalgate::NativeProvider, NOW);
    assert_eq!(r.unwrap_err().code().as_str(), "issuer_mismatch");
    let any = aalgate::Validation {
        any_issuer: true,
        ..aalgate::Validation::default()
    };
    assert!(aalgate::verify(&t, &w.keys, &any, &aalgate::NativeProvider, NOW).is_ok());
}
