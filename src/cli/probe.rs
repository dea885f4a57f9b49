//! `aalgate probe`: checks a live project from outside, going around the gate on purpose, whether the
//! origin wall holds: an aal1 token of a user with a verified factor must be refused by the project's
//! own Data API (and see no Storage object), not only by the gate.

use crate::dangerous::insecure_decode;
use clap::Args;
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Args)]
pub(super) struct ProbeArgs {
    /// The project URL (`https://<ref>.supabase.co`), called directly, not through the gate.
    #[arg(long, value_name = "URL")]
    project_url: String,
    /// The project's publishable (or anon) key.
    #[arg(long, value_name = "KEY")]
    apikey: String,
    /// An aal1 access token of a test user who has a verified MFA factor.
    #[arg(long, value_name = "TOKEN", conflicts_with_all = ["email", "password"])]
    token: Option<String>,
    /// Sign the test user in with a password instead (gives an aal1 token).
    #[arg(long)]
    email: Option<String>,
    /// The test user's password (default: the AALGATE_PROBE_PASSWORD environment variable, which keeps
    /// it out of the shell history).
    #[arg(long)]
    password: Option<String>,
    /// The Data API request to try (any path under /rest/v1).
    #[arg(long, value_name = "PATH", default_value = "/rest/v1/")]
    rest_path: String,
    /// A Storage bucket in which the test user can see an object at aal2 (checks Storage too).
    #[arg(long, value_name = "NAME")]
    bucket: Option<String>,
}

/// What one door did with the aal1 token.
enum Door {
    Holds(String),
    Open(String),
    Unclear(String),
    Skipped(String),
}

struct Answer {
    status: u16,
    body: String,
    www_authenticate: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(std::time::Duration::from_secs(15)))
        .build()
        .into()
}

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<Answer, String> {
    let builder = ureq::http::Request::builder().method(method).uri(url);
    let builder = headers
        .iter()
        .fold(builder, |b, (n, v)| b.header(*n, *v))
        .header("content-type", "application/json");
    let request = builder
        .body(body.map(Value::to_string).unwrap_or_default())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut response = agent
        .run(request)
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Ok(Answer {
        status: response.status().as_u16(),
        body,
        www_authenticate,
    })
}

fn code_of(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get("code")?
        .as_str()
        .map(str::to_owned)
}

/// A Data API door holds when it answers 401 `aal2_required`; a 2xx is an open door.
fn data_door(answer: &Answer) -> Door {
    let code = code_of(&answer.body);
    match (answer.status, code.as_deref()) {
        (401, Some("aal2_required")) => {
            let challenge = answer
                .www_authenticate
                .as_deref()
                .is_some_and(|h| h.contains("insufficient_user_authentication"));
            Door::Holds(format!(
                "401 aal2_required{}",
                if challenge {
                    " with the RFC 9470 challenge"
                } else {
                    ""
                }
            ))
        }
        (200..=299, _) => Door::Open(format!(
            "{} — the aal1 token was served: install `aalgate sql wall`",
            answer.status
        )),
        (status, code) => Door::Unclear(format!("{status} {}", code.unwrap_or("(no code)"))),
    }
}

pub(super) fn run_probe(args: ProbeArgs) -> Result<ExitCode, String> {
    let base = args.project_url.trim_end_matches('/').to_owned();
    if !(base.starts_with("https://")
        || base.starts_with("http://127.")
        || base.starts_with("http://localhost:"))
    {
        return Err("--project-url must be https:// (or http:// on loopback)".into());
    }
    if !args.rest_path.starts_with("/rest/v1") {
        return Err("--rest-path must be under /rest/v1".into());
    }
    let agent = agent();
    let apikey = args.apikey.as_str();
    let password = args
        .password
        .clone()
        .or_else(|| std::env::var("AALGATE_PROBE_PASSWORD").ok());
    let token = match (&args.token, &args.email, &password) {
        (Some(t), _, _) => t.trim().to_owned(),
        (None, Some(email), Some(password)) => {
            let url = format!("{base}/auth/v1/token?grant_type=password");
            let a = call(
                &agent,
                "POST",
                &url,
                &[("apikey", apikey)],
                Some(&json!({"email": email, "password": password})),
            )?;
            if a.status != 200 {
                return Err(format!(
                    "signing in failed: {} {}",
                    a.status,
                    code_of(&a.body).unwrap_or_default()
                ));
            }
            serde_json::from_str::<Value>(&a.body)
                .ok()
                .and_then(|v| v["access_token"].as_str().map(str::to_owned))
                .ok_or("signing in gave no access_token")?
        }
        _ => return Err("give --token, or --email with --password".into()),
    };
    // Only to say what is being probed: the project verifies the token, not us.
    let (_, claims) =
        insecure_decode(&token, 16 * 1024).map_err(|e| format!("--token: {}", e.code()))?;
    let aal = claims.get("aal").and_then(Value::as_str).unwrap_or("aal1");
    if aal != "aal1" {
        return Err(format!(
            "the token is {aal}: the probe needs an aal1 token (sign in with the password only)"
        ));
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("?");
    println!("probing {base} directly (not through the gate) with an aal1 token of user {sub}");
    let bearer = format!("Bearer {token}");
    let auth = [("apikey", apikey), ("authorization", bearer.as_str())];

    let mut doors = Vec::new();
    let rest = call(
        &agent,
        "GET",
        &format!("{base}{}", args.rest_path),
        &auth,
        None,
    )?;
    doors.push(("rest", args.rest_path.clone(), data_door(&rest)));
    let graphql = call(
        &agent,
        "POST",
        &format!("{base}/graphql/v1"),
        &auth,
        Some(&json!({"query": "{ __typename }"})),
    )?;
    doors.push(("graphql", "/graphql/v1".into(), data_door(&graphql)));
    let storage = match &args.bucket {
        None => Door::Skipped("give --bucket with an object the user can see at aal2".into()),
        Some(bucket) => {
            let a = call(
                &agent,
                "POST",
                &format!("{base}/storage/v1/object/list/{bucket}"),
                &auth,
                Some(&json!({"prefix": "", "limit": 100})),
            )?;
            match serde_json::from_str::<Value>(&a.body) {
                Ok(Value::Array(items)) if a.status == 200 && items.is_empty() => {
                    Door::Holds("no object visible at aal1".into())
                }
                Ok(Value::Array(items)) if a.status == 200 => Door::Open(format!(
                    "{} object(s) visible at aal1: install `aalgate sql wall`",
                    items.len()
                )),
                _ => Door::Unclear(format!(
                    "{} {}",
                    a.status,
                    code_of(&a.body).unwrap_or_else(|| "(no code)".into())
                )),
            }
        }
    };
    doors.push((
        "storage",
        format!("bucket {}", args.bucket.as_deref().unwrap_or("-")),
        storage,
    ));

    let mut open = false;
    for (name, target, door) in &doors {
        let (word, detail) = match door {
            Door::Holds(d) => ("holds", d),
            Door::Open(d) => {
                open = true;
                ("OPEN", d)
            }
            Door::Unclear(d) => {
                open = true;
                ("cannot tell", d)
            }
            Door::Skipped(d) => ("skipped", d),
        };
        println!("  {name:<8} {target:<24} {word}: {detail}");
    }
    if open {
        println!("verdict: the wall does NOT hold on every door (see above)");
        Ok(ExitCode::from(1))
    } else {
        println!("verdict: the wall holds on every door checked");
        Ok(ExitCode::SUCCESS)
    }
}
