//! The `routes` section: each rule validated into a [`RouteRule`], and the check that the table
//! never locks users out of completing MFA.

use super::check;
use super::doc::RouteDoc;
use crate::error::ConfigError;
use crate::gate::requirement::{AalRequirement, AuthRequirement, ClaimPredicate, ClaimTest};
use crate::gate::route::{PathPattern, RouteRule};
use crate::service_role::ServiceRole;

/// The user's route rules in order.
pub(super) fn routes(
    docs: Vec<RouteDoc>,
    default_aal: AalRequirement,
    issuers: &[String],
    service_roles: &[ServiceRole],
) -> Result<Vec<RouteRule>, ConfigError> {
    let mut routes = Vec::new();
    for (i, r) in docs.into_iter().enumerate() {
        let rule = route(r, i, default_aal, issuers)?;
        // A route naming a service role in `roles` would never apply to it (its scopes decide).
        if let Some(role) = rule
            .roles
            .iter()
            .find(|role| service_roles.iter().any(|s| &s.role == *role))
        {
            return Err(ConfigError::new(
                format!("routes[{i}].roles"),
                format!(
                    "names the service role `{role}`, whose access its `service_roles` scopes set"
                ),
            ));
        }
        routes.push(rule);
    }
    Ok(routes)
}

fn route(
    r: RouteDoc,
    i: usize,
    default_aal: AalRequirement,
    issuers: &[String],
) -> Result<RouteRule, ConfigError> {
    let field = |name: &str| format!("routes[{i}].{name}");
    let pattern = PathPattern::parse(&r.path).map_err(|p| ConfigError::new(field("path"), p))?;
    let methods = check::methods(r.methods, &field("methods"))?;
    let aal = r.aal.unwrap_or(default_aal);
    // A rule that asks for aal2 or recent MFA means "a user must be there", unless it says otherwise.
    let auth = r
        .auth
        .unwrap_or(if aal == AalRequirement::Aal2 || r.max_age.is_some() {
            AuthRequirement::Required
        } else {
            AuthRequirement::Optional
        });
    if auth == AuthRequirement::None
        && (r.aal.is_some()
            || r.max_age.is_some()
            || r.roles.is_some()
            || !r.claims.is_empty()
            || r.max_token_age.is_some())
    {
        return Err(ConfigError::new(
            field("auth"),
            "is \"none\" (nothing checked) but the route also sets requirements",
        ));
    }
    if r.max_age == Some(0) {
        return Err(ConfigError::new(field("max_age"), "must be positive"));
    }
    if r.max_token_age == Some(0) {
        return Err(ConfigError::new(field("max_token_age"), "must be positive"));
    }
    let roles = match r.roles {
        None => vec!["authenticated".to_owned(), "anon".to_owned()],
        Some(roles) => {
            if roles.is_empty() || roles.iter().any(String::is_empty) {
                return Err(ConfigError::new(
                    field("roles"),
                    "must be a non-empty list of role names",
                ));
            }
            if roles.iter().any(|r| r == "service_role") {
                return Err(ConfigError::new(
                    field("roles"),
                    "cannot list service_role; set allow_service_keys = true",
                ));
            }
            roles
        }
    };
    let route_issuers = match r.issuers {
        None => Vec::new(),
        Some(list) => {
            if let Some(bad) = list.iter().position(|iss| !issuers.contains(iss)) {
                return Err(ConfigError::new(
                    format!("routes[{i}].issuers[{bad}]"),
                    "is not a configured issuer (the Supabase issuer or keys.extra_issuers)",
                ));
            }
            list
        }
    };
    let mut claims = Vec::new();
    for (j, c) in r.claims.into_iter().enumerate() {
        let cf = format!("routes[{i}].claims[{j}]");
        let path = check::trusted_claim_path(&c.claim, &format!("{cf}.claim"))?;
        let test = match (c.equals, c.one_of, c.contains) {
            (Some(v), None, None) => ClaimTest::Equals(v),
            (None, Some(list), None) if !list.is_empty() => ClaimTest::OneOf(list),
            (None, Some(_), None) => {
                return Err(ConfigError::new(
                    format!("{cf}.one_of"),
                    "must not be empty",
                ))
            }
            (None, None, Some(v)) => ClaimTest::Contains(v),
            _ => {
                return Err(ConfigError::new(
                    cf,
                    "give exactly one of `equals`, `one_of`, `contains`",
                ))
            }
        };
        claims.push(ClaimPredicate { path, test });
    }
    Ok(RouteRule {
        name: r.name.unwrap_or_else(|| format!("routes[{i}]")),
        pattern,
        methods,
        auth,
        aal,
        max_age: r.max_age,
        roles,
        allow_service_keys: r.allow_service_keys,
        allow_form_credentials: r.allow_form_credentials,
        max_token_age: r.max_token_age,
        issuers: route_issuers,
        claims,
    })
}

/// Requests every MFA flow needs at aal1 (refresh, read the user, enroll, challenge, verify, log out).
const MFA_PROBES: [(&str, &str); 6] = [
    ("POST", "/auth/v1/token"),
    ("GET", "/auth/v1/user"),
    ("POST", "/auth/v1/factors"),
    (
        "POST",
        "/auth/v1/factors/00000000-0000-4000-8000-000000000000/challenge",
    ),
    (
        "POST",
        "/auth/v1/factors/00000000-0000-4000-8000-000000000000/verify",
    ),
    ("POST", "/auth/v1/logout"),
];

/// Refuses a route table in which a rule checks tokens on `/auth/v1` before it is exempted: users could
/// then never complete MFA (and an expired token could never be refreshed).
pub(super) fn check_mfa_reachable(routes: &[RouteRule], preset: bool) -> Result<(), ConfigError> {
    for (method, path) in MFA_PROBES {
        match routes.iter().position(|r| r.applies(method, path)) {
            Some(i) if routes[i].auth == AuthRequirement::None => {}
            Some(i) => {
                let field = if routes[i].name.starts_with("supabase:") {
                    "routes".to_owned()
                } else {
                    format!("routes[{i}]")
                };
                return Err(ConfigError::new(
                    field,
                    format!("rule `{}` checks tokens on {method} {path}; /auth/v1 must stay reachable at aal1 or users cannot complete MFA (add a rule with auth = \"none\" for /auth/v1 before it)", routes[i].name),
                ));
            }
            None if !preset => {
                return Err(ConfigError::new(
                    "preset",
                    format!("is false and no rule exempts {method} {path}; add a rule `path = \"/auth/v1\"`, `auth = \"none\"`"),
                ));
            }
            None => {}
        }
    }
    Ok(())
}
