//! Backend services' own Postgres roles (tokens from `aalgate mint --role …`): the rules a role name
//! must follow, where its tokens may go, and how long they may live.

use crate::gate::route::RouteRule;

/// A backend service's own Postgres role (tokens from `aalgate mint --role …`): where its tokens may
/// go, how long they may live, and which `sub`s may carry it.
#[derive(Clone, Debug)]
pub struct ServiceRole {
    /// The `role` claim.
    pub role: String,
    /// Method + path scopes (as route rules; only their pattern and methods are used).
    pub scopes: Vec<RouteRule>,
    /// Largest `exp − iat` for this role's tokens.
    pub max_lifetime: u64,
    /// Accepted `sub` values; empty: any.
    pub subs: Vec<String>,
    /// Issuers whose tokens may carry this role (default: the project's own only, so a token of an
    /// extra issuer can never claim a service role).
    pub issuers: Vec<String>,
}

/// Roles Supabase owns or PostgREST relies on: never a service role of ours.
pub(crate) fn reserved_role(name: &str) -> bool {
    const NAMES: [&str; 7] = [
        "postgres",
        "anon",
        "authenticated",
        "authenticator",
        "service_role",
        "dashboard_user",
        "pgbouncer",
    ];
    NAMES.contains(&name) || name.starts_with("supabase") || name.starts_with("pg_")
}

/// A plain lower-case SQL name (what `aalgate sql role` creates).
pub(crate) fn plain_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
