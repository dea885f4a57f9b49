//! JWK import edge cases and key selection rules.

mod common;

use aalgate::b64;
use aalgate::crypto::RsaKeyProblem;
use aalgate::keys::{import_jwk, import_oct_jwk, KeyProblem};
use aalgate::{Algorithm, KeySet};
use common::*;
use rsa::traits::PublicKeyParts;
use serde_json::json;

fn jwks(keys: Vec<serde_json::Value>) -> Vec<u8> {
    json!({ "keys": keys }).to_string().into_bytes()
}

#[test]
fn supabase_style_jwks_imports() {
    let es = es256_key(3);
    let doc = jwks(vec![es256_jwk(&es, "b7a3c1d2-0000-4000-8000-000000000001")]);
    let (set, skipped) = KeySet::from_jwks(&doc).unwrap();
    assert!(skipped.is_empty());
    assert_eq!(set.keys().len(), 1);
    assert_eq!(set.keys()[0].key().alg(), Algorithm::Es256);
}

#[test]
fn off_curve_point_is_refused() {
    let mut jwk = es256_jwk(&es256_key(3), "k");
    jwk["x"] = jwk["y"].clone();
    assert_eq!(import_jwk(&jwk).unwrap_err(), KeyProblem::OffCurve);
}

#[test]
fn wrong_curve_is_refused() {
    let mut jwk = es256_jwk(&es256_key(3), "k");
    jwk["crv"] = json!("P-384");
    jwk.as_object_mut().unwrap().remove("alg");
    assert_eq!(import_jwk(&jwk).unwrap_err(), KeyProblem::UnsupportedCurve);
    jwk["crv"] = json!("secp256k1");
    assert_eq!(import_jwk(&jwk).unwrap_err(), KeyProblem::UnsupportedCurve);
}

#[test]
fn rsa_1024_bit_key_is_refused() {
    let jwk = rs256_jwk(&rs1024_key(), "small");
    assert_eq!(
        import_jwk(&jwk).unwrap_err(),
        KeyProblem::Rsa(RsaKeyProblem::TooSmall)
    );
}

#[test]
fn rsa_exponent_one_and_even_exponents_are_refused() {
    let key = rs256_key();
    let mut jwk = rs256_jwk(&key, "k");
    for e in [
        vec![1u8],
        vec![2],
        vec![0x01, 0x00, 0x00],
        vec![0],
        vec![0x01, 0, 0, 0, 0, 1],
    ] {
        jwk["e"] = json!(b64::encode(&e));
        assert_eq!(
            import_jwk(&jwk).unwrap_err(),
            KeyProblem::Rsa(RsaKeyProblem::BadExponent),
            "{e:?}"
        );
    }
}

#[test]
fn rsa_even_modulus_and_huge_modulus_are_refused() {
    let key = rs256_key();
    let mut jwk = rs256_jwk(&key, "k");
    let mut n = key.n().to_bytes_be();
    *n.last_mut().unwrap() &= 0xfe;
    jwk["n"] = json!(b64::encode(&n));
    assert_eq!(
        import_jwk(&jwk).unwrap_err(),
        KeyProblem::Rsa(RsaKeyProblem::BadModulus)
    );
    jwk["n"] = json!(b64::encode(&[0xffu8; 1025]));
    assert_eq!(
        import_jwk(&jwk).unwrap_err(),
        KeyProblem::Rsa(RsaKeyProblem::TooLarge)
    );
}

#[test]
fn short_hmac_secret_is_refused() {
    let k31 = json!({"kty":"oct","k": b64::encode(&[7u8; 31])});
    assert_eq!(
        import_oct_jwk(&k31).unwrap_err(),
        KeyProblem::SecretTooShort(31)
    );
    let k32 = json!({"kty":"oct","k": b64::encode(&[7u8; 32]), "alg": "HS256"});
    assert!(import_oct_jwk(&k32).is_ok());
    assert!(aalgate::HmacSecret::new(vec![0u8; 31]).is_err());
    assert!(aalgate::HmacSecret::new(vec![]).is_err());
}

