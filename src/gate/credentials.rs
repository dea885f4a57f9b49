//! The credential inventory: every place a Supabase service behind the gate reads a credential, and
//! how each value found there is classified. README "Where Supabase reads credentials" is this module
//! as a table, with the source file of each row.
//!
//! A credential counts wherever any service would read it, so the gate looks at all of these places on
//! every request and the strictest verdict wins:
//! - a user token is judged wherever it is (`Authorization`, `apikey`, `x-api-key`, the query);
//! - two different user tokens in one request are refused (`credentials_conflict`);
//! - a secret-level credential (`sb_secret_…`, a `service_role` key JWT, S3 access-key signing) in any
//!   place makes the request a service request, refused unless the route allows service keys;
//! - the API-key places (`apikey` header and query, `x-api-key`) must agree and must hold something
//!   that is a Supabase key or token (`apikey_invalid` otherwise), since the API gateway copies the
//!   `apikey` into `Authorization` when that is missing or a key;
//! - credentials in a form body (S3 POST-policy uploads) cannot be seen without buffering the body, so
//!   such a request is refused unless the route says `allow_form_credentials`.

use super::Request;
use crate::error::{Code, Error};
use std::borrow::Cow;

/// Where a credential travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A request header (names compared case-insensitively).
    Header(&'static str),
    /// A query parameter (names compared case-insensitively; `name[]` and `name[x]` count too).
    Query(&'static str),
    /// A field of a `multipart/form-data` body.
    Form(&'static str),
    /// Inside WebSocket frames (Realtime `phx_join` and `access_token` events).
    Frame(&'static str),
}

/// One row of the inventory.
#[derive(Clone, Copy, Debug)]
pub struct Channel {
    /// Where.
    pub place: Place,
    /// Which services read it.
    pub read_by: &'static str,
    /// What it may carry.
    pub carries: &'static str,
    /// What the gate does with it.
    pub gate: &'static str,
}

/// Every place a credential is read by a service behind the gate. The gate reads each of the header and
/// query places below; README's table is this list with sources.
pub const INVENTORY: [Channel; 14] = [
    Channel {
        place: Place::Header("authorization"),
        read_by: "API gateway, PostgREST, GraphQL, Auth, Storage, Functions, Realtime HTTP",
        carries: "`Bearer` user token, publishable/secret key or key JWT; S3 SigV4 signature",
        gate: "classified; a user token is verified and judged",
    },
    Channel {
        place: Place::Header("apikey"),
        read_by: "API gateway (copied into Authorization when that is missing or a key), Auth, Storage",
        carries: "publishable/secret key, anon/service_role key JWT, or a user token",
        gate: "classified; a user token is judged; anything else is refused (`apikey_invalid`)",
    },
    Channel {
        place: Place::Query("apikey"),
        read_by: "API gateway, Realtime (WebSocket connect)",
        carries: "as the `apikey` header",
        gate: "as the `apikey` header; must equal it when both are sent",
    },
    Channel {
        place: Place::Header("x-api-key"),
        read_by: "Realtime (WebSocket connect, read before `?apikey`)",
        carries: "as the `apikey` header",
        gate: "as the `apikey` header; must equal it when both are sent",
    },
    Channel {
        place: Place::Header("sb-api-key"),
        read_by: "Edge Functions runtime (set by the API gateway, which drops a client's own)",
        carries: "a key JWT the gateway derived from the API key",
        gate: "as the `apikey` header (a client has no reason to send it)",
    },
    Channel {
        place: Place::Header("x-amz-security-token"),
        read_by: "Storage S3 (header-signed requests)",
        carries: "a user token (session token of S3 session credentials)",
        gate: "classified; a user token is judged",
    },
    Channel {
        place: Place::Query("x-amz-security-token"),
        read_by: "Storage S3 (presigned URLs)",
        carries: "a user token",
        gate: "classified; a user token is judged",
    },
    Channel {
        place: Place::Query("x-amz-credential"),
        read_by: "Storage S3 (presigned URLs)",
        carries: "an S3 access key id (secret-level unless a session token comes with it)",
        gate: "without a session token: a service credential",
    },
    Channel {
        place: Place::Query("x-amz-signature"),
        read_by: "Storage S3 (presigned URLs)",
        carries: "the SigV4 signature",
        gate: "without a session token: a service credential",
    },
    Channel {
        place: Place::Form("x-amz-security-token"),
        read_by: "Storage S3 (POST-policy uploads)",
        carries: "a user token",
        gate: "not visible without buffering: multipart POSTs to the S3 API are refused unless the route allows form credentials",
    },
    Channel {
        place: Place::Form("x-amz-credential"),
        read_by: "Storage S3 (POST-policy uploads)",
        carries: "an S3 access key id",
        gate: "as above",
    },
    Channel {
        place: Place::Query("token"),
        read_by: "Storage (signed URLs: `/object/sign`, `/render/image/sign`, `/object/upload/sign`)",
        carries: "a Storage-signed URL token, not a user token",
        gate: "not a user credential: those routes are exempt",
    },
    Channel {
        place: Place::Frame("access_token"),
        read_by: "Realtime (`phx_join` payload `access_token`/`user_token`, `access_token` events)",
        carries: "a user token",
        gate: "not yet judged (see README \"Realtime\")",
    },
    Channel {
        place: Place::Header("cookie"),
        read_by: "none of the services (supabase-js SSR helpers read cookies in the app, not in Supabase)",
        carries: "session cookies of the app",
        gate: "forwarded unjudged",
    },
];

/// Where Storage serves its S3 protocol.
pub const S3_PATH: &str = "/storage/v1/s3";

/// Longest publishable key accepted (real ones are `sb_publishable_` and about 31 more characters; a
/// 70 KB one would make Auth answer 431 to the enrollment lookup).
pub const MAX_API_KEY_BYTES: usize = 256;

/// What a credential value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `sb_publishable_…`: no user.
    Publishable,
    /// The legacy `anon` key JWT: no user.
    AnonKey,
    /// `sb_secret_…` (in any spelling), a `service_role` JWT or another key JWT: a service credential.
    Secret,
    /// A JWT that is no key: a user access token (verified before anything is decided on it).
    User,
    /// None of these.
    Unknown,
}

/// What the request presents, all places taken together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials<'r> {
    /// No user: no credential, a publishable key, or the anon key.
    Anonymous,
    /// A secret API key, a `service_role` key JWT, or S3 access-key signing.
    Service,
    /// A user access token (not yet verified); `service` if service credentials came with it.
    User {
        /// The token.
        token: Cow<'r, str>,
        /// A secret key or `service_role` key was sent too (refused unless the route allows them).
        service: bool,
    },
}

/// The request's credentials as found by [`extract`].
#[derive(Clone, Debug)]
pub struct Presented<'r> {
    /// A refusal that does not depend on the route (conflicts, unreadable values), if any.
    pub problem: Option<Error>,
    /// Whether a secret-level credential was found in any place (even when `problem` is set).
    pub service: bool,
    /// The one user token, if any.
    pub user: Option<Cow<'r, str>>,
    /// A well-formed publishable or anon key from the request, for the Auth lookup.
    pub api_key: Option<Cow<'r, str>>,
    /// A multipart POST to the S3 API: its form may carry credentials the gate cannot see.
    pub form_credentials: bool,
}

