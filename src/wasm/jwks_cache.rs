//! JWKS documents shared across isolates through the Workers Cache API (`caches.default`), so that a
//! new isolate usually verifies its first request without a network round trip.
//!
//! Only where the runtime has `caches.default` (workerd and Cloudflare; on Cloudflare only on a custom
//! domain: the Cache API does nothing on `workers.dev`). An entry keeps the document, when it was
//! fetched and its freshness; the key store then counts freshness and the stale bound from that time
//! ([`crate::gate::Gate::jwks_fetched`]), so a copy past `max-age` serves only within `max_stale` while
//! the request that got the refresh ticket fetches a new one. Entries expire from the cache at the end
//! of the stale bound. Only documents the gate accepted are stored. The cache belongs to the zone:
//! only code of the same Cloudflare account can write to it, which is the trust the Worker's own
//! configuration already needs.

use crate::gate::keystore::{JwksTiming, MAX_JWKS_BYTES};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

const FETCHED_AT: &str = "x-aalgate-fetched-at";
const FRESH_FOR: &str = "x-aalgate-fresh-for";

/// A document read back from the cache.
pub struct Cached {
    /// The JWKS document.
    pub body: Vec<u8>,
    /// When it was fetched (seconds since the epoch).
    pub fetched_at: u64,
    /// Its freshness in seconds, as the gate computed it when it was fetched.
    pub fresh_for: u64,
}

fn cache() -> Option<Cache> {
    let caches = Reflect::get(&js_sys::global(), &"caches".into()).ok()?;
    if caches.is_undefined() || caches.is_null() {
        return None;
    }
    Reflect::get(&caches, &"default".into())
        .ok()?
        .dyn_into::<Cache>()
        .ok()
}

/// The cache key of a JWKS URL: a host of our own, never a URL the zone serves or a visitor can
/// make the zone cache.
fn key(url: &str) -> String {
    format!(
        "https://jwks.aalgate.internal/?url={}",
        String::from(js_sys::encode_uri_component(url))
    )
}

/// The cached copy of `url`, if there is one still within its stale bound at `now`.
pub async fn read(url: &str, timing: &JwksTiming, now: u64) -> Option<Cached> {
    let cache = cache()?;
    let found = JsFuture::from(cache.match_with_str(&key(url))).await.ok()?;
    let response: Response = found.dyn_into().ok()?;
    let header = |name: &str| -> Option<u64> { response.headers().get(name).ok()??.parse().ok() };
    let (fetched_at, fresh_for) = (header(FETCHED_AT)?, header(FRESH_FOR)?);
    // A clock that went backwards, or an entry past its bound, is not used.
    if fetched_at > now || now >= fetched_at + fresh_for + timing.max_stale {
        return None;
    }
    let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    let body = Uint8Array::new(&buffer).to_vec();
    (body.len() <= MAX_JWKS_BYTES).then_some(Cached {
        body,
        fetched_at,
        fresh_for,
    })
}

/// Stores a document the gate accepted, fetched at `now` with the response's `max_age`. Failures
/// are ignored: the cache only saves fetches.
pub async fn write(url: &str, body: &[u8], max_age: Option<u64>, timing: &JwksTiming, now: u64) {
    async fn put(
        url: &str,
        body: &[u8],
        fresh_for: u64,
        keep: u64,
        now: u64,
    ) -> Result<(), JsValue> {
        let Some(cache) = cache() else {
            return Ok(());
        };
        let headers = web_sys::Headers::new()?;
        headers.set("content-type", "application/json")?;
        headers.set("cache-control", &format!("public, max-age={keep}"))?;
        headers.set(FETCHED_AT, &now.to_string())?;
        headers.set(FRESH_FOR, &fresh_for.to_string())?;
        let init = web_sys::ResponseInit::new();
        init.set_status(200);
        init.set_headers(&headers);
        let mut copy = body.to_vec();
        let response = Response::new_with_opt_u8_array_and_init(Some(&mut copy), &init)?;
        JsFuture::from(cache.put_with_str(&key(url), &response)).await?;
        Ok(())
    }
    let fresh_for = timing.freshness(max_age);
    let keep = fresh_for + timing.max_stale;
    let _ = put(url, body, fresh_for, keep, now).await;
}
