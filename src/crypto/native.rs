//! Pure-Rust provider: `p256`, `rsa`, `hmac` + `sha2`. Serves the CLI, the tests, and any runtime
//! without WebCrypto.

use super::provider::SignatureProvider;
use crate::keys::VerifyingKey;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier as _;
use sha2::Sha256;

/// The native signature provider.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeProvider;

impl SignatureProvider for NativeProvider {
    fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
        match key {
            VerifyingKey::Es256(key) => {
                // `from_slice` refuses anything but 64 bytes with r, s in [1, n-1]; the core checked that
                // already, so this is a second fence, not the first.
                let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) else {
                    return false;
                };
                // Verifies high-S signatures too: RFC 7515 A.3 is one, and JWS never required low-S.
                key.0.verify(message, &sig).is_ok()
            }
            VerifyingKey::Rs256(key) => {
                let Ok(sig) = rsa::pkcs1v15::Signature::try_from(signature) else {
                    return false;
                };
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.0.clone())
                    .verify(message, &sig)
                    .is_ok()
            }
            VerifyingKey::Hs256(secret) => {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose()) else {
                    return false;
                };
                mac.update(message);
                // `verify_slice` compares in constant time.
                mac.verify_slice(signature).is_ok()
            }
        }
    }
}