impl<'r> Presented<'r> {
    /// Whether the request carries any credential at all (then an `OPTIONS` is no bare preflight).
    pub fn any(&self) -> bool {
        self.problem.is_some() || self.service || self.user.is_some() || self.api_key.is_some()
    }

    /// The combined verdict: the first problem, else who is asking.
    pub fn credentials(&self) -> Result<Credentials<'r>, Error> {
        if let Some(problem) = &self.problem {
            return Err(problem.clone());
        }
        Ok(match (&self.user, self.service) {
            (Some(token), service) => Credentials::User {
                token: token.clone(),
                service,
            },
            (None, true) => Credentials::Service,
            (None, false) => Credentials::Anonymous,
        })
    }
}

/// One `Authorization` value read as the Bearer scheme (RFC 6750 §2.1), the way every front door and
/// the exchange read it.
#[derive(Debug, PartialEq, Eq)]
pub enum Bearer<'a> {
    /// `Bearer <token>`.
    Token(&'a str),
    /// `Bearer a,b`: several tokens in one value.
    Several(&'a str),
    /// `Bearer` with nothing after it.
    Empty,
    /// Another scheme (its name).
    OtherScheme(&'a str),
}

/// Reads one `Authorization` value (surrounding whitespace ignored; the scheme is case-insensitive).
pub fn bearer(value: &str) -> Bearer<'_> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Bearer::OtherScheme(scheme);
    }
    let token = rest.trim_start_matches(' ');
    if token.contains(',') {
        Bearer::Several(token)
    } else if token.is_empty() {
        Bearer::Empty
    } else {
        Bearer::Token(token)
    }
}

