//! One inbound request as both wasm front doors judge and forward it, so the sequence "inbound headers
//! → forwardable headers → gate [`Request`]" is written once. The hop-by-hop filter (including headers
//! a `Connection` header names) runs when the request is built, before any decision: the gate judges
//! exactly the headers the upstream will receive.

use crate::error::{Code, Error};
use crate::gate::forwarding::forwardable_headers;
use crate::gate::{Gate, Outcome, Request, Verdict};
use crate::wasm::driver;
use crate::wasm::relay::GateHost;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// A request's method, path, query and its forwardable headers, owned.
pub struct JudgedRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
}

/// The borrowed header list a gate [`Request`] points into (see [`JudgedRequest::view`]).
pub struct GateView<'a> {
    judged: &'a JudgedRequest,
    headers: Vec<(&'a str, &'a str)>,
}

impl JudgedRequest {
    /// From the request's parts as the front door read them: `method` (upper case), `path` as sent
    /// (percent-encoded), `query` without `?` (empty when there is none) and every inbound header.
    /// Keeps only the forwardable headers ([`forwardable_headers`]).
    pub fn new(
        method: String,
        path: String,
        query: String,
        headers: Vec<(String, String)>,
    ) -> Self {
        JudgedRequest {
            method,
            path,
            query,
            headers: forwardable_headers(headers),
        }
    }

    /// The method, upper case.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path as sent (percent-encoded, without query).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query without `?` (empty when there is none).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The headers the gate judges and the upstream receives, in order (before the identity headers
    /// a [`crate::gate::Forward`] adds).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Whether this is a WebSocket upgrade (`Upgrade: websocket`).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("upgrade") && v.eq_ignore_ascii_case("websocket"))
    }

    /// The gate's view: call [`GateView::request`] on it for the [`Request`].
    pub fn view(&self) -> GateView<'_> {
        GateView {
            judged: self,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
        }
    }

    /// Decides the request, answering the gate's I/O steps ([`driver::decide`]).
    pub async fn decide(&self, gate: &RefCell<Gate>) -> Verdict {
        let view = self.view();
        driver::decide(gate, &view.request()).await
    }

    /// The decision's first step, taken now: `Done` when it ends there (most decisions do: cached
    /// tokens), otherwise the I/O step that the rest of the decision ([`driver::resolve`]) starts
    /// from, so a front door can run that rest as a task of its own.
    pub fn first_step(&self, gate: &RefCell<Gate>) -> Outcome {
        let view = self.view();
        let outcome = gate.borrow_mut().decide(&view.request(), super::now());
        outcome
    }

    /// Decides the request like [`JudgedRequest::decide`], for a runtime that cancels a request's
    /// pending I/O when its client leaves (Workers cancel all but `ctx.waitUntil` work). A JWKS fetch
    /// or Auth lookup handed to this request is marked in flight for every other request, and the
    /// unknown-kid cooldown starts at hand-out: cancelled, the fetch would never report, so the
    /// others would wait out its mark and a rotation's new tokens be refused until the cooldown
    /// ends, on demand for anyone who opens and drops connections. So everything after the first
    /// step runs as a task of its own, handed to `keep_alive` (`ctx.waitUntil`), and this request
    /// awaits that task. The first step needs no task: most decisions end there (cached tokens).
    pub async fn decide_kept(
        self: Rc<Self>,
        host: Rc<dyn GateHost>,
        keep_alive: &dyn Fn(&js_sys::Promise),
    ) -> Verdict {
        let first = match self.first_step(host.gate()) {
            Outcome::Done(verdict) => return verdict,
            other => other,
        };
        let slot = Rc::new(RefCell::new(None));
        let task = {
            let (slot, host, judged) = (Rc::clone(&slot), Rc::clone(&host), Rc::clone(&self));
            async move {
                let view = judged.view();
                let verdict = driver::resolve(host.gate(), &view.request(), first).await;
                *slot.borrow_mut() = Some(verdict);
                Ok(JsValue::UNDEFINED)
            }
        };
        let promise = future_to_promise(task);
        keep_alive(&promise);
        let _ = JsFuture::from(promise).await;
        let verdict = slot.borrow_mut().take();
        // The task always fills the slot before it resolves; fail closed if it ever did not.
        verdict.unwrap_or_else(|| {
            let view = self.view();
            let lost = Error::new(
                Code::JwksUnavailable,
                "decision task ended without a verdict",
            );
            host.gate().borrow().reject_now(&lost, &view.request())
        })
    }
}

impl GateView<'_> {
    /// The request as the gate takes it.
    pub fn request(&self) -> Request<'_> {
        Request {
            method: &self.judged.method,
            path: &self.judged.path,
            query: &self.judged.query,
            headers: &self.headers,
        }
    }
}
