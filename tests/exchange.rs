//! The token exchange beyond the conformance table: claim and aal mapping, the exp cap, derived ids,
//! a provider's JWKS fetched by URL, configuration errors, and the minted token used on the project's
//! routes (it passes the gate and its enrollment rule like a native Supabase token).

mod common;

use aalgate::gate::{Decision, Outcome, Request, Verdict};
use aalgate::{b64, Gate, GateConfig, Resources};
use common::gate::decide_with_apikey;
use common::*;
use serde_json::{json, Value};

const URL: &str = "https://abcdefghijklmnopqrst.supabase.co";
const IDP: &str = "https://idp.example.com";
const IDP_JWKS: &str = "https://idp.example.com/.well-known/jwks.json";
const APP_AUD: &str = "api://my-app";

fn exchange_key() -> p256::ecdsa::SigningKey {
    es256_key(77)
}

fn private_jwk(key: &p256::ecdsa::SigningKey, kid: &str) -> Value {
    let mut jwk = es256_jwk(key, kid);
    jwk["d"] = json!(b64::encode(&key.to_bytes()));
    jwk["key_ops"] = json!(["sign", "verify"]);
    jwk
}

/// The project trusts its own issuer key and the exchange key (uploaded to Supabase), and exchanges
/// tokens of one IdP (RS256 key `idp-rs`, ES256 key `idp-es`).
fn config(provider: Value) -> Value {
    let mut p = json!({"issuer": IDP, "jwks": {"keys": [rs256_jwk(&rs256_key(), "idp-rs"), es256_jwk(&es256_key(21), "idp-es")]},
        "audiences": [APP_AUD]});
    for (k, v) in provider.as_object().unwrap() {
        p[k] = v.clone();
    }
    if p["jwks"].is_null() {
        p.as_object_mut().unwrap().remove("jwks");
    }
    json!({"supabase_url": URL, "require_aal2_for_enrolled": true,
        "keys": {"jwks": {"keys": [es256_jwk(&es256_key(11), "project"), es256_jwk(&exchange_key(), "exchange-1")]}},
        "exchange": {"max_lifetime": 900, "providers": [p]}})
}

fn gate(cfg: &Value) -> Gate {
    let resources = Resources {
        exchange_signing_key: Some(
            private_jwk(&exchange_key(), "exchange-1")
                .to_string()
                .into_bytes(),
        ),
        ..Resources::default()
    };
    Gate::new(GateConfig::from_json(&cfg.to_string()).unwrap(), resources)
        .unwrap()
        .0
}

fn idp_claims() -> Value {
    json!({"iss": IDP, "sub": "auth0|12345", "aud": APP_AUD, "iat": NOW - 60, "exp": NOW + 3600,
        "email": "ada@example.com", "email_verified": true, "phone_number_verified": true,
        "org_id": "tenant-a", "plan": "pro", "profile": {"phone": "+15550100"}})
}

fn idp_token(claims: &Value) -> String {
    sign(
        &json!({"alg": "RS256", "kid": "idp-rs", "typ": "JWT"}),
        claims,
        &Signer_::Rs256(rs256_key()),
    )
}

fn post(gate: &mut Gate, token: &str, now: u64) -> Outcome {
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str())];
    gate.decide(
        &Request {
            method: "POST",
            path: "/aalgate/v1/exchange",
            query: "",
            headers: &headers,
        },
        now,
    )
}

fn done(o: Outcome) -> Verdict {
    match o {
        Outcome::Done(v) => v,
        other => panic!("unexpected {other:?}"),
    }
}

/// Exchanges and returns the minted token's header and claims (and the answer body).
fn exchange(gate: &mut Gate, token: &str, now: u64) -> (String, Value, Value) {
    let v = done(post(gate, token, now));
    let Decision::Answer(answer) = &v.decision else {
        panic!("{:?}", v.decision)
    };
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let minted = answer.body["access_token"].as_str().unwrap().to_owned();
    let claims: Value =
        serde_json::from_slice(&b64::decode(minted.split('.').nth(1).unwrap().as_bytes()).unwrap())
            .unwrap();
    (minted, claims, answer.body.clone())
}

