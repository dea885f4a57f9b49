//! Service identities: keygen, jwks, mint, sql role.

use crate::common::cli::*;
use crate::common::*;
use serde_json::{json, Value};
use std::process::Output;

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
    assert_eq!(list[1]["kid"], before[0]["kid"]);
    assert_eq!(
        list[1]["key_ops"],
        json!(["verify"]),
        "the old key only verifies now"
    );
    // The new key comes first: `supabase gen bearer-jwt` signs with the first key of the file.
    assert_eq!(list[0]["key_ops"], json!(["sign", "verify"]));
    // The new key signs; the JWKS carries both (tokens of the old key stay verifiable).
    let token = out(&mint(&keys, &[])).trim().to_owned();
    let header: Value = serde_json::from_slice(
        &aalgate::b64::decode(token.split('.').next().unwrap().as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], list[0]["kid"]);
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

#[test]
fn cli_token_flags_refuse_what_they_should() {
    let tmp = Tmp::new("cli-flags");
    let keys = path_in(&tmp, "signing_keys.json");
    assert!(aalgate(&["keygen", "--out", &keys], None).status.success());
    assert!(aalgate(&["keygen", "--out", &keys, "--append"], None)
        .status
        .success());
    let list: Value = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    let retired = list[1]["kid"].as_str().unwrap().to_owned();
    let cli_mint = |extra: &[&str]| {
        let mut args = vec![
            "mint",
            "--key",
            &keys,
            "--role",
            "weather_sync",
            "--sub",
            SUB,
        ];
        args.extend_from_slice(&["--now", NOW_ARG, "--cli-shape"]);
        args.extend_from_slice(extra);
        aalgate(&args, None)
    };
    // --kid: an unknown kid, and a verify-only key, are refused naming the kid.
    for (kid, why) in [
        ("nope", "no key has `kid`"),
        (retired.as_str(), "only verifies"),
    ] {
        let o = cli_mint(&["--kid", kid]);
        assert_eq!(o.status.code(), Some(2), "{kid}");
        assert!(
            err(&o).contains(why) && err(&o).contains(kid),
            "{}",
            err(&o)
        );
    }
    // verify --accept-cli-role never takes Supabase's own roles.
    let token = out(&cli_mint(&[])).trim().to_owned();
    let o = aalgate(
        &[
            "verify",
            "--jwks",
            &keys,
            "--now",
            NOW_ARG,
            "--accept-cli-role",
            "weather_sync",
            &token,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    for role in ["authenticated", "anon", "service_role"] {
        let o = aalgate(
            &["verify", "--jwks", &keys, "--accept-cli-role", role, &token],
            None,
        );
        assert_eq!(o.status.code(), Some(2), "{role}");
        assert!(err(&o).contains("--accept-cli-role"), "{}", err(&o));
    }
    // A signing-keys file that is not one names the file and the key.
    let bad = tmp.file("bad_keys.json", b"[{\"kty\":\"EC\"}]");
    let o = aalgate(&["verify", "--jwks", &bad, &token], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("bad_keys.json") && err(&o).contains("key [0]"),
        "{}",
        err(&o)
    );
}

#[test]
fn init_refuses_bad_folders_and_another_gate_config_changing_nothing() {
    let tmp = Tmp::new("init-bad");
    let dir = tmp.0.join("supabase");
    std::fs::create_dir_all(&dir).unwrap();
    let dir_s = dir.to_string_lossy().into_owned();
    let config = dir.join("config.toml");
    for (text, why) in [
        ("[auth\n", "not valid TOML"),
        ("auth = 1\n", "`[auth]` is not a table"),
        ("[auth]\nhook = \"x\"\n", "`[auth.hook]` is not a table"),
    ] {
        std::fs::write(&config, text).unwrap();
        let o = aalgate(&["init", &dir_s], None);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(err(&o).contains(why), "{text}: {}", err(&o));
        assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
        assert!(!dir.join("migrations").exists());
    }
    // An aalgate.toml of the user's own is left alone without --force.
    std::fs::write(&config, "[auth]\n").unwrap();
    let gate_config = tmp.file(
        "aalgate.toml",
        b"supabase_url = \"https://x.supabase.co\"\n",
    );
    let o = aalgate(&["init", &dir_s], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("aalgate.toml") && err(&o).contains("--force"),
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "[auth]\n");
    let o = aalgate(&["init", &dir_s, "--force"], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(std::fs::read_to_string(&gate_config)
        .unwrap()
        .contains("http://127.0.0.1:54321"));
}