#[test]
fn oct_key_with_other_alg_is_refused() {
    let k = json!({"kty":"oct","k": b64::encode(&[7u8; 64]), "alg": "HS512"});
    assert_eq!(import_oct_jwk(&k).unwrap_err(), KeyProblem::AlgMismatch);
}

#[test]
fn private_member_in_a_jwks_is_refused() {
    let es = es256_key(3);
    let mut jwk = es256_jwk(&es, "k");
    jwk["d"] = json!(b64::encode(&es.to_bytes()));
    let (set, skipped) = KeySet::from_jwks(&jwks(vec![jwk])).unwrap();
    assert!(set.is_empty());
    assert_eq!(skipped[0].problem, KeyProblem::PrivateMaterial);
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        let mut rsa = rs256_jwk(&rs256_key(), "r");
        rsa[member] = json!("AQAB");
        assert_eq!(
            import_jwk(&rsa).unwrap_err(),
            KeyProblem::PrivateMaterial,
            "{member}"
        );
    }
}

#[test]
fn rsa_exponent_bounds() {
    let key = rs256_key();
    let mut jwk = rs256_jwk(&key, "k");
    // 2^32 - 1 is odd and within bounds; 2^32 + 1 is above them.
    jwk["e"] = json!(b64::encode(&[0xff, 0xff, 0xff, 0xff]));
    assert!(import_jwk(&jwk).is_ok());
    jwk["e"] = json!(b64::encode(&[0x01, 0, 0, 0, 1]));
    assert_eq!(
        import_jwk(&jwk).unwrap_err(),
        KeyProblem::Rsa(RsaKeyProblem::BadExponent)
    );
    jwk["e"] = json!(b64::encode(&[3]));
    assert!(import_jwk(&jwk).is_ok());
}

#[test]
fn kidless_asymmetric_key_never_matches_a_token_with_a_kid() {
    // Only configured HS256 secrets get the kid-less fallback; an ES256 key without kid does not.
    let mut jwk = es256_jwk(&es256_key(3), "x");
    jwk.as_object_mut().unwrap().remove("kid");
    let (set, _) = KeySet::from_jwks(&jwks(vec![jwk])).unwrap();
    assert!(set.select(Algorithm::Es256, None).is_ok());
    assert_eq!(
        set.select(Algorithm::Es256, Some("anything"))
            .unwrap_err()
            .code()
            .as_str(),
        "key_unknown"
    );
}

#[test]
fn hs256_fallback_is_only_for_secrets_without_a_kid() {
    // A secret with its own kid does not stand in for tokens naming another kid.
    let k = json!({"kty": "oct", "kid": "legacy", "k": b64::encode(&[9u8; 32])});
    let mut set = KeySet::new();
    set.push(import_oct_jwk(&k).unwrap());
    assert!(set.select(Algorithm::Hs256, Some("legacy")).is_ok());
    assert_eq!(
        set.select(Algorithm::Hs256, Some("other"))
            .unwrap_err()
            .code()
            .as_str(),
        "key_unknown"
    );
}

#[test]
fn symmetric_key_in_a_jwks_is_refused() {
    let k = json!({"kty":"oct","k": b64::encode(&[7u8; 32]), "kid": "h"});
    let (set, skipped) = KeySet::from_jwks(&jwks(vec![k])).unwrap();
    assert!(set.is_empty());
    assert_eq!(skipped[0].problem, KeyProblem::SymmetricInKeySet);
    assert_eq!(skipped[0].kid.as_deref(), Some("h"));
}