fn refusal(gate: &mut Gate, token: &str, now: u64) -> (u16, &'static str) {
    match done(post(gate, token, now)).decision {
        Decision::Answer(r) => (r.status, r.code),
        other => panic!("{other:?}"),
    }
}

#[test]
fn claims_are_mapped_and_aal_follows_the_explicit_rule() {
    let mut g = gate(&config(json!({
        "claims": {"email": "email", "phone": "profile.phone", "tenant": "org_id", "app_metadata": {"plan": "plan"}},
        "aal2_when": {"acr": ["mfa"], "amr": ["otp", "hwk"]}
    })));
    let (_, c, body) = exchange(&mut g, &idp_token(&idp_claims()), NOW);
    assert_eq!(
        c["iss"], ISSUER,
        "our issuer (the project's, which Supabase's services accept)"
    );
    assert_eq!(c["aud"], "authenticated");
    assert_eq!(c["role"], "authenticated");
    assert_eq!(c["email"], "ada@example.com");
    assert_eq!(c["phone"], "+15550100");
    assert_eq!(c["tenant_id"], "tenant-a");
    assert_eq!(c["app_metadata"]["tenant_id"], "tenant-a");
    assert_eq!(c["app_metadata"]["plan"], "pro");
    assert_eq!(c["app_metadata"]["idp_iss"], IDP);
    assert_eq!(c["app_metadata"]["idp_sub"], "auth0|12345");
    assert_eq!(c["is_anonymous"], false);
    assert_eq!(c["aal"], "aal1", "no MFA evidence: aal1 (the default rule)");
    assert_eq!(c["mfa_enrolled"], false);
    assert_eq!(c["iat"], NOW);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_at"], c["exp"]);
    assert_eq!(body["expires_in"], json!(c["exp"].as_u64().unwrap() - NOW));
    for (extra, want) in [
        (json!({"acr": "mfa"}), "aal2"),
        (json!({"amr": ["pwd", "otp"]}), "aal2"),
        (json!({"amr": [{"method": "hwk"}]}), "aal2"),
        (json!({"acr": "pwd", "amr": ["pwd"]}), "aal1"),
    ] {
        let mut claims = idp_claims();
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let (_, c, _) = exchange(&mut g, &idp_token(&claims), NOW);
        assert_eq!(c["aal"], want, "{extra}");
        assert_eq!(c["mfa_enrolled"], want == "aal2");
    }
    // Without a rule, MFA claims of the IdP are not taken on trust.
    let mut plain = gate(&config(json!({})));
    let mut claims = idp_claims();
    claims["acr"] = json!("mfa");
    assert_eq!(
        exchange(&mut plain, &idp_token(&claims), NOW).1["aal"],
        "aal1"
    );
}

#[test]
fn exp_is_capped_and_ids_are_derived_deterministically() {
    let mut g = gate(&config(json!({})));
    let t = idp_token(&idp_claims());
    let (minted, c, _) = exchange(&mut g, &t, NOW);
    assert_eq!(
        c["exp"],
        json!(NOW + 900),
        "capped at exchange.max_lifetime"
    );
    let mut short = idp_claims();
    short["exp"] = json!(NOW + 120);
    assert_eq!(
        exchange(&mut g, &idp_token(&short), NOW).1["exp"],
        json!(NOW + 120),
        "never outlives the IdP token"
    );
    let sub = c["sub"].as_str().unwrap();
    assert_eq!(sub.len(), 36, "a UUID, so auth.uid() casts it");
    let (again, c2, _) = exchange(&mut g, &t, NOW);
    assert_eq!(c2["sub"], c["sub"]);
    assert_eq!(c2["session_id"], c["session_id"]);
    assert_eq!(minted, again, "ES256 signing is deterministic");
    let mut other = idp_claims();
    other["sub"] = json!("auth0|99999");
    assert_ne!(exchange(&mut g, &idp_token(&other), NOW).1["sub"], c["sub"]);
    // An IdP id that is a UUID (perhaps a Supabase user's) is never taken as is.
    let victim = "6f1c1b8e-0000-4000-8000-0000000000ab";
    let mut uuid_sub = idp_claims();
    uuid_sub["sub"] = json!(victim);
    assert_ne!(
        exchange(&mut g, &idp_token(&uuid_sub), NOW).1["sub"],
        victim
    );
}

