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
use crate::wasm::http::{self, UrlParts};
use crate::wasm::judged::JudgedRequest;
use crate::wasm::micros;
use crate::wasm::relay::{GateHost, KeepAlive, LogSink};
use crate::wasm::sockets::Runtime;
use crate::wasm::upgrade::{self, Target};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use worker::{event, Context, Env, Request, Response, Result};

#[cfg(feature = "selftest")]
mod selftest;
mod state;

use state::{respond, state, State, CONFIG_HINT};

/// The request as it arrived, and as the gate judged it.
struct Arrival<'a> {
    req: &'a Request,
    url: &'a UrlParts,
    judged: &'a JudgedRequest,
}

async fn proxy(
    state: &Rc<State>,
    at: &Arrival<'_>,
    verdict: &Verdict,
    fwd: &Forward,
    ctx: &Context,
) -> Result<Response> {
    let Arrival { req, url, judged } = *at;
    // Set by Cloudflare's edge; a client cannot choose it.
    let client_ip = req.headers().get("cf-connecting-ip")?;
    let inbound = url.inbound(judged.path(), client_ip, None);
    let resp = if judged.is_websocket_upgrade() {
        let host: Rc<dyn GateHost> = state.clone();
        let log: LogSink = Rc::new(|line: &str| web_sys::console::log_1(&line.into()));
        // The relay's frame decisions outlive a client that leaves too (built only for sockets:
        // it holds its own handle on the ctx for the socket's lifetime).
        let js_ctx: worker::worker_sys::Context =
            js_sys::Object::clone(ctx.as_ref()).unchecked_into();
        let keep_alive: KeepAlive = Rc::new(move |task: &js_sys::Promise| {
            let _ = js_ctx.wait_until(task);
        });
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
            Some(keep_alive),
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
    // The runtime's own URL parser, not `req.url()` (the `url` crate: see `UrlParts`).
    let (path, url) = UrlParts::parse(&req.inner().url())?;
    let judged = Rc::new(JudgedRequest::new(
        req.inner().method(),
        path,
        url.query().to_owned(),
        req.headers().entries().collect(),
    ));
    let host: Rc<dyn GateHost> = state.clone();
    // The decision's I/O outlives a client that leaves (see `decide_kept`). The task's promise goes
    // to `waitUntil` as it is (`Context::wait_until` takes a future, which it would wrap in a second
    // promise). Should `waitUntil` throw, the task still runs.
    let keep_alive = |task: &js_sys::Promise| {
        let _ = ctx.as_ref().wait_until(task);
    };
    let verdict = Rc::clone(&judged).decide_kept(host, &keep_alive).await;
    log(&verdict, started);
    match &verdict.decision {
        Decision::Reject(r) | Decision::Answer(r) => respond(r),
        Decision::Forward(f) => {
            let at = Arrival {
                req: &req,
                url: &url,
                judged: &judged,
            };
            proxy(&state, &at, &verdict, f, &ctx).await
        }
    }
}
