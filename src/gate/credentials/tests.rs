//! The inventory module's own tests: each place, each class, each bound.

use super::query::{percent_decode, query_values};
use super::*;
use crate::b64;

const MAX: usize = 8192;
// A user token's shape (three base64url segments; the payload has no `ref`/`service_role`).
const USER: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";
const OTHER_USER: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ2In0.c2ln";

fn jwt(claims: &str) -> String {
    format!(
        "{}.{}.c2ln",
        b64::encode(br#"{"alg":"HS256"}"#),
        b64::encode(claims.as_bytes())
    )
}

fn found<'r>(
    method: &'r str,
    path: &'r str,
    query: &'r str,
    headers: &'r [(&'r str, &'r str)],
) -> Presented<'r> {
    let req = Request {
        method,
        path,
        query,
        headers,
    };
    let normal = super::super::route::normalize_path(path).unwrap();
    extract(&req, &normal, MAX, &mut ClassificationMemo::default())
}

#[test]
fn every_value_is_classified() {
    let anon = jwt(r#"{"iss":"supabase","ref":"abc","role":"anon"}"#);
    let service = jwt(r#"{"iss":"supabase","ref":"abc","role":"service_role"}"#);
    let user_claiming_service = jwt(r#"{"sub":"u","role":"service_role"}"#);
    let cases: &[(&str, Class)] = &[
        ("sb_publishable_abc123", Class::Publishable),
        ("sb_secret_abc123", Class::Secret),
        ("\"sb_secret_abc\"", Class::Secret),
        ("x sb_SECRET_abc", Class::Secret),
        (&anon, Class::AnonKey),
        (&service, Class::Secret),
        (&user_claiming_service, Class::Secret),
        (USER, Class::User),
        ("sb_publishable_", Class::Unknown),
        ("sb_publishable_a b", Class::Unknown),
        ("not-a-key", Class::Unknown),
        ("a.b", Class::Unknown),
        ("a.b.c.d", Class::Unknown),
        ("", Class::Unknown),
    ];
    for (value, want) in cases {
        assert_eq!(classify(value, MAX), *want, "{value}");
    }
    let long_key = format!("sb_publishable_{}", "a".repeat(MAX_API_KEY_BYTES));
    assert_eq!(classify(&long_key, MAX), Class::Unknown);
}

#[test]
fn a_user_token_is_found_in_every_place_a_service_reads_one() {
    let query_token = format!("apikey={USER}");
    let s3_query = format!("X-Amz-Credential=ref%2Fx&X-Amz-Security-Token={USER}");
    let places: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "",
            vec![(
                "authorization",
                "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",
            )],
        ),
        ("", vec![("apikey", USER)]),
        ("", vec![("x-api-key", USER)]),
        ("", vec![("sb-api-key", USER)]),
        ("", vec![("x-amz-security-token", USER)]),
        (&query_token, vec![]),
        (&s3_query, vec![]),
    ];
    for (query, headers) in &places {
        let p = found("GET", "/storage/v1/s3/b/k", query, headers);
        assert_eq!(p.problem, None, "{query} {headers:?}");
        assert_eq!(p.user.as_deref(), Some(USER), "{query} {headers:?}");
        assert!(!p.service, "{query} {headers:?}");
    }
}

#[test]
fn two_different_user_tokens_conflict_wherever_they_are() {
    let bearer = format!("Bearer {OTHER_USER}");
    let headers = [("authorization", bearer.as_str()), ("apikey", USER)];
    let p = found("GET", "/rest/v1/x", "", &headers);
    assert_eq!(p.problem.map(|e| e.code()), Some(Code::CredentialsConflict));
    let q = format!("X-Amz-Security-Token={OTHER_USER}");
    let p = found("GET", "/s", &q, &[("x-amz-security-token", USER)]);
    assert_eq!(p.problem.map(|e| e.code()), Some(Code::CredentialsConflict));
}

#[test]
fn secret_level_credentials_are_found_in_every_place() {
    let places: &[(&str, &[(&str, &str)])] = &[
        ("", &[("apikey", "sb_secret_x")]),
        ("", &[("apikey", "Bearer sb_secret_x")]),
        ("", &[("x-api-key", "sb_secret_x")]),
        ("", &[("sb-api-key", "sb_secret_x")]),
        ("", &[("authorization", "Bearer sb_secret_x")]),
        ("", &[("authorization", "Basic sb_secret_x")]),
        ("", &[("authorization", "AWS4-HMAC-SHA256 Credential=k/x")]),
        ("", &[("x-amz-security-token", "sb_secret_x")]),
        ("apikey=sb_secret_x", &[]),
        ("APIKEY=sb_secret_x", &[]),
        ("apikey[0]=sb_secret_x", &[]),
        ("api%6Bey=sb_secret_x", &[]),
        ("X-Amz-Credential=k%2Fx&X-Amz-Signature=00", &[]),
        ("x-amz-signature=00", &[]),
        // Hidden in a conflict: still known as secret-level.
        ("", &[("apikey", "sb_publishable_a, sb_secret_x")]),
    ];
    for (query, headers) in places {
        let p = found("GET", "/storage/v1/s3/b/k", query, headers);
        assert!(p.service, "{query} {headers:?}");
    }
}

#[test]
fn attack_s3_decoy_session_tokens_never_cancel_access_key_signing() {
    let presign = "X-Amz-Credential=AKID%2Fx&X-Amz-Signature=00&X-Amz-Algorithm=AWS4-HMAC-SHA256";
    let sigv4 = [(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature=00",
    )];
    let anon = jwt(r#"{"iss":"supabase","ref":"x","role":"anon"}"#);
    // A key where Storage looks for the session token, or a token where Storage does not look.
    let decoys: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            presign.to_owned(),
            vec![("x-amz-security-token", "sb_publishable_x")],
        ),
        (
            presign.to_owned(),
            vec![("x-amz-security-token", anon.as_str())],
        ),
        (
            format!("{presign}&x-amz-security-token=sb_publishable_x"),
            vec![],
        ),
        (
            format!("{presign}&X-Amz-Security-Token%5B%5D=sb_publishable_x"),
            vec![],
        ),
        (format!("{presign}&X-AMZ-SECURITY-TOKEN={USER}"), vec![]),
        (
            format!("{presign}&X-Amz-Security-Token=sb_publishable_x"),
            vec![],
        ),
        (
            "X-Amz-Security-Token=sb_publishable_x".to_owned(),
            sigv4.to_vec(),
        ),
        (format!("X-Amz-Security-Token={USER}"), sigv4.to_vec()),
    ];
    for (query, headers) in &decoys {
        let p = found("GET", "/storage/v1/s3/b/k", query, headers);
        assert!(p.service, "{query} {headers:?}");
    }
    // The real thing: a user session token where Storage reads it.
    let real = format!("{presign}&X-Amz-Security-Token={USER}");
    assert!(!found("GET", "/storage/v1/s3/b/k", &real, &[]).service);
    let with_header = [sigv4[0], ("x-amz-security-token", USER)];
    assert!(!found("GET", "/storage/v1/s3/b/k", "", &with_header).service);
}