#[test]
fn the_minted_token_passes_the_gate_and_its_enrollment_rule() {
    let mut g = gate(&config(json!({"aal2_when": {"acr": ["mfa"]}})));
    let get = |g: &mut Gate, token: &str, now: u64| {
        done(decide_with_apikey(g, token, Some("sb_publishable_x"), now))
    };
    let (aal1, _, _) = exchange(&mut g, &idp_token(&idp_claims()), NOW);
    assert!(matches!(
        get(&mut g, &aal1, NOW).decision,
        Decision::Forward(_)
    ));
    // Past the 300 s false-claim window a project token would be looked up in Supabase Auth, which does
    // not know IdP users: the exchange's own tokens are judged by their claim instead (no lookup).
    assert!(matches!(
        get(&mut g, &aal1, NOW + 600).decision,
        Decision::Forward(_)
    ));
    let mut mfa = idp_claims();
    mfa["acr"] = json!("mfa");
    let (aal2, _, _) = exchange(&mut g, &idp_token(&mfa), NOW);
    assert!(matches!(
        get(&mut g, &aal2, NOW).decision,
        Decision::Forward(_)
    ));
    // require_mfa: the provider's users count as enrolled, so their aal1 tokens get the step-up.
    let mut strict = gate(&config(
        json!({"require_mfa": true, "aal2_when": {"acr": ["mfa"]}}),
    ));
    let (aal1_strict, c, _) = exchange(&mut strict, &idp_token(&idp_claims()), NOW);
    assert_eq!(c["mfa_enrolled"], true);
    match get(&mut strict, &aal1_strict, NOW).decision {
        Decision::Reject(r) => assert_eq!(r.code, "aal2_required"),
        other => panic!("{other:?}"),
    }
    let (aal2_strict, _, _) = exchange(&mut strict, &idp_token(&mfa), NOW);
    assert!(matches!(
        get(&mut strict, &aal2_strict, NOW).decision,
        Decision::Forward(_)
    ));
}

#[test]
fn issuer_audience_and_time_are_always_checked() {
    let mut g = gate(&config(json!({})));
    let with = |k: &str, v: Value| {
        let mut c = idp_claims();
        c[k] = v;
        idp_token(&c)
    };
    assert_eq!(
        refusal(&mut g, &with("aud", json!("api://other")), NOW),
        (401, "audience_mismatch")
    );
    assert_eq!(
        refusal(&mut g, &with("aud", json!(["api://other", "x"])), NOW),
        (401, "audience_mismatch")
    );
    assert_eq!(
        refusal(&mut g, &with("exp", json!(NOW - 40)), NOW),
        (401, "token_expired")
    );
    let mut no_aud = idp_claims();
    no_aud.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        refusal(&mut g, &idp_token(&no_aud), NOW),
        (401, "claim_missing")
    );
    // Another issuer, even signed by the provider's key, is refused before any key is used.
    assert_eq!(
        refusal(
            &mut g,
            &with("iss", json!("https://idp.example.com/other")),
            NOW
        ),
        (401, "issuer_mismatch")
    );
    // A project user token is no IdP token.
    let project = sign(
        &json!({"alg": "ES256", "kid": "project"}),
        &supabase_claims(),
        &Signer_::Es256(es256_key(11)),
    );
    assert_eq!(refusal(&mut g, &project, NOW), (401, "issuer_mismatch"));
    // HS256 with the IdP's issuer: refused by the allow-list before any key is touched.
    let hs = sign(
        &json!({"alg": "HS256"}),
        &idp_claims(),
        &Signer_::Hs256(HS_SECRET.to_vec()),
    );
    assert_eq!(refusal(&mut g, &hs, NOW), (401, "alg_not_allowed"));
    // An ES256-only provider refuses the RS256 token.
    let mut es_only = gate(&config(json!({"algorithms": ["ES256"]})));
    assert_eq!(
        refusal(&mut es_only, &idp_token(&idp_claims()), NOW),
        (401, "alg_not_allowed")
    );
}