/// Whether `value` has the shape of a compact JWS (three base64url segments). Only a shape: the
/// token is verified before anything depends on it.
fn jwt_shaped(value: &str) -> bool {
    let mut segments = 0;
    for part in value.split('.') {
        segments += 1;
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    segments == 3
}

/// Classifies one credential value. `max_bytes` is the token size cap: larger values are not decoded.
///
/// Key JWTs are recognised from their unverified payload on purpose: an "anon key" leads to the same
/// treatment as no credential at all (the upstream verifies it), and a `service_role` JWT is refused
/// unless the route allows service credentials (and then the upstream verifies it). Neither can make a
/// user token skip the checks: a user token claiming `service_role` is refused, not trusted.
pub fn classify(value: &str, max_bytes: usize) -> Class {
    // A secret key in any spelling (quoted, prefixed, glued to something) is a service credential:
    // never let it pass as "no user" or as an unknown value some service might still accept.
    if value
        .as_bytes()
        .windows(b"sb_secret_".len())
        .any(|w| w.eq_ignore_ascii_case(b"sb_secret_"))
    {
        return Class::Secret;
    }
    if let Some(rest) = value.strip_prefix("sb_publishable_") {
        let key_chars = rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        return if !rest.is_empty() && key_chars && value.len() <= MAX_API_KEY_BYTES {
            Class::Publishable
        } else {
            Class::Unknown
        };
    }
    if value.len() > max_bytes {
        // Too large to decode; as a bearer it is refused as `token_too_large`.
        return if jwt_shaped(value) {
            Class::User
        } else {
            Class::Unknown
        };
    }
    if !jwt_shaped(value) {
        return Class::Unknown;
    }
    match crate::dangerous::key_jwt_role(value).as_deref() {
        Some("anon") => Class::AnonKey,
        Some(_) => Class::Secret,
        None => Class::User,
    }
}

/// Remembers how JWT-shaped values were classified. Classifying one decodes and parses its payload
/// (≈ 5 µs natively, several times that in wasm), and clients send the same values on every request
/// (supabase-js repeats the anon key in `apikey`; a session reuses its access token), so this is most
/// of a cached decision's cost. Classification is a pure function of the value, so remembering it
/// cannot change a verdict. Bounded in entries and in bytes (values over the token cap are not kept).
#[derive(Default)]
pub struct ClassificationMemo {
    seen: std::collections::HashMap<Box<str>, Class>,
    bytes: usize,
}

impl ClassificationMemo {
    /// Entries kept at most; the memo starts over when full (values are re-derived, never wrong).
    pub const MAX_ENTRIES: usize = 512;
    /// Bytes of remembered values kept at most (512 values of 8 KiB at worst).
    pub const MAX_BYTES: usize = 4 * 1024 * 1024;

    fn classify(&mut self, value: &str, max_bytes: usize) -> Class {
        if !value.contains('.') || value.len() > max_bytes {
            return classify(value, max_bytes); // nothing to decode, or too large to keep
        }
        if let Some(class) = self.seen.get(value) {
            return *class;
        }
        let class = classify(value, max_bytes);
        if self.seen.len() >= Self::MAX_ENTRIES || self.bytes + value.len() > Self::MAX_BYTES {
            self.seen.clear();
            self.bytes = 0;
        }
        self.bytes += value.len();
        self.seen.insert(value.into(), class);
        class
    }
}

/// An API-key place's value as the services would still read it: surrounding whitespace and quotes
/// and a `Bearer ` prefix removed (the gate judges what any reader could make of it).
fn unwrap_key(value: &str) -> &str {
    let mut v = value.trim();
    if let Some(inner) = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
    {
        v = inner.trim();
    }
    if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
        v = v[7..].trim();
    }
    v
}

