//! The `service_roles` section: backend services' own roles, their scopes and lifetimes.

use super::check;
use super::doc::ServiceRoleDoc;
use crate::error::ConfigError;
use crate::gate::route::{PathPattern, RouteRule};
use crate::service_role::{plain_role_name, reserved_role, ServiceRole};

pub(super) fn service_roles(
    docs: Vec<ServiceRoleDoc>,
    user_max_lifetime: u64,
    issuers: &[String],
) -> Result<Vec<ServiceRole>, ConfigError> {
    let mut out: Vec<ServiceRole> = Vec::new();
    for (i, d) in docs.into_iter().enumerate() {
        let field = |name: &str| format!("service_roles[{i}].{name}");
        if !plain_role_name(&d.role) || reserved_role(&d.role) {
            return Err(ConfigError::new(
                field("role"),
                "must be a plain lower-case role name of your own (not anon, authenticated, service_role or a Supabase role)",
            ));
        }
        if out.iter().any(|s| s.role == d.role) {
            return Err(ConfigError::new(field("role"), "is listed twice"));
        }
        if d.routes.is_empty() {
            return Err(ConfigError::new(
                field("routes"),
                "must list at least one path (a role with no routes could go nowhere)",
            ));
        }
        let mut scopes = Vec::new();
        for (j, s) in d.routes.into_iter().enumerate() {
            let pattern = PathPattern::parse(&s.path)
                .map_err(|p| ConfigError::new(format!("service_roles[{i}].routes[{j}].path"), p))?;
            let methods = check::methods(
                s.methods,
                &format!("service_roles[{i}].routes[{j}].methods"),
            )?;
            scopes.push(RouteRule::scope(&d.role, pattern, methods));
        }
        let max_lifetime = match d.max_lifetime {
            None => user_max_lifetime,
            Some(v) if (1..=31_536_000).contains(&v) => v,
            Some(_) => {
                return Err(ConfigError::new(
                    field("max_lifetime"),
                    "must be 1..=31536000 (one year)",
                ))
            }
        };
        let subs = d.subs.unwrap_or_default();
        if let Some(k) = subs.iter().position(String::is_empty) {
            return Err(ConfigError::new(
                format!("service_roles[{i}].subs[{k}]"),
                "is empty",
            ));
        }
        let role_issuers = match d.issuers {
            None => vec![issuers[0].clone()],
            Some(list) => {
                if list.is_empty() {
                    return Err(ConfigError::new(field("issuers"), "must not be empty"));
                }
                if let Some(k) = list.iter().position(|i| !issuers.contains(i)) {
                    return Err(ConfigError::new(
                        format!("service_roles[{i}].issuers[{k}]"),
                        "is not a configured issuer",
                    ));
                }
                list
            }
        };
        // `supabase gen bearer-jwt` tokens have no `iss`: only the project's own keys can vouch for them.
        if d.accept_cli_tokens && !role_issuers.contains(&issuers[0]) {
            return Err(ConfigError::new(
                field("accept_cli_tokens"),
                "needs the project's own issuer in `issuers` (tokens without `iss` are accepted only when signed by the project's keys)",
            ));
        }
        out.push(ServiceRole {
            role: d.role,
            scopes,
            max_lifetime,
            subs,
            issuers: role_issuers,
            accept_cli_tokens: d.accept_cli_tokens,
        });
    }
    Ok(out)
}
