//! The portable module (feature `js`): the gate as a wasm-bindgen class for any web-standard runtime
//! (Deno and Supabase Edge Functions, Node ≥ 20, JavaScript Workers). The thin shim in `js/` wraps it
//! as `createGate` / `protect` / `proxy` / `check`.
//!
//! Everything runtime-specific is injected: JWKS through the runtime's `fetch`, signatures through
//! WebCrypto, the clock from `Date.now()` (all in [`crate::wasm`], shared with the Cloudflare Worker).

use crate::gate::{Decision, Gate, Identity, Outcome, Verdict};
use crate::wasm::http::{self, UrlParts};
use crate::wasm::judged::JudgedRequest;
use crate::wasm::relay::{GateHost, KeepAlive, LogSink};
use crate::wasm::sockets::Runtime;
use crate::wasm::upgrade::{self, Target};
use crate::wasm::{driver, setup};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

struct State {
    gate: RefCell<Gate>,
    upstream: String,
    warnings: Vec<String>,
}

/// A configured gate. Build it once per isolate or process and reuse it: keys and verified tokens are
/// cached inside.
#[wasm_bindgen(js_name = Gate)]
pub struct JsGate {
    state: Rc<State>,
}

/// What `check` answers (the `response` of a refusal is attached separately: it is a JS object).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DecisionOut<'a> {
    allowed: bool,
    status: u16,
    code: Option<&'a str>,
    identity: &'static str,
    /// A CORS preflight (no credentials): passed unchecked.
    preflight: bool,
    claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The headers to send upstream, in order: the forwardable inbound headers (no hop-by-hop, no
    /// `Host`, no client-address or inbound `x-aalgate-*` headers) then the identity headers.
    forward_headers: Vec<(&'a str, &'a str)>,
    would_reject: Option<Refusal<'a>>,
    /// The refusal's headers and body, for the shim to build the `Response`.
    refusal: Option<RefusalOut<'a>>,
    log: String,
}

#[derive(Serialize)]
struct RefusalOut<'a> {
    headers: &'a [(String, String)],
    body: String,
}

#[derive(Serialize)]
struct Refusal<'a> {
    status: u16,
    code: &'a str,
}

/// The parts of a web `Request` the gate reads.
struct Parsed {
    url: UrlParts,
    /// What is judged and forwarded (and what a handler behind `protect` sees).
    judged: JudgedRequest,
}

/// The parts of a request `proxy` judges and forwards (`check` gets them from the shim instead).
fn parse(request: &web_sys::Request) -> Result<Parsed, JsValue> {
    let (path, url) = UrlParts::parse(&request.url())?;
    let mut entries = Vec::new();
    for entry in js_sys::try_iter(&request.headers())?.ok_or("Headers are not iterable")? {
        let pair: js_sys::Array = entry?.dyn_into()?;
        let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
            continue;
        };
        entries.push((name, value));
    }
    // The query without `?` (credentials travel there too).
    let query = url.query().to_owned();
    Ok(Parsed {
        judged: JudgedRequest::new(request.method(), path, query, entries),
        url,
    })
}

/// The decision as JSON text: one string across the boundary, parsed by the shim (cheaper than
/// building the object member by member from wasm).
fn describe(verdict: &Verdict, forwarded: &[(String, String)]) -> String {
    let log = verdict.log_line(None);
    let out = match &verdict.decision {
        // The exchange endpoint's answers: not allowed through, answered (the token, or its refusal).
        Decision::Reject(r) | Decision::Answer(r) => DecisionOut {
            allowed: false,
            status: r.status,
            code: (r.status >= 400).then_some(r.code),
            identity: "anonymous",
            preflight: false,
            claims: None,
            forward_headers: Vec::new(),
            would_reject: None,
            refusal: Some(RefusalOut {
                headers: &r.headers,
                body: r.body.to_string(),
            }),
            log,
        },
        Decision::Forward(f) => DecisionOut {
            allowed: true,
            status: 200,
            code: None,
            preflight: verdict.log.route == "preflight",
            identity: match &f.identity {
                Identity::Anonymous => "anonymous",
                Identity::Service => "service",
                Identity::User(_) => "user",
            },
            claims: match &f.identity {
                Identity::User(t) => Some(t.claims().all()),
                _ => None,
            },
            forward_headers: forwarded
                .iter()
                .chain(&f.add_headers)
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            would_reject: f.would_reject.as_ref().map(|r| Refusal {
                status: r.status,
                code: r.code,
            }),
            refusal: None,
            log,
        },
    };
    serde_json::to_string(&out).expect("a decision serialises")
}

