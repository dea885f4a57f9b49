//! The Cloudflare Worker (feature `cloudflare`, workers-rs): the gate as a reverse proxy in front of a
//! Supabase project.
//!
//! Configuration comes from Worker vars and secrets: `SUPABASE_URL`, `AALGATE_CONFIG` (JSON, the same
//! keys as the TOML file), `SUPABASE_JWT_SECRET` (legacy HS256 projects). The gate is built once per
//! isolate; a bad configuration answers every request with a 500 naming the problem.

use crate::error::ConfigError;
use crate::gate::forwarding::forwardable_headers;
use crate::gate::{Decision, Forward, Gate, Request as GateRequest, Verdict};
use crate::wasm::http::{self, Inbound};
use crate::wasm::{driver, micros, setup};
use crate::wire::{self, Answer};
use std::cell::RefCell;
use std::rc::Rc;
use worker::{event, Context, Env, Request, Response, Result};

struct State {
    gate: RefCell<Gate>,
    upstream: String,
}

thread_local! {
    static STATE: RefCell<Option<std::result::Result<Rc<State>, ConfigError>>> = const { RefCell::new(None) };
}

fn text(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
        .filter(|v| !v.is_empty())
}

/// Builds the gate from the Worker's environment (the rules are shared with the portable module).
fn load(env: &Env) -> std::result::Result<State, ConfigError> {
    // Wrangler allows object-valued vars: accept them as the same document rather than ignoring them.
    let config_text = text(env, "AALGATE_CONFIG").or_else(|| {
        env.object_var::<serde_json::Value>("AALGATE_CONFIG")
            .ok()
            .map(|v| v.to_string())
    });
    if text(env, "AALGATE_SELFTEST").as_deref() == Some("1") {
        web_sys::console::warn_1(&"aalgate: AALGATE_SELFTEST=1 exposes test endpoints under /__aalgate/selftest/; never set it in production".into());
    }
    let loaded = setup::load(config_text.as_deref(), "AALGATE_CONFIG", &|name| {
        text(env, name)
    })?;
    web_sys::console::log_1(&format!("aalgate: {}", loaded.gate.config().summary()).into());
    for w in loaded.warnings {
        web_sys::console::warn_1(&format!("aalgate: {w}").into());
    }
    Ok(State {
        gate: RefCell::new(loaded.gate),
        upstream: loaded.upstream,
    })
}

fn state(env: &Env) -> std::result::Result<Rc<State>, ConfigError> {
    STATE.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let loaded = load(env).map(Rc::new);
            if let Err(e) = &loaded {
                web_sys::console::error_1(&format!("aalgate: {e}").into());
            }
            *cell = Some(loaded);
        }
        cell.as_ref().expect("just set").clone()
    })
}

fn respond(r: &Answer) -> Result<Response> {
    Ok(Response::from(http::refusal(r)?))
}

async fn proxy(
    state: &State,
    req: &Request,
    url: &worker::Url,
    forwarded: &[(String, String)],
    fwd: &Forward,
) -> Result<Response> {
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => String::new(),
    };
    let inbound = Inbound {
        scheme: url.scheme(),
        host: &host,
        path: url.path(),
        query: url.query(),
        // Set by Cloudflare's edge; a client cannot choose it.
        client_ip: req.headers().get("cf-connecting-ip")?,
        accept_encoding: None,
    };
    let resp = http::forward(&state.upstream, req.inner(), &inbound, forwarded, fwd).await?;
    Ok(Response::from(resp))
}

fn log(verdict: &Verdict, started: Option<f64>) {
    let duration = match (started, micros()) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as u64),
        _ => None,
    };
    web_sys::console::log_1(&verdict.log_line(duration).into());
}

