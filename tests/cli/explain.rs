//! `aalgate explain` and `aalgate check-config` on a demo configuration.

use crate::common::cli::*;
use crate::common::*;
use serde_json::{json, Value};

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

#[test]
fn check_config_prints_service_roles_and_their_scopes() {
    let tmp = Tmp::new("check-roles");
    let cfg = tmp.file(
        "roles.toml",
        b"supabase_url = \"https://x.supabase.co\"\n[[service_roles]]\nrole = \"billing_worker\"\nmax_lifetime = 900\nroutes = [{ path = \"/rest/v1/invoices\", methods = [\"GET\", \"PATCH\"] }]\n",
    );
    let o = aalgate(&["check-config", &cfg], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("service roles"), "{text}");
    assert!(text.contains("billing_worker"), "{text}");
    assert!(text.contains("max_lifetime=900"), "{text}");
    assert!(text.contains("GET,PATCH /rest/v1/invoices"), "{text}");
    // Without service roles or an exchange, nothing extra is printed.
    let minimal = tmp.file(
        "minimal.toml",
        b"supabase_url = \"https://x.supabase.co\"\n",
    );
    let o = aalgate(&["check-config", &minimal], None);
    assert!(!out(&o).contains("service roles"), "{}", out(&o));
    assert!(!out(&o).contains("exchange:"), "{}", out(&o));
}
