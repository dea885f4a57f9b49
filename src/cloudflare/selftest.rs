//! Test-only endpoints of the Cloudflare Worker (feature `selftest`, never in a production build):
//! `POST /__aalgate/selftest/verify` replays raw signatures through the gate's signature path and
//! `POST /__aalgate/selftest/decide` runs many decisions inside one request.
//!
//! Two fences: the code exists only in a Worker built with `--features selftest` (`make
//! worker-selftest`, into `build-selftest/`), and even there the endpoints answer only while the
//! `AALGATE_SELFTEST` binding is `1`. Without the binding a selftest build behaves like the production
//! Worker, so a selftest build deployed by mistake exposes nothing.

use super::state::{respond, state, text, CONFIG_HINT};
use crate::gate::{Decision, Request as GateRequest};
use crate::wasm::driver;
use worker::{Env, Request, Response, Result};

/// A test endpoint a request asks for.
pub(super) enum Endpoint {
    Verify,
    Decide,
}

fn enabled(env: &Env) -> bool {
    text(env, "AALGATE_SELFTEST").as_deref() == Some("1")
}

/// The endpoint `req` asks for, when the `AALGATE_SELFTEST` binding is `1`.
pub(super) fn endpoint(req: &Request, env: &Env) -> Option<Endpoint> {
    let endpoint = match req.path().as_str() {
        "/__aalgate/selftest/verify" => Endpoint::Verify,
        "/__aalgate/selftest/decide" => Endpoint::Decide,
        _ => return None,
    };
    enabled(env).then_some(endpoint)
}

pub(super) async fn serve(endpoint: Endpoint, req: Request, env: &Env) -> Result<Response> {
    match endpoint {
        Endpoint::Verify => verify(req).await,
        Endpoint::Decide => decide(req, env).await,
    }
}

/// Checks a batch of raw signatures through the same path the gate uses (core shape checks, then
/// WebCrypto), so the public vectors can be replayed inside workerd.
async fn verify(mut req: Request) -> Result<Response> {
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

/// Lets [`verify`] run the core's shape checks alone; WebCrypto gives the real verdict afterwards.
struct AlwaysValid;

impl crate::crypto::SignatureProvider for AlwaysValid {
    fn verify(&self, _: &crate::keys::VerifyingKey, _: &[u8], _: &[u8]) -> bool {
        true
    }
}

/// Runs many decisions inside one request so a benchmark can time decisions without HTTP in the way.
/// Body: `{"tokens": [...], "repeat": n}`; every token is decided `repeat` times as
/// `GET /rest/v1/todos`.
async fn decide(mut req: Request, env: &Env) -> Result<Response> {
    let body: serde_json::Value = req.json().await?;
    let state = match state(env) {
        Ok(s) => s,
        Err(e) => return respond(&crate::wasm::answers::config_invalid(&e, CONFIG_HINT)),
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
