//! What a wasm front door does with a WebSocket upgrade the gate allowed. Realtime's socket is relayed
//! through the frame judge ([`super::relay`]); any other upgrade (an Edge Function's own socket, whose
//! frames are the application's) is passed through untouched where the runtime can do that (workerd),
//! and answered 501 elsewhere.

use super::http::{self, Inbound};
use super::judged::JudgedRequest;
use super::relay::{self, GateHost, KeepAlive, LogSink};
use super::sockets::{self, Runtime};
use crate::gate::route::normalize_path;
use crate::gate::Forward;
use crate::realtime::{is_socket_path, Session};
use crate::wire::reject_with_cors;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Where the upgrade goes.
pub struct Target<'a> {
    /// The project's origin.
    pub upstream: &'a str,
    /// The client's request as the front door read it.
    pub inbound: Inbound<'a>,
}

/// Answers an allowed upgrade: relays Realtime, passes other sockets through (workerd), or 501.
/// `keep_alive`: where the relay's frame decisions run as tasks (see [`KeepAlive`]).
#[allow(clippy::too_many_arguments)]
pub async fn answer(
    host: Rc<dyn GateHost>,
    runtime: Option<Runtime>,
    request: &web_sys::Request,
    judged: &JudgedRequest,
    route: &str,
    fwd: &Forward,
    target: &Target<'_>,
    log: LogSink,
    keep_alive: Option<KeepAlive>,
) -> Result<web_sys::Response, JsValue> {
    let realtime = normalize_path(judged.path()).is_ok_and(|p| is_socket_path(&p));
    let Some(runtime) = runtime else {
        return http::refusal(&super::answers::upgrade_unsupported());
    };
    if !realtime {
        return match runtime {
            Runtime::Workerd => {
                http::forward(
                    target.upstream,
                    request,
                    &target.inbound,
                    judged.headers(),
                    fwd,
                    None,
                )
                .await
            }
            Runtime::Deno => http::refusal(&super::answers::upgrade_unsupported()),
        };
    }
    let (max_frame_bytes, cors) = {
        let gate = host.gate().borrow();
        (
            gate.config().realtime_max_frame_bytes(),
            gate.config().cors_allow_origin().to_owned(),
        )
    };
    let session = {
        let view = judged.view();
        match Session::open(&view.request(), route, max_frame_bytes) {
            Ok(s) => s,
            Err(e) => return http::refusal(&reject_with_cors(&e, &cors)),
        }
    };
    let opened = match runtime {
        Runtime::Workerd => {
            let response = http::forward(
                target.upstream,
                request,
                &target.inbound,
                judged.headers(),
                fwd,
                None,
            )
            .await?;
            match sockets::workerd_accept(response)? {
                Ok(opened) => opened,
                // The project did not upgrade: its answer goes back as it is.
                Err(response) => return Ok(response),
            }
        }
        Runtime::Deno => {
            let headers = http::upstream_headers(&target.inbound, judged.headers(), fwd)?;
            let url = http::target(target.upstream, &target.inbound);
            match sockets::deno_open(request, &url, &headers).await {
                Some(opened) => opened,
                None => return http::refusal(&super::answers::upstream_unreachable()),
            }
        }
    };
    relay::start(
        host,
        session,
        opened.client,
        opened.upstream,
        log,
        keep_alive,
        max_frame_bytes,
    );
    Ok(opened.response)
}
