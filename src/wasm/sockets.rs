//! Opening the two sides of a relayed Realtime socket, per runtime: the side the gate accepts from
//! the client, the project's side, and the `101` answer that completes the client's upgrade.
//!
//! - workerd (the Worker, and the module in a JS Worker): the upgrade is forwarded with `fetch`; when
//!   the project answers `101` with a `webSocket`, the gate accepts it and answers the client with one
//!   end of a `WebSocketPair`. Any other answer (a refusal by the project) goes back as it is.
//! - Deno (and Supabase Edge Functions): `Deno.upgradeWebSocket` for the client, `new WebSocket(url,
//!   { headers })` (a Deno extension) for the project, with the same headers as a forwarded request
//!   except those of the WebSocket handshake, which Deno writes itself.

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::WebSocket;

/// Which runtime's WebSocket API a front door has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// workerd: `fetch` upgrades, `WebSocketPair`, `accept()`.
    Workerd,
    /// Deno: `Deno.upgradeWebSocket` and a client `WebSocket` with headers.
    Deno,
}

/// Both sides of a relayed socket and the answer that completes the client's upgrade.
pub struct Opened {
    /// The answer to the client's upgrade request.
    pub response: web_sys::Response,
    /// The gate's end of the client's socket.
    pub client: WebSocket,
    /// The project's socket.
    pub upstream: WebSocket,
}

fn get(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &name.into())
}

fn call0(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    get(target, name)?.dyn_into::<Function>()?.call0(target)
}

/// workerd: completes a forwarded upgrade. `Ok(Err(response))` when the project did not upgrade
/// (its answer goes back as it is).
pub fn workerd_accept(
    upstream_response: web_sys::Response,
) -> Result<Result<Opened, web_sys::Response>, JsValue> {
    let project = get(&upstream_response, "webSocket")?;
    if project.is_null() || project.is_undefined() {
        return Ok(Err(upstream_response));
    }
    call0(&project, "accept")?;
    let pair_class: Function = get(&js_sys::global(), "WebSocketPair")?.dyn_into()?;
    let pair = Reflect::construct(&pair_class, &Array::new())?;
    let client_end = get(&pair, "0")?;
    let gate_end = get(&pair, "1")?;
    call0(&gate_end, "accept")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(101);
    Reflect::set(&init, &"webSocket".into(), &client_end)?;
    let response = web_sys::Response::new_with_opt_str_and_init(None, &init)?;
    Ok(Ok(Opened {
        response,
        client: gate_end.unchecked_into(),
        upstream: project.unchecked_into(),
    }))
}

/// Headers Deno's WebSocket client writes itself (or that belong to the client's own handshake).
fn handshake_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("sec-websocket-")
        || matches!(lower.as_str(), "upgrade" | "connection" | "host")
}

/// Deno: upgrades the client's request and opens the project's socket at `target` (an `http(s)` URL,
/// turned into `ws(s)`) with `headers` (see [`handshake_header`]).
pub fn deno_open(
    request: &web_sys::Request,
    target: &str,
    headers: &web_sys::Headers,
) -> Result<Opened, JsValue> {
    let deno = get(&js_sys::global(), "Deno")?;
    let upgrade: Function = get(&deno, "upgradeWebSocket")?.dyn_into()?;
    let upgraded = upgrade.call1(&deno, request)?;
    let response: web_sys::Response = get(&upgraded, "response")?.dyn_into()?;
    let client: WebSocket = get(&upgraded, "socket")?.unchecked_into();
    let plain = Object::new();
    for entry in js_sys::try_iter(headers)?.ok_or("Headers are not iterable")? {
        let pair: Array = entry?.dyn_into()?;
        let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
            continue;
        };
        if !handshake_header(&name) {
            Reflect::set(&plain, &name.into(), &value.into())?;
        }
    }
    let options = Object::new();
    Reflect::set(&options, &"headers".into(), &plain)?;
    let url = if let Some(rest) = target.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = target.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        return Err("the project URL is not http(s)".into());
    };
    let class: Function = get(&js_sys::global(), "WebSocket")?.dyn_into()?;
    let args = Array::of2(&url.into(), &options);
    let upstream: WebSocket = Reflect::construct(&class, &args)?.unchecked_into();
    Ok(Opened {
        response,
        client,
        upstream,
    })
}
