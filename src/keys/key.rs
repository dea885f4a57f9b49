//! A key bound to exactly one algorithm ([`VerifyingKey`]), and a key with the id tokens name it by
//! ([`KeyEntry`]).

use super::public_key::{P256PublicKey, RsaPublicKey};
use super::secret::HmacSecret;
use crate::alg::Algorithm;
use sha2::{Digest, Sha256};

/// A key that can verify signatures of exactly one algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyingKey {
    /// P-256 public key, ES256 only.
    Es256(P256PublicKey),
    /// RSA public key (2048–8192 bits), RS256 only.
    Rs256(RsaPublicKey),
    /// Shared secret (≥ 32 bytes, from configuration), HS256 only.
    Hs256(HmacSecret),
}

impl VerifyingKey {
    /// The one algorithm this key may be used with.
    pub fn alg(&self) -> Algorithm {
        match self {
            VerifyingKey::Es256(_) => Algorithm::Es256,
            VerifyingKey::Rs256(_) => Algorithm::Rs256,
            VerifyingKey::Hs256(_) => Algorithm::Hs256,
        }
    }

    /// A digest identifying the key material (not secret: for HMAC it is a hash of a ≥ 256-bit secret).
    /// Caches remember it so that entries die with their key.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.alg().as_str());
        match self {
            VerifyingKey::Es256(k) => {
                let (x, y) = k.coordinates();
                h.update(x);
                h.update(y);
            }
            VerifyingKey::Rs256(k) => {
                h.update(k.modulus());
                h.update([0]);
                h.update(k.exponent());
            }
            VerifyingKey::Hs256(s) => h.update(s.expose()),
        }
        h.finalize().into()
    }
}

/// A key with the id tokens name it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    kid: Option<String>,
    key: VerifyingKey,
    fingerprint: [u8; 32],
}

impl KeyEntry {
    /// Binds `key` to `kid`.
    pub fn new(kid: Option<String>, key: VerifyingKey) -> Self {
        let fingerprint = key.fingerprint();
        KeyEntry {
            kid,
            key,
            fingerprint,
        }
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// See [`VerifyingKey::fingerprint`].
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }
}
