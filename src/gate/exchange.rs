//! Token exchange: a third-party identity provider's token in, a Supabase-acceptable token out.
//!
//! `POST {exchange.path}` with `Authorization: Bearer <IdP token>`. The IdP token is verified like any
//! token (strict parse, key bound to its algorithm, signature, then claims) against the provider's own
//! keys, and **its issuer and audience are always checked** (the common sample code skips both). The
//! minted token has `role: "authenticated"`, `aud: "authenticated"`, our issuer, `exp` capped, a `sub`
//! and `session_id` derived deterministically, the mapped claims, and `aal` from an explicit rule
//! (aal1 unless the rule says otherwise). It is signed with the configured private key.
//!
//! Sans I/O like the rest of the gate: provider JWKS are fetched through [`super::Outcome::FetchKeys`],
//! signatures may be checked by the adapter, and the time is passed in.

use super::cache::TokenDigest;
use super::config::ConfigError;
use super::config::JwksTiming;
use super::keystore::KeyStore;
use super::{Gate, Request, Resources, Run, Step, Verification};
use crate::alg::{Algorithm, AlgorithmSet};
use crate::claims::Claims;
use crate::error::{Code, Error, Result};
use crate::keys::KeySet;
use crate::signing::{read_keys, signing_key, SigningKey};
use crate::validation::Validation;
use crate::verify::VerifiedToken;
use crate::wire;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::collections::HashMap;