/// The values of one query parameter, percent-decoded the way lenient servers do. A name counts when,
/// compared case-insensitively, it is `name` or `name[…]` (the array forms some query parsers build).
fn query_values<'q>(query: &'q str, name: &str) -> Vec<Cow<'q, str>> {
    query_pairs(query)
        .filter(|(n, _)| n.split('[').next().unwrap_or("").eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

/// Form-style percent-decoding (`+` is a space) that keeps malformed escapes as they are and replaces
/// invalid UTF-8, as Node's `querystring` and nginx do: what a lenient service reads is what is judged.
/// By hand: the one decoder the core needs, not worth the `url` crate in every wasm build.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| {
            s.get(at..at + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        };
        match bytes[i] {
            b'%' => match hex(i + 1) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Whether a secret-level credential hides anywhere in `value`: the whole value, or any part of it
/// between whitespace or commas, each unwrapped like an API key.
fn secret_anywhere(value: &str, max_bytes: usize) -> bool {
    classify(unwrap_key(value), max_bytes) == Class::Secret
        || value
            .split(|c: char| c.is_ascii_whitespace() || c == ',')
            .any(|part| classify(unwrap_key(part), max_bytes) == Class::Secret)
}

/// The query's pairs, names and values percent-decoded (names exactly as sent otherwise).
fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(n), percent_decode(v))
    })
}

/// `unwrap_key` keeping the borrow when there is one.
fn unwrap_cow<'r>(value: &Cow<'r, str>) -> Cow<'r, str> {
    match value {
        Cow::Borrowed(v) => Cow::Borrowed(unwrap_key(v)),
        Cow::Owned(v) => Cow::Owned(unwrap_key(v).to_owned()),
    }
}

/// The values of a header and of a query parameter, each with the place it came from (for messages).
fn values<'r>(
    req: &Request<'r>,
    header: Option<&'static str>,
    query: Option<&'static str>,
) -> Vec<(Cow<'r, str>, Place)> {
    let mut out: Vec<(Cow<'r, str>, Place)> = Vec::new();
    if let Some(name) = header {
        out.extend(
            req.headers_named(name)
                .into_iter()
                .map(|v| (Cow::Borrowed(v), Place::Header(name))),
        );
    }
    if let Some(name) = query {
        out.extend(
            query_values(req.query, name)
                .into_iter()
                .map(|v| (v, Place::Query(name))),
        );
    }
    out
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Header(n) => write!(f, "header `{n}`"),
            Place::Query(n) => write!(f, "query parameter `{n}`"),
            Place::Form(n) => write!(f, "form field `{n}`"),
            Place::Frame(n) => write!(f, "WebSocket frame field `{n}`"),
        }
    }
}

