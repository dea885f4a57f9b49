//! Project Wycheproof vectors (Apache-2.0), read at test time from `../shared/vectors/wycheproof/`
//! (C2SP/wycheproof, see SOURCE.md there; override with `AALGATE_WYCHEPROOF_DIR`). Every verdict must
//! match; where aalgate deliberately differs, the test names the vectors and says why, and asserts our
//! verdict so the difference cannot drift.

mod common;

use aalgate::crypto::{P256PublicKey, RsaPublicKey};
use aalgate::keys::{import_jwk, import_oct_jwk};
use aalgate::{
    check_signature, HmacSecret, KeyEntry, KeySet, NativeProvider, Validation, VerifyingKey,
};
use common::hex;
use serde_json::Value;
use std::path::PathBuf;

/// The vectors folder, or `None` (after saying so loudly) outside CI. In CI a missing folder fails.
fn load(file: &str) -> Option<Value> {
    let dir = std::env::var_os("AALGATE_WYCHEPROOF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/vectors/wycheproof"
            ))
        });
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("vector file is JSON")),
        Err(e) => {
            let msg = format!(
                "\n*** WYCHEPROOF VECTORS MISSING: {} ({e}).\n*** These tests did NOT run. Put the vectors there or set AALGATE_WYCHEPROOF_DIR.\n",
                path.display()
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{msg}");
            }
            eprintln!("{msg}");
            None
        }
    }
}

fn tests_of(doc: &Value) -> impl Iterator<Item = (&Value, &Value)> {
    doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().iter().map(move |t| (g, t)))
}

fn verdict(entry: &KeyEntry, msg: &[u8], sig: &[u8]) -> bool {
    check_signature(entry, msg, sig, &NativeProvider).is_ok()
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    let Some(doc) = load("ecdsa_secp256r1_sha256_p1363_test.json") else {
        return;
    };
    let mut checked = 0;
    for (g, t) in tests_of(&doc) {
        let point = hex(g["publicKey"]["uncompressed"].as_str().unwrap());
        assert_eq!(point[0], 4);
        let key = P256PublicKey::from_coordinates(
            point[1..33].try_into().unwrap(),
            point[33..].try_into().unwrap(),
        )
        .expect("Wycheproof P-256 keys are on the curve");
        let entry = KeyEntry::new(None, VerifyingKey::Es256(key));
        let got = verdict(
            &entry,
            &hex(t["msg"].as_str().unwrap()),
            &hex(t["sig"].as_str().unwrap()),
        );
        let want = match t["result"].as_str().unwrap() {
            "valid" => true,
            "invalid" => false,
            other => panic!("tcId {}: unexpected result {other}", t["tcId"]),
        };
        assert_eq!(got, want, "tcId {} ({})", t["tcId"], t["comment"]);
        checked += 1;
    }
    assert_eq!(checked, doc["numberOfTests"].as_u64().unwrap());
}