/// Default path of the endpoint.
pub const DEFAULT_PATH: &str = "/aalgate/v1/exchange";
/// Default name of the setting holding the private signing JWK.
pub const DEFAULT_KEY_SETTING: &str = "AALGATE_SIGNING_KEY";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExchangeDoc {
    path: Option<String>,
    signing_key_env: Option<String>,
    signing_key_file: Option<String>,
    issuer: Option<String>,
    max_lifetime: Option<u64>,
    #[serde(default)]
    providers: Vec<ProviderDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderDoc {
    issuer: String,
    jwks_url: Option<String>,
    jwks: Option<Value>,
    jwk: Option<Value>,
    public_key_pem: Option<String>,
    /// The `kid` the IdP puts on its tokens, for a `public_key_pem` key.
    kid: Option<String>,
    audiences: Vec<String>,
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    claims: ClaimMapDoc,
    #[serde(default)]
    aal2_when: Aal2WhenDoc,
    #[serde(default)]
    require_mfa: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimMapDoc {
    sub: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    tenant: Option<String>,
    #[serde(default)]
    app_metadata: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Aal2WhenDoc {
    #[serde(default)]
    acr: Vec<String>,
    #[serde(default)]
    amr: Vec<String>,
}

/// One identity provider whose tokens may be exchanged.
#[derive(Clone, Debug)]
pub struct Provider {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// Its JWKS URL (fetched by the adapter), if its keys are not given inline.
    pub jwks_url: Option<String>,
    /// Its keys given inline (a JWKS document).
    pub jwks_inline: Option<Value>,
    /// What its tokens must satisfy: issuer, audiences, algorithms (never HS256), exp/sub/aud/iss.
    pub validation: Validation,
    /// IdP claim names copied into the minted token.
    pub claims: ClaimMap,
    /// `acr` values that mean MFA was done.
    pub aal2_acr: Vec<String>,
    /// `amr` values (strings or `{method}` objects) that mean MFA was done.
    pub aal2_amr: Vec<String>,
    /// Minted tokens say `mfa_enrolled: true` even at aal1 (so `aal2_if_enrolled` routes refuse them).
    pub require_mfa: bool,
}

/// IdP claim names (dotted paths) for the minted token's claims.
#[derive(Clone, Debug, Default)]
pub struct ClaimMap {
    /// The IdP's stable user id (default `sub`; e.g. `oid` for Entra ID), from which `sub` is derived.
    pub sub: Vec<String>,
    /// → `email` (only when the IdP says `email_verified: true`).
    pub email: Option<Vec<String>>,
    /// → `phone` (only when the IdP says `phone_number_verified: true`).
    pub phone: Option<Vec<String>>,
    /// → `app_metadata.tenant_id` and the top-level `tenant_id` (route predicates can use either).
    pub tenant: Option<Vec<String>>,
    /// → `app_metadata.<key>`.
    pub app_metadata: Vec<(String, Vec<String>)>,
}

/// The validated `exchange` section.
#[derive(Clone, Debug)]
pub struct ExchangeConfig {
    /// The endpoint's path.
    pub path: String,
    /// The setting (environment variable, Worker secret) holding the private signing JWK.
    pub signing_key_env: String,
    /// A signing-keys file instead (CLI, native adapters).
    pub signing_key_file: Option<String>,
    /// `iss` of minted tokens (default: the project's Auth issuer, which Supabase's services accept).
    pub issuer: String,
    /// Largest lifetime of a minted token (it never outlives the IdP token either).
    pub max_lifetime: u64,
    /// The providers.
    pub providers: Vec<Provider>,
}

fn path_of(raw: &str, field: &str) -> Result<Vec<String>, ConfigError> {
    let parts: Vec<String> = raw.split('.').map(str::to_owned).collect();
    if raw.is_empty() || parts.iter().any(String::is_empty) {
        return Err(ConfigError::new(
            field,
            "must be a claim name or dotted path",
        ));
    }
    Ok(parts)
}

/// `issuers`: the gate's own issuers, the project's first (a provider may be none of them: its tokens
/// would then pass the project's routes directly).
pub(super) fn parse(
    doc: ExchangeDoc,
    issuers: &[String],
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
    if super::route::normalize_path(&path).ok().as_deref() != Some(path.as_str())
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
            .map(|pem| pem_to_jwk(pem, p.kid.as_deref(), &field("public_key_pem")))
            .transpose()?;
        if let Some(url) = &p.jwks_url {
            if !(url.starts_with("https://")
                || url.starts_with("http://localhost")
                || url.starts_with("http://127.0.0.1"))
            {
                return Err(ConfigError::new(field("jwks_url"), "must be an https URL"));
            }
        }
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
            v.map(|s| path_of(&s, &format!("exchange.providers[{i}].claims.{n}")))
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
                    Ok((k, path_of(&v, &f)?))
                })
                .collect::<Result<_, _>>()?,
        };
        providers.push(Provider {
            issuer: p.issuer,
            jwks_url: p.jwks_url,
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

/// A PEM `PUBLIC KEY` (SubjectPublicKeyInfo: RSA or EC P-256) as a JWK, which then goes through the
/// same import rules as every key (size, curve, ROCA).
fn pem_to_jwk(pem: &str, kid: Option<&str>, field: &str) -> Result<Value, ConfigError> {
    use base64::Engine as _;
    use p256::pkcs8::DecodePublicKey as _;
    let bad = |why: &str| ConfigError::new(field, why.to_owned());
    let text = pem.trim();
    let body = text
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|r| r.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or_else(|| bad("must be a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo)"))?;
    let b64: String = body.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad("is not valid base64 inside the PEM block"))?;
    let mut jwk = if let Ok(k) = rsa::RsaPublicKey::from_public_key_der(&der) {
        use rsa::traits::PublicKeyParts;
        json!({"kty": "RSA", "alg": "RS256", "n": crate::b64::encode(&k.n().to_bytes_be()),
            "e": crate::b64::encode(&k.e().to_bytes_be())})
    } else if let Ok(k) = p256::PublicKey::from_public_key_der(&der) {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let point = k.to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "alg": "ES256",
            "x": crate::b64::encode(point.x().expect("uncompressed")),
            "y": crate::b64::encode(point.y().expect("uncompressed"))})
    } else {
        return Err(bad("is neither an RSA nor a P-256 public key"));
    };
    jwk["use"] = json!("sig");
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    Ok(jwk)
}

/// A UUID (version 8, RFC 9562: custom) from SHA-256 of the parts: the same input always gives the
/// same id, and `auth.uid()` (a cast to uuid) works on it.
pub fn derived_uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Whether the IdP token shows MFA under the provider's explicit rule (default: never).
pub fn is_aal2(p: &Provider, claims: &Claims) -> bool {
    let acr = claims.get("acr").and_then(Value::as_str);
    let acr_ok = acr.is_some_and(|a| p.aal2_acr.iter().any(|v| v == a));
    let amr_ok = claims
        .get("amr")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|e| {
                let m = e
                    .as_str()
                    .or_else(|| e.get("method").and_then(Value::as_str));
                m.is_some_and(|m| p.aal2_amr.iter().any(|v| v == m))
            })
        });
    acr_ok || amr_ok
}