/// Collects what a request presents in every place of the inventory. `path` is the request's
/// normalised path (what routing uses: `/storage/v1/s%33` is Storage's `/s3` too). Never fails:
/// problems are recorded in [`Presented::problem`], so that an exempt route can still learn whether a
/// service credential came along.
pub fn extract<'r>(
    req: &Request<'r>,
    path: &str,
    max_bytes: usize,
    memo: &mut ClassificationMemo,
) -> Presented<'r> {
    let mut service = false;
    let mut problems: Vec<Error> = Vec::new();
    let mut users: Vec<Cow<'r, str>> = Vec::new();
    let conflict = |what: &str| Error::new(Code::CredentialsConflict, format!("several {what}"));

    // 1. The API-key places. Repeated headers arrive either as separate lines or joined with ", " (the
    // fetch `Headers` of every JS runtime joins them); keys and tokens never contain a comma, so both
    // forms are one signal: conflicting credentials. Each part is still classified, so that a secret
    // key hidden in a conflict is known as one.
    let mut api_key: Option<Cow<'r, str>> = None;
    let mut first_key: Option<Cow<'r, str>> = None;
    let mut keys = values(req, Some("apikey"), Some("apikey"));
    keys.extend(values(req, Some("x-api-key"), None));
    keys.extend(values(req, Some("sb-api-key"), None));
    for (raw, place) in &keys {
        let parts: Vec<Cow<'r, str>> = if raw.contains(',') {
            problems.push(conflict(&format!("values in {place}")));
            raw.split(',').map(|p| Cow::Owned(p.to_owned())).collect()
        } else {
            vec![raw.clone()]
        };
        for part in parts {
            let value = unwrap_cow(&part);
            match memo.classify(&value, max_bytes) {
                Class::Secret => service = true,
                Class::User => users.push(value.clone()),
                Class::Publishable | Class::AnonKey => {
                    api_key.get_or_insert_with(|| value.clone());
                }
                Class::Unknown => problems.push(Error::new(
                    Code::ApikeyInvalid,
                    format!("{place} is not a Supabase API key or access token"),
                )),
            }
            match &first_key {
                Some(first) if first.as_ref() != value.as_ref() => problems.push(conflict(
                    "API keys (`apikey`, `x-api-key`, `?apikey=`) that differ",
                )),
                Some(_) => {}
                None => first_key = Some(value),
            }
        }
    }

    // 2. S3 session tokens: header-signed requests and presigned URLs.
    let session_tokens = values(
        req,
        Some("x-amz-security-token"),
        Some("x-amz-security-token"),
    );
    if session_tokens.len() > 1 || session_tokens.iter().any(|(v, _)| v.contains(',')) {
        problems.push(conflict("`x-amz-security-token` values (header or query)"));
    }
    for (token, _) in &session_tokens {
        let token = match token {
            Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
            Cow::Owned(t) => Cow::Owned(t.trim().to_owned()),
        };
        match memo.classify(&token, max_bytes) {
            Class::Secret => service = true,
            Class::Publishable | Class::AnonKey => {}
            Class::User | Class::Unknown => users.push(token),
        }
    }
    // SigV4 is signed with an S3 access key (secret-level) unless Storage finds a user session token
    // where it looks for one: the `x-amz-security-token` header for header-signed requests, the exact
    // query key `X-Amz-Security-Token` (one value) for presigned URLs (supabase/storage
    // `signature-v4.ts`, `parseAuthorizationHeader` / `parseQuerySignature`). A key there, or a token
    // in another spelling Storage does not read, leaves the signature to the access keys.
    let user_session = |token: Option<&str>| {
        token.is_some_and(|t| matches!(classify(t.trim(), max_bytes), Class::User | Class::Unknown))
    };
    let header_session = req.headers_named("x-amz-security-token");
    let header_signed_by_user =
        header_session.len() == 1 && user_session(header_session.first().copied());
    let exact_query: Vec<Cow<'_, str>> = query_pairs(req.query)
        .filter(|(n, _)| n == "X-Amz-Security-Token")
        .map(|(_, v)| v)
        .collect();
    let presigned_by_user =
        exact_query.len() == 1 && user_session(exact_query.first().map(|v| v.as_ref()));
    let presigned = ["x-amz-credential", "x-amz-signature", "x-amz-algorithm"]
        .iter()
        .any(|name| !query_values(req.query, name).is_empty());
    if presigned && !presigned_by_user {
        service = true;
    }

    // 3. `Authorization`.
    let authorization = req.headers_named("authorization");
    if authorization.len() > 1 {
        problems.push(conflict("`authorization` values"));
    }
    for value in authorization {
        let value = value.trim();
        // A secret key or key JWT anywhere in the value (no scheme, `Bearer<TAB>…`, an odd scheme)
        // counts: some reader (Storage takes a raw JWT) may take it, and exempt routes judge only this.
        service |= secret_anywhere(value, max_bytes);
        match bearer(value) {
            Bearer::Several(list) => {
                problems.push(conflict("`authorization` values"));
                service |= list
                    .split(',')
                    .any(|b| classify(b.trim(), max_bytes) == Class::Secret);
            }
            Bearer::Empty => problems.push(Error::new(
                Code::TokenMalformed,
                "`Authorization: Bearer` has no token",
            )),
            Bearer::Token(token) => match memo.classify(token, max_bytes) {
                Class::Secret => service = true,
                Class::Publishable | Class::AnonKey => {}
                // Anything else is a user token: verified, and refused if it is none.
                Class::User | Class::Unknown => users.push(Cow::Borrowed(token)),
            },
            Bearer::OtherScheme(scheme) if scheme.eq_ignore_ascii_case("AWS4-HMAC-SHA256") => {
                // Storage's S3 protocol (see above).
                if !header_signed_by_user {
                    service = true;
                }
            }
            Bearer::OtherScheme(_) => problems.push(Error::new(
                Code::CredentialsUnsupported,
                "`Authorization` must use the Bearer scheme",
            )),
        }
    }

    // 4. One user at most, wherever the tokens were.
    let mut user: Option<Cow<'r, str>> = None;
    for token in users {
        match &user {
            Some(existing) if existing.as_ref() != token.as_ref() => problems.push(Error::new(
                Code::CredentialsConflict,
                "the request carries two different user tokens",
            )),
            Some(_) => {}
            None => user = Some(token),
        }
    }

    // 5. Form bodies the gate cannot see: S3 POST-policy uploads carry the session token (or an access
    // key's signature) as form fields.
    let s3 = path
        .strip_prefix(S3_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    let form_credentials = s3
        && req.method.eq_ignore_ascii_case("POST")
        && req.headers_named("content-type").iter().any(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });

    // Conflicts first (they are what the request is), then the rest in the order found.
    problems.sort_by_key(|e| e.code() != Code::CredentialsConflict);
    Presented {
        problem: problems.into_iter().next(),
        service,
        user,
        api_key,
        form_credentials,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64;

    const MAX: usize = 8192;
    // A user token's shape (three base64url segments; the payload has no `ref`/`service_role`).
    const USER: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";
    const OTHER_USER: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ2In0.c2ln";

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            b64::encode(br#"{"alg":"HS256"}"#),
            b64::encode(claims.as_bytes())
        )
    }

    fn found<'r>(
        method: &'r str,
        path: &'r str,
        query: &'r str,
        headers: &'r [(&'r str, &'r str)],
    ) -> Presented<'r> {
        let req = Request {
            method,
            path,
            query,
            headers,
        };
        let normal = super::super::route::normalize_path(path).unwrap();
        extract(&req, &normal, MAX, &mut ClassificationMemo::default())
    }

    #[test]
    fn every_value_is_classified() {
        let anon = jwt(r#"{"iss":"supabase","ref":"abc","role":"anon"}"#);
        let service = jwt(r#"{"iss":"supabase","ref":"abc","role":"service_role"}"#);
        let user_claiming_service = jwt(r#"{"sub":"u","role":"service_role"}"#);
        let cases: &[(&str, Class)] = &[
            ("sb_publishable_abc123", Class::Publishable),
            ("sb_secret_abc123", Class::Secret),
            ("\"sb_secret_abc\"", Class::Secret),
            ("x sb_SECRET_abc", Class::Secret),
            (&anon, Class::AnonKey),
            (&service, Class::Secret),
            (&user_claiming_service, Class::Secret),
            (USER, Class::User),
            ("sb_publishable_", Class::Unknown),
            ("sb_publishable_a b", Class::Unknown),
            ("not-a-key", Class::Unknown),
            ("a.b", Class::Unknown),
            ("a.b.c.d", Class::Unknown),
            ("", Class::Unknown),
        ];
        for (value, want) in cases {
            assert_eq!(classify(value, MAX), *want, "{value}");
        }
        let long_key = format!("sb_publishable_{}", "a".repeat(MAX_API_KEY_BYTES));
        assert_eq!(classify(&long_key, MAX), Class::Unknown);
    }

    #[test]
    fn a_user_token_is_found_in_every_place_a_service_reads_one() {
        let query_token = format!("apikey={USER}");
        let s3_query = format!("X-Amz-Credential=ref%2Fx&X-Amz-Security-Token={USER}");
        let places: Vec<(&str, Vec<(&str, &str)>)> = vec![
            (
                "",
                vec![(
                    "authorization",
                    "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",
                )],
            ),
            ("", vec![("apikey", USER)]),
            ("", vec![("x-api-key", USER)]),
            ("", vec![("sb-api-key", USER)]),
            ("", vec![("x-amz-security-token", USER)]),
            (&query_token, vec![]),
            (&s3_query, vec![]),
        ];
        for (query, headers) in &places {
            let p = found("GET", "/storage/v1/s3/b/k", query, headers);
            assert_eq!(p.problem, None, "{query} {headers:?}");
            assert_eq!(p.user.as_deref(), Some(USER), "{query} {headers:?}");
            assert!(!p.service, "{query} {headers:?}");
        }
    }

    #[test]
    fn two_different_user_tokens_conflict_wherever_they_are() {
        let bearer = format!("Bearer {OTHER_USER}");
        let headers = [("authorization", bearer.as_str()), ("apikey", USER)];
        let p = found("GET", "/rest/v1/x", "", &headers);
        assert_eq!(p.problem.map(|e| e.code()), Some(Code::CredentialsConflict));
        let q = format!("X-Amz-Security-Token={OTHER_USER}");
        let p = found("GET", "/s", &q, &[("x-amz-security-token", USER)]);
        assert_eq!(p.problem.map(|e| e.code()), Some(Code::CredentialsConflict));
    }

    #[test]
    fn secret_level_credentials_are_found_in_every_place() {
        let places: &[(&str, &[(&str, &str)])] = &[
            ("", &[("apikey", "sb_secret_x")]),
            ("", &[("apikey", "Bearer sb_secret_x")]),
            ("", &[("x-api-key", "sb_secret_x")]),
            ("", &[("sb-api-key", "sb_secret_x")]),
            ("", &[("authorization", "Bearer sb_secret_x")]),
            ("", &[("authorization", "Basic sb_secret_x")]),
            ("", &[("authorization", "AWS4-HMAC-SHA256 Credential=k/x")]),
            ("", &[("x-amz-security-token", "sb_secret_x")]),
            ("apikey=sb_secret_x", &[]),
            ("APIKEY=sb_secret_x", &[]),
            ("apikey[0]=sb_secret_x", &[]),
            ("api%6Bey=sb_secret_x", &[]),
            ("X-Amz-Credential=k%2Fx&X-Amz-Signature=00", &[]),
            ("x-amz-signature=00", &[]),
            // Hidden in a conflict: still known as secret-level.
            ("", &[("apikey", "sb_publishable_a, sb_secret_x")]),
        ];
        for (query, headers) in places {
            let p = found("GET", "/storage/v1/s3/b/k", query, headers);
            assert!(p.service, "{query} {headers:?}");
        }
    }

    #[test]
    fn attack_s3_decoy_session_tokens_never_cancel_access_key_signing() {
        let presign =
            "X-Amz-Credential=AKID%2Fx&X-Amz-Signature=00&X-Amz-Algorithm=AWS4-HMAC-SHA256";
        let sigv4 = [(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature=00",
        )];
        let anon = jwt(r#"{"iss":"supabase","ref":"x","role":"anon"}"#);
        // A key where Storage looks for the session token, or a token where Storage does not look.
        let decoys: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                presign.to_owned(),
                vec![("x-amz-security-token", "sb_publishable_x")],
            ),
            (
                presign.to_owned(),
                vec![("x-amz-security-token", anon.as_str())],
            ),
            (
                format!("{presign}&x-amz-security-token=sb_publishable_x"),
                vec![],
            ),
            (
                format!("{presign}&X-Amz-Security-Token%5B%5D=sb_publishable_x"),
                vec![],
            ),
            (format!("{presign}&X-AMZ-SECURITY-TOKEN={USER}"), vec![]),
            (
                format!("{presign}&X-Amz-Security-Token=sb_publishable_x"),
                vec![],
            ),
            (
                "X-Amz-Security-Token=sb_publishable_x".to_owned(),
                sigv4.to_vec(),
            ),
            (format!("X-Amz-Security-Token={USER}"), sigv4.to_vec()),
        ];
        for (query, headers) in &decoys {
            let p = found("GET", "/storage/v1/s3/b/k", query, headers);
            assert!(p.service, "{query} {headers:?}");
        }
        // The real thing: a user session token where Storage reads it.
        let real = format!("{presign}&X-Amz-Security-Token={USER}");
        assert!(!found("GET", "/storage/v1/s3/b/k", &real, &[]).service);
        let with_header = [sigv4[0], ("x-amz-security-token", USER)];
        assert!(!found("GET", "/storage/v1/s3/b/k", "", &with_header).service);
    }

    #[test]
    fn attack_encoded_s3_path_is_still_the_s3_api() {
        let form = [("content-type", "multipart/form-data; boundary=x")];
        for path in [
            "/storage/v1/s%33/bucket",
            "/storage/v1/%733/bucket",
            "/storage/v1/%73%33/bucket/",
            "/storage/v%31/s3/bucket",
            "/%73torage/v1/s3/bucket",
        ] {
            assert!(found("POST", path, "", &form).form_credentials, "{path}");
        }
    }

    #[test]
    fn attack_secret_in_odd_authorization_forms_is_found() {
        let service = jwt(r#"{"iss":"supabase","ref":"x","role":"service_role"}"#);
        let tab = format!("Bearer\t{service}");
        let tab2 = format!("Bearer \t{service}");
        for value in [
            "sb_secret_abc",
            "Bearer\tsb_secret_abc",
            "Token sb_secret_abc",
            service.as_str(),
            tab.as_str(),
            tab2.as_str(),
        ] {
            let h = [("authorization", value)];
            assert!(found("GET", "/auth/v1/user", "", &h).service, "{value}");
        }
    }

    #[test]
    fn api_key_places_must_agree_and_hold_a_key() {
        let p = found(
            "GET",
            "/realtime/v1/websocket",
            "apikey=sb_publishable_a",
            &[("apikey", "sb_publishable_a")],
        );
        assert_eq!(p.problem, None);
        assert_eq!(p.api_key.as_deref(), Some("sb_publishable_a"));
        let p = found(
            "GET",
            "/realtime/v1/websocket",
            "apikey=sb_publishable_a",
            &[("x-api-key", "sb_publishable_b")],
        );
        assert_eq!(p.problem.map(|e| e.code()), Some(Code::CredentialsConflict));
        let p = found("GET", "/rest/v1/x", "", &[("apikey", "garbage")]);
        let problem = p.problem.unwrap();
        assert_eq!(problem.code(), Code::ApikeyInvalid);
        assert!(problem.context().contains("header `apikey`"));
        assert!(!problem.context().contains("garbage"), "never echoed");
    }

    #[test]
    fn the_lookup_key_is_only_a_well_formed_publishable_or_anon_key() {
        let anon = jwt(r#"{"iss":"supabase","ref":"abc","role":"anon"}"#);
        let headers = [("apikey", anon.as_str())];
        let p = found("GET", "/rest/v1/x", "", &headers);
        assert_eq!(p.api_key.as_deref(), Some(anon.as_str()));
        let p = found("GET", "/rest/v1/x", "", &[("apikey", USER)]);
        assert_eq!(p.api_key, None);
        let long = format!("sb_publishable_{}", "a".repeat(70_000));
        let headers = [("apikey", long.as_str())];
        let p = found("GET", "/rest/v1/x", "", &headers);
        assert_eq!(p.api_key, None);
        assert_eq!(p.problem.map(|e| e.code()), Some(Code::ApikeyInvalid));
    }

    #[test]
    fn multipart_posts_to_the_s3_api_are_form_credentials() {
        let form = [("content-type", "Multipart/Form-Data; boundary=x")];
        assert!(found("POST", "/storage/v1/s3/bucket", "", &form).form_credentials);
        assert!(found("POST", "/storage/v1/s3", "", &form).form_credentials);
        assert!(!found("PUT", "/storage/v1/s3/bucket/k", "", &form).form_credentials);
        // Standard uploads carry their credentials in headers: not a form-credential upload.
        assert!(!found("POST", "/storage/v1/object/bucket/k", "", &form).form_credentials);
        assert!(!found("POST", "/storage/v1/s3x/bucket", "", &form).form_credentials);
        let plain = [("content-type", "application/xml")];
        assert!(!found("POST", "/storage/v1/s3/bucket", "", &plain).form_credentials);
    }

    #[test]
    fn query_values_are_decoded_leniently_like_the_services_do() {
        assert_eq!(percent_decode("a%2Bb+c"), "a+b c");
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        let vals: Vec<String> = query_values("a=1&APIKEY=x&apikey%5B%5D=y&apikeys=z&=w", "apikey")
            .into_iter()
            .map(Cow::into_owned)
            .collect();
        assert_eq!(vals, ["x", "y"]);
    }

    #[test]
    fn the_memo_is_bounded_in_entries_and_bytes() {
        let mut memo = ClassificationMemo::default();
        for i in 0..(ClassificationMemo::MAX_ENTRIES * 3) {
            let v = format!("{}.{}.c2ln", "a".repeat(8000), i);
            memo.classify(&v, MAX);
            assert!(memo.seen.len() <= ClassificationMemo::MAX_ENTRIES);
            assert!(memo.bytes <= ClassificationMemo::MAX_BYTES);
        }
        // Values over the token cap are never kept.
        memo.classify(&format!("{}.b.c", "a".repeat(MAX + 1)), MAX);
        assert!(memo.seen.keys().all(|k| k.len() <= MAX));
    }

    #[test]
    fn the_inventory_names_every_place_the_gate_reads() {
        for name in [
            "authorization",
            "apikey",
            "x-api-key",
            "sb-api-key",
            "x-amz-security-token",
        ] {
            assert!(
                INVENTORY.iter().any(|c| c.place == Place::Header(name)),
                "{name}"
            );
        }
        for name in [
            "apikey",
            "x-amz-security-token",
            "x-amz-credential",
            "x-amz-signature",
        ] {
            assert!(
                INVENTORY.iter().any(|c| c.place == Place::Query(name)),
                "{name}"
            );
        }
    }
}
