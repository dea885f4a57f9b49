//! The `exchange` section: identity providers whose tokens the gate exchanges for project tokens.

use super::check;
use crate::alg::{Algorithm, AlgorithmSet};
use crate::error::ConfigError;
use crate::exchange::settings::{
    ClaimMap, ExchangeConfig, Provider, DEFAULT_KEY_SETTING, DEFAULT_PATH,
};
use crate::validation::Validation;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExchangeDoc {
    pub(super) path: Option<String>,
    pub(super) signing_key_env: Option<String>,
    pub(super) signing_key_file: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) max_lifetime: Option<u64>,
    #[serde(default)]
    pub(super) providers: Vec<ProviderDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProviderDoc {
    pub(super) issuer: String,
    pub(super) jwks_url: Option<String>,
    pub(super) jwks: Option<Value>,
    pub(super) jwk: Option<Value>,
    public_key_pem: Option<String>,
    /// The `kid` the IdP puts on its tokens, for a `public_key_pem` key.
    pub(super) kid: Option<String>,
    pub(super) audiences: Vec<String>,
    pub(super) algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub(super) claims: ClaimMapDoc,
    #[serde(default)]
    pub(super) aal2_when: Aal2WhenDoc,
    #[serde(default)]
    pub(super) require_mfa: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClaimMapDoc {
    pub(super) sub: Option<String>,
    pub(super) email: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) tenant: Option<String>,
    #[serde(default)]
    pub(super) app_metadata: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Aal2WhenDoc {
    #[serde(default)]
    pub(super) acr: Vec<String>,
    #[serde(default)]
    pub(super) amr: Vec<String>,
}

/// `issuers`: the gate's own issuers, the project's first (a provider may be none of them: its tokens
/// would then pass the project's routes directly).
/// `enrollment_claim`: where the gate reads the enrollment fact (the exchange writes it itself, so no
/// mapping may).
pub(super) fn parse(
    doc: ExchangeDoc,
    issuers: &[String],
    enrollment_claim: &[String],
) -> Result<Option<ExchangeConfig>, ConfigError> {
    let supabase_issuer = issuers[0].as_str();
    if doc.providers.is_empty() {
        let configured = doc.path.is_some()
            || doc.signing_key_env.is_some()
            || doc.signing_key_file.is_some()
            || doc.issuer.is_some()
            || doc.max_lifetime.is_some();
        return if configured {
            Err(ConfigError::new(
                "exchange.providers",
                "must list at least one identity provider",
            ))
        } else {
            Ok(None)
        };
    }
    let path = doc.path.unwrap_or_else(|| DEFAULT_PATH.to_owned());
    if crate::gate::route::normalize_path(&path).ok().as_deref() != Some(path.as_str())
        || path.contains('*')
        || path.starts_with("/auth/")
        || path.starts_with("/rest/")
    {
        return Err(ConfigError::new(
            "exchange.path",
            "must be a normalised path of its own (not under /auth or /rest)",
        ));
    }
    if doc.signing_key_env.is_some() && doc.signing_key_file.is_some() {
        return Err(ConfigError::new(
            "exchange.signing_key_file",
            "give the key in a file or a setting, not both",
        ));
    }
    let max_lifetime = doc.max_lifetime.unwrap_or(3600);
    if !(60..=86_400).contains(&max_lifetime) {
        return Err(ConfigError::new(
            "exchange.max_lifetime",
            "must be 60..=86400 seconds",
        ));
    }
    let mut providers = Vec::new();
    for (i, p) in doc.providers.into_iter().enumerate() {
        let field = |n: &str| format!("exchange.providers[{i}].{n}");
        if p.issuer.is_empty() || issuers.contains(&p.issuer) {
            return Err(ConfigError::new(
                field("issuer"),
                "must be the identity provider's exact `iss`, not an issuer the gate accepts on its routes",
            ));
        }
        if providers.iter().any(|q: &Provider| q.issuer == p.issuer) {
            return Err(ConfigError::new(field("issuer"), "is listed twice"));
        }
        let sources = [
            p.jwks_url.is_some(),
            p.jwks.is_some(),
            p.jwk.is_some(),
            p.public_key_pem.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(ConfigError::new(
                field("jwks_url"),
                "give exactly one of `jwks_url`, `jwks`, `jwk` or `public_key_pem`",
            ));
        }
        if p.kid.is_some() && p.public_key_pem.is_none() {
            return Err(ConfigError::new(
                field("kid"),
                "names the `kid` of a `public_key_pem` key (JWKs carry their own)",
            ));
        }
        let pem_jwk = p
            .public_key_pem
            .as_deref()
            .map(|pem| {
                crate::keys::pem::public_key_jwk(pem, p.kid.as_deref())
                    .map_err(|why| ConfigError::new(field("public_key_pem"), why))
            })
            .transpose()?;
        // The shared URL rule: https, or http only for an exact loopback host (a prefix test would
        // accept `http://localhost.evil.example`).
        let jwks_url = p
            .jwks_url
            .map(|url| check::https_url(&url, &field("jwks_url")))
            .transpose()?;
        let jwks_inline = p
            .jwks
            .or_else(|| p.jwk.or(pem_jwk).map(|k| json!({ "keys": [k] })));
        if p.audiences.is_empty() || p.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                field("audiences"),
                "must list the audience(s) your app's IdP tokens carry (it is always checked)",
            ));
        }
        let mut algorithms = AlgorithmSet::from_iter([Algorithm::Rs256, Algorithm::Es256]);
        if let Some(list) = p.algorithms {
            algorithms = AlgorithmSet::EMPTY;
            for (j, a) in list.iter().enumerate() {
                match Algorithm::from_header(a) {
                    Some(alg @ (Algorithm::Rs256 | Algorithm::Es256)) => {
                        algorithms = algorithms.with(alg)
                    }
                    _ => {
                        return Err(ConfigError::new(
                            format!("exchange.providers[{i}].algorithms[{j}]"),
                            "must be RS256 or ES256 (shared-secret HS256 is never accepted from an IdP)",
                        ))
                    }
                }
            }
            if algorithms == AlgorithmSet::EMPTY {
                return Err(ConfigError::new(field("algorithms"), "must not be empty"));
            }
        }
        // The defaults otherwise: exp, iat, sub, aud and iss required, lifetime at most one day.
        let validation = Validation {
            algorithms,
            issuers: vec![p.issuer.clone()],
            audiences: p.audiences,
            ..Validation::default()
        };
        let map = |v: Option<String>, n: &str| {
            v.map(|s| check::claim_path(&s, &format!("exchange.providers[{i}].claims.{n}")))
                .transpose()
        };
        if p.require_mfa && p.aal2_when.acr.is_empty() && p.aal2_when.amr.is_empty() {
            return Err(ConfigError::new(
                field("require_mfa"),
                "needs an `aal2_when` rule: without one no token of this provider could reach aal2",
            ));
        }
        let claims = ClaimMap {
            sub: map(p.claims.sub, "sub")?.unwrap_or_else(|| vec!["sub".to_owned()]),
            email: map(p.claims.email, "email")?,
            phone: map(p.claims.phone, "phone")?,
            tenant: map(p.claims.tenant, "tenant")?,
            app_metadata: p
                .claims
                .app_metadata
                .into_iter()
                .map(|(k, v)| {
                    let f = format!("exchange.providers[{i}].claims.app_metadata.{k}");
                    if k.is_empty()
                        || matches!(
                            k.as_str(),
                            "provider"
                                | "providers"
                                | "idp_iss"
                                | "idp_sub"
                                | "tenant_id"
                                | "mfa_enrolled"
                        )
                    {
                        return Err(ConfigError::new(f, "is a name the exchange sets itself"));
                    }
                    if enrollment_claim == ["app_metadata", k.as_str()] {
                        return Err(ConfigError::new(
                            f,
                            "would write the enrollment claim (enrollment.claim); the exchange sets it itself",
                        ));
                    }
                    Ok((k, check::claim_path(&v, &f)?))
                })
                .collect::<Result<_, _>>()?,
        };
        providers.push(Provider {
            issuer: p.issuer,
            jwks_url,
            jwks_inline,
            validation,
            claims,
            aal2_acr: p.aal2_when.acr,
            aal2_amr: p.aal2_when.amr,
            require_mfa: p.require_mfa,
        });
    }
    Ok(Some(ExchangeConfig {
        path,
        signing_key_env: doc
            .signing_key_env
            .unwrap_or_else(|| DEFAULT_KEY_SETTING.to_owned()),
        signing_key_file: doc.signing_key_file,
        issuer: doc.issuer.unwrap_or_else(|| supabase_issuer.to_owned()),
        max_lifetime,
        providers,
    }))
}