#[test]
fn use_enc_and_key_ops_without_verify_are_refused() {
    let mut jwk = es256_jwk(&es256_key(3), "k");
    jwk["use"] = json!("enc");
    assert_eq!(import_jwk(&jwk).unwrap_err(), KeyProblem::NotForSignatures);
    let mut jwk = es256_jwk(&es256_key(3), "k");
    jwk["key_ops"] = json!(["sign"]);
    assert_eq!(import_jwk(&jwk).unwrap_err(), KeyProblem::NoVerifyOperation);
    jwk["key_ops"] = json!(["encrypt"]);
    assert_eq!(import_jwk(&jwk).unwrap_err(), KeyProblem::NoVerifyOperation);
    jwk.as_object_mut().unwrap().remove("key_ops");
    jwk.as_object_mut().unwrap().remove("use");
    assert!(import_jwk(&jwk).is_ok());
}

#[test]
fn alg_must_fit_the_key_type() {
    let mut jwk = es256_jwk(&es256_key(3), "k");
    for alg in ["RS256", "HS256", "ES384", "none", "PS256"] {
        jwk["alg"] = json!(alg);
        assert_eq!(
            import_jwk(&jwk).unwrap_err(),
            KeyProblem::AlgMismatch,
            "{alg}"
        );
    }
    let mut rsa = rs256_jwk(&rs256_key(), "r");
    rsa["alg"] = json!("PS256");
    assert_eq!(import_jwk(&rsa).unwrap_err(), KeyProblem::AlgMismatch);
}

#[test]
fn unsupported_key_types_are_skipped_not_fatal() {
    let okp = json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"});
    let good = es256_jwk(&es256_key(3), "good");
    let (set, skipped) = KeySet::from_jwks(&jwks(vec![okp, json!("not an object"), good])).unwrap();
    assert_eq!(set.keys().len(), 1);
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0].problem, KeyProblem::UnsupportedKeyType);
    assert!(matches!(skipped[1].problem, KeyProblem::Unreadable(_)));
}

#[test]
fn broken_jwks_documents_are_errors() {
    for doc in [
        &b"[]"[..],
        b"{}",
        b"{\"keys\":{}}",
        b"not json",
        b"{\"keys\":[],\"keys\":[]}",
    ] {
        let err = KeySet::from_jwks(doc).unwrap_err();
        assert_eq!(
            err.code().as_str(),
            "key_invalid",
            "{}",
            String::from_utf8_lossy(doc)
        );
    }
}

#[test]
fn unpadded_ec_coordinates_are_left_padded_and_long_ones_refused() {
    // Find a key whose x starts with a zero byte, as the Supabase CLI then writes it 31 bytes long.
    let (key, padded) = (1u16..4000)
        .map(|i| {
            let mut bytes = [0x42u8; 32];
            bytes[0] = 0x01;
            bytes[30..].copy_from_slice(&i.to_be_bytes());
            p256::ecdsa::SigningKey::from_bytes(&bytes.into()).unwrap()
        })
        .map(|k| {
            let j = es256_jwk(&k, "cli");
            (k, j)
        })
        .find(|(_, j)| b64::decode(j["x"].as_str().unwrap().as_bytes()).unwrap()[0] == 0)
        .expect("a key with a leading zero byte in x");
    let x = b64::decode(padded["x"].as_str().unwrap().as_bytes()).unwrap();
    let mut unpadded = padded.clone();
    unpadded["x"] = json!(b64::encode(&x[1..]));
    let a = import_jwk(&padded).unwrap();
    let b = import_jwk(&unpadded).unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    // And the unpadded import verifies that key's tokens.
    let mut set = KeySet::new();
    set.push(b);
    let t = sign(
        &json!({"alg":"ES256","kid":"cli"}),
        &supabase_claims(),
        &Signer_::Es256(key),
    );
    let v = aalgate::Validation {
        issuers: vec![ISSUER.into()],
        ..aalgate::Validation::default()
    };
    assert!(aalgate::verify(&t, &set, &v, &aalgate::NativeProvider, NOW).is_ok());
    let mut long = padded.clone();
    long["x"] = json!(b64::encode(&[vec![0u8], x.clone()].concat()));
    assert_eq!(
        import_jwk(&long).unwrap_err(),
        KeyProblem::CoordinateTooLong
    );
}

