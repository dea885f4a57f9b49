//! JWK import (RFC 7517) into algorithm-bound keys.
//!
//! `jose-jwk` reads the members and decodes their base64url; the rules that make a key *acceptable* are
//! ours, because they are policy, not syntax: one algorithm per key, `use`/`key_ops`/`alg` agreeing,
//! no private members in a published set, size floors, on-curve points.

use super::key::{KeyEntry, VerifyingKey};
use super::public_key::{P256PublicKey, RsaKeyProblem, RsaPublicKey};
use super::secret::HmacSecret;
use jose_jwk::{Class, EcCurves, Jwk, Key, Operations};
use serde_json::Value;
use std::fmt;

/// Why a JWK was not imported. Shown to operators (CLI, logs); it names members, never key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// Not a JSON object, or members of the wrong type or encoding.
    Unreadable(&'static str),
    /// `kty` other than `EC`, `RSA` (and `oct` from configuration).
    UnsupportedKeyType,
    /// An EC curve other than P-256.
    UnsupportedCurve,
    /// `alg` present but not the algorithm this key type is bound to.
    AlgMismatch,
    /// `use` present and not `sig`.
    NotForSignatures,
    /// `key_ops` present and without `verify`.
    NoVerifyOperation,
    /// Private members (`d`, `p`, `q`, …) in a set that must hold public keys only.
    PrivateMaterial,
    /// A symmetric (`oct`) key in a published key set: secrets come from configuration only.
    SymmetricInKeySet,
    /// An EC coordinate longer than 32 bytes.
    CoordinateTooLong,
    /// The point is not on P-256.
    OffCurve,
    /// The RSA modulus or exponent is not acceptable.
    Rsa(RsaKeyProblem),
    /// An HMAC secret shorter than 32 bytes (its length is given).
    SecretTooShort(usize),
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyProblem::Unreadable(why) => write!(f, "not a usable JWK: {why}"),
            KeyProblem::UnsupportedKeyType => f.write_str("`kty` is not EC or RSA"),
            KeyProblem::UnsupportedCurve => f.write_str("`crv` is not P-256"),
            KeyProblem::AlgMismatch => f.write_str(
                "`alg` does not fit the key type (EC P-256 → ES256, RSA → RS256, oct → HS256)",
            ),
            KeyProblem::NotForSignatures => f.write_str("`use` is not \"sig\""),
            KeyProblem::NoVerifyOperation => f.write_str("`key_ops` does not include \"verify\""),
            KeyProblem::PrivateMaterial => {
                f.write_str("contains private key members; publish only public keys")
            }
            KeyProblem::SymmetricInKeySet => {
                f.write_str("symmetric `oct` key in a key set; give HS256 secrets in configuration")
            }
            KeyProblem::CoordinateTooLong => f.write_str("EC coordinate longer than 32 bytes"),
            KeyProblem::OffCurve => f.write_str("EC point is not on P-256"),
            KeyProblem::Rsa(RsaKeyProblem::TooSmall) => {
                f.write_str("RSA modulus shorter than 2048 bits")
            }
            KeyProblem::Rsa(RsaKeyProblem::TooLarge) => {
                f.write_str("RSA modulus longer than 8192 bits")
            }
            KeyProblem::Rsa(RsaKeyProblem::BadExponent) => {
                f.write_str("RSA exponent must be odd and between 3 and 2^32")
            }
            KeyProblem::Rsa(RsaKeyProblem::BadModulus) => f.write_str("RSA modulus is even"),
            KeyProblem::Rsa(RsaKeyProblem::RocaFingerprint) => f.write_str(
                "RSA key was made by a ROCA-vulnerable generator (CVE-2017-15361); replace it",
            ),
            KeyProblem::SecretTooShort(n) => {
                write!(f, "HMAC secret is {n} bytes; at least 32 are required")
            }
        }
    }
}

