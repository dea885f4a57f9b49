//! Backend services' own Postgres roles (tokens from `aalgate mint --role …`): the rules a role name
//! must follow, where its tokens may go, how long they may live, which claims a minted token may not
//! be given, and the SQL that creates a role (every name checked and quoted, never pasted). The CLI
//! only does the I/O around these rules.

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
    /// Accept this role's tokens without `iss` and `aud` (as `supabase gen bearer-jwt` mints them)
    /// when one of the project's own keys signed them. Default: false.
    pub accept_cli_tokens: bool,
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

/// Longest `mint` lifetime without `--allow-long-lived`: the gate's default `tokens.max_lifetime`.
pub const MINT_LIFETIME_CAP: u64 = 86_400;

/// Claims `mint` sets itself (by flags), and claims that speak for a user's sign-in: never `--claim`.
pub const MINT_RESERVED_CLAIMS: [&str; 13] = [
    "role",
    "sub",
    "iat",
    "exp",
    "iss",
    "aud",
    "nbf",
    "aal",
    "amr",
    "session_id",
    "is_anonymous",
    "mfa_enrolled",
    "acr",
];
/// Largest `exp` JSON numbers carry exactly (2^53 − 1).
pub const MAX_EXP: u64 = (1 << 53) - 1;

/// A plain lower-case SQL name, quoted.
pub fn ident(s: &str) -> Result<String, String> {
    if plain_role_name(s) {
        Ok(format!("\"{s}\""))
    } else {
        Err(format!("{s:?} is not a plain lower-case SQL name"))
    }
}

/// Schemas Supabase manages: a service role gets nothing there from a template.
pub fn managed_schema(schema: &str) -> bool {
    const MANAGED: [&str; 14] = [
        "auth",
        "storage",
        "vault",
        "realtime",
        "extensions",
        "pgsodium",
        "pgsodium_masks",
        "graphql",
        "graphql_public",
        "net",
        "supabase_functions",
        "supabase_migrations",
        "cron",
        "pgbouncer",
    ];
    MANAGED.contains(&schema) || schema.starts_with("pg_") || schema == "information_schema"
}

/// A schema a template may grant on (not one Supabase manages), quoted.
pub fn schema_name(schema: &str) -> Result<String, String> {
    if managed_schema(schema) {
        return Err(format!("schema {schema:?} is managed by Supabase"));
    }
    ident(schema)
}

/// `schema.object` (default schema `public`), each part checked and quoted.
pub fn qualified(name: &str) -> Result<String, String> {
    let (schema, object) = name.split_once('.').unwrap_or(("public", name));
    Ok(format!("{}.{}", schema_name(schema)?, ident(object)?))
}

/// One `--grant` as SQL. Parsed, not pasted: every name is checked and quoted, every privilege comes
/// from the list that fits the object kind.
pub fn grant_sql(grant: &str, role: &str) -> Result<String, String> {
    let bad = |why: &str| format!("--grant {grant:?}: {why}");
    let lower = grant.trim().to_ascii_lowercase();
    let (privs, target) = lower
        .split_once(" on ")
        .ok_or_else(|| bad("expected `<privileges> on <object>`"))?;
    let target = target.trim();
    let (kind, object) = match target.split_once(' ') {
        Some((k @ ("table" | "sequence" | "function" | "schema"), rest)) => (k, rest.trim()),
        _ => ("table", target),
    };
    let allowed: &[&str] = match kind {
        // Not truncate (it ignores row level security), references or trigger.
        "table" => &["select", "insert", "update", "delete"],
        "sequence" => &["usage", "select", "update"],
        "function" => &["execute"],
        _ => &["usage"],
    };
    let privs: Vec<&str> = privs.split(',').map(str::trim).collect();
    if let Some(p) = privs.iter().find(|p| !allowed.contains(p)) {
        return Err(bad(&format!(
            "`{p}` is not a {kind} privilege here ({})",
            allowed.join(", ")
        )));
    }
    let object = match kind {
        "function" => {
            let (name, args) = object
                .strip_suffix(')')
                .and_then(|o| o.split_once('('))
                .ok_or_else(|| bad("a function needs its argument types: public.f(int, text)"))?;
            let types = args
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| {
                    let plain = t.split(' ').all(|w| {
                        !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    }) || t.ends_with("[]")
                        && t[..t.len() - 2]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if plain {
                        Ok(t.to_owned())
                    } else {
                        Err(bad(&format!("argument type {t:?}")))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            format!(
                "function {}({})",
                qualified(name.trim()).map_err(|e| bad(&e))?,
                types.join(", ")
            )
        }
        "schema" => format!("schema {}", schema_name(object).map_err(|e| bad(&e))?),
        k => format!("{k} {}", qualified(object).map_err(|e| bad(&e))?),
    };
    Ok(format!("grant {} on {object} to {role};", privs.join(", ")))
}
