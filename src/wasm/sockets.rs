//! Opening the two sides of a relayed Realtime socket, per runtime: the side the gate accepts from
//! the client, the project's side, and the `101` answer that completes the client's upgrade.
//!
//! - workerd (the Worker, and the module in a JS Worker): the upgrade is forwarded with `fetch`; when
//!   the project answers `101` with a `webSocket`, the gate accepts it and answers the client with one
//!   end of a `WebSocketPair`. Any other answer (a refusal by the project) goes back as it is.
//! - Deno (and Supabase Edge Functions): `new WebSocket(url, { headers })` (a Deno extension) for the
//!   project, with the same headers as a forwarded request except those of the WebSocket handshake,
//!   which Deno writes itself; once it is open, `Deno.upgradeWebSocket` for the client.

use js_sys::{Array, Function, Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
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

/// Longest wait for the project's socket to open (realtime-js gives up on a push after 10 s too).
const HANDSHAKE_TIMEOUT_MS: i32 = 10_000;

/// Deno: opens the project's socket at `target` (an `http(s)` URL, turned into `ws(s)`) with
/// `headers` (see [`handshake_header`]) and, once it is open, upgrades the client's request (whose
/// handshake the gate has checked, `Session::open`). In that order so that a project that refuses
/// or cannot be reached is a failed upgrade (`None`: the caller's 502), as workerd's forwarded
/// upgrade is, not a `101` and a socket closed at once.
pub async fn deno_open(
    request: &web_sys::Request,
    target: &str,
    headers: &web_sys::Headers,
) -> Option<Opened> {
    let upstream = connect(target, headers).ok()?;
    let accepted = match handshake(&upstream, &request.signal()).await {
        true => accept_client(request),
        false => None,
    };
    match accepted {
        Some((response, client)) => Some(Opened {
            response,
            client,
            upstream,
        }),
        None => {
            let _ = upstream.close();
            None
        }
    }
}

/// The project's socket, opening.
fn connect(target: &str, headers: &web_sys::Headers) -> Result<WebSocket, JsValue> {
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
    Ok(Reflect::construct(&class, &args)?.unchecked_into())
}

/// `Deno.upgradeWebSocket(request)`: the `101` answer and the gate's end of the client's socket.
fn accept_client(request: &web_sys::Request) -> Option<(web_sys::Response, WebSocket)> {
    let upgrade = || -> Result<_, JsValue> {
        let deno = get(&js_sys::global(), "Deno")?;
        let upgrade: Function = get(&deno, "upgradeWebSocket")?.dyn_into()?;
        let upgraded = upgrade.call1(&deno, request)?;
        let response: web_sys::Response = get(&upgraded, "response")?.dyn_into()?;
        Ok((response, get(&upgraded, "socket")?.unchecked_into()))
    };
    upgrade().ok()
}

/// Whether `socket`'s handshake succeeds: `open` (true) before `error` / `close`, the client's
/// request aborting (`signal`: it left) or [`HANDSHAKE_TIMEOUT_MS`] (false). Every listener and the
/// timer are removed before it returns, so nothing calls into the dropped closures later.
async fn handshake(socket: &WebSocket, signal: &web_sys::AbortSignal) -> bool {
    if signal.aborted() {
        return false;
    }
    let resolver: Rc<RefCell<Option<Function>>> = Rc::default();
    let promise = js_sys::Promise::new(&mut |resolve, _| *resolver.borrow_mut() = Some(resolve));
    // Several of these may fire (error, then close); only the first settles the promise.
    let settle = |value: bool| {
        let resolver = Rc::clone(&resolver);
        Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(resolve) = resolver.borrow_mut().take() {
                let _ = resolve.call1(&JsValue::NULL, &value.into());
            }
        })
    };
    let (on_open, on_fail) = (settle(true), settle(false));
    let fail: &Function = on_fail.as_ref().unchecked_ref();
    let listeners = [("open", &on_open), ("error", &on_fail), ("close", &on_fail)];
    for (event, f) in listeners {
        let _ = socket.add_event_listener_with_callback(event, f.as_ref().unchecked_ref());
    }
    let _ = signal.add_event_listener_with_callback("abort", fail);
    let global = js_sys::global();
    let timer = get(&global, "setTimeout")
        .and_then(|f| f.dyn_into::<Function>())
        .and_then(|f| f.call2(&JsValue::NULL, fail, &HANDSHAKE_TIMEOUT_MS.into()));
    let open = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .is_ok_and(|v| v.is_truthy());
    if let Ok(timer) = timer {
        if let Ok(clear) = get(&global, "clearTimeout").and_then(|f| f.dyn_into::<Function>()) {
            let _ = clear.call1(&JsValue::NULL, &timer);
        }
    }
    let _ = signal.remove_event_listener_with_callback("abort", fail);
    for (event, f) in listeners {
        let _ = socket.remove_event_listener_with_callback(event, f.as_ref().unchecked_ref());
    }
    open
}
