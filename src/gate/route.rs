//! Route rules: method + path pattern → requirements. First match wins; the Supabase preset comes after
//! the user's rules, and a protected fallback after everything.
//!
//! Pattern syntax: a path starting with `/`, where `*` matches any run of characters including `/`.
//! `/rest/v1/*` matches everything under `/rest/v1/`; `/graphql/v1*` matches `/graphql/v1` and below;
//! `/rest/v1/weather*` matches `/rest/v1/weather` and `/rest/v1/weather_daily`. A pattern without `*`
//! matches its path **and everything below it** (`/functions/v1/reports` also matches
//! `/functions/v1/reports/` and `/functions/v1/reports/x`, which Supabase routes to the same function),
//! so a trailing slash can never slip past a rule. Matching is case-sensitive and runs on the normalised
//! path (see [`normalize_path`]); patterns must already be in normalised form.

use super::percent::hex_pair;
use super::requirement::{AalRequirement, AuthRequirement, ClaimPredicate};

/// Names of HTTP methods (what a route may list, and what logs name as they are).
pub const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// A compiled path pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    parts: Vec<String>,
}

impl PathPattern {
    /// Compiles a pattern; the error says what is wrong.
    pub fn parse(source: &str) -> Result<Self, String> {
        if !source.starts_with('/') {
            return Err("must start with `/`".into());
        }
        if !source.bytes().all(|b| b.is_ascii_graphic()) || source.contains(['?', '#', '\\']) {
            return Err("must be a path without spaces, query (`?`) or fragment (`#`)".into());
        }
        if source.contains("**") {
            return Err("`**` is not needed: `*` already matches across `/`".into());
        }
        // A pattern that normalisation would change could never match a request path.
        match normalize_path(source) {
            Ok(normal) if normal == source => {}
            _ => {
                return Err(
                    "must be a normalised path: no `%`-escapes of letters or digits, no `.`/`..` segments, no `//`"
                        .into(),
                )
            }
        }
        Ok(PathPattern {
            source: source.to_owned(),
            parts: source.split('*').map(str::to_owned).collect(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Glob match: literal parts in order, `*` between them matching anything.
    pub fn matches(&self, path: &str) -> bool {
        if let [exact] = self.parts.as_slice() {
            return match path.strip_prefix(exact.as_str()) {
                Some(rest) => rest.is_empty() || rest.starts_with('/') || exact.ends_with('/'),
                None => false,
            };
        }
        let (first, rest) = self
            .parts
            .split_first()
            .expect("split yields at least one part");
        let Some(mut remaining) = path.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return remaining.is_empty();
        };
        for part in middle {
            match remaining.find(part.as_str()) {
                Some(at) => remaining = &remaining[at + part.len()..],
                None => return false,
            }
        }
        remaining.ends_with(last.as_str())
    }
}

/// One route's requirements.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteRule {
    /// Shown in logs and `explain`.
    pub name: String,
    /// The path pattern.
    pub pattern: PathPattern,
    /// Upper-case methods; empty means any. A rule listing GET also matches HEAD.
    pub methods: Vec<String>,
    /// Whether a user is needed.
    pub auth: AuthRequirement,
    /// Assurance level needed.
    pub aal: AalRequirement,
    /// MFA recency in seconds (newest `totp`/`mfa/phone`/`mfa/webauthn` in `amr`).
    pub max_age: Option<u64>,
    /// Allowed `role` claim values.
    pub roles: Vec<String>,
    /// Whether `service_role` tokens and secret API keys may pass.
    pub allow_service_keys: bool,
    /// Whether multipart POSTs to Storage's S3 API (POST-policy uploads, whose credentials travel in
    /// the form body the gate does not read) may pass.
    pub allow_form_credentials: bool,
    /// Largest `now - iat` in seconds.
    pub max_token_age: Option<u64>,
    /// Allowed issuers (empty: every configured issuer).
    pub issuers: Vec<String>,
    /// Predicates on trusted claims.
    pub claims: Vec<ClaimPredicate>,
}

impl RouteRule {
    /// A data route: anonymous passes, a user token must be valid and meet `aal`.
    pub fn protected(name: &str, aal: AalRequirement) -> Self {
        RouteRule {
            name: name.to_owned(),
            pattern: PathPattern::parse("/*").expect("static pattern"),
            methods: Vec::new(),
            auth: AuthRequirement::Optional,
            aal,
            max_age: None,
            roles: vec!["authenticated".to_owned(), "anon".to_owned()],
            allow_service_keys: false,
            allow_form_credentials: false,
            max_token_age: None,
            issuers: Vec::new(),
            claims: Vec::new(),
        }
    }

    fn with(mut self, pattern: &str, methods: &[&str]) -> Self {
        self.pattern = PathPattern::parse(pattern).expect("static pattern");
        self.methods = methods.iter().map(|m| (*m).to_owned()).collect();
        self
    }

    /// A service role's scope: only `pattern` and `methods` matter (see `GateConfig::service_roles`).
    pub fn scope(role: &str, pattern: PathPattern, methods: Vec<String>) -> Self {
        RouteRule {
            pattern,
            methods,
            ..RouteRule::protected(&format!("service:{role}"), AalRequirement::Any)
        }
    }

    fn exempt(name: &str, pattern: &str, methods: &[&str]) -> Self {
        RouteRule {
            auth: AuthRequirement::None,
            aal: AalRequirement::Any,
            ..RouteRule::protected(name, AalRequirement::Any).with(pattern, methods)
        }
    }

    /// Whether this rule applies to `method` on the normalised `path`.
    pub fn applies(&self, method: &str, path: &str) -> bool {
        let method_ok = self.methods.is_empty()
            || self
                .methods
                .iter()
                .any(|m| m == method || (method == "HEAD" && m == "GET"));
        method_ok && self.pattern.matches(path)
    }
}

/// The Supabase preset: Auth, public Storage and the gate's own paths exempt, every data API guarded
/// by `default_aal`; appended after user routes.
pub fn supabase_preset(data_aal: AalRequirement) -> Vec<RouteRule> {
    let data = |name: &str, pattern: &str| RouteRule::protected(name, data_aal).with(pattern, &[]);
    let service_only = |path: &str| {
        RouteRule::protected("supabase:auth-admin", AalRequirement::Any).with(path, &[])
    };
    vec![
        // Auth's admin API takes only service credentials: refused here as everywhere unless a user rule
        // allows them. (User tokens are verified and passed; Auth itself refuses them.)
        service_only("/auth/v1/admin"),
        service_only("/auth/v1/invite"),
        // Everything MFA itself needs (refresh, /user, factors, challenge, verify, logout) is under
        // /auth/v1 and must work at aal1. (An exact pattern also covers everything below it.)
        RouteRule::exempt("supabase:auth", "/auth/v1", &[]),
        // Public buckets and signed URLs carry no user token (a signed URL's `?token=` is Storage's own).
        // Only reads: a write to `/object/public/…` is an upload into a bucket named "public".
        RouteRule::exempt(
            "supabase:storage-public",
            "/storage/v1/object/public/*",
            &["GET"],
        ),
        RouteRule::exempt(
            "supabase:storage-public",
            "/storage/v1/render/image/public/*",
            &["GET"],
        ),
        RouteRule::exempt(
            "supabase:storage-signed-url",
            "/storage/v1/object/sign/*",
            &["GET"],
        ),
        RouteRule::exempt(
            "supabase:storage-signed-url",
            "/storage/v1/render/image/sign/*",
            &["GET"],
        ),
        RouteRule::exempt(
            "supabase:storage-signed-upload",
            "/storage/v1/object/upload/sign/*",
            &["PUT"],
        ),
        data("supabase:rest", "/rest/v1/*"),
        data("supabase:graphql", "/graphql/v1*"),
        data("supabase:functions", "/functions/v1/*"),
        data("supabase:storage", "/storage/v1/*"),
        data("supabase:realtime", "/realtime/v1/*"),
    ]
}

/// Normalises a request path for matching, refusing forms that different servers read differently.
///
/// Percent-encoded unreserved characters are decoded (`/rest/v1/%61dmin` is `/rest/v1/admin` to
/// PostgREST, so it must be to us), and then dot segments, empty segments, encoded `/` or `\`,
/// backslashes and control characters are refused: a gate that matched `/auth/v1/../rest/v1/x` as an
/// Auth path would forward a data request unchecked.
pub fn normalize_path(raw: &str) -> Result<String, &'static str> {
    if !raw.starts_with('/') {
        return Err("path must start with `/`");
    }
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .ok_or("truncated percent-encoding")?;
                let value = hex_pair(hex).ok_or("invalid percent-encoding")?;
                if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
                    out.push(value as char);
                } else if matches!(value, b'/' | b'\\') || value < 0x20 || value == 0x7f {
                    return Err("encoded `/`, `\\` or control character in path");
                } else {
                    out.push('%');
                    out.push_str(&raw[i + 1..i + 3].to_ascii_uppercase());
                }
                i += 3;
            }
            b'\\' => return Err("backslash in path"),
            b'?' | b'#' => return Err("`?` or `#` in path (the query is not part of the path)"),
            _ if b < 0x21 || b == 0x7f => return Err("space or control character in path"),
            _ => {
                out.push(b as char);
                i += 1;
            }
        }
    }
    if !out.is_ascii() {
        return Err("non-ASCII byte in path");
    }
    let segments: Vec<&str> = out[1..].split('/').collect();
    let last = segments.len() - 1;
    for (n, seg) in segments.iter().enumerate() {
        if *seg == "." || *seg == ".." {
            return Err("dot segment in path");
        }
        if seg.is_empty() && n != last {
            return Err("empty segment (`//`) in path");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        let p = PathPattern::parse("/rest/v1/*").unwrap();
        assert!(p.matches("/rest/v1/"));
        assert!(p.matches("/rest/v1/todos"));
        assert!(p.matches("/rest/v1/rpc/x/y"));
        assert!(!p.matches("/rest/v1"));
        assert!(!p.matches("/rest/v2/todos"));
        let g = PathPattern::parse("/graphql/v1*").unwrap();
        assert!(g.matches("/graphql/v1"));
        assert!(g.matches("/graphql/v1/"));
        let w = PathPattern::parse("/rest/v1/weather*").unwrap();
        assert!(w.matches("/rest/v1/weather_daily"));
        assert!(!w.matches("/rest/v1/weath"));
        let exact = PathPattern::parse("/rest/v1/profiles").unwrap();
        assert!(exact.matches("/rest/v1/profiles"));
        assert!(!exact.matches("/rest/v1/profiles2"));
        let mid = PathPattern::parse("/storage/v1/object/*/private/*").unwrap();
        assert!(mid.matches("/storage/v1/object/bucket/private/a.png"));
        assert!(!mid.matches("/storage/v1/object/bucket/public/a.png"));
        let ends = PathPattern::parse("/functions/v1/*-admin").unwrap();
        assert!(ends.matches("/functions/v1/billing-admin"));
        assert!(!ends.matches("/functions/v1/billing-admin/x"));
    }

    #[test]
    fn exact_patterns_cover_the_path_below_them() {
        let p = PathPattern::parse("/functions/v1/reports").unwrap();
        assert!(p.matches("/functions/v1/reports"));
        assert!(p.matches("/functions/v1/reports/"));
        assert!(p.matches("/functions/v1/reports/x/y"));
        assert!(!p.matches("/functions/v1/reportsx"));
        assert!(!p.matches("/functions/v1/report"));
    }

    #[test]
    fn patterns_must_be_normalised() {
        for bad in [
            "/rest/v1/%61dmin",
            "/rest/v1//x",
            "/rest/v1/../x",
            "/rest/./v1",
            "/rest/v1/%2fx",
        ] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
        assert!(PathPattern::parse("/rest/v1/a%20b").is_ok());
    }

    #[test]
    fn pattern_errors() {
        assert!(PathPattern::parse("rest/v1/*").is_err());
        assert!(PathPattern::parse("/rest/v1/*?x").is_err());
        assert!(PathPattern::parse("/rest/ v1").is_err());
        assert!(PathPattern::parse("/rest/**").is_err());
    }

    #[test]
    fn normalisation_decodes_unreserved_and_refuses_ambiguity() {
        assert_eq!(
            normalize_path("/rest/v1/%61dmin").unwrap(),
            "/rest/v1/admin"
        );
        assert_eq!(normalize_path("/rest/v1/a%20b").unwrap(), "/rest/v1/a%20b");
        assert_eq!(normalize_path("/rest/v1/").unwrap(), "/rest/v1/");
        // Attack: a signed escape is no escape (read as byte 0x0A it would be judged a control byte
        // that the upstream never sees).
        assert_eq!(
            normalize_path("/rest/v1/%+A"),
            Err("invalid percent-encoding")
        );
        for bad in [
            "/auth/v1/../rest/v1/x",
            "/auth/v1/%2e%2e/rest/v1/x",
            "/auth/v1/.%2E/rest/v1/x",
            "/auth/v1/./x",
            "/auth/v1%2frest",
            "/auth/v1%5Crest",
            "/auth\\v1",
            "//auth/v1/x",
            "/rest//v1",
            "/rest/v1/%",
            "/rest/v1/%zz",
            "/rest/v1/%+A",
            "/rest/v1/%00",
            "/rest/v1/\u{e9}",
            "rest/v1",
            "/rest/v1/a b",
        ] {
            assert!(normalize_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn head_matches_get_rules() {
        let r = RouteRule::exempt("x", "/storage/v1/object/sign/*", &["GET"]);
        assert!(r.applies("HEAD", "/storage/v1/object/sign/b/f"));
        assert!(!r.applies("POST", "/storage/v1/object/sign/b/f"));
    }
}