#[test]
fn a_providers_jwks_is_fetched_by_url_through_the_fetch_step() {
    let mut g = gate(&config(json!({"jwks": null, "jwks_url": IDP_JWKS})));
    let t = idp_token(&idp_claims());
    match post(&mut g, &t, NOW) {
        Outcome::FetchKeys(urls) => assert_eq!(urls[0].0, IDP_JWKS),
        other => panic!("{other:?}"),
    }
    let jwks = json!({"keys": [rs256_jwk(&rs256_key(), "idp-rs")]}).to_string();
    g.jwks_fetched(IDP_JWKS, jwks.as_bytes(), Some(600), NOW)
        .unwrap();
    exchange(&mut g, &t, NOW);
    // The provider's keys never verify tokens for the project's routes.
    let auth = format!("Bearer {t}");
    let headers = [("authorization", auth.as_str())];
    match done(g.decide(
        &Request {
            method: "GET",
            path: "/rest/v1/todos",
            query: "",
            headers: &headers,
        },
        NOW,
    ))
    .decision
    {
        Decision::Reject(r) => assert_eq!(r.code, "key_unknown"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn exchange_config_errors_name_the_field() {
    let err = |cfg: Value| GateConfig::from_json(&cfg.to_string()).unwrap_err().field;
    let base = |p: Value| config(p);
    assert_eq!(
        err(base(json!({"audiences": []}))),
        "exchange.providers[0].audiences"
    );
    assert_eq!(
        err(base(json!({"algorithms": ["HS256"]}))),
        "exchange.providers[0].algorithms[0]"
    );
    assert_eq!(
        err(base(json!({"issuer": ISSUER}))),
        "exchange.providers[0].issuer"
    );
    assert_eq!(
        err(base(json!({"jwks_url": IDP_JWKS}))),
        "exchange.providers[0].jwks_url"
    );
    assert_eq!(
        err(base(
            json!({"jwks": null, "jwks_url": "http://idp.example.com/jwks"})
        )),
        "exchange.providers[0].jwks_url"
    );
    assert_eq!(
        err(base(json!({"claims": {"app_metadata": {"provider": "x"}}}))),
        "exchange.providers[0].claims.app_metadata.provider"
    );
    let mut c = base(json!({}));
    c["exchange"]["path"] = json!("/rest/v1/exchange");
    assert_eq!(err(c), "exchange.path");
    let mut c = base(json!({}));
    c["exchange"]["max_lifetime"] = json!(999_999);
    assert_eq!(err(c), "exchange.max_lifetime");
    assert_eq!(
        err(json!({"supabase_url": URL, "exchange": {"path": "/x"}})),
        "exchange.providers"
    );
    // The signing key: missing, or not ES256.
    let cfg = GateConfig::from_json(&base(json!({})).to_string()).unwrap();
    let e = Gate::new(cfg.clone(), Resources::default()).err().unwrap();
    assert_eq!(e.field, "exchange.signing_key_env");
    assert!(e.problem.contains("AALGATE_SIGNING_KEY"), "{}", e.problem);
    let rsa = aalgate::signing::SigningKey::rs256("rs-1".into(), rs256_key())
        .unwrap()
        .private_jwk();
    let with_rsa = Resources {
        exchange_signing_key: Some(rsa.to_string().into_bytes()),
        ..Resources::default()
    };
    let e = Gate::new(cfg, with_rsa).err().unwrap();
    assert!(e.problem.contains("ES256"), "{}", e.problem);
}

#[test]
fn the_endpoint_answers_preflights_refuses_other_methods_and_never_forwards() {
    let mut g = gate(&config(json!({})));
    let headers = [
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
    ];
    let v = done(g.decide(
        &Request {
            method: "OPTIONS",
            path: "/aalgate/v1/exchange",
            query: "",
            headers: &headers,
        },
        NOW,
    ));
    let Decision::Answer(r) = &v.decision else {
        panic!()
    };
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    let v = done(g.decide(
        &Request {
            method: "GET",
            path: "/aalgate/v1/exchange",
            query: "",
            headers: &[],
        },
        NOW,
    ));
    let Decision::Answer(r) = &v.decision else {
        panic!()
    };
    assert_eq!((r.status, r.code), (405, "method_not_allowed"));
    assert_eq!(v.log.decision, "answer");
    // report_only does not turn the endpoint's refusals into forwards (there is nothing upstream).
    let mut cfg = config(json!({}));
    cfg["mode"] = json!("report_only");
    let mut g = gate(&cfg);
    let v = done(post(&mut g, "not-a-token", NOW));
    assert_eq!(v.log.decision, "answer");
    assert!(matches!(&v.decision, Decision::Answer(r) if r.status == 401));
}

#[test]
fn what_the_review_found() {
    // Unverified addresses are not copied; a non-string tenant is dropped; `claims.sub` picks the id.
    let mut g = gate(&config(
        json!({"claims": {"sub": "oid", "email": "email", "tenant": "org_id"}}),
    ));
    let mut c = idp_claims();
    c["email_verified"] = json!(false);
    c["org_id"] = json!(["a", "b"]);
    c["oid"] = json!("entra-object-id");
    let (_, minted, _) = exchange(&mut g, &idp_token(&c), NOW);
    assert_eq!(minted["email"], "");
    assert!(minted.get("tenant_id").is_none());
    let mut c2 = c.clone();
    c2["sub"] = json!("another-pairwise-sub");
    assert_eq!(
        exchange(&mut g, &idp_token(&c2), NOW).1["sub"],
        minted["sub"],
        "the id comes from `oid`"
    );
    let no_oid = idp_claims();
    assert_eq!(
        refusal(&mut g, &idp_token(&no_oid), NOW),
        (401, "claim_missing")
    );
    // iat is required.
    let mut no_iat = idp_claims();
    no_iat.as_object_mut().unwrap().remove("iat");
    assert_eq!(
        refusal(&mut gate(&config(json!({}))), &idp_token(&no_iat), NOW),
        (401, "claim_missing")
    );
    // The enrollment fact goes where the gate reads it.
    let mut cfg = config(json!({"require_mfa": true, "aal2_when": {"acr": ["mfa"]}}));
    cfg["enrollment"] = json!({"claim": "app_metadata.mfa"});
    let (_, nested, _) = exchange(&mut gate(&cfg), &idp_token(&idp_claims()), NOW);
    assert_eq!(nested["app_metadata"]["mfa"], true);
    assert!(nested.get("mfa_enrolled").is_none());
    // Config: a provider can be none of the gate's issuers; require_mfa needs a rule; no mapping onto
    // the enrollment claim.
    let err = |cfg: Value| GateConfig::from_json(&cfg.to_string()).unwrap_err().field;
    let mut clash = config(json!({"issuer": "https://partner.example.com/auth/v1"}));
    clash["keys"]["extra_issuers"] = json!([{"issuer": "https://partner.example.com/auth/v1", "jwks": {"keys": [es256_jwk(&es256_key(5), "p")]}}]);
    assert_eq!(err(clash), "exchange.providers[0].issuer");
    assert_eq!(
        err(config(json!({"require_mfa": true}))),
        "exchange.providers[0].require_mfa"
    );
    let mut onto = config(json!({"claims": {"app_metadata": {"mfa": "amr"}}}));
    onto["enrollment"] = json!({"claim": "app_metadata.mfa"});
    assert_eq!(err(onto), "exchange.providers[0].claims.app_metadata.mfa");
}

#[test]
fn a_project_token_signed_with_the_exchange_key_is_not_taken_for_a_minted_one() {
    // Supabase Auth signing with the exchange key (a misconfiguration): its tokens lack the mark, so
    // the gate still asks Auth about their users.
    let mut g = gate(&config(json!({})));
    let t = sign(
        &json!({"alg": "ES256", "kid": "exchange-1"}),
        &supabase_claims(),
        &Signer_::Es256(exchange_key()),
    );
    let auth = format!("Bearer {t}");
    let headers = [
        ("authorization", auth.as_str()),
        ("apikey", "sb_publishable_x"),
    ];
    let o = g.decide(
        &Request {
            method: "GET",
            path: "/rest/v1/todos",
            query: "",
            headers: &headers,
        },
        NOW,
    );
    assert!(matches!(o, Outcome::LookupEnrollment(_)), "{o:?}");
}

#[test]
fn providers_sharing_a_jwks_url_both_get_the_keys() {
    let key = rs256_jwk(&rs256_key(), "idp-rs");
    let mut cfg = config(json!({"jwks": null, "jwks_url": IDP_JWKS}));
    cfg["exchange"]["providers"].as_array_mut().unwrap().push(json!({"issuer": "https://idp.example.com/tenant-2", "jwks_url": IDP_JWKS, "audiences": [APP_AUD]}));
    let mut g = gate(&cfg);
    let t1 = idp_token(&idp_claims());
    let mut c2 = idp_claims();
    c2["iss"] = json!("https://idp.example.com/tenant-2");
    let t2 = idp_token(&c2);
    assert!(matches!(post(&mut g, &t1, NOW), Outcome::FetchKeys(_)));
    g.jwks_fetched(
        IDP_JWKS,
        json!({"keys": [key]}).to_string().as_bytes(),
        Some(600),
        NOW,
    )
    .unwrap();
    exchange(&mut g, &t1, NOW);
    exchange(&mut g, &t2, NOW);
}

#[test]
fn a_provider_key_can_be_a_pem_public_key() {
    use rsa::pkcs8::EncodePublicKey;
    let pem = rsa::RsaPublicKey::from(&rs256_key())
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let mut g = gate(&config(
        json!({"jwks": null, "public_key_pem": pem, "kid": "idp-rs"}),
    ));
    exchange(&mut g, &idp_token(&idp_claims()), NOW);
    let err = |p: Value| GateConfig::from_json(&config(p).to_string()).unwrap_err();
    let e = err(
        json!({"jwks": null, "public_key_pem": "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----"}),
    );
    assert_eq!(e.field, "exchange.providers[0].public_key_pem");
    let e = err(
        json!({"jwks": null, "public_key_pem": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"}),
    );
    assert_eq!(e.field, "exchange.providers[0].public_key_pem");
    assert_eq!(err(json!({"kid": "x"})).field, "exchange.providers[0].kid");
}

#[test]
fn attack_http_jwks_url_on_a_host_that_only_starts_like_localhost_is_refused() {
    // A prefix test (`starts_with("http://localhost")`) would accept these: plain http to a host the
    // attacker owns, serving the keys that decide who may mint tokens.
    let err = |url: &str| {
        GateConfig::from_json(&config(json!({"jwks": null, "jwks_url": url})).to_string())
            .unwrap_err()
            .field
    };
    for url in [
        "http://localhost.evil.example/jwks.json",
        "http://127.0.0.1.evil.example/jwks.json",
        "http://localhost@evil.example/jwks.json",
    ] {
        assert_eq!(err(url), "exchange.providers[0].jwks_url", "{url}");
    }
    // Loopback development stays possible.
    assert!(GateConfig::from_json(
        &config(json!({"jwks": null, "jwks_url": "http://127.0.0.1:9999/jwks.json"})).to_string()
    )
    .is_ok());
}