/// The claims of the token to mint for a verified IdP token, at `now`. `enrollment_claim` is the
/// gate's `enrollment.claim` path, where the enrollment fact is written. `None` when the IdP token
/// lacks the configured user id.
pub fn minted_claims(
    cfg: &ExchangeConfig,
    p: &Provider,
    idp: &Claims,
    enrollment_claim: &[String],
    now: u64,
) -> Option<Value> {
    let idp_sub = idp.at(&p.claims.sub)?.as_str()?.to_owned();
    // Always derived from (issuer, id), never taken as is: an IdP user whose id happens to be (or is
    // chosen as) a Supabase user's UUID must not become that user. `auth.uid()` casts the result.
    let sub = derived_uuid(&["aalgate-exchange-sub", &p.issuer, &idp_sub]);
    // Only addresses the IdP vouches for: RLS rules compare `auth.jwt()->>'email'`.
    let verified_text = |path: &Option<Vec<String>>, flag: &str| {
        let verified = idp.get(flag).and_then(Value::as_bool) == Some(true);
        path.as_ref()
            .filter(|_| verified)
            .and_then(|p| idp.at(p))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let exp = idp
        .exp
        .unwrap_or(now)
        .min(now.saturating_add(cfg.max_lifetime));
    let aal2 = is_aal2(p, idp);
    let session_marker = idp
        .get("jti")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| idp.iat.map(|t| t.to_string()))
        .unwrap_or_default();
    let mut app_metadata = Map::new();
    app_metadata.insert("provider".into(), json!("aalgate_exchange"));
    app_metadata.insert("idp_iss".into(), json!(p.issuer));
    app_metadata.insert("idp_sub".into(), json!(idp_sub));
    // A tenant is one string (route predicates and `->>` compare it as such).
    let tenant = p
        .claims
        .tenant
        .as_ref()
        .and_then(|path| idp.at(path))
        .filter(|v| v.is_string())
        .cloned();
    if let Some(t) = &tenant {
        app_metadata.insert("tenant_id".into(), t.clone());
    }
    for (key, path) in &p.claims.app_metadata {
        if let Some(v) = idp.at(path) {
            app_metadata.insert(key.clone(), v.clone());
        }
    }
    let mut out = json!({
        "iss": cfg.issuer,
        "aud": "authenticated",
        "role": "authenticated",
        "sub": sub,
        "iat": now,
        "exp": exp,
        "email": verified_text(&p.claims.email, "email_verified"),
        "phone": verified_text(&p.claims.phone, "phone_number_verified"),
        "aal": if aal2 { "aal2" } else { "aal1" },
        "amr": [{"method": "oauth", "provider": p.issuer, "timestamp": idp.iat.unwrap_or(now)}],
        "session_id": derived_uuid(&["aalgate-exchange-session", &p.issuer, &idp_sub, &session_marker]),
        "is_anonymous": false,
        "app_metadata": app_metadata,
        "user_metadata": {},
    });
    if let Some(t) = tenant {
        out["tenant_id"] = t;
    }
    // The enrollment fact where the gate reads it (`enrollment.claim`, e.g. a nested path).
    let mut slot = &mut out;
    if let Some((last, parents)) = enrollment_claim.split_last() {
        for key in parents {
            if !slot.get(key).is_some_and(Value::is_object) {
                slot[key] = json!({});
            }
            slot = &mut slot[key];
        }
        slot[last] = json!(aal2 || p.require_mfa);
    }
    Some(out)
}

/// The endpoint's successful answer body.
pub fn token_body(access_token: &str, now: u64, exp: u64) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": exp.saturating_sub(now),
        "expires_at": exp,
    })
}

// ---- The endpoint at run time ----

/// What the gate keeps for the exchange: the signing key and each provider's keys.
pub(super) struct ExchangeState {
    signer: SigningKey,
    /// Fingerprints of every key in the exchange's key file (the signer and keys retired by a
    /// rotation): tokens the gate later sees signed with them may be ours.
    fingerprints: Vec<[u8; 32]>,
    /// One key store per provider (same order as the config's providers).
    stores: Vec<KeyStore>,
    /// Signature verdicts the adapter delivered for providers' tokens.
    pub(super) concluded: HashMap<TokenDigest, Result<VerifiedToken>>,
}

