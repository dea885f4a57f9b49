//! The Cloudflare Worker (feature `cloudflare`, workers-rs): the gate as a reverse proxy in front of a
//! Supabase project.
//!
//! Configuration comes from Worker vars and secrets: `SUPABASE_URL`, `AALGATE_CONFIG` (JSON, the same
//! keys as the TOML file), `SUPABASE_JWT_SECRET` (legacy HS256 projects). The gate is built once per
//! isolate; a bad configuration answers every request with a 500 naming the problem.
//!
//! The test-only endpoints live in `selftest.rs`, compiled only with the feature `selftest`: the
//! production Worker (`make worker`, `wrangler deploy`) does not contain them.

use crate::gate::{Decision, Forward, Verdict};
use crate::wasm::http::{self, Inbound};
use crate::wasm::judged::JudgedRequest;
use crate::wasm::micros;
use crate::wasm::relay::{GateHost, LogSink};
use crate::wasm::sockets::Runtime;
use crate::wasm::upgrade::{self, Target};
use std::rc::Rc;
use worker::{event, Context, Env, Request, Response, Result};

#[cfg(feature = "selftest")]
mod selftest;
mod state;

use state::{respond, state, State, CONFIG_HINT};

async fn proxy(
    state: &Rc<State>,
    req: &Request,
    url: &worker::Url,
    judged: &JudgedRequest,
    verdict: &Verdict,
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
    let resp = if judged.is_websocket_upgrade() {
        let host: Rc<dyn GateHost> = state.clone();
        let log: LogSink = Rc::new(|line: &str| web_sys::console::log_1(&line.into()));
        let target = Target {
            upstream: &state.upstream,
            inbound,
        };
        upgrade::answer(
            host,
            Some(Runtime::Workerd),
            req.inner(),
            judged,
            &verdict.log.route,
            fwd,
            &target,
            log,
        )
        .await?
    } else {
        http::forward(
            &state.upstream,
            req.inner(),
            &inbound,
            judged.headers(),
            fwd,
            None,
        )
        .await?
    };
    Ok(Response::from(resp))
}

fn log(verdict: &Verdict, started: Option<f64>) {
    let duration = match (started, micros()) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as u64),
        _ => None,
    };
    web_sys::console::log_1(&verdict.log_line(duration).into());
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    #[cfg(feature = "selftest")]
    if let Some(endpoint) = selftest::endpoint(&req, &env) {
        return selftest::serve(endpoint, req, &env).await;
    }
    let started = micros();
    let state = match state(&env) {
        Ok(s) => s,
        Err(e) => return respond(&crate::wasm::answers::config_invalid(&e, CONFIG_HINT)),
    };
    let url = req.url()?;
    let judged = Rc::new(JudgedRequest::new(
        req.inner().method(),
        url.path().to_owned(),
        url.query().unwrap_or("").to_owned(),
        req.headers().entries().collect(),
    ));
    let host: Rc<dyn GateHost> = state.clone();
    // The decision's I/O outlives a client that leaves (see `decide_kept`).
    let keep_alive = |task: js_sys::Promise| {
        ctx.wait_until(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(task).await;
        })
    };
    let verdict = Rc::clone(&judged).decide_kept(host, keep_alive).await;
    log(&verdict, started);
    match &verdict.decision {
        Decision::Reject(r) | Decision::Answer(r) => respond(r),
        Decision::Forward(f) => proxy(&state, &req, &url, &judged, &verdict, f).await,
    }
}