/// Test-only endpoint, enabled by the `AALGATE_SELFTEST` binding (never set it in production): checks a
/// batch of raw signatures through the same path the gate uses (core shape checks, then WebCrypto), so
/// the public vectors can be replayed inside workerd.
async fn selftest(mut req: Request) -> Result<Response> {
    let mut cases: Vec<serde_json::Value> = req.json().await?;
    cases.truncate(10_000);
    let mut verdicts = Vec::with_capacity(cases.len());
    for case in cases {
        let verdict = match crate::keys::import_jwk(&case["jwk"]) {
            Err(_) => serde_json::Value::Null,
            Ok(entry) => {
                let hex = |k: &str| -> Vec<u8> {
                    let s = case[k].as_str().unwrap_or("").as_bytes();
                    s.chunks(2)
                        .filter_map(|pair| {
                            std::str::from_utf8(pair)
                                .ok()
                                .and_then(|p| u8::from_str_radix(p, 16).ok())
                        })
                        .collect()
                };
                let (msg, sig) = (hex("msg"), hex("sig"));
                let shape_ok =
                    crate::verify::check_signature(&entry, &msg, &sig, &AlwaysValid).is_ok();
                let valid = shape_ok
                    && crate::wasm::webcrypto::verify(entry.key(), entry.fingerprint(), &msg, &sig)
                        .await;
                serde_json::Value::Bool(valid)
            }
        };
        verdicts.push(verdict);
    }
    Response::from_json(&verdicts)
}

/// Lets [`selftest`] run the core's shape checks alone; WebCrypto gives the real verdict afterwards.
struct AlwaysValid;

impl crate::crypto::SignatureProvider for AlwaysValid {
    fn verify(&self, _: &crate::keys::VerifyingKey, _: &[u8], _: &[u8]) -> bool {
        true
    }
}

/// Test-only (same `AALGATE_SELFTEST` binding): runs many decisions inside one request so a benchmark can
/// time decisions without HTTP in the way. Body: `{"tokens": [...], "repeat": n}`; every token is
/// decided `repeat` times as `GET /rest/v1/todos`.
async fn selftest_decide(mut req: Request, env: &Env) -> Result<Response> {
    let body: serde_json::Value = req.json().await?;
    let state = match state(env) {
        Ok(s) => s,
        Err(e) => return respond(&wire::config_error(&e)),
    };
    let tokens: Vec<String> = body["tokens"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(|s| format!("Bearer {s}")))
                .collect()
        })
        .unwrap_or_default();
    // Bounded: a mistakenly enabled test endpoint must not become a CPU sink.
    let repeat = body["repeat"].as_u64().unwrap_or(1).min(10_000);
    let tokens = &tokens[..tokens.len().min(10_000)];
    let (mut decisions, mut forwarded) = (0u64, 0u64);
    for _ in 0..repeat {
        for auth in tokens {
            let headers = [("authorization", auth.as_str())];
            let gate_req = GateRequest {
                method: "GET",
                path: "/rest/v1/todos",
                query: "",
                headers: &headers,
            };
            let verdict = driver::decide(&state.gate, &gate_req).await;
            decisions += 1;
            forwarded += u64::from(matches!(verdict.decision, Decision::Forward(_)));
        }
    }
    Response::from_json(&serde_json::json!({ "decisions": decisions, "forwarded": forwarded }))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    if text(&env, "AALGATE_SELFTEST").as_deref() == Some("1") {
        match req.path().as_str() {
            "/__aalgate/selftest/verify" => return selftest(req).await,
            "/__aalgate/selftest/decide" => return selftest_decide(req, &env).await,
            _ => {}
        }
    }
    let started = micros();
    let state = match state(&env) {
        Ok(s) => s,
        Err(e) => return respond(&wire::config_error(&e)),
    };
    let url = req.url()?;
    let headers = forwardable_headers(req.headers().entries().collect());
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let method = req.inner().method();
    let gate_req = GateRequest {
        method: &method,
        path: url.path(),
        query: url.query().unwrap_or(""),
        headers: &refs,
    };
    let verdict = driver::decide(&state.gate, &gate_req).await;
    log(&verdict, started);
    match &verdict.decision {
        Decision::Reject(r) | Decision::Answer(r) => respond(r),
        Decision::Forward(f) => proxy(&state, &req, &url, &headers, f).await,
    }
}
