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

mod classify;
mod inventory;
mod query;
#[cfg(test)]
mod tests;

pub use classify::{bearer, classify, Bearer, Class, ClassificationMemo, MAX_API_KEY_BYTES};
pub use inventory::{Channel, Place, INVENTORY, S3_PATH};

use classify::{secret_anywhere, unwrap_cow};
use query::query_pairs;
pub(crate) use query::query_values;

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

/// The values of a header and of a query parameter, each with the place it came from (for messages).
pub(crate) fn values<'r>(
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
