//! What a verified token's claims must satisfy. A plain struct with documented defaults, after
//! Keats/jsonwebtoken's `Validation`.

use crate::alg::AlgorithmSet;
use crate::claims::Claims;
use crate::error::{Code, Error, Result};
use crate::token::DEFAULT_MAX_TOKEN_BYTES;

/// Claims that can be required to be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequiredClaim {
    /// `exp`
    Exp,
    /// `sub`
    Sub,
    /// `aud`
    Aud,
    /// `iss`
    Iss,
    /// `iat`
    Iat,
}

impl RequiredClaim {
    /// The claim name.
    pub fn name(self) -> &'static str {
        match self {
            RequiredClaim::Exp => "exp",
            RequiredClaim::Sub => "sub",
            RequiredClaim::Aud => "aud",
            RequiredClaim::Iss => "iss",
            RequiredClaim::Iat => "iat",
        }
    }

    fn present_in(self, c: &Claims) -> bool {
        match self {
            RequiredClaim::Exp => c.exp.is_some(),
            RequiredClaim::Sub => c.sub.is_some(),
            RequiredClaim::Aud => c.aud.is_some(),
            RequiredClaim::Iss => c.iss.is_some(),
            RequiredClaim::Iat => c.iat.is_some(),
        }
    }
}

/// Rules for accepting a token. Every field is public; [`Validation::default`] documents the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    /// Algorithms accepted in the header, checked before any key is looked up.
    /// Default: ES256, RS256, HS256 (each key serves only its own algorithm, so HS256 is only usable when
    /// an HS256 secret was configured).
    pub algorithms: AlgorithmSet,
    /// Accepted `iss` values (exact match). Default: empty, which accepts **no** issuer unless
    /// `any_issuer` is set; the gate sets the project's `https://<ref>.supabase.co/auth/v1`.
    pub issuers: Vec<String>,
    /// Accept any issuer (only for offline inspection of foreign tokens, e.g. `aalgate verify` without
    /// `--issuer`). Default: false.
    pub any_issuer: bool,
    /// Accepted audiences; the token's `aud` (string or array) must contain one. Default:
    /// `["authenticated"]`. Empty means not checked.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds. Default: 30.
    pub leeway: u64,
    /// Largest accepted `exp - iat`, in seconds. Default: 86,400 (24 h; Supabase issues 3,600 s tokens).
    /// `None` disables the check. Checked when both claims are present, which `required` guarantees by
    /// default (`iat` is required so that omitting it cannot dodge this cap).
    pub max_lifetime: Option<u64>,
    /// Claims that must be present. Default: `exp`, `iat`, `sub`, `aud`, `iss`.
    pub required: Vec<RequiredClaim>,
    /// Size cap on the raw token, in bytes, checked before decoding. Default: 8,192.
    pub max_token_bytes: usize,
    /// Roles whose tokens may carry **neither** `iss` nor `aud`: the shape `supabase gen bearer-jwt`
    /// mints (`exp`, `iat`, `role`, `sub` only). Such a token is accepted only when the key that
    /// verified it belongs to `issuers[0]` (the project's own keys; see
    /// [`crate::verify::validate_claims`]): the signature is then its only proof of origin. With a
    /// plain [`crate::KeySet`] (no issuer per key), every key of the set counts as the project's: give
    /// only the project's keys. A token with one of the two and not the other is refused as usual.
    /// Default: empty.
    pub issuerless_roles: Vec<String>,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            algorithms: AlgorithmSet::all(),
            issuers: Vec::new(),
            any_issuer: false,
            audiences: vec!["authenticated".to_owned()],
            leeway: 30,
            max_lifetime: Some(24 * 60 * 60),
            required: vec![
                RequiredClaim::Exp,
                RequiredClaim::Iat,
                RequiredClaim::Sub,
                RequiredClaim::Aud,
                RequiredClaim::Iss,
            ],
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            issuerless_roles: Vec::new(),
        }
    }
}

impl Validation {
    /// Checks `claims` at time `now` (seconds since the epoch), in a fixed order: presence, `exp`,
    /// `nbf`, `iat`, lifetime, `iss`, `aud`.
    pub fn check(&self, claims: &Claims, now: u64) -> Result<()> {
        let cli_shape = claims.iss.is_none() && claims.aud.is_none();
        let issuerless = cli_shape && self.issuerless(claims);
        let skipped =
            |r: &&RequiredClaim| issuerless && matches!(r, RequiredClaim::Iss | RequiredClaim::Aud);
        if let Some(missing) = self
            .required
            .iter()
            .filter(|r| !skipped(r))
            .find(|r| !r.present_in(claims))
        {
            let mut why = format!("claim `{}` is required", missing.name());
            if cli_shape && matches!(missing, RequiredClaim::Iss | RequiredClaim::Aud) {
                // The shape of `supabase gen bearer-jwt` tokens: say which setting accepts them.
                why.push_str(
                    " (a token with neither `iss` nor `aud`, as `supabase gen bearer-jwt` mints, is accepted only for a service role with `accept_cli_tokens = true`)",
                );
            }
            return Err(Error::new(Code::ClaimMissing, why));
        }
        // exp: valid only while now < exp + leeway.
        if let Some(exp) = claims.exp {
            if now >= exp.saturating_add(self.leeway) {
                return Err(Error::new(Code::TokenExpired, "token has expired"));
            }
        }
        if let Some(nbf) = claims.nbf {
            if nbf > now.saturating_add(self.leeway) {
                return Err(Error::new(
                    Code::TokenNotYetValid,
                    "token is not valid yet (`nbf`)",
                ));
            }
        }
        if let Some(iat) = claims.iat {
            if iat > now.saturating_add(self.leeway) {
                return Err(Error::new(
                    Code::IssuedInFuture,
                    "token `iat` is in the future",
                ));
            }
        }
        if let (Some(exp), Some(iat)) = (claims.exp, claims.iat) {
            if exp < iat {
                return Err(Error::new(
                    Code::ClaimInvalid,
                    "claim `exp` is before `iat`",
                ));
            }
            if let Some(max) = self.max_lifetime {
                if exp - iat > max {
                    return Err(Error::new(
                        Code::LifetimeTooLong,
                        format!(
                            "the token lives {} s, above max_lifetime ({max} s)",
                            exp - iat
                        ),
                    ));
                }
            }
        }
        if issuerless {
            // Neither claim to compare; the key's issuer is checked by `validate_claims`.
            return Ok(());
        }
        if !self.any_issuer {
            let ok = claims
                .iss
                .as_deref()
                .is_some_and(|iss| self.issuers.iter().any(|i| i == iss));
            if !ok {
                return Err(Error::new(
                    Code::IssuerMismatch,
                    "token `iss` is not an accepted issuer",
                ));
            }
        }
        if !self.audiences.is_empty() {
            let ok = claims
                .aud
                .as_ref()
                .is_some_and(|aud| self.audiences.iter().any(|a| aud.contains(a)));
            if !ok {
                return Err(Error::new(
                    Code::AudienceMismatch,
                    "token `aud` has no accepted audience",
                ));
            }
        }
        Ok(())
    }

    /// Whether `claims` is of a role listed in [`Validation::issuerless_roles`].
    pub fn issuerless(&self, claims: &Claims) -> bool {
        claims
            .role
            .as_deref()
            .is_some_and(|r| self.issuerless_roles.iter().any(|x| x == r))
    }
}
