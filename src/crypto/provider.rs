//! The one question a provider answers.

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
