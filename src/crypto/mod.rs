//! Cryptography behind one trait, so the wasm front doors can verify with WebCrypto while the CLI and the
//! tests use pure Rust. The validated public key types live with the keys ([`crate::keys`]); this
//! module only verifies with them.
//!
//! A provider is asked one question, after the core has done every strict check on the key and the
//! signature's shape (see [`crate::verify`]): does this signature verify over this message with this key?

mod native;

/// The key types a provider verifies with (defined in [`crate::keys`]; named here too for providers).
pub use crate::keys::{P256PublicKey, RsaKeyProblem, RsaPublicKey, RSA_MAX_BITS, RSA_MIN_BITS};
pub use native::NativeProvider;

use crate::keys::VerifyingKey;

/// Verifies signatures. Implementations must be pure functions of their inputs.
pub trait SignatureProvider {
    /// `true` only if `signature` is a valid signature of `message` under `key` for the key's algorithm.
    fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool;
}

impl<P: SignatureProvider + ?Sized> SignatureProvider for &P {
    fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
        (**self).verify(key, message, signature)
    }
}
