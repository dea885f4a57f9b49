//! Route requirements applied to a verified token (after the token is verified: the pipeline's access, service-role and assurance steps). Runs on every request, cached
//! token or not: a policy can change, and `max_age`/`max_token_age` depend on `now`.

use super::enrollment::settings::{EnrollmentConfig, Fallback};
use super::requirement::{AalRequirement, ClaimPredicate, ClaimTest};
use super::route::RouteRule;
use crate::claims::{Aal, Claims};
use crate::error::{Code, Error};
use crate::service_role::ServiceRole;
use crate::verify::VerifiedToken;

/// What the policy needs of the configuration (and nothing else of it).
#[derive(Clone, Copy, Debug)]
pub struct Limits<'a> {
    /// Largest `exp − iat` of tokens that are not service-role tokens.
    pub user_max_lifetime: u64,
    /// Allowed clock skew in seconds.
    pub leeway: u64,
    /// The enrollment settings (`when_unknown`, the claim's name).
    pub enrollment: &'a EnrollmentConfig,
}

/// What the policy learned, for logs and `explain`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The enrollment fact, when a rule needed it and the token carried it.
    pub enrolled: Option<bool>,
}

fn predicate_holds(claims: &Claims, p: &ClaimPredicate) -> bool {
    let Some(value) = claims.at(&p.path) else {
        return false;
    };
    match &p.test {
        ClaimTest::Equals(want) => value == want,
        ClaimTest::OneOf(list) => list.contains(value),
        ClaimTest::Contains(want) => value.as_array().is_some_and(|a| a.contains(want)),
    }
}

/// Whether deciding `rule` for these claims needs the enrollment fact: only an aal1 token on an
/// `aal2_if_enrolled` route (an aal2 token passes whatever the fact).
pub fn needs_enrollment(rule: &RouteRule, claims: &Claims) -> bool {
    rule.aal == AalRequirement::Aal2IfEnrolled && claims.aal < Aal::Aal2
}

/// `exp - iat` at most `max`; `too_long` says which setting was exceeded (called only on refusal).
fn lifetime_within(
    claims: &Claims,
    max: u64,
    too_long: impl FnOnce() -> String,
) -> Result<(), Error> {
    match (claims.iat, claims.exp) {
        (Some(iat), Some(exp)) if exp.saturating_sub(iat) > max => {
            Err(Error::new(Code::LifetimeTooLong, too_long()))
        }
        _ => Ok(()),
    }
}

/// A service role's token: allowed only within its scopes (method and path), for its `sub`s, within
/// its lifetime. The route's own rules (roles, aal, enrollment) are for users and do not apply.
pub fn check_service(
    service: &ServiceRole,
    method: &str,
    path: &str,
    token: &VerifiedToken,
) -> Result<(), Error> {
    let claims = token.claims();
    match &claims.iss {
        Some(iss) if service.issuers.contains(iss) => {}
        // Validation let it through without `iss` only for `issuerless_roles` signed by the project's
        // keys; the role must still say so itself.
        None if service.accept_cli_tokens => {}
        None => {
            return Err(Error::new(
                Code::ClaimMissing,
                format!(
                    "role `{}`: the token has no `iss` (set accept_cli_tokens = true for this service role to accept `supabase gen bearer-jwt` tokens)",
                    service.role
                ),
            ))
        }
        Some(_) => {
            return Err(Error::new(
                Code::IssuerForbidden,
                format!("role `{}` is not accepted from this issuer", service.role),
            ))
        }
    }
    if !service.scopes.iter().any(|s| s.applies(method, path)) {
        return Err(Error::new(
            Code::RoleForbidden,
            format!("role `{}` may not {method} this path", service.role),
        ));
    }
    if !service.subs.is_empty()
        && !claims
            .sub
            .as_ref()
            .is_some_and(|s| service.subs.contains(s))
    {
        return Err(Error::new(
            Code::RoleForbidden,
            format!("this `sub` may not use role `{}`", service.role),
        ));
    }
    lifetime_within(claims, service.max_lifetime, || {
        format!(
            "role `{}`: the token lives longer than its max_lifetime ({} s)",
            service.role, service.max_lifetime
        )
    })
}