const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Imports one member of a published key set (JWKS): EC P-256 or RSA public keys only.
pub fn import_jwk(member: &Value) -> Result<KeyEntry, KeyProblem> {
    let object = member
        .as_object()
        .ok_or(KeyProblem::Unreadable("not a JSON object"))?;
    if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
        return Err(KeyProblem::PrivateMaterial);
    }
    match object.get("kty").and_then(Value::as_str) {
        Some("EC") | Some("RSA") => {}
        Some("oct") => return Err(KeyProblem::SymmetricInKeySet),
        Some(_) => return Err(KeyProblem::UnsupportedKeyType),
        None => return Err(KeyProblem::Unreadable("`kty` missing or not a string")),
    }
    let jwk = read(member)?;
    let key = match &jwk.key {
        Key::Ec(ec) => {
            if ec.crv != EcCurves::P256 {
                return Err(KeyProblem::UnsupportedCurve);
            }
            let x = pad_coordinate(&ec.x)?;
            let y = pad_coordinate(&ec.y)?;
            VerifyingKey::Es256(
                P256PublicKey::from_coordinates(&x, &y).ok_or(KeyProblem::OffCurve)?,
            )
        }
        Key::Rsa(rsa) => VerifyingKey::Rs256(
            RsaPublicKey::from_components(&rsa.n, &rsa.e).map_err(KeyProblem::Rsa)?,
        ),
        _ => return Err(KeyProblem::UnsupportedKeyType),
    };
    bind(jwk, key)
}

/// Imports an `oct` JWK given in configuration as an HS256 secret.
pub fn import_oct_jwk(member: &Value) -> Result<KeyEntry, KeyProblem> {
    let object = member
        .as_object()
        .ok_or(KeyProblem::Unreadable("not a JSON object"))?;
    if object.get("kty").and_then(Value::as_str) != Some("oct") {
        return Err(KeyProblem::UnsupportedKeyType);
    }
    let jwk = read(member)?;
    let Key::Oct(oct) = &jwk.key else {
        return Err(KeyProblem::UnsupportedKeyType);
    };
    let secret = HmacSecret::new(oct.k.to_vec()).map_err(KeyProblem::SecretTooShort)?;
    bind(jwk, VerifyingKey::Hs256(secret))
}

fn read(member: &Value) -> Result<Jwk, KeyProblem> {
    let object = member
        .as_object()
        .ok_or(KeyProblem::Unreadable("not a JSON object"))?;
    // Checked before jose-jwk sees the member so the reason is precise (jose-jwk refuses unknown `alg`
    // values wholesale).
    if let Some(alg) = object.get("alg") {
        let alg = alg
            .as_str()
            .ok_or(KeyProblem::Unreadable("`alg` is not a string"))?;
        let kty = object.get("kty").and_then(Value::as_str);
        let fits = matches!(
            (kty, alg),
            (Some("EC"), "ES256") | (Some("RSA"), "RS256") | (Some("oct"), "HS256")
        );
        if !fits {
            return Err(KeyProblem::AlgMismatch);
        }
    }
    if let Some(usage) = object.get("use") {
        if usage.as_str() != Some("sig") {
            return Err(KeyProblem::NotForSignatures);
        }
    }
    serde_json::from_value::<Jwk>(member.clone())
        .map_err(|_| KeyProblem::Unreadable("a member has the wrong type or is not base64url"))
}

fn bind(jwk: Jwk, key: VerifyingKey) -> Result<KeyEntry, KeyProblem> {
    if matches!(jwk.prm.cls, Some(Class::Encryption)) {
        return Err(KeyProblem::NotForSignatures);
    }
    if let Some(ops) = &jwk.prm.ops {
        if !ops.contains(&Operations::Verify) {
            return Err(KeyProblem::NoVerifyOperation);
        }
    }
    Ok(KeyEntry::new(jwk.prm.kid, key))
}

/// The Supabase CLI writes EC coordinates without leading zero bytes, so a coordinate may be shorter
/// than 32 bytes; the value is the same number, so left-pad it. Longer is never valid.
fn pad_coordinate(bytes: &[u8]) -> Result<[u8; 32], KeyProblem> {
    if bytes.len() > 32 {
        return Err(KeyProblem::CoordinateTooLong);
    }
    if bytes.is_empty() {
        return Err(KeyProblem::Unreadable("empty EC coordinate"));
    }
    let mut out = [0u8; 32];
    out[32 - bytes.len()..].copy_from_slice(bytes);
    Ok(out)
}