#[test]
fn duplicate_kids_make_selection_ambiguous() {
    let a = es256_jwk(&es256_key(3), "same");
    let b = es256_jwk(&es256_key(4), "same");
    let (set, skipped) = KeySet::from_jwks(&jwks(vec![a, b])).unwrap();
    assert!(skipped.is_empty());
    assert_eq!(
        set.select(Algorithm::Es256, Some("same"))
            .unwrap_err()
            .code()
            .as_str(),
        "key_ambiguous"
    );
}

#[test]
fn kid_match_is_exact_and_case_sensitive() {
    let (set, _) = KeySet::from_jwks(&jwks(vec![es256_jwk(&es256_key(3), "Key-A")])).unwrap();
    assert!(set.select(Algorithm::Es256, Some("Key-A")).is_ok());
    for kid in ["key-a", "KEY-A", "Key-A ", "Key-", ""] {
        assert_eq!(
            set.select(Algorithm::Es256, Some(kid))
                .unwrap_err()
                .code()
                .as_str(),
            "key_unknown"
        );
    }
    // A key never serves another algorithm, even with a matching kid.
    assert_eq!(
        set.select(Algorithm::Rs256, Some("Key-A"))
            .unwrap_err()
            .code()
            .as_str(),
        "key_unknown"
    );
}

#[test]
fn token_without_kid_needs_exactly_one_candidate() {
    let one = KeySet::from_jwks(&jwks(vec![es256_jwk(&es256_key(3), "a")]))
        .unwrap()
        .0;
    assert!(one.select(Algorithm::Es256, None).is_ok());
    let two = KeySet::from_jwks(&jwks(vec![
        es256_jwk(&es256_key(3), "a"),
        es256_jwk(&es256_key(4), "b"),
    ]))
    .unwrap()
    .0;
    assert_eq!(
        two.select(Algorithm::Es256, None)
            .unwrap_err()
            .code()
            .as_str(),
        "key_ambiguous"
    );
    // RSA keys are not candidates for an ES256 token.
    let mixed = KeySet::from_jwks(&jwks(vec![
        es256_jwk(&es256_key(3), "a"),
        rs256_jwk(&rs256_key(), "r"),
    ]))
    .unwrap()
    .0;
    assert!(mixed.select(Algorithm::Es256, None).is_ok());
}

#[test]
fn hs256_tokens_may_have_no_kid_and_kidless_secret_matches_any_kid() {
    let w = World::new();
    let s = Signer_::Hs256(HS_SECRET.to_vec());
    assert_eq!(
        w.code(&sign(&json!({"alg":"HS256"}), &supabase_claims(), &s)),
        "ok"
    );
    // Supabase puts a kid on legacy-secret tokens; the dashboard gives the secret without one.
    assert_eq!(
        w.code(&sign(
            &json!({"alg":"HS256","kid":"abc"}),
            &supabase_claims(),
            &s
        )),
        "ok"
    );
}

#[test]
fn two_hs256_secrets_without_kids_are_ambiguous() {
    let mut keys = KeySet::new();
    for fill in [1u8, 2] {
        keys.push(aalgate::KeyEntry::new(
            None,
            aalgate::VerifyingKey::Hs256(aalgate::HmacSecret::new(vec![fill; 32]).unwrap()),
        ));
    }
    assert_eq!(
        keys.select(Algorithm::Hs256, None)
            .unwrap_err()
            .code()
            .as_str(),
        "key_ambiguous"
    );
}

#[test]
fn debug_output_never_shows_a_secret() {
    let secret =
        aalgate::HmacSecret::new(b"0123456789abcdef0123456789abcdef-secret".to_vec()).unwrap();
    let shown = format!("{secret:?}");
    assert!(!shown.contains("0123456789"), "{shown}");
}
