//! The HTTP side shared by the wasm front doors: refusals as web `Response`s, and the streamed
//! forward of an allowed request to the project.

use crate::gate::Forward;
use crate::wire::Answer;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(input: &web_sys::Request) -> js_sys::Promise;
}

/// A refusal as a web `Response`.
pub fn refusal(r: &Answer) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (n, v) in &r.headers {
        headers.set(n, v)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers);
    // A 204 (the exchange's preflight answer) must not have a body.
    let body = (r.status != 204 && !r.body.is_null()).then(|| r.body.to_string());
    web_sys::Response::new_with_opt_str_and_init(body.as_deref(), &init)
}

/// A request URL as the runtime's own parser reads it, read once per request by each wasm front
/// door: its path and query are judged, its scheme and host tell where it was sent (the `url` crate
/// is not used: its IDNA tables were about a tenth of the Worker's wasm, for a URL already parsed).
pub struct UrlParts {
    /// `https:` (with the colon, as `URL.protocol` gives it).
    protocol: String,
    host: String,
    /// `?…`, or empty.
    search: String,
}

impl UrlParts {
    /// Parses `url`: its path (percent-encoded, as sent), and the rest.
    pub fn parse(url: &str) -> Result<(String, UrlParts), JsValue> {
        let url = web_sys::Url::new(url)?;
        let parts = UrlParts {
            protocol: url.protocol(),
            host: url.host(),
            search: url.search(),
        };
        Ok((url.pathname(), parts))
    }

    /// The query without `?` (empty when there is none).
    pub fn query(&self) -> &str {
        self.search.strip_prefix('?').unwrap_or("")
    }

    /// Where the client sent the request, for forwarding `path` (the judged path).
    pub fn inbound<'a>(
        &'a self,
        path: &'a str,
        client_ip: Option<String>,
        accept_encoding: Option<&'a str>,
    ) -> Inbound<'a> {
        Inbound {
            scheme: self.protocol.trim_end_matches(':'),
            host: &self.host,
            path,
            query: self.search.strip_prefix('?'),
            client_ip,
            accept_encoding,
        }
    }
}

/// Where the client sent the request, as the front door's URL parser saw it.
pub struct Inbound<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Host and port as the client addressed them.
    pub host: &'a str,
    /// The path (already parsed by the runtime).
    pub path: &'a str,
    /// The query without `?`, if any.
    pub query: Option<&'a str>,
    /// The client's address when the runtime knows it (never read from a request header the client
    /// controls, except `CF-Connecting-IP`, which Cloudflare sets).
    pub client_ip: Option<String>,
    /// Replaces `Accept-Encoding` (runtimes whose `fetch` decodes bodies ask only for what they decode,
    /// so no body arrives in a coding the client did not get a chance to refuse).
    pub accept_encoding: Option<&'a str>,
}

/// The headers an allowed request goes upstream with: the forwardable headers (see
/// [`crate::gate::forwarding`]), identity headers the gate added, `X-Forwarded-*` and, when the client
/// address is known, `X-Forwarded-For` / `Sb-Forwarded-For` (what Supabase Auth reads for rate limits
/// behind a proxy).
pub fn upstream_headers(
    inbound: &Inbound<'_>,
    forwarded: &[(String, String)],
    fwd: &Forward,
) -> Result<web_sys::Headers, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in forwarded {
        headers.append(name, value)?;
    }
    for (name, value) in &fwd.add_headers {
        headers.set(name, value)?;
    }
    if let Some(ip) = &inbound.client_ip {
        headers.set("x-forwarded-for", ip)?;
        headers.set("sb-forwarded-for", ip)?;
    }
    if let Some(codings) = inbound.accept_encoding {
        headers.set("accept-encoding", codings)?;
    }
    headers.set("x-forwarded-proto", inbound.scheme)?;
    headers.set("x-forwarded-host", inbound.host)?;
    Ok(headers)
}

/// The upstream URL of a request: the project's origin with the client's path and query.
pub fn target(upstream: &str, inbound: &Inbound<'_>) -> String {
    match inbound.query {
        Some(q) => format!("{upstream}{}?{q}", inbound.path),
        None => format!("{upstream}{}", inbound.path),
    }
}

/// Forwards an allowed request to `upstream` (the project URL) with [`upstream_headers`]. The body is
/// streamed as-is: never buffered, never read. Redirects are passed back to the client, not followed.
/// Any failure to reach the upstream is a 502. `send` replaces the global `fetch` where the runtime's
/// cannot forward a body faithfully (Deno: see js/deno.js); it gets the upstream `Request`.
pub async fn forward(
    upstream: &str,
    original: &web_sys::Request,
    inbound: &Inbound<'_>,
    forwarded: &[(String, String)],
    fwd: &Forward,
    send: Option<&js_sys::Function>,
) -> Result<web_sys::Response, JsValue> {
    let headers = upstream_headers(inbound, forwarded, fwd)?;
    let init = web_sys::RequestInit::new();
    let method = original.method();
    init.set_method(&method);
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    // fetch cannot send a body with GET or HEAD.
    if method != "GET" && method != "HEAD" {
        if let Some(body) = original.body() {
            init.set_body(&body);
            // Node's and Deno's fetch need this for a streamed request body; workerd ignores it.
            js_sys::Reflect::set(&init, &"duplex".into(), &"half".into())?;
        }
    }
    let target = target(upstream, inbound);
    let unreachable = || refusal(&super::answers::upstream_unreachable());
    let Ok(upstream_req) = web_sys::Request::new_with_str_and_init(&target, &init) else {
        return unreachable();
    };
    let sent = match send {
        // A sender that throws or answers no promise is an upstream that could not be reached.
        Some(f) => match f.call1(&JsValue::NULL, &upstream_req).map(JsCast::dyn_into) {
            Ok(Ok(promise)) => promise,
            _ => return unreachable(),
        },
        None => global_fetch(&upstream_req),
    };
    match JsFuture::from(sent).await {
        Ok(resp) => Ok(resp.unchecked_into()),
        Err(_) => unreachable(),
    }
}
