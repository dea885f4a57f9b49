//! `aalgate verify` / `aalgate inspect` round trips through the real binary.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let dir = std::env::temp_dir().join(format!("aalgate-cli-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Tmp(dir)
    }
    fn file(&self, name: &str, content: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn aalgate(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aalgate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn world_files(tag: &str) -> (World, Tmp, String) {
    let w = World::new();
    let tmp = Tmp::new(tag);
    let jwks = json!({"keys": [es256_jwk(&w.es, "es-1"), rs256_jwk(&w.rs, "rs-1")]});
    let path = tmp.file("jwks.json", jwks.to_string().as_bytes());
    (w, tmp, path)
}

const NOW_ARG: &str = "1793491200";

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

fn demo_config(tmp: &Tmp, w: &World, extra: &str) -> String {
    tmp.file(
        "jwks.json",
        json!({"keys": [es256_jwk(&w.es, "es-1")]})
            .to_string()
            .as_bytes(),
    );
    let toml = format!(
        "supabase_url = \"https://abcdefghijklmnopqrst.supabase.co\"\nrequire_aal2_for_enrolled = true\n{extra}\n[keys]\njwks_file = \"jwks.json\"\n"
    );
    tmp.file("aalgate.toml", toml.as_bytes())
}

fn enrolled_token(w: &World, aal: &str) -> String {
    let mut c = supabase_claims();
    c["mfa_enrolled"] = json!(true);
    c["aal"] = json!(aal);
    w.es_token(&c)
}

#[test]
fn explain_shows_step_up_for_aal1_enrolled_and_forward_for_aal2() {
    let w = World::new();
    let tmp = Tmp::new("explain");
    let cfg = demo_config(&tmp, &w, "");
    let aal1 = enrolled_token(&w, "aal1");
    let o = aalgate(
        &[
            "explain",
            "--config",
            &cfg,
            "--method",
            "GET",
            "--path",
            "/rest/v1/todos",
            "--token",
            &aal1,
            "--now",
            NOW_ARG,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    let text = out(&o);
    assert!(text.contains("route: `supabase:rest`"), "{text}");
    assert!(
        text.contains("enrollment: claim `mfa_enrolled` = true"),
        "{text}"
    );
    assert!(text.contains("response: HTTP 401"), "{text}");
    assert!(
        text.contains("www-authenticate: Bearer error=\"insufficient_user_authentication\""),
        "{text}"
    );
    assert!(text.contains("acr_values=\"aal2\""), "{text}");

    let o = aalgate(
        &[
            "explain",
            "--config",
            &cfg,
            "--path",
            "/rest/v1/todos",
            "--token",
            &aal1,
            "--now",
            NOW_ARG,
            "--json",
        ],
        None,
    );
    let v: Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["decision"], "reject");
    assert_eq!(v["status"], 401);
    assert_eq!(v["code"], "aal2_required");
    assert_eq!(v["body"]["code"], "aal2_required");
    assert!(v["headers"]["www-authenticate"]
        .as_str()
        .unwrap()
        .contains("insufficient_user_authentication"));

    let aal2 = enrolled_token(&w, "aal2");
    let o = aalgate(
        &[
            "explain",
            "--config",
            &cfg,
            "--path",
            "/rest/v1/todos",
            "--token",
            &aal2,
            "--now",
            NOW_ARG,
            "--json",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["decision"], "forward");
    assert_eq!(v["status"], Value::Null);
}

#[test]
fn explain_takes_headers_and_reports_auth_routes_as_exempt() {
    let w = World::new();
    let tmp = Tmp::new("explain-h");
    let cfg = demo_config(&tmp, &w, "");
    let bearer = format!("Authorization: Bearer {}", enrolled_token(&w, "aal1"));
    let o = aalgate(
        &[
            "explain",
            "--config",
            &cfg,
            "--method",
            "post",
            "--path",
            "/auth/v1/factors/abc/verify",
            "--header",
            &bearer,
            "--now",
            NOW_ARG,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("exempt"));
    let o = aalgate(
        &[
            "explain",
            "--config",
            &cfg,
            "--path",
            "/rest/v1/x",
            "--header",
            "no-colon",
            "--now",
            NOW_ARG,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no-colon"));
}

#[test]
fn explain_judges_credentials_in_the_query_of_the_path() {
    let w = World::new();
    let tmp = Tmp::new("explain-q");
    let cfg = demo_config(&tmp, &w, "");
    let path = format!(
        "/realtime/v1/websocket?apikey={}&vsn=2.0.0",
        enrolled_token(&w, "aal1")
    );
    let o = aalgate(
        &[
            "explain", "--config", &cfg, "--path", &path, "--now", NOW_ARG,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("aal2_required"), "{}", out(&o));
}

#[test]
fn explain_needs_a_jwks_file_when_the_config_names_a_url() {
    let w = World::new();
    let tmp = Tmp::new("explain-url");
    let cfg = tmp.file("remote.toml", b"supabase_url = \"https://abcdefghijklmnopqrst.supabase.co\"\nrequire_aal2_for_enrolled = true\n");
    let token = enrolled_token(&w, "aal2");
    let o = aalgate(
        &[
            "explain",
            "--config",
            &cfg,
            "--path",
            "/rest/v1/todos",
            "--token",
            &token,
            "--now",
            NOW_ARG,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("/auth/v1/.well-known/jwks.json") && err(&o).contains("--jwks"),
        "{}",
        err(&o)
    );
    let jwks = tmp.file(
        "saved.json",
        json!({"keys": [es256_jwk(&w.es, "es-1")]})
            .to_string()
            .as_bytes(),
    );
    let o = aalgate(
        &[
            "explain",
            "--config",
            &cfg,
            "--jwks",
            &jwks,
            "--path",
            "/rest/v1/todos",
            "--token",
            &token,
            "--now",
            NOW_ARG,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
}

#[test]
fn check_config_accepts_the_example_and_names_bad_fields() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/aalgate.toml");
    let o = aalgate(&["check-config", example], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("money-movement"));
    assert!(out(&o).contains("supabase:auth"));
    assert!(out(&o).contains("require_aal2_for_enrolled: on"));
    let tmp = Tmp::new("check");
    // On by omission; only an explicit `false` turns it off, and check-config says so.
    let minimal = tmp.file(
        "minimal.toml",
        b"supabase_url = \"https://x.supabase.co\"\n",
    );
    let o = aalgate(&["check-config", &minimal], None);
    assert!(
        out(&o).contains("require_aal2_for_enrolled: on"),
        "{}",
        out(&o)
    );
    let off = tmp.file(
        "off.toml",
        b"supabase_url = \"https://x.supabase.co\"\nrequire_aal2_for_enrolled = false\n",
    );
    let o = aalgate(&["check-config", &off], None);
    assert!(
        out(&o).contains("require_aal2_for_enrolled: OFF"),
        "{}",
        out(&o)
    );
    let bad = tmp.file("bad.toml", b"supabase_url = \"https://x.supabase.co\"\n[[routes]]\npath = \"/rest/v1/x\"\naal = \"aal9\"\n");
    let o = aalgate(&["check-config", &bad], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("routes[0].aal"), "{}", err(&o));
    let typo = tmp.file(
        "typo.json",
        br#"{"supabase_url": "https://x.supabase.co", "require_aal2_for_enroled": true}"#,
    );
    let o = aalgate(&["check-config", &typo], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("require_aal2_for_enroled"), "{}", err(&o));
    let secret = tmp.file("secret.toml", b"supabase_url = \"https://x.supabase.co\"\n[keys]\nhs256_secret_env = \"AALGATE_TEST_UNSET_VARIABLE\"\n");
    let o = aalgate(&["check-config", &secret], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("AALGATE_TEST_UNSET_VARIABLE"));
}

#[test]
fn explain_asks_for_a_saved_user_answer_when_the_token_does_not_settle_enrollment() {
    let w = World::new();
    let tmp = Tmp::new("explain-user");
    let cfg = demo_config(&tmp, &w, "");
    let mut c = supabase_claims();
    c["aal"] = json!("aal1"); // no mfa_enrolled claim: the preset asks Auth
    let token = w.es_token(&c);
    let args = |extra: &[&str]| {
        let mut a = vec![
            "explain",
            "--config",
            &cfg,
            "--path",
            "/rest/v1/todos",
            "--token",
            &token,
            "--header",
            "apikey: sb_publishable_x",
            "--now",
            NOW_ARG,
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| aalgate(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
    let o = run(args(&[]));
    assert_eq!(o.status.code(), Some(2), "{}{}", out(&o), err(&o));
    assert!(err(&o).contains("--user-json"), "{}", err(&o));
    assert!(err(&o).contains("/auth/v1/user"), "{}", err(&o));
    let user = json!({"id": USER, "factors": [{"factor_type": "totp", "status": "verified"}]});
    let file = tmp.file("user.json", user.to_string().as_bytes());
    let o = run(args(&["--user-json", &file]));
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    assert!(
        out(&o).contains("enrollment: Auth API says true"),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("aal2_required"), "{}", out(&o));
}

// ---- Service identities: keygen, jwks, mint, sql role ----

const ISS: &str = "https://abcdefghijklmnopqrst.supabase.co/auth/v1";
const SUB: &str = "6f1c1b8e-0000-4000-8000-0000000000aa";

fn path_in(tmp: &Tmp, name: &str) -> String {
    tmp.0.join(name).to_string_lossy().into_owned()
}

fn mint(keys: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "mint",
        "--key",
        keys,
        "--role",
        "weather_sync",
        "--sub",
        SUB,
        "--issuer",
        ISS,
        "--now",
        NOW_ARG,
    ];
    args.extend_from_slice(extra);
    aalgate(&args, None)
}

#[test]
fn keygen_jwks_mint_verify_round_trips_for_es256_and_rs256() {
    for alg in ["ES256", "RS256"] {
        let tmp = Tmp::new(&format!("roundtrip-{alg}"));
        let keys = path_in(&tmp, "signing_keys.json");
        let o = aalgate(&["keygen", "--alg", alg, "--out", &keys], None);
        assert!(o.status.success(), "{}", err(&o));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is private");
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
        let k = &file[0];
        assert_eq!(k["alg"], alg);
        assert_eq!(k["use"], "sig");
        assert_eq!(k["key_ops"], json!(["sign", "verify"]));
        assert_eq!(k["ext"], true);
        assert!(uuid_like(k["kid"].as_str().unwrap()));
        let jwks = aalgate(&["jwks", &keys], None);
        assert!(jwks.status.success(), "{}", err(&jwks));
        let jwks_text = out(&jwks);
        assert!(
            !jwks_text.contains("\"d\""),
            "no private member in the JWKS"
        );
        let jwks_file = tmp.file("jwks.json", jwks_text.as_bytes());
        let token = mint(
            &keys,
            &[
                "--valid-for",
                "15m",
                "--claim",
                "app_metadata={\"tenant\":\"a\"}",
            ],
        );
        assert!(token.status.success(), "{}", err(&token));
        let token = out(&token).trim().to_owned();
        let v = aalgate(
            &[
                "verify", "--jwks", &jwks_file, "--issuer", ISS, "--now", NOW_ARG, "--json", &token,
            ],
            None,
        );
        assert_eq!(v.status.code(), Some(0), "{}{}", out(&v), err(&v));
        let report: Value = serde_json::from_str(&out(&v)).unwrap();
        assert_eq!(report["claims"]["role"], "weather_sync");
        assert_eq!(report["claims"]["sub"], SUB);
        assert_eq!(report["claims"]["exp"], json!(NOW + 900));
        assert_eq!(report["claims"]["app_metadata"]["tenant"], "a");
        assert_eq!(report["header"]["kid"], k["kid"]);
    }
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[test]
fn keygen_append_leaves_exactly_one_signing_key_and_never_overwrites() {
    let tmp = Tmp::new("append");
    let keys = path_in(&tmp, "signing_keys.json");
    assert!(aalgate(&["keygen", "--out", &keys], None).status.success());
    let again = aalgate(&["keygen", "--out", &keys], None);
    assert_eq!(again.status.code(), Some(2));
    assert!(err(&again).contains("--append"), "{}", err(&again));
    let before: Value = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    assert!(aalgate(&["keygen", "--out", &keys, "--append"], None)
        .status
        .success());
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    let list = after.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["kid"], before[0]["kid"]);
    assert_eq!(
        list[0]["key_ops"],
        json!(["verify"]),
        "the old key only verifies now"
    );
    assert_eq!(list[1]["key_ops"], json!(["sign", "verify"]));
    // The new key signs; the JWKS carries both (tokens of the old key stay verifiable).
    let token = out(&mint(&keys, &[])).trim().to_owned();
    let header: Value = serde_json::from_slice(
        &aalgate::b64::decode(token.split('.').next().unwrap().as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], list[1]["kid"]);
    let jwks: Value = serde_json::from_str(&out(&aalgate(&["jwks", &keys], None))).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

/// A P-256 key whose `x` coordinate starts with a zero byte, written as the Supabase CLI has written
/// such keys: `x` without its leading zero (31 bytes).
fn supabase_cli_key_with_unpadded_x() -> Value {
    for seed in 1u32.. {
        let mut d = [0u8; 32];
        d[28..].copy_from_slice(&seed.to_be_bytes());
        d[0] = 0x42;
        let key = p256::ecdsa::SigningKey::from_slice(&d).unwrap();
        let p = key.verifying_key().to_encoded_point(false);
        let (x, y) = (p.x().unwrap(), p.y().unwrap());
        if x[0] == 0 {
            return json!({"kty": "EC", "kid": "0d1b7f2e-54aa-4c1e-9f3b-5b8c2d7e1a90", "use": "sig",
                "key_ops": ["sign", "verify"], "alg": "ES256", "ext": true, "crv": "P-256",
                "d": aalgate::b64::encode(&d), "x": aalgate::b64::encode(&x[1..]), "y": aalgate::b64::encode(&y[..])});
        }
    }
    unreachable!()
}

#[test]
fn reads_a_supabase_cli_key_file_with_an_unpadded_coordinate() {
    let tmp = Tmp::new("cli-file");
    let jwk = supabase_cli_key_with_unpadded_x();
    assert_eq!(
        aalgate::b64::decode(jwk["x"].as_str().unwrap().as_bytes())
            .unwrap()
            .len(),
        31
    );
    let keys = tmp.file("signing_keys.json", json!([jwk]).to_string().as_bytes());
    let jwks: Value = serde_json::from_str(&out(&aalgate(&["jwks", &keys], None))).unwrap();
    let x = aalgate::b64::decode(jwks["keys"][0]["x"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(x.len(), 32, "published padded");
    assert_eq!(x[0], 0);
    let jwks_file = tmp.file("jwks.json", jwks.to_string().as_bytes());
    let token = out(&mint(&keys, &[])).trim().to_owned();
    let v = aalgate(
        &[
            "verify", "--jwks", &jwks_file, "--issuer", ISS, "--now", NOW_ARG, &token,
        ],
        None,
    );
    assert_eq!(v.status.code(), Some(0), "{}{}", out(&v), err(&v));
    // A key whose x/y do not belong to d is refused, naming the key.
    let mut wrong = supabase_cli_key_with_unpadded_x();
    wrong["y"] = json!(aalgate::b64::encode(&[7u8; 32]));
    let bad = tmp.file("bad.json", json!([wrong]).to_string().as_bytes());
    let o = aalgate(&["jwks", &bad], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("key [0]"), "{}", err(&o));
}

/// A signing-keys file holding the Supabase-CLI-style key.
fn cli_key_file(tmp: &Tmp) -> String {
    let keys = json!([supabase_cli_key_with_unpadded_x()]);
    tmp.file("k.json", keys.to_string().as_bytes())
}

#[test]
fn mint_is_deterministic_and_refuses_what_it_should() {
    let tmp = Tmp::new("mint-rules");
    let keys = cli_key_file(&tmp);
    let a = out(&mint(&keys, &["--valid-for", "1h"]));
    let b = out(&mint(&keys, &["--valid-for", "1h"]));
    assert_eq!(a, b, "ES256 signing is deterministic (RFC 6979)");
    let refused = |extra: &[&str], needle: &str| {
        let o = mint(&keys, extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", out(&o));
        assert!(err(&o).contains(needle), "{extra:?}: {}", err(&o));
    };
    refused(&["--valid-for", "30d"], "--allow-long-lived");
    refused(&["--claim", "role=\"service_role\""], "own flag");
    refused(&["--claim", "tenant=abc"], "not JSON");
    refused(&["--valid-for", "soon"], "--valid-for");
    assert!(mint(&keys, &["--valid-for", "30d", "--allow-long-lived"])
        .status
        .success());
    let o = aalgate(
        &[
            "mint",
            "--key",
            &keys,
            "--role",
            "Weather; drop",
            "--now",
            NOW_ARG,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let o = aalgate(
        &[
            "mint",
            "--key",
            &keys,
            "--role",
            "x",
            "--sub",
            "not-a-uuid",
            "--now",
            NOW_ARG,
        ],
        None,
    );
    assert!(err(&o).contains("--sub"), "{}", err(&o));
    // --exp as RFC 3339.
    let o = mint(&keys, &["--exp", "2026-11-01T01:00:00Z"]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn sql_role_quotes_every_name_and_refuses_injection_and_supabase_roles() {
    let o = aalgate(
        &[
            "sql",
            "role",
            "weather_sync",
            "--grant",
            "select, insert on public.weather",
            "--grant",
            "usage on sequence public.weather_id_seq",
            "--grant",
            "execute on function public.refresh(int, text[])",
        ],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    let sql = out(&o);
    assert!(
        sql.contains("create role \"weather_sync\" nologin noinherit;"),
        "{sql}"
    );
    assert!(
        sql.contains("grant \"weather_sync\" to authenticator;"),
        "{sql}"
    );
    assert!(
        sql.contains("grant select, insert on table \"public\".\"weather\" to \"weather_sync\";"),
        "{sql}"
    );
    assert!(
        sql.contains("grant usage on sequence \"public\".\"weather_id_seq\" to \"weather_sync\";"),
        "{sql}"
    );
    assert!(
        sql.contains(
            "grant execute on function \"public\".\"refresh\"(int, text[]) to \"weather_sync\";"
        ),
        "{sql}"
    );
    for bad in [
        "select on public.t; drop table x",
        "all on public.t",
        "select on public.\"t\"",
        "drop on public.t",
        "execute on function public.f",
    ] {
        let o = aalgate(&["sql", "role", "svc", "--grant", bad], None);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", out(&o));
    }
    for name in [
        "service_role",
        "authenticator",
        "supabase_admin",
        "Svc",
        "a-b",
    ] {
        assert_eq!(
            aalgate(&["sql", "role", name], None).status.code(),
            Some(2),
            "{name}"
        );
    }
    let tmp = Tmp::new("sql-out");
    let o = aalgate(
        &["sql", "role", "svc", "--out", &tmp.0.to_string_lossy()],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    let written: Vec<_> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(written.len(), 1);
    assert!(
        written[0].ends_with("_aalgate_role_svc.sql")
            && written[0].len() == "20261122000000_aalgate_role_svc.sql".len(),
        "{written:?}"
    );
}

#[test]
fn mint_and_sql_role_refuse_what_the_review_found() {
    let tmp = Tmp::new("review");
    let keys = cli_key_file(&tmp);
    for role in [
        "authenticated",
        "anon",
        "service_role",
        "postgres",
        "supabase_admin",
    ] {
        let o = aalgate(
            &["mint", "--key", &keys, "--role", role, "--now", NOW_ARG],
            None,
        );
        assert_eq!(o.status.code(), Some(2), "{role}");
    }
    for claim in [
        " aal=\"aal2\"",
        "amr=[]",
        "session_id=\"x\"",
        "mfa_enrolled=true",
        "nbf=1",
    ] {
        let o = mint(&keys, &["--claim", claim]);
        assert_eq!(o.status.code(), Some(2), "{claim}: {}", out(&o));
    }
    // A UUID in another spelling is written in the canonical form.
    let o = aalgate(
        &[
            "mint",
            "--key",
            &keys,
            "--role",
            "weather_sync",
            "--sub",
            "{6F1C1B8E-0000-4000-8000-0000000000AA}",
            "--now",
            NOW_ARG,
        ],
        None,
    );
    let token = out(&o).trim().to_owned();
    let claims: Value = serde_json::from_slice(
        &aalgate::b64::decode(token.split('.').nth(1).unwrap().as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], SUB);
    for bad in [
        "truncate on public.t",
        "select on auth.users",
        "usage on schema storage",
        "select on pg_catalog.pg_authid",
    ] {
        assert_eq!(
            aalgate(&["sql", "role", "svc", "--grant", bad], None)
                .status
                .code(),
            Some(2),
            "{bad}"
        );
    }
    let existing = tmp.file("existing.sql", b"-- mine");
    assert_eq!(
        aalgate(&["sql", "role", "svc", "--out", &existing], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "-- mine",
        "never overwritten"
    );
    let target = tmp.file("target.json", b"[]");
    let link = path_in(&tmp, "link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = aalgate(&["keygen", "--out", &link, "--append"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("symbolic link"), "{}", err(&o));
}

#[test]
fn key_files_with_wrong_use_empty_kid_or_foreign_crt_values_are_refused() {
    let tmp = Tmp::new("keyfile-rules");
    let mut enc = supabase_cli_key_with_unpadded_x();
    enc["use"] = json!("enc");
    let mut no_kid = supabase_cli_key_with_unpadded_x();
    no_kid["kid"] = json!("");
    for (name, key) in [("enc", enc), ("nokid", no_kid)] {
        let f = tmp.file(&format!("{name}.json"), json!([key]).to_string().as_bytes());
        assert_eq!(
            aalgate(&["jwks", &f], None).status.code(),
            Some(2),
            "{name}"
        );
    }
    // A 33-byte coordinate with a leading zero (a sign byte) is the same number.
    let mut padded = supabase_cli_key_with_unpadded_x();
    let x = aalgate::b64::decode(padded["x"].as_str().unwrap().as_bytes()).unwrap();
    let mut x33 = vec![0u8, 0u8];
    x33.extend_from_slice(&x);
    padded["x"] = json!(aalgate::b64::encode(&x33));
    let f = tmp.file("x33.json", json!([padded]).to_string().as_bytes());
    assert!(aalgate(&["jwks", &f], None).status.success());
    // RSA: a dp that does not belong to the key.
    let keys = path_in(&tmp, "rsa.json");
    assert!(aalgate(&["keygen", "--alg", "RS256", "--out", &keys], None)
        .status
        .success());
    let mut list: Value = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    list[0]["dp"] = json!(aalgate::b64::encode(&[3u8; 128]));
    let f = tmp.file("rsa-bad.json", list.to_string().as_bytes());
    let o = aalgate(&["jwks", &f], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("dp"), "{}", err(&o));
}
