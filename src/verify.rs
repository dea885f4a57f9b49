//! From a bearer string to a verified identity: parse → alg allow-list → key selection → signature shape
//! → signature (provider) → claims. The only way to obtain a [`VerifiedToken`].

use crate::alg::Algorithm;
use crate::claims::Claims;
use crate::crypto::SignatureProvider;
use crate::error::{Code, Error, Result};
use crate::keys::{KeyEntry, KeySet, VerifyingKey};
use crate::token::{parse_payload, Header, UnverifiedToken};
use crate::validation::Validation;
use serde_json::{Map, Value};

/// The order of the P-256 group, big-endian. ECDSA scalars r and s must lie in `[1, n-1]`.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Where a token's key comes from: a plain [`KeySet`], or the gate's per-issuer key store.
pub trait KeySource {
    /// The one key for `alg` and `kid`, with the issuer it is bound to (if any): a token verified with
    /// an issuer-bound key must carry exactly that `iss`.
    fn select_key(&self, alg: Algorithm, kid: Option<&str>) -> Result<(&KeyEntry, Option<&str>)>;
}

impl KeySource for KeySet {
    fn select_key(&self, alg: Algorithm, kid: Option<&str>) -> Result<(&KeyEntry, Option<&str>)> {
        self.select(alg, kid).map(|k| (k, None))
    }
}

/// A JWS whose signature verified but whose payload was neither parsed nor validated (for
/// `--skip-claims` and test vectors). The policy layer never takes this type.
#[derive(Clone, Debug)]
pub struct SignedToken {
    header: Header,
    payload: Vec<u8>,
    key_fingerprint: [u8; 32],
    bound_issuer: Option<String>,
}

impl SignedToken {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The payload bytes, signature-checked but not parsed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload as a strict JSON object (claims not validated).
    pub fn payload_json(&self) -> Result<Map<String, Value>> {
        parse_payload(&self.payload)
    }
    /// Fingerprint of the key that verified it.
    pub fn key_fingerprint(&self) -> &[u8; 32] {
        &self.key_fingerprint
    }
}

/// A token whose signature verified with a key from the set and whose claims passed [`Validation`].
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    header: Header,
    claims: Claims,
    key_fingerprint: [u8; 32],
}

impl VerifiedToken {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The validated claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
    /// Fingerprint of the key that verified it (caches drop entries whose key left the set).
    pub fn key_fingerprint(&self) -> &[u8; 32] {
        &self.key_fingerprint
    }
}

