//! `aalgate verify` / `aalgate inspect` round trips through the real binary.

use crate::common::cli::*;
use crate::common::*;
use serde_json::{json, Value};

fn world_files(tag: &str) -> (World, Tmp, String) {
    let w = World::new();
    let tmp = Tmp::new(tag);
    let jwks = json!({"keys": [es256_jwk(&w.es, "es-1"), rs256_jwk(&w.rs, "rs-1")]});
    let path = tmp.file("jwks.json", jwks.to_string().as_bytes());
    (w, tmp, path)
}

#[test]
fn verify_valid_es256_and_rs256_tokens() {
    let (w, _tmp, jwks) = world_files("valid");
    for token in [
        w.es_token(&supabase_claims()),
        w.rs_token(&supabase_claims()),
    ] {
        let o = aalgate(
            &[
                "verify", "--jwks", &jwks, "--issuer", ISSUER, "--now", NOW_ARG, &token,
            ],
            None,
        );
        assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
        assert!(out(&o).starts_with("valid: signature and claims verified"));
        assert!(out(&o).contains(USER));
    }
}

#[test]
fn verify_json_output_for_valid_and_invalid() {
    let (w, _tmp, jwks) = world_files("json");
    let token = w.es_token(&supabase_claims());
    let o = aalgate(
        &[
            "verify", "--jwks", &jwks, "--now", NOW_ARG, "--json", &token,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["header"]["kid"], "es-1");
    assert_eq!(v["claims"]["sub"], USER);

    let late = (NOW + 4000).to_string();
    let o = aalgate(
        &["verify", "--jwks", &jwks, "--now", &late, "--json", &token],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(
        v,
        json!({"valid": false, "code": "token_expired", "message": "token has expired"})
    );
}

#[test]
fn verify_refusal_prints_code_and_reason_with_exit_1() {
    let (w, _tmp, jwks) = world_files("refuse");
    let token = w.es_token(&supabase_claims());
    let o = aalgate(
        &[
            "verify",
            "--jwks",
            &jwks,
            "--issuer",
            "https://other.supabase.co/auth/v1",
            "--now",
            NOW_ARG,
            &token,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        out(&o).trim(),
        "invalid: issuer_mismatch: token `iss` is not an accepted issuer"
    );
    let o = aalgate(
        &[
            "verify",
            "--jwks",
            &jwks,
            "--audience",
            "service",
            "--now",
            NOW_ARG,
            &token,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("audience_mismatch"));
    // Leeway and max lifetime flags are honoured.
    let mut c = supabase_claims();
    c["exp"] = json!(NOW - 10);
    let t = w.es_token(&c);
    assert_eq!(
        aalgate(&["verify", "--jwks", &jwks, "--now", NOW_ARG, &t], None)
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        aalgate(
            &["verify", "--jwks", &jwks, "--now", NOW_ARG, "--leeway", "5", &t],
            None
        )
        .status
        .code(),
        Some(1)
    );
    let o = aalgate(
        &[
            "verify",
            "--jwks",
            &jwks,
            "--now",
            NOW_ARG,
            "--max-lifetime",
            "60",
            &token,
        ],
        None,
    );
    assert!(out(&o).contains("lifetime_too_long"));
}

#[test]
fn verify_reads_the_token_from_stdin() {
    let (w, _tmp, jwks) = world_files("stdin");
    let token = w.es_token(&supabase_claims());
    let o = aalgate(
        &["verify", "--jwks", &jwks, "--now", NOW_ARG, "-"],
        Some(&format!("{token}\n")),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
}

#[test]
fn verify_with_hs256_secret_file_and_oct_jwk() {
    let w = World::new();
    let tmp = Tmp::new("hs");
    let token = w.hs_token(&supabase_claims());
    let with_newline = tmp.file("secret.txt", &[HS_SECRET, b"\n"].concat());
    let o = aalgate(
        &[
            "verify",
            "--hs256-secret-file",
            &with_newline,
            "--now",
            NOW_ARG,
            &token,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let jwk = tmp.file(
        "oct.json",
        json!({"kty":"oct","k": aalgate::b64::encode(HS_SECRET)})
            .to_string()
            .as_bytes(),
    );
    let o = aalgate(
        &["verify", "--hs256-jwk", &jwk, "--now", NOW_ARG, &token],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let wrong = tmp.file("wrong.txt", &[b'x'; 40]);
    let o = aalgate(
        &[
            "verify",
            "--hs256-secret-file",
            &wrong,
            "--now",
            NOW_ARG,
            &token,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("signature_invalid"));
    let short = tmp.file("short.txt", b"too-short");
    let o = aalgate(&["verify", "--hs256-secret-file", &short, &token], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("short.txt") && err(&o).contains("at least 32"),
        "{}",
        err(&o)
    );
}

#[test]
fn verify_with_single_jwk_file() {
    let (w, tmp, _) = world_files("jwk");
    let path = tmp.file("one.json", es256_jwk(&w.es, "es-1").to_string().as_bytes());
    let o = aalgate(
        &[
            "verify",
            "--jwk",
            &path,
            "--now",
            NOW_ARG,
            &w.es_token(&supabase_claims()),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn key_file_without_usable_keys_is_a_usage_error_listing_each_key() {
    let w = World::new();
    let tmp = Tmp::new("nokeys");
    let mut private = es256_jwk(&w.es, "has-private");
    private["d"] = json!("AAAA");
    let oct = json!({"kty":"oct","kid":"sym","k": aalgate::b64::encode(&[1u8; 32])});
    let path = tmp.file(
        "bad.json",
        json!({"keys": [private, oct]}).to_string().as_bytes(),
    );
    let o = aalgate(
        &["verify", "--jwks", &path, &w.es_token(&supabase_claims())],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("bad.json: no usable key"), "{e}");
    assert!(
        e.contains("key #0 (kid \"has-private\"): contains private key members"),
        "{e}"
    );
    assert!(
        e.contains("key #1 (kid \"sym\"): symmetric `oct` key"),
        "{e}"
    );
}

#[test]
fn missing_or_broken_key_files_and_no_keys_exit_2() {
    let w = World::new();
    let tmp = Tmp::new("broken");
    let token = w.es_token(&supabase_claims());
    let o = aalgate(
        &["verify", "--jwks", "/nonexistent/jwks.json", &token],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("/nonexistent/jwks.json"));
    let garbage = tmp.file("garbage.json", b"{not json");
    let o = aalgate(&["verify", "--jwks", &garbage, &token], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("garbage.json") && err(&o).contains("not valid JSON"),
        "{}",
        err(&o)
    );
    let o = aalgate(&["verify", &token], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no keys given"));
    let o = aalgate(&["verify", "--no-such-flag", &token], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn skip_claims_checks_signature_only() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/rfc7515_appendix_a.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let tmp = Tmp::new("skip");
    let a3 = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["alg"] == "ES256")
        .unwrap();
    let jwk = tmp.file("a3.json", a3["jwk"].to_string().as_bytes());
    let token = a3["token"].as_str().unwrap();
    let o = aalgate(&["verify", "--jwk", &jwk, "--skip-claims", token], None);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("claims NOT checked"));
    let o = aalgate(&["verify", "--jwk", &jwk, token], None);
    assert_eq!(o.status.code(), Some(1));
    // Signature-only still refuses a tampered signature.
    let tampered = format!("{}A", &token[..token.len() - 1]);
    let o = aalgate(&["verify", "--jwk", &jwk, "--skip-claims", &tampered], None);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn inspect_decodes_without_verifying_and_says_so() {
    let w = World::new();
    let o = aalgate(&["inspect", &w.es_token(&supabase_claims())], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).starts_with("UNVERIFIED"));
    assert!(out(&o).contains("\"aal\": \"aal1\""));
    let o = aalgate(&["inspect", "not-a-token"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("token_malformed"));
}
