//! `aalgate probe` against a loopback stand-in of a Supabase project that answers either way: with the
//! origin wall installed (PostgREST's answer to the wall's `PGRST` error: 401, `aal2_required`, the
//! challenge; Storage lists nothing) or without it (the aal1 token is served).

use aalgate::b64;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const SUB: &str = "00000000-0000-4000-8000-0000000000a1";

fn token(aal: &str) -> String {
    let claims = format!(
        r#"{{"sub":"{SUB}","role":"authenticated","aal":"{aal}","exp":4102444800,"iat":1793491200}}"#
    );
    format!(
        "{}.{}.c2ln",
        b64::encode(br#"{"alg":"ES256","kid":"k"}"#),
        b64::encode(claims.as_bytes())
    )
}

/// One stand-in project on a free loopback port; `walled` chooses its answers. Records request lines.
fn stand_in(walled: bool) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            let mut has_apikey = false;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                has_apikey |= lower.starts_with("apikey: sb_publishable_probe");
                if h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push(line.trim().to_owned());
            let path = line.split(' ').nth(1).unwrap_or("");
            let (status, headers, body) = if !has_apikey {
                (
                    401,
                    String::new(),
                    r#"{"message":"No API key found in request"}"#.to_owned(),
                )
            } else if path.starts_with("/auth/v1/token") {
                (
                    200,
                    String::new(),
                    format!(
                        r#"{{"access_token":"{}","token_type":"bearer"}}"#,
                        token("aal1")
                    ),
                )
            } else if path.starts_with("/storage/v1/object/list/") {
                (
                    200,
                    String::new(),
                    if walled {
                        "[]".into()
                    } else {
                        r#"[{"name":"a.png"}]"#.into()
                    },
                )
            } else if walled {
                (
                    401,
                    "WWW-Authenticate: Bearer error=\"insufficient_user_authentication\", acr_values=\"aal2\"\r\n".into(),
                    r#"{"code":"aal2_required","message":"Multi-factor authentication is required for this request.","details":null,"hint":null}"#.into(),
                )
            } else {
                (200, String::new(), "[]".into())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aalgate"))
        .arg("probe")
        .args(args)
        .env_remove("AALGATE_PROBE_PASSWORD")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_walled_project_holds_on_every_door() {
    let (url, seen) = stand_in(true);
    let t = token("aal1");
    let o = probe(&[
        "--project-url",
        &url,
        "--apikey",
        "sb_publishable_probe",
        "--token",
        &t,
        "--bucket",
        "private",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("rest")
            && out.contains("holds: 401 aal2_required with the RFC 9470 challenge"),
        "{out}"
    );
    assert!(
        out.contains("storage") && out.contains("holds: no object visible"),
        "{out}"
    );
    assert!(out.contains("the wall holds"), "{out}");
    assert!(!out.contains(&t), "the token is never printed");
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|l| l.starts_with("GET /rest/v1/")));
    assert!(seen.iter().any(|l| l.starts_with("POST /graphql/v1")));
}

#[test]
fn an_open_project_fails_with_exit_1_naming_the_doors() {
    let (url, _) = stand_in(false);
    let o = probe(&[
        "--project-url",
        &url,
        "--apikey",
        "sb_publishable_probe",
        "--email",
        "mfa-user@example.com",
        "--password",
        "correct horse",
        "--bucket",
        "private",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("OPEN"), "{out}");
    assert!(out.contains("1 object(s) visible at aal1"), "{out}");
    assert!(out.contains("does NOT hold"), "{out}");
}

#[test]
fn the_probe_needs_an_aal1_token_and_a_safe_url() {
    let (url, _) = stand_in(true);
    let aal2 = token("aal2");
    let o = probe(&[
        "--project-url",
        &url,
        "--apikey",
        "sb_publishable_probe",
        "--token",
        &aal2,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("needs an aal1 token"), "{}", text(&o));
    let o = probe(&[
        "--project-url",
        "http://example.com",
        "--apikey",
        "k",
        "--token",
        "a.b.c",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--project-url"));
    let o = probe(&["--project-url", &url, "--apikey", "sb_publishable_probe"]);
    assert_eq!(o.status.code(), Some(2));
}
