//! The `keys` and `tokens` sections: where each issuer's keys come from, the JWKS caching rules, and
//! the token rules every route shares.

use super::check;
use super::doc::{KeysDoc, TokensDoc};
use crate::alg::{Algorithm, AlgorithmSet};
use crate::error::ConfigError;
use crate::gate::keystore::{IssuerKeysConfig, JwksTiming};
use crate::validation::Validation;

/// The issuers in order (the Supabase issuer first, then `keys.extra_issuers`).
pub(super) fn issuers(
    k: &mut KeysDoc,
    supabase_issuer: &str,
) -> Result<Vec<IssuerKeysConfig>, ConfigError> {
    let local = k.jwks_file.is_some() || k.jwks.is_some();
    if k.jwks_file.is_some() && k.jwks.is_some() {
        return Err(ConfigError::new(
            "keys",
            "give `jwks_file` or `jwks`, not both",
        ));
    }
    let jwks_url = match (&k.jwks_url, local) {
        (Some(_), true) => {
            return Err(ConfigError::new(
                "keys",
                "give `jwks_url` or a local `jwks_file`/`jwks`, not both",
            ));
        }
        (Some(url), false) => Some(check::https_url(url, "keys.jwks_url")?),
        (None, true) => None,
        (None, false) => Some(format!("{supabase_issuer}/.well-known/jwks.json")),
    };
    if let Some(v) = &k.jwks {
        check::inline_jwks(v, "keys.jwks")?;
    }
    let mut issuers = vec![IssuerKeysConfig {
        issuer: supabase_issuer.to_owned(),
        jwks_url,
        jwks_file: k.jwks_file.take(),
        jwks_inline: k.jwks.take(),
    }];
    for (i, extra) in std::mem::take(&mut k.extra_issuers).into_iter().enumerate() {
        let field = format!("keys.extra_issuers[{i}]");
        if extra.issuer.is_empty() {
            return Err(ConfigError::new(
                format!("{field}.issuer"),
                "must not be empty",
            ));
        }
        if issuers.iter().any(|s| s.issuer == extra.issuer) {
            return Err(ConfigError::new(
                format!("{field}.issuer"),
                "is listed twice",
            ));
        }
        let sources = [
            extra.jwks_url.is_some(),
            extra.jwks_file.is_some(),
            extra.jwks.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(ConfigError::new(
                field,
                "give exactly one of `jwks_url`, `jwks_file`, `jwks`",
            ));
        }
        if let Some(v) = &extra.jwks {
            check::inline_jwks(v, &format!("{field}.jwks"))?;
        }
        let jwks_url = extra
            .jwks_url
            .map(|u| check::https_url(&u, &format!("{field}.jwks_url")))
            .transpose()?;
        if jwks_url.is_some() && issuers.iter().any(|s| s.jwks_url == jwks_url) {
            return Err(ConfigError::new(
                format!("{field}.jwks_url"),
                "is already used by another issuer",
            ));
        }
        issuers.push(IssuerKeysConfig {
            issuer: extra.issuer,
            jwks_url,
            jwks_file: extra.jwks_file,
            jwks_inline: extra.jwks,
        });
    }
    if k.hs256_secret_env.is_some() && k.hs256_secret_file.is_some() {
        return Err(ConfigError::new(
            "keys",
            "give `hs256_secret_env` or `hs256_secret_file`, not both",
        ));
    }
    Ok(issuers)
}

/// The JWKS caching rules, each within its range.
pub(super) fn jwks_timing(k: &KeysDoc) -> Result<JwksTiming, ConfigError> {
    Ok(JwksTiming {
        default_max_age: check::in_range(
            k.jwks_default_max_age,
            600,
            1..=86_400,
            "keys.jwks_default_max_age",
            " seconds",
        )?,
        refetch_cooldown: check::in_range(
            k.jwks_refetch_cooldown,
            30,
            1..=3600,
            "keys.jwks_refetch_cooldown",
            " seconds",
        )?,
        max_stale: check::in_range(
            k.jwks_max_stale,
            3600,
            0..=7 * 86_400,
            "keys.jwks_max_stale",
            " seconds",
        )?,
        timeout_ms: check::in_range(
            k.jwks_timeout_ms,
            3000,
            50..=30_000,
            "keys.jwks_timeout_ms",
            " milliseconds",
        )?,
    })
}

/// The token rules shared by every route (the documented [`Validation`] defaults, then the section).
pub(super) fn validation(
    t: TokensDoc,
    issuers: &[IssuerKeysConfig],
) -> Result<Validation, ConfigError> {
    let mut validation = Validation {
        issuers: issuers.iter().map(|s| s.issuer.clone()).collect(),
        ..Validation::default()
    };
    if let Some(algs) = t.algorithms {
        let mut set = AlgorithmSet::EMPTY;
        for (i, a) in algs.iter().enumerate() {
            let alg = Algorithm::from_header(a).ok_or_else(|| {
                ConfigError::new(
                    format!("tokens.algorithms[{i}]"),
                    "must be ES256, RS256 or HS256",
                )
            })?;
            set = set.with(alg);
        }
        if set == AlgorithmSet::EMPTY {
            return Err(ConfigError::new("tokens.algorithms", "must not be empty"));
        }
        validation.algorithms = set;
    }
    if let Some(aud) = t.audiences {
        if aud.is_empty() || aud.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                "tokens.audiences",
                "must be a non-empty list of non-empty strings",
            ));
        }
        validation.audiences = aud;
    }
    validation.leeway = check::in_range(
        t.leeway,
        validation.leeway,
        0..=300,
        "tokens.leeway",
        " seconds",
    )?;
    if let Some(max) = t.max_lifetime {
        if max == 0 {
            return Err(ConfigError::new("tokens.max_lifetime", "must be positive"));
        }
        validation.max_lifetime = Some(max);
    }
    validation.max_token_bytes = check::in_range(
        t.max_token_bytes,
        validation.max_token_bytes,
        512..=65_536,
        "tokens.max_token_bytes",
        "",
    )?;
    Ok(validation)
}
