//! Published JWS examples: RFC 7515 Appendix A and RFC 7520 §4, stored under tests/vectors/ with their
//! source named in each file. Their `exp` lies in 2011, so signatures are checked alone, and the full
//! pipeline is run once with `now` set before that date.

use aalgate::keys::{import_jwk, import_oct_jwk, KeyProblem};
use aalgate::{verify, verify_signature, KeySet, NativeProvider, RequiredClaim, Validation};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn key_set(jwk: &Value) -> KeySet {
    let entry = if jwk["kty"] == "oct" {
        import_oct_jwk(jwk)
    } else {
        import_jwk(jwk)
    };
    let mut set = KeySet::new();
    set.push(entry.unwrap_or_else(|p| panic!("import {jwk}: {p}")));
    set
}

fn case<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[test]
fn rfc7515_appendix_a_signatures_verify() {
    let doc = load("rfc7515_appendix_a.json");
    for c in doc["cases"].as_array().unwrap() {
        let token = c["token"].as_str().unwrap();
        let signed = verify_signature(
            token,
            &key_set(&c["jwk"]),
            &Validation::default(),
            &NativeProvider,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
        assert_eq!(signed.header().alg().as_str(), c["alg"].as_str().unwrap());
        assert_eq!(signed.payload_json().unwrap()["iss"], "joe");
    }
}

#[test]
fn rfc7515_a3_is_high_s_and_verifies() {
    let doc = load("rfc7515_appendix_a.json");
    let c = case(&doc, "A.3 ES256");
    let sig = aalgate::b64::decode(
        c["token"]
            .as_str()
            .unwrap()
            .rsplit('.')
            .next()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    // n/2 rounded down, big-endian.
    let half_n = common_hex("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8");
    assert!(sig[32..] > half_n[..], "A.3's s is expected to be high");
}

#[test]
fn rfc7515_a1_passes_the_full_pipeline_before_its_exp() {
    let doc = load("rfc7515_appendix_a.json");
    let c = case(&doc, "A.1 HS256");
    let token = c["token"].as_str().unwrap();
    let validation = Validation {
        issuers: vec!["joe".into()],
        audiences: vec![],
        required: vec![RequiredClaim::Exp, RequiredClaim::Iss],
        ..Validation::default()
    };
    let keys = key_set(&c["jwk"]);
    let ok = verify(token, &keys, &validation, &NativeProvider, 1_300_819_000).unwrap();
    assert_eq!(ok.claims().exp, Some(1_300_819_380));
    assert_eq!(
        ok.claims().get("http://example.com/is_root"),
        Some(&Value::Bool(true))
    );
    let late = verify(token, &keys, &validation, &NativeProvider, 1_300_819_410).unwrap_err();
    assert_eq!(late.code().as_str(), "token_expired");
}

#[test]
fn rfc7515_tokens_fail_with_the_wrong_key_type() {
    // A.1 (HS256) against A.2's RSA key, A.2 (RS256) against A.3's EC key: alg confusion is impossible.
    let doc = load("rfc7515_appendix_a.json");
    let a1 = case(&doc, "A.1 HS256");
    let a2 = case(&doc, "A.2 RS256");
    let a3 = case(&doc, "A.3 ES256");
    let v = Validation::default();
    let e = verify_signature(
        a1["token"].as_str().unwrap(),
        &key_set(&a2["jwk"]),
        &v,
        &NativeProvider,
    )
    .unwrap_err();
    assert_eq!(e.code().as_str(), "key_unknown");
    let e = verify_signature(
        a2["token"].as_str().unwrap(),
        &key_set(&a3["jwk"]),
        &v,
        &NativeProvider,
    )
    .unwrap_err();
    assert_eq!(e.code().as_str(), "key_unknown");
}

#[test]
fn rfc7515_private_jwks_are_refused_as_published_keys() {
    let doc = load("rfc7515_appendix_a.json");
    for name in ["A.2 RS256", "A.3 ES256"] {
        assert_eq!(
            import_jwk(&case(&doc, name)["private_jwk"]).unwrap_err(),
            KeyProblem::PrivateMaterial
        );
    }
}

#[test]
fn rfc7520_section4_verdicts() {
    let doc = load("rfc7520_section4.json");
    let keys = &doc["keys"];
    let v = Validation::default();
    let run = |name: &str| {
        let c = case(&doc, name);
        let key = &keys[c["key"].as_str().unwrap()];
        let set = if key["crv"] == "P-521" {
            KeySet::new()
        } else {
            key_set(key)
        };
        verify_signature(c["token"].as_str().unwrap(), &set, &v, &NativeProvider).map(|_| ())
    };
    assert_eq!(run("4.1 RSA v1.5 RS256"), Ok(()));
    assert_eq!(run("4.4 HMAC HS256"), Ok(()));
    // We differ from the RFC here by design: aalgate verifies only ES256, RS256 and HS256 (what Supabase
    // issues), so PS384 and ES512 are refused before any key is looked up.
    assert_eq!(
        run("4.2 RSA-PSS PS384").unwrap_err().code().as_str(),
        "alg_not_allowed"
    );
    assert_eq!(
        run("4.3 ECDSA ES512").unwrap_err().code().as_str(),
        "alg_not_allowed"
    );
    assert_eq!(
        import_jwk(&keys["ec_p521"]).unwrap_err(),
        KeyProblem::UnsupportedCurve
    );
    // Detached content: the signature covers a payload the compact form leaves out, so over the empty
    // segment it cannot verify (a gate has no out-of-band payload to attach).
    assert_eq!(
        run("4.5 detached HS256").unwrap_err().code().as_str(),
        "signature_invalid"
    );
}

#[test]
fn rfc7520_detached_example_verifies_once_its_payload_is_attached() {
    let doc = load("rfc7520_section4.json");
    let c = case(&doc, "4.5 detached HS256");
    let token = c["token"].as_str().unwrap().replacen(
        "..",
        &format!(".{}.", c["detached_payload_b64"].as_str().unwrap()),
        1,
    );
    let set = key_set(&doc["keys"]["hmac"]);
    let signed = verify_signature(&token, &set, &Validation::default(), &NativeProvider).unwrap();
    assert!(
        String::from_utf8_lossy(signed.payload()).starts_with("It\u{2019}s a dangerous business")
    );
    // The payload is prose, not a JSON object: as a JWT it is refused, after the signature checked out.
    let e = verify(&token, &set, &Validation::default(), &NativeProvider, 0).unwrap_err();
    assert_eq!(e.code().as_str(), "token_malformed");
    assert!(e.context().contains("payload"), "{}", e.context());
}

fn common_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
