//! Cryptography behind one trait, so the wasm front doors can verify with WebCrypto while the CLI and the
//! tests use pure Rust. The validated public key types live with the keys ([`crate::keys`]); this
//! module only verifies with them.
//!
//! A provider is asked one question, after the core has done every strict check on the key and the
//! signature's shape (see [`crate::verify`]): does this signature verify over this message with this key?

mod native;
mod provider;

/// The key types a provider verifies with (defined in [`crate::keys`]; named here too for providers).
pub use crate::keys::{P256PublicKey, RsaKeyProblem, RsaPublicKey, RSA_MAX_BITS, RSA_MIN_BITS};
pub use native::NativeProvider;
pub use provider::SignatureProvider;
