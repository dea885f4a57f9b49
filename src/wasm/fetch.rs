//! The thin fetch layer for JWKS documents: timeout, no redirects, 200 only, size cap, max-age.

use crate::gate::keystore::MAX_JWKS_BYTES;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, RequestRedirect, Response};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(input: &str, init: &RequestInit) -> js_sys::Promise;
}

/// Why a fetch failed (logged; never shown to clients).
#[derive(Debug)]
pub enum FetchError {
    /// Network error, timeout or abort.
    Network,
    /// A status other than 200 (redirects included: they are not followed).
    Status(u16),
    /// Larger than the cap.
    TooLarge,
}

/// `max-age` from a `Cache-Control` value.
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.trim_matches('"').parse().ok())
}

fn timeout_signal(ms: u32) -> Option<JsValue> {
    let abort_signal = Reflect::get(&js_sys::global(), &"AbortSignal".into()).ok()?;
    let timeout: js_sys::Function = Reflect::get(&abort_signal, &"timeout".into())
        .ok()?
        .dyn_into()
        .ok()?;
    timeout.call1(&abort_signal, &JsValue::from(ms)).ok()
}

/// GETs a JWKS within `timeout_ms`: body and `Cache-Control: max-age`.
pub async fn fetch_jwks(url: &str, timeout_ms: u32) -> Result<(Vec<u8>, Option<u64>), FetchError> {
    get(url, &[], timeout_ms, MAX_JWKS_BYTES).await
}

/// GETs `url` with `headers` within `timeout_ms`, no redirects, 200 only, at most `max_bytes`: the
/// body and `Cache-Control: max-age`.
pub async fn get(
    url: &str,
    headers: &[(String, String)],
    timeout_ms: u32,
    max_bytes: usize,
) -> Result<(Vec<u8>, Option<u64>), FetchError> {
    let init = RequestInit::new();
    init.set_method("GET");
    if !headers.is_empty() {
        let h = web_sys::Headers::new().map_err(|_| FetchError::Network)?;
        for (name, value) in headers {
            h.set(name, value).map_err(|_| FetchError::Network)?;
        }
        init.set_headers(&h);
    }
    init.set_redirect(RequestRedirect::Manual);
    if let Some(signal) = timeout_signal(timeout_ms) {
        init.set_signal(Some(signal.unchecked_ref()));
    }
    // Not `dyn_into`: servers such as @hono/node-server replace the global `Response` with a subclass,
    // and what `fetch` returns is then no instance of it. It is a Response all the same.
    let response: Response = JsFuture::from(global_fetch(url, &init))
        .await
        .map_err(|_| FetchError::Network)?
        .unchecked_into();
    if response.status() != 200 {
        // Release the connection; the body is not needed.
        if let Some(body) = response.body() {
            let _ = body.cancel();
        }
        return Err(FetchError::Status(response.status()));
    }
    let headers = response.headers();
    if let Ok(Some(len)) = headers.get("content-length") {
        if len.trim().parse::<usize>().map_or(true, |n| n > max_bytes) {
            if let Some(body) = response.body() {
                let _ = body.cancel();
            }
            return Err(FetchError::TooLarge);
        }
    }
    let max_age = headers
        .get("cache-control")
        .ok()
        .flatten()
        .as_deref()
        .and_then(max_age);
    let body = read_capped(&response, max_bytes).await?;
    Ok((body, max_age))
}

/// Reads the body chunk by chunk and gives up past `max_bytes`: a response without `Content-Length`
/// (chunked) must not be able to make the isolate buffer an unbounded body.
async fn read_capped(response: &Response, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
    let Some(stream) = response.body() else {
        return Ok(Vec::new());
    };
    let get = |obj: &JsValue, name: &str| {
        Reflect::get(obj, &name.into()).map_err(|_| FetchError::Network)
    };
    let reader = stream.get_reader();
    let read: js_sys::Function = get(&reader, "read")?
        .dyn_into()
        .map_err(|_| FetchError::Network)?;
    let mut out = Vec::new();
    loop {
        let promise: js_sys::Promise = read
            .call0(&reader)
            .map_err(|_| FetchError::Network)?
            .dyn_into()
            .map_err(|_| FetchError::Network)?;
        let chunk = JsFuture::from(promise)
            .await
            .map_err(|_| FetchError::Network)?;
        if get(&chunk, "done")?.as_bool().unwrap_or(true) {
            return Ok(out);
        }
        let bytes = Uint8Array::new(&get(&chunk, "value")?);
        if out.len() + bytes.length() as usize > max_bytes {
            // The stream is locked to the reader: cancel through it.
            if let Ok(cancel) = get(&reader, "cancel").and_then(|f| {
                f.dyn_into::<js_sys::Function>()
                    .map_err(|_| FetchError::Network)
            }) {
                let _ = cancel.call0(&reader);
            }
            return Err(FetchError::TooLarge);
        }
        out.extend_from_slice(&bytes.to_vec());
    }
}
