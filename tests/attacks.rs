//! One named test per attack class (DEVELOPERS.md, "Tests prove behaviour"). Each asserts the exact
//! refusal code, so a regression that refuses for the wrong reason is caught too.

mod common;

use aalgate::b64;
use aalgate::keys::import_jwk;
use aalgate::{Algorithm, AlgorithmSet, KeySet, Validation};
use common::*;
use serde_json::json;

fn world() -> World {
    World::new()
}

fn header_b64(h: &str) -> String {
    b64::encode(h.as_bytes())
}

#[test]
fn sanity_valid_tokens_of_each_algorithm_pass() {
    let w = world();
    let c = supabase_claims();
    assert_eq!(w.code(&w.es_token(&c)), "ok");
    assert_eq!(w.code(&w.rs_token(&c)), "ok");
    assert_eq!(w.code(&w.hs_token(&c)), "ok");
}

#[test]
fn attack_alg_none_is_refused_in_every_spelling() {
    let w = world();
    let payload = b64::encode(supabase_claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = header_b64(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        // Unsecured JWS: empty signature segment.
        assert_eq!(
            w.code(&format!("{h}.{payload}.")),
            "alg_not_allowed",
            "{alg}"
        );
        // And with a signature copied from a valid token.
        let valid = w.hs_token(&supabase_claims());
        let sig = valid.rsplit('.').next().unwrap();
        assert_eq!(
            w.code(&format!("{h}.{payload}.{sig}")),
            "alg_not_allowed",
            "{alg}"
        );
    }
}

#[test]
fn attack_alg_missing_or_not_a_string() {
    let w = world();
    let s = Signer_::Hs256(HS_SECRET.to_vec());
    let claims = supabase_claims().to_string();
    assert_eq!(
        w.code(&sign_raw(r#"{"typ":"JWT"}"#, &claims, &s)),
        "alg_not_allowed"
    );
    assert_eq!(
        w.code(&sign_raw(r#"{"alg":["HS256"]}"#, &claims, &s)),
        "alg_not_allowed"
    );
    assert_eq!(
        w.code(&sign_raw(r#"{"alg":null}"#, &claims, &s)),
        "alg_not_allowed"
    );
}

#[test]
fn attack_alg_confusion_rsa_public_key_as_hmac_secret() {
    // The classic attack: sign HS256 with the server's *public* key bytes, hoping the verifier uses
    // "the key" for whatever alg the header says.
    let w = world();
    let public_jwk = rs256_jwk(&w.rs, "rs-1").to_string();
    let public_n = b64::decode(rs256_jwk(&w.rs, "rs-1")["n"].as_str().unwrap().as_bytes()).unwrap();
    let claims = supabase_claims();
    for secret in [public_jwk.as_bytes().to_vec(), public_n] {
        let token = sign(
            &json!({"alg":"HS256","kid":"rs-1"}),
            &claims,
            &Signer_::Hs256(secret.clone()),
        );
        // With the configured HS256 secret present, the token meets that secret, never the RSA key.
        assert_eq!(w.code(&token), "signature_invalid");
        // Without any HS256 secret, there is simply no HS256 key.
        let mut only_rsa = KeySet::new();
        only_rsa.push(import_jwk(&rs256_jwk(&w.rs, "rs-1")).unwrap());
        let r = aalgate::verify(
            &token,
            &only_rsa,
            &w.validation,
            &aalgate::NativeProvider,
            NOW,
        );
        assert_eq!(r.unwrap_err().code().as_str(), "key_unknown");
    }
}

#[test]
fn attack_alg_confusion_ec_public_key_as_hmac_secret() {
    let w = world();
    let mut only_ec = KeySet::new();
    only_ec.push(import_jwk(&es256_jwk(&w.es, "es-1")).unwrap());
    let point = w.es.verifying_key().to_encoded_point(false);
    let token = sign(
        &json!({"alg":"HS256","kid":"es-1"}),
        &supabase_claims(),
        &Signer_::Hs256(point.as_bytes().to_vec()),
    );
    let r = aalgate::verify(
        &token,
        &only_ec,
        &w.validation,
        &aalgate::NativeProvider,
        NOW,
    );
    assert_eq!(r.unwrap_err().code().as_str(), "key_unknown");
}

#[test]
fn attack_alg_switch_between_asymmetric_algs_is_refused() {
    // An ES256 token relabelled RS256 (and vice versa) meets no key of the header's alg with that kid.
    let w = world();
    let t = w.es_token(&supabase_claims());
    let mut parts: Vec<&str> = t.split('.').collect();
    let relabelled = header_b64(r#"{"alg":"RS256","typ":"JWT","kid":"es-1"}"#);
    parts[0] = &relabelled;
    assert_eq!(w.code(&parts.join(".")), "key_unknown");
}

#[test]
fn attack_alg_outside_allow_list_is_refused_before_key_lookup() {
    // Empty key set: if keys were looked at first this would be key_unknown.
    let w = world();
    let v = Validation {
        algorithms: AlgorithmSet::EMPTY.with(Algorithm::Es256),
        ..w.validation.clone()
    };
    let token = w.hs_token(&supabase_claims());
    let r = aalgate::verify(&token, &KeySet::new(), &v, &aalgate::NativeProvider, NOW);
    assert_eq!(r.unwrap_err().code().as_str(), "alg_not_allowed");
}

#[test]
fn attack_unsupported_algs_are_refused() {
    let w = world();
    let s = Signer_::Hs256(HS_SECRET.to_vec());
    for alg in [
        "HS384", "HS512", "RS384", "PS256", "ES384", "ES512", "EdDSA", "ES256K", "es256", "HS256 ",
    ] {
        let t = sign_raw(
            &format!(r#"{{"alg":"{alg}"}}"#),
            &supabase_claims().to_string(),
            &s,
        );
        assert_eq!(w.code(&t), "alg_not_allowed", "{alg}");
    }
}

#[test]
fn attack_ecdsa_r_and_s_zero_psychic_signature() {
    // CVE-2022-21449: r = s = 0 "verifies" in a verifier that skips the range check.
    let w = world();
    let t = w.es_token(&supabase_claims());
    let input = &t[..t.rfind('.').unwrap()];
    let zero = b64::encode(&[0u8; 64]);
    assert_eq!(w.code(&format!("{input}.{zero}")), "signature_invalid");
}

#[test]
fn attack_ecdsa_scalars_at_or_above_the_group_order() {
    let w = world();
    let t = w.es_token(&supabase_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let sig = b64::decode(sig.as_bytes()).unwrap();
    let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let mut r_is_n = n.clone();
    r_is_n.extend_from_slice(&sig[32..]);
    let mut s_is_n = sig[..32].to_vec();
    s_is_n.extend_from_slice(&n);
    let mut r_plus_n_overflow = vec![0xff; 32];
    r_plus_n_overflow.extend_from_slice(&sig[32..]);
    for bad in [r_is_n, s_is_n, r_plus_n_overflow] {
        assert_eq!(
            w.code(&format!("{input}.{}", b64::encode(&bad))),
            "signature_invalid"
        );
    }
}

#[test]
fn attack_ecdsa_der_encoded_signature_is_refused() {
    let w = world();
    let t = w.es_token(&supabase_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let sig = b64::decode(sig.as_bytes()).unwrap();
    let der = p256::ecdsa::Signature::from_slice(&sig).unwrap().to_der();
    assert_eq!(
        w.code(&format!("{input}.{}", b64::encode(der.as_bytes()))),
        "signature_invalid"
    );
}

#[test]
fn attack_ecdsa_high_s_is_accepted_as_rfc7515_requires() {
    // s' = n - s is the other valid signature of the same message. JWS never required low-S and RFC 7515
    // A.3 is itself high-S, so this must verify (it is not a forgery: it needs a valid signature first).
    let w = world();
    let t = w.es_token(&supabase_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&b64::decode(sig.as_bytes()).unwrap()).unwrap();
    let (r, s) = sig.split_scalars();
    let flipped = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    assert_eq!(
        w.code(&format!("{input}.{}", b64::encode(&flipped.to_bytes()))),
        "ok"
    );
}

#[test]
fn attack_signature_length_games() {
    let w = world();
    for t in [
        w.es_token(&supabase_claims()),
        w.rs_token(&supabase_claims()),
        w.hs_token(&supabase_claims()),
    ] {
        let (input, sig) = t.rsplit_once('.').unwrap();
        let sig = b64::decode(sig.as_bytes()).unwrap();
        let shorter = b64::encode(&sig[1..]);
        let longer = b64::encode(&[sig.clone(), vec![0]].concat());
        let zero_prefixed = b64::encode(&[vec![0], sig.clone()].concat());
        for bad in [shorter, longer, zero_prefixed, String::new()] {
            assert_eq!(w.code(&format!("{input}.{bad}")), "signature_invalid");
        }
    }
}

#[test]
fn attack_off_curve_public_key_is_refused_at_import() {
    let w = world();
    let mut jwk = es256_jwk(&w.es, "es-1");
    let mut y = b64::decode(jwk["y"].as_str().unwrap().as_bytes()).unwrap();
    y[31] ^= 1;
    jwk["y"] = json!(b64::encode(&y));
    assert_eq!(
        import_jwk(&jwk).unwrap_err(),
        aalgate::keys::KeyProblem::OffCurve
    );
}

#[test]
fn attack_crit_header_is_refused() {
    let w = world();
    let s = Signer_::Es256(w.es.clone());
    let t = sign_raw(
        r#"{"alg":"ES256","kid":"es-1","crit":["exp"],"exp":1}"#,
        &supabase_claims().to_string(),
        &s,
    );
    assert_eq!(w.code(&t), "header_forbidden");
    let t = sign_raw(
        r#"{"alg":"ES256","kid":"es-1","crit":[]}"#,
        &supabase_claims().to_string(),
        &s,
    );
    assert_eq!(w.code(&t), "header_forbidden");
}

#[test]
fn attack_b64_false_unencoded_payload_is_refused() {
    let w = world();
    let s = Signer_::Es256(w.es.clone());
    for h in [
        r#"{"alg":"ES256","kid":"es-1","b64":false,"crit":["b64"]}"#,
        r#"{"alg":"ES256","kid":"es-1","b64":true}"#,
    ] {
        assert_eq!(
            w.code(&sign_raw(h, &supabase_claims().to_string(), &s)),
            "header_forbidden"
        );
    }
}

#[test]
fn attack_cty_and_zip_headers_are_refused() {
    let w = world();
    let s = Signer_::Es256(w.es.clone());
    for h in [
        r#"{"alg":"ES256","kid":"es-1","cty":"JWT"}"#,
        r#"{"alg":"ES256","kid":"es-1","zip":"DEF"}"#,
    ] {
        assert_eq!(
            w.code(&sign_raw(h, &supabase_claims().to_string(), &s)),
            "header_forbidden"
        );
    }
}

#[test]
fn attack_duplicate_members_in_header_are_refused() {
    // A parser that keeps the last `alg` would see RS256; one that keeps the first, HS256.
    let w = world();
    let s = Signer_::Hs256(HS_SECRET.to_vec());
    let t = sign_raw(
        r#"{"alg":"HS256","alg":"HS256"}"#,
        &supabase_claims().to_string(),
        &s,
    );
    assert_eq!(w.code(&t), "token_malformed");
}

#[test]
fn attack_duplicate_members_in_payload_are_refused() {
    let w = world();
    let s = Signer_::Es256(w.es.clone());
    let claims = supabase_claims().to_string();
    let doubled_role = claims.replacen('{', r#"{"role":"service_role","#, 1);
    assert_eq!(
        w.code(&sign_raw(
            r#"{"alg":"ES256","kid":"es-1"}"#,
            &doubled_role,
            &s
        )),
        "token_malformed"
    );
    let nested = claims.replacen(
        r#""app_metadata":{"#,
        r#""app_metadata":{"role":"a","role":"b","#,
        1,
    );
    assert_ne!(nested, claims);
    assert_eq!(
        w.code(&sign_raw(r#"{"alg":"ES256","kid":"es-1"}"#, &nested, &s)),
        "token_malformed"
    );
}

#[test]
fn attack_non_canonical_base64url_is_refused() {
    let w = world();
    let t = w.hs_token(&supabase_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    // 32 bytes → 43 chars; the last char carries 2 unused bits that must be zero.
    let last = sig.as_bytes()[42];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.iter().position(|c| *c == last).unwrap();
    let tweaked = alphabet[(idx & !3) | ((idx & 3) ^ 1)] as char;
    let bad = format!("{input}.{}{tweaked}", &sig[..42]);
    assert_eq!(w.code(&bad), "token_malformed");
    // Padding, standard alphabet and whitespace are refused before base64 decoding.
    assert_eq!(w.code(&format!("{t}=")), "token_malformed");
    assert_eq!(
        w.code(&format!(
            "{input}.{}",
            sig.replace('-', "+").replace('_', "/")
        )),
        if sig.contains(['-', '_']) {
            "token_malformed"
        } else {
            "ok"
        }
    );
    assert_eq!(w.code(&format!(" {t}")), "token_malformed");
    assert_eq!(w.code(&format!("{t}\n")), "token_malformed");
    assert_eq!(w.code(&t.replacen('.', ". ", 1)), "token_malformed");
}

#[test]
fn attack_wrong_segment_count_is_refused() {
    let w = world();
    let t = w.hs_token(&supabase_claims());
    assert_eq!(w.code(&format!("{t}.")), "token_malformed");
    assert_eq!(w.code(&format!("{t}.AAAA")), "token_malformed");
    assert_eq!(w.code(&t[..t.rfind('.').unwrap()]), "token_malformed");
    assert_eq!(w.code(""), "token_malformed");
    assert_eq!(w.code(".."), "token_malformed");
}

#[test]
fn attack_header_or_payload_not_a_json_object() {
    let w = world();
    let s = Signer_::Hs256(HS_SECRET.to_vec());
    assert_eq!(
        w.code(&sign_raw(r#"["HS256"]"#, "{}", &s)),
        "token_malformed"
    );
    assert_eq!(
        w.code(&sign_raw(r#"{"alg":"HS256"}"#, r#""just a string""#, &s)),
        "token_malformed"
    );
    assert_eq!(
        w.code(&sign_raw(r#"{"alg":"HS256"}"#, "", &s)),
        "token_malformed"
    );
    assert_eq!(
        w.code(&sign_raw(r#"{"alg":"HS256"}"#, "{\"sub\":\"\u{0}\"", &s)),
        "token_malformed"
    );
}

#[test]
fn attack_invalid_utf8_in_payload_is_refused() {
    let w = world();
    let s = Signer_::Hs256(HS_SECRET.to_vec());
    let header = b64::encode(br#"{"alg":"HS256"}"#);
    let payload = b64::encode(b"{\"sub\":\"\xff\xfe\"}");
    let input = format!("{header}.{payload}");
    let sig = b64::encode(&sign_bytes(input.as_bytes(), &s));
    assert_eq!(w.code(&format!("{input}.{sig}")), "token_malformed");
}

#[test]
fn attack_deeply_nested_json_is_refused() {
    let w = world();
    let mut claims = supabase_claims().to_string();
    let deep = format!("{}1{}", "[".repeat(64), "]".repeat(64));
    claims = claims.replacen('{', &format!("{{\"x\":{deep},"), 1);
    assert_eq!(
        w.code(&sign_raw(
            r#"{"alg":"ES256","kid":"es-1"}"#,
            &claims,
            &Signer_::Es256(w.es.clone())
        )),
        "token_malformed"
    );
}

#[test]
fn attack_huge_token_is_refused_before_decoding() {
    let w = world();
    // Over the cap and full of characters that would fail decoding: the size check must come first.
    let huge = "!".repeat(8 * 1024 + 1);
    assert_eq!(w.code(&huge), "token_too_large");
    // A real, validly signed token just over the cap.
    let mut claims = supabase_claims();
    claims["pad"] = json!("x".repeat(6200));
    let t = w.hs_token(&claims);
    assert!(t.len() > 8192, "{}", t.len());
    assert_eq!(w.code(&t), "token_too_large");
    // The cap is inclusive: a token exactly as long as the cap passes, one byte over does not.
    let mut w = w;
    let t = w.hs_token(&supabase_claims());
    w.validation.max_token_bytes = t.len();
    assert_eq!(w.code(&t), "ok");
    w.validation.max_token_bytes = t.len() - 1;
    assert_eq!(w.code(&t), "token_too_large");
}

#[test]
fn attack_kid_injection_is_only_ever_an_exact_lookup() {
    let w = world();
    let s = Signer_::Es256(w.es.clone());
    for kid in [
        "../../../../dev/null",
        "' OR '1'='1",
        "es-1\u{0}",
        "ES-1",
        "es-1 ",
        " es-1",
        "es-1/../es-1",
        "http://evil.example/jwks.json",
    ] {
        let t = sign(&json!({"alg":"ES256","kid":kid}), &supabase_claims(), &s);
        let err = w.verify(&t).unwrap_err();
        assert_eq!(err.code().as_str(), "key_unknown", "{kid:?}");
        // The refusal never echoes the attacker's kid.
        assert!(!err.context().contains(kid), "{kid:?}");
        let wire = aalgate::wire::reject(&err);
        assert!(!wire.body.to_string().contains(kid));
    }
}

#[test]
fn attack_kid_of_wrong_type_is_refused() {
    let w = world();
    let s = Signer_::Es256(w.es.clone());
    for kid in [
        json!(1),
        json!(["es-1"]),
        json!({"kid":"es-1"}),
        json!(null),
    ] {
        let t = sign(&json!({"alg":"ES256","kid":kid}), &supabase_claims(), &s);
        assert_eq!(w.code(&t), "token_malformed");
    }
}

#[test]
fn attack_embedded_jwk_header_is_never_used() {
    // The attacker signs with their own key and embeds its public JWK in the header.
    let w = world();
    let attacker = es256_key(99);
    let jwk = es256_jwk(&attacker, "attacker");
    let s = Signer_::Es256(attacker.clone());
    let t = sign(&json!({"alg":"ES256","jwk":jwk}), &supabase_claims(), &s);
    // No kid and one ES256 key in the set: that key is used, and the signature fails.
    assert_eq!(w.code(&t), "signature_invalid");
    let t = sign(
        &json!({"alg":"ES256","kid":"es-1","jwk":jwk}),
        &supabase_claims(),
        &s,
    );
    assert_eq!(w.code(&t), "signature_invalid");
    let t = sign(
        &json!({"alg":"ES256","kid":"attacker","jwk":jwk}),
        &supabase_claims(),
        &s,
    );
    assert_eq!(w.code(&t), "key_unknown");
}

#[test]
fn attack_jku_x5u_x5c_headers_are_never_used() {
    let w = world();
    let attacker = es256_key(98);
    let s = Signer_::Es256(attacker);
    for (name, value) in [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
    ] {
        let mut h = json!({"alg":"ES256","kid":"es-1"});
        h[name] = value;
        assert_eq!(
            w.code(&sign(&h, &supabase_claims(), &s)),
            "signature_invalid",
            "{name}"
        );
    }
    // And a genuinely signed token carrying those members still verifies: they are ignored, not trusted.
    let h = json!({"alg":"ES256","kid":"es-1","jku":"https://attacker.example/jwks.json"});
    assert_eq!(
        w.code(&sign(&h, &supabase_claims(), &Signer_::Es256(w.es.clone()))),
        "ok"
    );
}

#[test]
fn attack_exp_edge_cases() {
    let w = world();
    let at = |exp: serde_json::Value| {
        let mut c = supabase_claims();
        c["exp"] = exp;
        c["iat"] = json!(NOW - 3000);
        w.code(&w.es_token(&c))
    };
    // Valid only while now < exp + leeway (30 s).
    assert_eq!(at(json!(NOW)), "ok");
    assert_eq!(at(json!(NOW - 29)), "ok");
    assert_eq!(at(json!(NOW - 30)), "token_expired");
    assert_eq!(at(json!(NOW - 31)), "token_expired");
    assert_eq!(at(json!(0)), "token_expired");
    // Only JSON integer literals: a fraction or exponent form is refused even when integer-valued,
    // because floats round (`N.00000000001` would parse as exactly N).
    assert_eq!(at(json!((NOW + 100) as f64)), "claim_invalid");
    assert_eq!(at(json!(NOW as f64 + 100.5)), "claim_invalid");
    for text in [
        format!("{}.00000000001", NOW + 100),
        format!("{}.0", NOW + 100),
        "1.7935e9".to_owned(),
        "-0".to_owned(),
        "-0.0".to_owned(),
    ] {
        let claims = supabase_claims().to_string().replace(
            &format!("\"exp\":{}", NOW + 3000),
            &format!("\"exp\":{text}"),
        );
        assert!(claims.contains(&text));
        assert_eq!(
            w.code(&sign_raw(
                r#"{"alg":"ES256","kid":"es-1"}"#,
                &claims,
                &Signer_::Es256(w.es.clone())
            )),
            "claim_invalid",
            "{text}"
        );
    }
    for bad in [
        json!(format!("{}", NOW + 100)),
        json!(true),
        json!(null),
        json!(-1),
        json!(u64::MAX),
        json!(1e300),
        json!([NOW + 100]),
        json!({"t": NOW}),
    ] {
        assert_eq!(at(bad.clone()), "claim_invalid", "{bad}");
    }
    // 2^64 does not fit u64; serde reads it as a float, which is out of range.
    let mut claims = supabase_claims().to_string();
    claims = claims.replace(
        &format!("\"exp\":{}", NOW + 3000),
        "\"exp\":18446744073709551616",
    );
    assert!(claims.contains("18446744073709551616"));
    assert_eq!(
        w.code(&sign_raw(
            r#"{"alg":"ES256","kid":"es-1"}"#,
            &claims,
            &Signer_::Es256(w.es.clone())
        )),
        "claim_invalid"
    );
    // 1e400 is not even a finite JSON number: refused by the parser.
    let claims = supabase_claims()
        .to_string()
        .replace(&format!("\"exp\":{}", NOW + 3000), "\"exp\":1e400");
    assert_eq!(
        w.code(&sign_raw(
            r#"{"alg":"ES256","kid":"es-1"}"#,
            &claims,
            &Signer_::Es256(w.es.clone())
        )),
        "token_malformed"
    );
}

#[test]
fn attack_exp_with_zero_leeway_is_exclusive() {
    let mut w = world();
    w.validation.leeway = 0;
    let mut c = supabase_claims();
    c["exp"] = json!(NOW);
    assert_eq!(w.code(&w.es_token(&c)), "token_expired");
    c["exp"] = json!(NOW + 1);
    assert_eq!(w.code(&w.es_token(&c)), "ok");
}

#[test]
fn attack_missing_iat_cannot_dodge_the_lifetime_cap() {
    let w = world();
    let mut c = supabase_claims();
    c.as_object_mut().unwrap().remove("iat");
    c["exp"] = json!(253_402_300_799u64);
    let err = w.verify(&w.es_token(&c)).unwrap_err();
    assert_eq!(err.code().as_str(), "claim_missing");
    assert!(err.context().contains("`iat`"));
}

#[test]
fn attack_missing_exp_is_refused() {
    let w = world();
    let mut c = supabase_claims();
    c.as_object_mut().unwrap().remove("exp");
    let err = w.verify(&w.es_token(&c)).unwrap_err();
    assert_eq!(err.code().as_str(), "claim_missing");
    assert!(err.context().contains("`exp`"));
}

#[test]
fn attack_aud_array_forms() {
    let w = world();
    let with = |aud: serde_json::Value| {
        let mut c = supabase_claims();
        c["aud"] = aud;
        w.code(&w.es_token(&c))
    };
    assert_eq!(with(json!("authenticated")), "ok");
    assert_eq!(with(json!(["authenticated"])), "ok");
    assert_eq!(with(json!(["other", "authenticated"])), "ok");
    assert_eq!(with(json!(["other"])), "audience_mismatch");
    assert_eq!(with(json!("Authenticated")), "audience_mismatch");
    assert_eq!(with(json!("authenticated ")), "audience_mismatch");
    assert_eq!(with(json!("anon")), "audience_mismatch");
    assert_eq!(with(json!([])), "claim_invalid");
    assert_eq!(with(json!(["authenticated", 1])), "claim_invalid");
    assert_eq!(with(json!([["authenticated"]])), "claim_invalid");
    assert_eq!(with(json!({"aud": "authenticated"})), "claim_invalid");
    assert_eq!(with(json!(null)), "claim_invalid");
    let mut c = supabase_claims();
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(w.code(&w.es_token(&c)), "claim_missing");
}

#[test]
fn attack_signature_from_another_token_is_refused() {
    let w = world();
    let a = w.es_token(&supabase_claims());
    let mut other = supabase_claims();
    other["role"] = json!("service_role");
    let b = w.es_token(&other);
    let spliced = format!(
        "{}.{}",
        &b[..b.rfind('.').unwrap()],
        a.rsplit('.').next().unwrap()
    );
    assert_eq!(w.code(&spliced), "signature_invalid");
}

/// A provider that says yes to everything: the core's own shape checks must still refuse malformed
/// signatures, because WebCrypto is more lenient than our rules.
struct AlwaysYes;

impl aalgate::SignatureProvider for AlwaysYes {
    fn verify(&self, _: &aalgate::VerifyingKey, _: &[u8], _: &[u8]) -> bool {
        true
    }
}

#[test]
fn attack_malformed_signatures_are_refused_before_the_provider() {
    let w = world();
    let code = |t: &str| match aalgate::verify(t, &w.keys, &w.validation, &AlwaysYes, NOW) {
        Ok(_) => "ok",
        Err(e) => e.code().as_str(),
    };
    for t in [
        w.es_token(&supabase_claims()),
        w.rs_token(&supabase_claims()),
        w.hs_token(&supabase_claims()),
    ] {
        let (input, sig) = t.rsplit_once('.').unwrap();
        let sig = b64::decode(sig.as_bytes()).unwrap();
        assert_eq!(code(&t), "ok");
        for bad in [
            b64::encode(&sig[1..]),
            b64::encode(&[sig.clone(), vec![0]].concat()),
            String::new(),
        ] {
            assert_eq!(code(&format!("{input}.{bad}")), "signature_invalid");
        }
    }
    let t = w.es_token(&supabase_claims());
    let input = &t[..t.rfind('.').unwrap()];
    assert_eq!(
        code(&format!("{input}.{}", b64::encode(&[0u8; 64]))),
        "signature_invalid"
    );
    assert_eq!(
        code(&format!("{input}.{}", b64::encode(&[0xffu8; 64]))),
        "signature_invalid"
    );
}