#[test]
fn rsa_pkcs1v15_2048_sha256() {
    let Some(doc) = load("rsa_signature_2048_sha256_test.json") else {
        return;
    };
    let mut checked = 0;
    for (g, t) in tests_of(&doc) {
        let key = RsaPublicKey::from_components(
            &hex(g["publicKey"]["modulus"].as_str().unwrap()),
            &hex(g["publicKey"]["publicExponent"].as_str().unwrap()),
        )
        .expect("Wycheproof 2048-bit keys are acceptable");
        let entry = KeyEntry::new(None, VerifyingKey::Rs256(key));
        let got = verdict(
            &entry,
            &hex(t["msg"].as_str().unwrap()),
            &hex(t["sig"].as_str().unwrap()),
        );
        match t["result"].as_str().unwrap() {
            "valid" => assert!(got, "tcId {} ({})", t["tcId"], t["comment"]),
            "invalid" => assert!(!got, "tcId {} ({})", t["tcId"], t["comment"]),
            // "acceptable" marks legacy encodings (e.g. a missing NULL in DigestInfo). We refuse them:
            // the strict reading is the safe one, and WebCrypto refuses them too.
            "acceptable" => assert!(
                !got,
                "tcId {} ({}): we refuse acceptable-but-legacy forms",
                t["tcId"], t["comment"]
            ),
            other => panic!("unexpected result {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, doc["numberOfTests"].as_u64().unwrap());
}

#[test]
fn hmac_sha256() {
    let Some(doc) = load("hmac_sha256_test.json") else {
        return;
    };
    let (mut matched, mut short_key, mut truncated) = (0, 0, 0);
    for (g, t) in tests_of(&doc) {
        let key = hex(t["key"].as_str().unwrap());
        let tag = hex(t["tag"].as_str().unwrap());
        let msg = hex(t["msg"].as_str().unwrap());
        let want = t["result"] == "valid";
        let Ok(secret) = HmacSecret::new(key.clone()) else {
            // We differ: keys under 32 bytes are refused at configuration time (RFC 7518 §3.2 requires a
            // key at least as long as the hash), so these vectors never reach verification.
            assert!(key.len() < 32, "tcId {}", t["tcId"]);
            short_key += 1;
            continue;
        };
        let entry = KeyEntry::new(None, VerifyingKey::Hs256(secret));
        let got = verdict(&entry, &msg, &tag);
        if g["tagSize"].as_u64() != Some(256) {
            // We differ: truncated tags are valid HMACs but not HS256 signatures (RFC 7518 §3.2 uses the
            // full 256-bit output), so we refuse every one of them.
            assert!(!got, "tcId {}: truncated tag accepted", t["tcId"]);
            truncated += 1;
            continue;
        }
        assert_eq!(got, want, "tcId {} ({})", t["tcId"], t["comment"]);
        matched += 1;
    }
    assert!(matched > 50, "{matched}");
    eprintln!("hmac: {matched} matched, {short_key} refused for short keys, {truncated} refused as truncated tags");
}

/// Wycheproof's JWK/JWS cases: import the key set the way aalgate would (public sets as a JWKS,
/// all-`oct` sets as configured HS256 secrets), then verify the JWS.
#[test]
fn json_web_key_cases() {
    let Some(doc) = load("json_web_key_test.json") else {
        return;
    };
    let mut checked = 0;
    for (g, t) in tests_of(&doc) {
        let id = t["tcId"].as_u64().unwrap();
        let set_doc = if g["public"].is_object() {
            &g["public"]
        } else {
            &g["private"]
        };
        let members = set_doc["keys"].as_array().unwrap();
        let keys = if members.iter().all(|k| k["kty"] == "oct") {
            // Configured secrets: one unusable secret is a configuration error, so the whole set is
            // refused (an empty set here), as configuration loading does.
            members
                .iter()
                .map(import_oct_jwk)
                .collect::<Result<Vec<_>, _>>()
                .map_or_else(
                    |_| KeySet::new(),
                    |entries| {
                        let mut set = KeySet::new();
                        entries.into_iter().for_each(|k| set.push(k));
                        set
                    },
                )
        } else {
            KeySet::from_jwks(set_doc.to_string().as_bytes()).unwrap().0
        };
        let token = t["jws"].as_str().unwrap();
        let v = Validation::default();
        let got = aalgate::verify_signature(token, &keys, &v, &NativeProvider);
        let want_valid = t["result"] == "valid";
        match id {
            // HS384/HS512 with long keys: valid JWS, but aalgate verifies only ES256, RS256 and HS256
            // (what Supabase issues), so the header alg is refused.
            14 | 15 => assert_eq!(
                got.unwrap_err().code().as_str(),
                "alg_not_allowed",
                "tcId {id}"
            ),
            _ => assert_eq!(
                got.is_ok(),
                want_valid,
                "tcId {id} ({}): {:?}",
                t["comment"],
                got.err()
            ),
        }
        checked += 1;
    }
    assert_eq!(checked, doc["numberOfTests"].as_u64().unwrap());
}

#[test]
fn json_web_key_short_hmac_keys_are_refused_at_import() {
    let Some(doc) = load("json_web_key_test.json") else {
        return;
    };
    for (g, t) in tests_of(&doc) {
        if t["comment"] == "key_too_short" || t["comment"] == "empty_key" {
            let k = &g["private"]["keys"][0];
            assert!(import_oct_jwk(k).is_err(), "tcId {}", t["tcId"]);
            assert!(import_jwk(k).is_err(), "tcId {}", t["tcId"]);
        }
    }
}

#[test]
fn json_web_key_roca_key_is_refused_for_its_fingerprint() {
    let Some(doc) = load("json_web_key_test.json") else {
        return;
    };
    let (g, _) = tests_of(&doc)
        .find(|(_, t)| t["comment"] == "rejectsKeyWithRocaVulnerability")
        .unwrap();
    assert_eq!(
        import_jwk(&g["public"]["keys"][0]).unwrap_err(),
        aalgate::keys::KeyProblem::Rsa(aalgate::crypto::RsaKeyProblem::RocaFingerprint)
    );
}