/// The route's access rules that need no enrollment fact (role, issuer, token age, claims, lifetime).
/// Checked first, so a request they refuse never causes an Auth lookup.
pub fn check_access(
    rule: &RouteRule,
    token: &VerifiedToken,
    cfg: &Limits<'_>,
    now: u64,
) -> Result<(), Error> {
    let claims = token.claims();
    // Service roles may have longer lifetimes; everyone else keeps `tokens.max_lifetime`.
    lifetime_within(claims, cfg.user_max_lifetime, || {
        format!(
            "the token lives longer than tokens.max_lifetime ({} s)",
            cfg.user_max_lifetime
        )
    })?;
    let role = claims.role.as_deref().unwrap_or("");

    if role == "service_role" {
        if !rule.allow_service_keys {
            return Err(Error::new(
                Code::ServiceKeyForbidden,
                "service_role tokens are not allowed on this route",
            ));
        }
    } else if !rule.roles.iter().any(|r| r == role) {
        return Err(Error::new(
            Code::RoleForbidden,
            format!("route `{}` does not allow this role", rule.name),
        ));
    }

    if !rule.issuers.is_empty() {
        let iss = claims.iss.as_deref().unwrap_or("");
        if !rule.issuers.iter().any(|i| i == iss) {
            return Err(Error::new(
                Code::IssuerForbidden,
                format!("route `{}` does not accept this issuer", rule.name),
            ));
        }
    }

    if let Some(max) = rule.max_token_age {
        let iat = claims.iat.ok_or_else(|| {
            Error::new(Code::ClaimMissing, "claim `iat` is required by this route")
        })?;
        if now.saturating_sub(iat) > max {
            return Err(Error::new(
                Code::TokenTooOld,
                format!("route `{}` accepts tokens at most {max} s old", rule.name),
            ));
        }
    }

    if let Some(failed) = rule.claims.iter().find(|p| !predicate_holds(claims, p)) {
        return Err(Error::new(
            Code::ClaimForbidden,
            format!(
                "route `{}` requires claim `{}`",
                rule.name,
                failed.path.join(".")
            ),
        ));
    }

    Ok(())
}

/// The route's assurance rules (`aal`, `max_age`) after [`check_access`]. `enrolled` is the
/// enrollment fact when [`needs_enrollment`] (from [`super::enrollment`]); `None`: nobody could tell.
pub fn check_assurance(
    rule: &RouteRule,
    token: &VerifiedToken,
    cfg: &Limits<'_>,
    enrolled: Option<bool>,
    now: u64,
) -> (Result<(), Error>, Facts) {
    let mut facts = Facts::default();
    let result = assurance(rule, token, cfg, enrolled, now, &mut facts);
    (result, facts)
}

fn assurance(
    rule: &RouteRule,
    token: &VerifiedToken,
    cfg: &Limits<'_>,
    enrolled: Option<bool>,
    now: u64,
    facts: &mut Facts,
) -> Result<(), Error> {
    let claims = token.claims();
    let at_least_aal2 = claims.aal >= Aal::Aal2;
    match rule.aal {
        AalRequirement::Any => {}
        AalRequirement::Aal2 if !at_least_aal2 => {
            return Err(Error::new(
                Code::Aal2Required,
                format!("route `{}` requires aal2", rule.name),
            ));
        }
        AalRequirement::Aal2 => {}
        AalRequirement::Aal2IfEnrolled => {
            // An aal2 token passes whatever the enrollment fact: no need to know it.
            if !at_least_aal2 {
                facts.enrolled = enrolled;
                let enrolled = match (enrolled, cfg.enrollment.when_unknown) {
                    (Some(known), _) => known,
                    (None, Fallback::TreatAsEnrolled) => true,
                    (None, Fallback::TreatAsNotEnrolled) => false,
                    (None, Fallback::Refuse) => {
                        return Err(Error::new(
                            Code::EnrollmentUnknown,
                            format!(
                                "the token has no boolean `{}` claim and Auth cannot be asked; install the aalgate hook (sql/) or set enrollment.when_unknown",
                                cfg.enrollment.claim.join(".")
                            ),
                        ));
                    }
                };
                if enrolled {
                    return Err(Error::new(
                        Code::Aal2Required,
                        "the user has a verified MFA factor and the token is aal1",
                    ));
                }
            }
        }
    }

    if let Some(max_age) = rule.max_age {
        let recent = at_least_aal2
            && claims.newest_mfa_at().is_some_and(|at| {
                at <= now.saturating_add(cfg.leeway) && now.saturating_sub(at) <= max_age
            });
        if !recent {
            return Err(Error::mfa_recency(max_age));
        }
    }
    Ok(())
}