/// A token that passed every check before the signature (parse, allow-list, key selection, signature
/// shape) and waits for a provider's verdict. Asynchronous providers (WebCrypto) verify
/// [`PendingSignature::message`] / [`PendingSignature::signature`] with [`PendingSignature::key`] and hand
/// the verdict to [`PendingSignature::conclude`]; synchronous ones go through [`verify_signature`].
#[derive(Clone, Debug)]
pub struct PendingSignature {
    header: Header,
    payload: Vec<u8>,
    entry: KeyEntry,
    bound_issuer: Option<String>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl PendingSignature {
    /// The key the signature must verify under (its algorithm is the token's).
    pub fn key(&self) -> &VerifyingKey {
        self.entry.key()
    }

    /// Fingerprint of that key (for caching imported `CryptoKey`s).
    pub fn key_fingerprint(&self) -> &[u8; 32] {
        self.entry.fingerprint()
    }

    /// The signing input, `base64url(header) "." base64url(payload)`.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// The signature bytes, already checked for shape (length, ES256 scalar ranges).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Completes the signature step with the provider's verdict on exactly these bytes.
    pub fn conclude(self, signature_valid: bool) -> Result<SignedToken> {
        if !signature_valid {
            return Err(Error::new(
                Code::SignatureInvalid,
                "signature does not verify",
            ));
        }
        Ok(SignedToken {
            header: self.header,
            payload: self.payload,
            key_fingerprint: *self.entry.fingerprint(),
            bound_issuer: self.bound_issuer,
        })
    }
}

/// Everything up to the provider call: size cap, strict parse, algorithm allow-list, key selection,
/// and the signature's shape.
pub fn prepare(
    token: &str,
    keys: &dyn KeySource,
    validation: &Validation,
) -> Result<PendingSignature> {
    let parsed = UnverifiedToken::parse(token, validation.max_token_bytes)?;
    let alg = parsed.header().alg();
    // The allow-list is consulted before any key is touched.
    if !validation.algorithms.contains(alg) {
        return Err(Error::new(
            Code::AlgNotAllowed,
            format!("{alg} is not in the allowed algorithms"),
        ));
    }
    let (entry, bound_issuer) = keys.select_key(alg, parsed.header().kid())?;
    check_signature_shape(entry, parsed.signature())?;
    let message = parsed.signing_input().to_vec();
    let signature = parsed.signature().to_vec();
    let (header, payload) = parsed.into_parts();
    Ok(PendingSignature {
        header,
        payload,
        entry: entry.clone(),
        bound_issuer: bound_issuer.map(str::to_owned),
        message,
        signature,
    })
}

/// Checks the signature only (parse, algorithm, key, signature; no claims).
pub fn verify_signature(
    token: &str,
    keys: &dyn KeySource,
    validation: &Validation,
    provider: &dyn SignatureProvider,
) -> Result<SignedToken> {
    let pending = prepare(token, keys, validation)?;
    let valid = provider.verify(pending.key(), pending.message(), pending.signature());
    pending.conclude(valid)
}

/// Checks signature and claims at time `now` (seconds since the epoch).
pub fn verify(
    token: &str,
    keys: &dyn KeySource,
    validation: &Validation,
    provider: &dyn SignatureProvider,
    now: u64,
) -> Result<VerifiedToken> {
    validate_claims(
        verify_signature(token, keys, validation, provider)?,
        validation,
        now,
    )
}

/// Step 6: parses the signed payload and checks the claims at `now`.
pub fn validate_claims(
    signed: SignedToken,
    validation: &Validation,
    now: u64,
) -> Result<VerifiedToken> {
    let claims = Claims::from_payload(parse_payload(&signed.payload)?)?;
    validation.check(&claims, now)?;
    if let Some(bound) = &signed.bound_issuer {
        if claims.iss.is_none() {
            // Only an `issuerless_roles` token gets here without `iss`: its signature is its only
            // proof of origin, so only the project's own keys (the first issuer's) may vouch for it.
            if validation.issuers.first() != Some(bound) {
                return Err(Error::new(
                    Code::IssuerMismatch,
                    "a token without `iss` must be signed by one of the project's own keys",
                ));
            }
        } else if claims.iss.as_deref() != Some(bound.as_str()) {
            return Err(Error::new(
                Code::IssuerMismatch,
                "token `iss` is not the issuer of the key that signed it",
            ));
        }
    }
    Ok(VerifiedToken {
        header: signed.header,
        claims,
        key_fingerprint: signed.key_fingerprint,
    })
}

/// Checks `signature` over `message` with one key: the strict shape checks below, then the provider.
/// Public so that every provider can be run against the same raw vectors (Wycheproof) as the native one.
pub fn check_signature(
    entry: &KeyEntry,
    message: &[u8],
    signature: &[u8],
    provider: &dyn SignatureProvider,
) -> Result<()> {
    check_signature_shape(entry, signature)?;
    if provider.verify(entry.key(), message, signature) {
        Ok(())
    } else {
        Err(Error::new(
            Code::SignatureInvalid,
            "signature does not verify",
        ))
    }
}

/// Strict checks every provider relies on, done once here so WebCrypto (which is lenient about some of
/// them) and the native provider give the same verdicts.
fn check_signature_shape(entry: &KeyEntry, signature: &[u8]) -> Result<()> {
    let bad = |why: &'static str| Err(Error::new(Code::SignatureInvalid, why));
    match entry.key() {
        VerifyingKey::Es256(_) => {
            // JWS ES256 is the raw 64-byte r‖s (RFC 7518 §3.4); DER is a different, refused encoding.
            if signature.len() != 64 {
                return bad("ES256 signature must be 64 bytes (r‖s)");
            }
            let (r, s) = signature.split_at(32);
            if !scalar_in_range(r) || !scalar_in_range(s) {
                return bad("ES256 signature scalar is zero or not below the group order");
            }
        }
        VerifyingKey::Rs256(key) => {
            if signature.len() != key.modulus_len() {
                return bad("RS256 signature length differs from the modulus length");
            }
        }
        VerifyingKey::Hs256(_) => {
            if signature.len() != 32 {
                return bad("HS256 signature must be 32 bytes");
            }
        }
    }
    Ok(())
}

/// `1 <= v < n` for a 32-byte big-endian value (lexicographic order equals numeric order).
fn scalar_in_range(v: &[u8]) -> bool {
    v.iter().any(|b| *b != 0) && v < &P256_ORDER[..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_range_edges() {
        assert!(!scalar_in_range(&[0u8; 32]));
        let mut one = [0u8; 32];
        one[31] = 1;
        assert!(scalar_in_range(&one));
        assert!(!scalar_in_range(&P256_ORDER));
        let mut n_minus_1 = P256_ORDER;
        n_minus_1[31] -= 1;
        assert!(scalar_in_range(&n_minus_1));
        assert!(!scalar_in_range(&[0xff; 32]));
    }
}