/// Headers as the shim passes them: `[name, value, name, value, …]`.
fn pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(n), Some(v)) = (it.next(), it.next()) {
        out.push((n, v));
    }
    out
}

#[wasm_bindgen(js_class = Gate)]
impl JsGate {
    /// Builds a gate. `config` is an object with the keys of `aalgate.toml`, its JSON text, or
    /// `undefined` (only `SUPABASE_URL`: the headline rule on). `settings` maps names to strings:
    /// `SUPABASE_URL`, `SUPABASE_JWT_SECRET` (or the name `keys.hs256_secret_env` gives).
    ///
    /// Throws an `Error` whose message names the configuration field at fault.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue, settings: JsValue) -> Result<JsGate, JsError> {
        let from_object = !(config.is_undefined() || config.is_null() || config.is_string());
        let config_json = if config.is_undefined() || config.is_null() {
            None
        } else if let Some(text) = config.as_string() {
            Some(text)
        } else {
            let value: serde_json::Value = serde_wasm_bindgen::from_value(config)
                .map_err(|e| JsError::new(&format!("aalgate configuration: {e}")))?;
            Some(value.to_string())
        };
        let setting = |name: &str| {
            if settings.is_undefined() || settings.is_null() {
                return None;
            }
            js_sys::Reflect::get(&settings, &name.into())
                .ok()
                .and_then(|v| v.as_string())
        };
        let loaded = setup::load(config_json.as_deref(), "config", &setting).map_err(|e| {
            let message = format!("aalgate {e}");
            // Positions in JSON text we produced from the caller's object would only mislead.
            let message = match (from_object, message.rfind(" at line ")) {
                (true, Some(at)) => message[..at].to_owned(),
                _ => message,
            };
            JsError::new(&message)
        })?;
        Ok(JsGate {
            state: Rc::new(State {
                gate: RefCell::new(loaded.gate),
                upstream: loaded.upstream,
                warnings: loaded.warnings,
            }),
        })
    }

    /// The project URL (no trailing slash).
    #[wasm_bindgen(getter)]
    pub fn upstream(&self) -> String {
        self.state.upstream.clone()
    }

    /// `Access-Control-Allow-Origin` the gate answers with (`responses.cors_allow_origin`).
    #[wasm_bindgen(getter, js_name = corsAllowOrigin)]
    pub fn cors_allow_origin(&self) -> String {
        self.state
            .gate
            .borrow()
            .config()
            .cors_allow_origin()
            .to_owned()
    }

    /// One line saying whether `require_aal2_for_enrolled` is on, and the mode (for the start-up log).
    #[wasm_bindgen(getter)]
    pub fn summary(&self) -> String {
        self.state.gate.borrow().config().summary()
    }

    /// Warnings from loading the configuration.
    #[wasm_bindgen(getter)]
    pub fn warnings(&self) -> Vec<String> {
        self.state.warnings.clone()
    }

    /// Decides a request without forwarding it, from its parts as the shim read them: method, path
    /// (after any prefix), query (without `?`), and headers as `[name, value, …]`. Returns the decision
    /// as JSON text at once when no I/O is needed (the common, cached case), else a promise of it.
    pub fn check(
        &self,
        method: String,
        path: String,
        query: String,
        headers: Vec<String>,
    ) -> JsValue {
        let judged = JudgedRequest::new(method, path, query, pairs(headers));
        let first = match judged.first_step(&self.state.gate) {
            Outcome::Done(verdict) => return describe(&verdict, judged.headers()).into(),
            other => other,
        };
        let state = Rc::clone(&self.state);
        future_to_promise(async move {
            let view = judged.view();
            let verdict = driver::resolve(&state.gate, &view.request(), first).await;
            Ok(describe(&verdict, judged.headers()).into())
        })
        .into()
    }

    /// Decides `request` and, when it is allowed, forwards it to the project (or `upstream`) with the
    /// Worker's streaming and header rules. Resolves to `[response, log]`: the upstream's response
    /// or the refusal, and the decision's JSON log line. `clientIp` is the peer address the runtime saw;
    /// `decodesBodies`: the runtime's `fetch` decodes compressed bodies (Node, Deno);
    /// `websockets`: how the runtime relays WebSocket upgrades (`"workerd"`, `"deno"`, or `""`: it
    /// cannot, and answers 501); `frameLog` receives the decision line of each Realtime frame the gate
    /// judges on a relayed socket; `send`, when given, forwards the upstream `Request` instead of the
    /// global `fetch` (Deno's drops a streamed body's `Content-Length`, see js/deno.js); `keepAlive`,
    /// when given (a Workers `ctx.waitUntil`), receives the task of each burst of a relayed socket's
    /// frame decisions, so a client that leaves cannot cancel the JWKS fetch or Auth lookup one started.
    #[allow(clippy::too_many_arguments)]
    pub fn proxy(
        &self,
        request: web_sys::Request,
        client_ip: Option<String>,
        upstream: Option<String>,
        decodes_bodies: bool,
        websockets: String,
        frame_log: Option<js_sys::Function>,
        send: Option<js_sys::Function>,
        keep_alive: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let state = Rc::clone(&self.state);
        future_to_promise(async move {
            let parsed = parse(&request)?;
            let verdict = parsed.judged.decide(&state.gate).await;
            let log = JsValue::from(verdict.log_line(None));
            let response = match &verdict.decision {
                Decision::Reject(r) | Decision::Answer(r) => http::refusal(r)?,
                Decision::Forward(f) => {
                    let inbound = parsed.url.inbound(
                        parsed.judged.path(),
                        client_ip,
                        // What Node's and Deno's fetch decode themselves.
                        decodes_bodies.then_some("gzip, deflate, br"),
                    );
                    let target = upstream
                        .as_deref()
                        .map(|u| u.trim_end_matches('/'))
                        .unwrap_or(&state.upstream);
                    if parsed.judged.is_websocket_upgrade() {
                        let runtime = match websockets.as_str() {
                            "workerd" => Some(Runtime::Workerd),
                            "deno" => Some(Runtime::Deno),
                            _ => None,
                        };
                        let sink: LogSink = Rc::new(move |line: &str| match &frame_log {
                            Some(f) => {
                                let _ = f.call1(&JsValue::NULL, &line.into());
                            }
                            None => web_sys::console::log_1(&line.into()),
                        });
                        let host: Rc<dyn GateHost> = state.clone();
                        let to = Target {
                            upstream: target,
                            inbound,
                        };
                        upgrade::answer(
                            host,
                            runtime,
                            &request,
                            &parsed.judged,
                            &verdict.log.route,
                            f,
                            &to,
                            sink,
                            keep_alive.map(|f| -> KeepAlive {
                                Rc::new(move |task: &js_sys::Promise| {
                                    let _ = f.call1(&JsValue::NULL, task);
                                })
                            }),
                        )
                        .await?
                    } else {
                        http::forward(
                            target,
                            &request,
                            &inbound,
                            parsed.judged.headers(),
                            f,
                            send.as_ref(),
                        )
                        .await?
                    }
                }
            };
            Ok(js_sys::Array::of2(&response, &log).into())
        })
    }
}

impl GateHost for State {
    fn gate(&self) -> &RefCell<Gate> {
        &self.gate
    }
}