#[test]
fn attack_encoded_s3_path_is_still_the_s3_api() {
    let form = [("content-type", "multipart/form-data; boundary=x")];
    for path in [
        "/storage/v1/s%33/bucket",
        "/storage/v1/%733/bucket",
        "/storage/v1/%73%33/bucket/",
        "/storage/v%31/s3/bucket",
        "/%73torage/v1/s3/bucket",
    ] {
        assert!(found("POST", path, "", &form).form_credentials, "{path}");
    }
}

#[test]
fn attack_secret_in_odd_authorization_forms_is_found() {
    let service = jwt(r#"{"iss":"supabase","ref":"x","role":"service_role"}"#);
    let tab = format!("Bearer\t{service}");
    let tab2 = format!("Bearer \t{service}");
    for value in [
        "sb_secret_abc",
        "Bearer\tsb_secret_abc",
        "Token sb_secret_abc",
        service.as_str(),
        tab.as_str(),
        tab2.as_str(),
    ] {
        let h = [("authorization", value)];
        assert!(found("GET", "/auth/v1/user", "", &h).service, "{value}");
    }
}

#[test]
fn api_key_places_must_agree_and_hold_a_key() {
    let p = found(
        "GET",
        "/realtime/v1/websocket",
        "apikey=sb_publishable_a",
        &[("apikey", "sb_publishable_a")],
    );
    assert_eq!(p.problem, None);
    assert_eq!(p.api_key.as_deref(), Some("sb_publishable_a"));
    let p = found(
        "GET",
        "/realtime/v1/websocket",
        "apikey=sb_publishable_a",
        &[("x-api-key", "sb_publishable_b")],
    );
    assert_eq!(p.problem.map(|e| e.code()), Some(Code::CredentialsConflict));
    let p = found("GET", "/rest/v1/x", "", &[("apikey", "garbage")]);
    let problem = p.problem.unwrap();
    assert_eq!(problem.code(), Code::ApikeyInvalid);
    assert!(problem.context().contains("header `apikey`"));
    assert!(!problem.context().contains("garbage"), "never echoed");
}

#[test]
fn the_lookup_key_is_only_a_well_formed_publishable_or_anon_key() {
    let anon = jwt(r#"{"iss":"supabase","ref":"abc","role":"anon"}"#);
    let headers = [("apikey", anon.as_str())];
    let p = found("GET", "/rest/v1/x", "", &headers);
    assert_eq!(p.api_key.as_deref(), Some(anon.as_str()));
    let p = found("GET", "/rest/v1/x", "", &[("apikey", USER)]);
    assert_eq!(p.api_key, None);
    let long = format!("sb_publishable_{}", "a".repeat(70_000));
    let headers = [("apikey", long.as_str())];
    let p = found("GET", "/rest/v1/x", "", &headers);
    assert_eq!(p.api_key, None);
    assert_eq!(p.problem.map(|e| e.code()), Some(Code::ApikeyInvalid));
}

#[test]
fn multipart_posts_to_the_s3_api_are_form_credentials() {
    let form = [("content-type", "Multipart/Form-Data; boundary=x")];
    assert!(found("POST", "/storage/v1/s3/bucket", "", &form).form_credentials);
    assert!(found("POST", "/storage/v1/s3", "", &form).form_credentials);
    assert!(!found("PUT", "/storage/v1/s3/bucket/k", "", &form).form_credentials);
    // Standard uploads carry their credentials in headers: not a form-credential upload.
    assert!(!found("POST", "/storage/v1/object/bucket/k", "", &form).form_credentials);
    assert!(!found("POST", "/storage/v1/s3x/bucket", "", &form).form_credentials);
    let plain = [("content-type", "application/xml")];
    assert!(!found("POST", "/storage/v1/s3/bucket", "", &plain).form_credentials);
}

#[test]
fn query_values_are_decoded_leniently_like_the_services_do() {
    assert_eq!(percent_decode("a%2Bb+c"), "a+b c");
    assert_eq!(percent_decode("50%"), "50%");
    assert_eq!(percent_decode("%zz%41"), "%zzA");
    assert_eq!(percent_decode("%ff"), "\u{fffd}");
    // Attack: a signed escape. Node and nginx keep `%+A` as it is; the gate must not read byte 0x0A.
    assert_eq!(percent_decode("%+A%-1"), "% A%-1");
    let vals: Vec<String> = query_values("a=1&APIKEY=x&apikey%5B%5D=y&apikeys=z&=w", "apikey")
        .into_iter()
        .map(Cow::into_owned)
        .collect();
    assert_eq!(vals, ["x", "y"]);
}

#[test]
fn the_memo_is_bounded_in_entries_and_bytes() {
    let mut memo = ClassificationMemo::default();
    for i in 0..(ClassificationMemo::MAX_ENTRIES * 3) {
        let v = format!("{}.{}.c2ln", "a".repeat(8000), i);
        memo.classify(&v, MAX);
        assert!(memo.seen.len() <= ClassificationMemo::MAX_ENTRIES);
        assert!(memo.bytes <= ClassificationMemo::MAX_BYTES);
    }
    // Values over the token cap are never kept.
    memo.classify(&format!("{}.b.c", "a".repeat(MAX + 1)), MAX);
    assert!(memo.seen.keys().all(|k| k.len() <= MAX));
}

#[test]
fn the_inventory_names_every_place_the_gate_reads() {
    for name in [
        "authorization",
        "apikey",
        "x-api-key",
        "sb-api-key",
        "x-amz-security-token",
    ] {
        assert!(
            INVENTORY.iter().any(|c| c.place == Place::Header(name)),
            "{name}"
        );
    }
    for name in [
        "apikey",
        "x-amz-security-token",
        "x-amz-credential",
        "x-amz-signature",
    ] {
        assert!(
            INVENTORY.iter().any(|c| c.place == Place::Query(name)),
            "{name}"
        );
    }
}
