//! The Cloudflare Worker (feature `cloudflare`, workers-rs): the gate as a reverse proxy in front of a
//! Supabase project.
//!
//! Configuration comes from Worker vars and secrets: `SUPABASE_URL`, `AALGATE_CONFIG` (JSON, the same
//! keys as the TOML file), `SUPABASE_JWT_SECRET` (legacy HS256 projects). The gate is built once per
//! isolate; a bad configuration answers every request with a 500 naming the problem.

use crate::gate::config::{ConfigError, GateConfig};
use crate::gate::{Decision, Forward, Gate, Request as GateRequest, Resources, Verdict};
use crate::wasm::{driver, micros};
use crate::wire::{self, Rejection};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{event, Context, Env, Request, Response, Result};

struct State {
    gate: RefCell<Gate>,
    upstream: String,
}

thread_local! {
    static STATE: RefCell<Option<std::result::Result<Rc<State>, ConfigError>>> = const { RefCell::new(None) };
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(input: &web_sys::Request) -> js_sys::Promise;
}

fn text(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
        .filter(|v| !v.is_empty())
}

/// Builds the gate from the Worker's environment.
fn load(env: &Env) -> std::result::Result<State, ConfigError> {
    // Wrangler allows object-valued vars: accept them as the same document rather than ignoring them.
    let config_text = text(env, "AALGATE_CONFIG").or_else(|| {
        env.object_var::<serde_json::Value>("AALGATE_CONFIG")
            .ok()
            .map(|v| v.to_string())
    });
    let mut doc = match config_text {
        Some(json) => serde_json::from_str::<serde_json::Value>(&json)
            .map_err(|e| ConfigError::new("AALGATE_CONFIG", format!("is not valid JSON: {e}")))?,
        // Only SUPABASE_URL: the headline rule, on.
        None => serde_json::json!({ "require_aal2_for_enrolled": true }),
    };
    let object = doc
        .as_object_mut()
        .ok_or_else(|| ConfigError::new("AALGATE_CONFIG", "must be a JSON object"))?;
    if let Some(url) = text(env, "SUPABASE_URL") {
        match object.get("supabase_url").and_then(|v| v.as_str()) {
            Some(existing) if existing.trim_end_matches('/') != url.trim_end_matches('/') => {
                return Err(ConfigError::new(
                    "supabase_url",
                    "AALGATE_CONFIG and SUPABASE_URL name different projects",
                ))
            }
            _ => {
                object.insert("supabase_url".into(), url.into());
            }
        }
    }
    let config = GateConfig::from_json(&doc.to_string())?;
    if let Some(i) = config.issuers.iter().position(|i| i.jwks_file.is_some()) {
        let field = if i == 0 {
            "keys.jwks_file".to_owned()
        } else {
            format!("keys.extra_issuers[{}].jwks_file", i - 1)
        };
        return Err(ConfigError::new(
            field,
            "files cannot be read in a Worker; give the JWKS inline (`jwks`) or a `jwks_url`",
        ));
    }
    let secret_name = config
        .hs256_secret_env
        .clone()
        .unwrap_or_else(|| "SUPABASE_JWT_SECRET".into());
    if config.hs256_secret_file.is_some() {
        return Err(ConfigError::new("keys.hs256_secret_file", "files cannot be read in a Worker; use a secret (`wrangler secret put SUPABASE_JWT_SECRET`)"));
    }
    let resources = Resources {
        hs256_secret: text(env, &secret_name).map(String::into_bytes),
        jwks_files: Vec::new(),
    };
    if config.hs256_secret_env.is_some() && resources.hs256_secret.is_none() {
        return Err(ConfigError::new(
            "keys.hs256_secret_env",
            format!("names the secret `{secret_name}`, which is not set"),
        ));
    }
    if text(env, "AALGATE_SELFTEST").as_deref() == Some("1") {
        web_sys::console::warn_1(&"aalgate: AALGATE_SELFTEST=1 exposes test endpoints under /__aalgate/selftest/; never set it in production".into());
    }
    let upstream = config.supabase_url.clone();
    let (gate, warnings) = Gate::with_external_signatures(config, resources)?;
    for w in warnings {
        web_sys::console::warn_1(&format!("aalgate: {w}").into());
    }
    Ok(State {
        gate: RefCell::new(gate),
        upstream,
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

fn respond(r: &Rejection) -> Result<Response> {
    let headers = web_sys::Headers::new()?;
    for (n, v) in &r.headers {
        headers.set(n, v)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers);
    let resp = web_sys::Response::new_with_opt_str_and_init(Some(&r.body.to_string()), &init)?;
    Ok(Response::from(resp))
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The request headers that will be forwarded: without hop-by-hop headers (the fixed list and those
/// named in `Connection`, except the Upgrade/Connection pair of a WebSocket upgrade), `Host`, and
/// identity headers. The gate decides on exactly this list, so a header it saw always reaches the
/// upstream and a header the upstream gets was always seen (`Connection: authorization` cannot make
/// the gate check a token the upstream never receives).
fn forwardable_headers(entries: Vec<(String, String)>) -> Vec<(String, String)> {
    let websocket = entries
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("upgrade") && v.eq_ignore_ascii_case("websocket"));
    let listed: Vec<String> = entries
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    entries
        .into_iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            let hop = HOP_BY_HOP.contains(&lower.as_str()) || listed.contains(&lower);
            let keep_for_ws = websocket && (lower == "upgrade" || lower == "connection");
            !((hop && !keep_for_ws)
                || Forward::strips(&lower)
                || lower == "host"
                || CLIENT_IP_HEADERS.contains(&lower.as_str()))
        })
        .collect()
}

/// Client-address headers a client could forge; the Worker sets its own from `CF-Connecting-IP`.
const CLIENT_IP_HEADERS: [&str; 4] = [
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "sb-forwarded-for",
];

async fn proxy(
    state: &State,
    req: &Request,
    url: &worker::Url,
    forwarded: &[(String, String)],
    fwd: &Forward,
) -> Result<Response> {
    let inner = req.inner();
    let incoming = inner.headers();
    let headers = web_sys::Headers::new()?;
    for (name, value) in forwarded {
        headers.append(name, value)?;
    }
    for (name, value) in &fwd.add_headers {
        headers.set(name, value)?;
    }
    // The client's address as Cloudflare saw it; `Sb-Forwarded-For` is what Supabase Auth reads for
    // rate limits behind a proxy (when the project enables it).
    if let Some(ip) = incoming.get("cf-connecting-ip")? {
        headers.set("x-forwarded-for", &ip)?;
        headers.set("sb-forwarded-for", &ip)?;
    }
    headers.set("x-forwarded-proto", url.scheme())?;
    if let Some(host) = url.host_str() {
        let host = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        headers.set("x-forwarded-host", &host)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(&inner.method());
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    // The body is streamed as-is: never buffered, never read. GET and HEAD cannot carry one in fetch.
    let method = inner.method();
    if method != "GET" && method != "HEAD" {
        if let Some(body) = inner.body() {
            init.set_body(&body);
        }
    }
    let target = match url.query() {
        Some(q) => format!("{}{}?{q}", state.upstream, url.path()),
        None => format!("{}{}", state.upstream, url.path()),
    };
    let Ok(upstream_req) = web_sys::Request::new_with_str_and_init(&target, &init) else {
        return respond(&wire::upstream_unreachable());
    };
    match JsFuture::from(global_fetch(&upstream_req)).await {
        Ok(resp) => Ok(Response::from(resp.unchecked_into::<web_sys::Response>())),
        Err(_) => respond(&wire::upstream_unreachable()),
    }
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
        headers: &refs,
    };
    let verdict = driver::decide(&state.gate, &gate_req).await;
    log(&verdict, started);
    match &verdict.decision {
        Decision::Reject(r) => respond(r),
        Decision::Forward(f) => proxy(&state, &req, &url, &headers, f).await,
    }
}