impl ExchangeState {
    pub(super) fn new(
        cfg: &ExchangeConfig,
        resources: &Resources,
        timing: JwksTiming,
        warnings: &mut Vec<String>,
    ) -> std::result::Result<Self, ConfigError> {
        let key_field = if cfg.signing_key_file.is_some() {
            "exchange.signing_key_file"
        } else {
            "exchange.signing_key_env"
        };
        let raw = resources.exchange_signing_key.as_ref().ok_or_else(|| {
            ConfigError::new(
                key_field,
                format!(
                    "the signing key was not provided (set the secret `{}`)",
                    cfg.signing_key_env
                ),
            )
        })?;
        let mut keys = read_keys(raw).map_err(|e| ConfigError::new(key_field, e))?;
        let current = signing_key(&keys).map_err(|e| ConfigError::new(key_field, e))?;
        // ES256 only: RSA signing here would be unblinded on a network-facing endpoint.
        if current.alg() != Algorithm::Es256 {
            return Err(ConfigError::new(
                key_field,
                "must be an ES256 key (aalgate keygen --alg ES256)",
            ));
        }
        let fingerprints = keys
            .iter()
            .map(|k| {
                crate::keys::import_jwk(&k.public_jwk())
                    .map(|e| *e.fingerprint())
                    .map_err(|e| ConfigError::new(key_field, e.to_string()))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let signer = keys.swap_remove(
            keys.iter()
                .position(SigningKey::signs)
                .expect("signing_key found it"),
        );
        let mut stores = Vec::new();
        for (i, p) in cfg.providers.iter().enumerate() {
            let mut local = KeySet::new();
            if let Some(doc) = &p.jwks_inline {
                let field = format!("exchange.providers[{i}].jwks");
                let (set, skipped) = KeySet::from_jwks(doc.to_string().as_bytes())
                    .map_err(|e| ConfigError::new(&field, e.context().to_owned()))?;
                if set.is_empty() {
                    return Err(ConfigError::new(field, "no usable key"));
                }
                warnings.extend(skipped.iter().map(|s| format!("{field}: skipped {s}")));
                local = set;
            }
            let issuer = super::config::IssuerKeysConfig {
                issuer: p.issuer.clone(),
                jwks_url: p.jwks_url.clone(),
                jwks_file: None,
                jwks_inline: None,
            };
            stores.push(KeyStore::new(&[issuer], vec![local], timing));
        }
        Ok(ExchangeState {
            signer,
            fingerprints,
            stores,
            concluded: HashMap::new(),
        })
    }

    /// Whether a verified token is one the exchange minted: signed with one of its keys (the current
    /// one, or one it signed with before a rotation), with its issuer and its `app_metadata.provider`
    /// mark (Supabase Auth writes `app_metadata` itself, so its own tokens never carry the mark, even
    /// if it were ever to sign with this key).
    pub(super) fn minted(&self, token: &VerifiedToken, issuer: &str) -> bool {
        let c = token.claims();
        self.fingerprints.contains(token.key_fingerprint())
            && c.iss.as_deref() == Some(issuer)
            && c.get("app_metadata")
                .and_then(|m| m.get("provider"))
                .and_then(Value::as_str)
                == Some("aalgate_exchange")
    }

    /// The providers' stores that fetch `url` (several providers may share one JWKS URL).
    pub(super) fn stores_for<'a>(
        &'a mut self,
        url: &'a str,
    ) -> impl Iterator<Item = &'a mut KeyStore> + 'a {
        self.stores.iter_mut().filter(move |s| s.fetches(url))
    }
}

/// The unverified `iss` of a compact JWS, to pick the provider (enforced after verification).
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = crate::b64::decode(payload.as_bytes())?;
    let claims = crate::json::parse_object(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

impl Gate {
    pub(super) fn exchange_step(
        &mut self,
        req: &Request<'_>,
        method: &str,
        now: u64,
        run: &mut Run,
    ) -> Step {
        let cors = self.config.cors_allow_origin.clone();
        let refuse = |e: Error| Step::Answer(wire::reject_with_cors(&e, &cors));
        if method == "OPTIONS" && req.has_header("access-control-request-method") {
            run.step(|| "exchange: CORS preflight".into());
            return Step::Answer(wire::exchange_preflight(&cors));
        }
        if method != "POST" {
            return refuse(Error::new(
                Code::MethodNotAllowed,
                "the exchange takes POST",
            ));
        }
        let auth = req.headers_named("authorization");
        let token = match auth.as_slice() {
            [] => {
                return refuse(Error::new(
                    Code::TokenMissing,
                    "send the identity provider's token as `Authorization: Bearer …`",
                ))
            }
            [one] if !one.contains(',') => match one.split_once(' ') {
                Some((scheme, t))
                    if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() =>
                {
                    t.trim()
                }
                _ => {
                    return refuse(Error::new(
                        Code::CredentialsUnsupported,
                        "the Authorization header must use the Bearer scheme",
                    ))
                }
            },
            _ => {
                return refuse(Error::new(
                    Code::CredentialsConflict,
                    "several Authorization values",
                ))
            }
        };
        let cfg = self
            .config
            .exchange
            .as_ref()
            .expect("exchange path implies config");
        if token.len() > cfg.providers[0].validation.max_token_bytes {
            return refuse(Error::new(
                Code::TokenTooLarge,
                "the token is over the size cap",
            ));
        }
        let Some(i) = unverified_issuer(token)
            .and_then(|iss| cfg.providers.iter().position(|p| p.issuer == iss))
        else {
            return refuse(Error::new(
                Code::IssuerMismatch,
                "the token's issuer is not a configured identity provider",
            ));
        };
        let digest = super::cache::TokenCache::digest(token);
        let verified = match self.verify_exchange_token(token, digest, i, now) {
            Ok(v) => v,
            Err(Step::Reject(e)) => return refuse(e),
            Err(other) => return other,
        };
        let cfg = self
            .config
            .exchange
            .as_ref()
            .expect("exchange path implies config");
        let provider = &cfg.providers[i];
        let Some(claims) = minted_claims(
            cfg,
            provider,
            verified.claims(),
            &self.config.enrollment.claim,
            now,
        ) else {
            return refuse(Error::new(
                Code::ClaimMissing,
                "the identity provider's token lacks the configured user id claim",
            ));
        };
        let exp = claims["exp"].as_u64().unwrap_or(now);
        if exp <= now {
            return refuse(Error::new(
                Code::TokenExpired,
                "the identity provider's token expires now",
            ));
        }
        let x = self
            .exchange
            .as_ref()
            .expect("exchange config implies state");
        let minted = x.signer.sign(&claims);
        run.log.aal = Some(if claims["aal"] == "aal2" {
            "aal2"
        } else {
            "aal1"
        });
        run.step(|| {
            format!(
                "exchange: token of `{}` verified (issuer and audience checked); minted {}",
                provider.issuer, claims["aal"]
            )
        });
        Step::Answer(wire::exchange_token(&token_body(&minted, now, exp), &cors))
    }

    fn verify_exchange_token(
        &mut self,
        token: &str,
        digest: TokenDigest,
        i: usize,
        now: u64,
    ) -> std::result::Result<VerifiedToken, Step> {
        let cfg = self.config.exchange.as_ref().expect("exchange config");
        let x = self.exchange.as_mut().expect("exchange state");
        Verification {
            keys: &mut x.stores[i],
            validation: &cfg.providers[i].validation,
            concluded: &mut x.concluded,
            provider: self.provider.as_deref(),
            exchange_provider: Some(i),
            keys_unavailable: "the identity provider's keys could not be fetched",
        }
        .run(token, digest, now)
    }
}

#[cfg(test)]
mod tests {
    use super::derived_uuid;

    #[test]
    fn derived_uuids_are_stable_valid_and_distinct() {
        let a = derived_uuid(&["x", "iss", "sub"]);
        assert_eq!(a, derived_uuid(&["x", "iss", "sub"]));
        assert_ne!(a, derived_uuid(&["x", "iss", "sub2"]));
        // Length-prefixed: ("ab","c") and ("a","bc") differ.
        assert_ne!(derived_uuid(&["ab", "c"]), derived_uuid(&["a", "bc"]));
        assert!(super::is_uuid(&a));
        assert_eq!(&a[14..15], "8", "version 8");
    }
}
