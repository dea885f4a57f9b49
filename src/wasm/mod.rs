//! What both wasm front doors share (feature `wasm`): the WebCrypto signature provider, the JWKS fetch
//! layer, the clock, the async driver that answers the gate's I/O steps, and the judged request (what
//! the gate decides on is what the upstream receives). Written once for the Cloudflare Worker (feature
//! `cloudflare`) and the portable module (feature `js`).

pub mod answers;
pub mod driver;
pub mod fetch;
pub mod http;
pub mod judged;
pub mod relay;
pub mod setup;
pub mod sockets;
pub mod upgrade;
pub mod webcrypto;

/// Seconds since the epoch from the runtime's clock (`Date.now()`).
pub fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// Microseconds from `performance.now()` when the runtime has it (for decision durations in logs).
pub fn micros() -> Option<f64> {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok()?;
    let now = js_sys::Reflect::get(&perf, &"now".into()).ok()?;
    let f: js_sys::Function = wasm_bindgen::JsCast::dyn_into(now).ok()?;
    f.call0(&perf).ok()?.as_f64().map(|ms| ms * 1000.0)
}
