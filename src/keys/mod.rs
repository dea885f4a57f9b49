//! Keys bound to exactly one algorithm, and the key set tokens are checked against.
//!
//! The binding is in the types: a [`VerifyingKey::Hs256`] can only be built from an [`HmacSecret`], and an
//! [`HmacSecret`] only from secret bytes given in configuration. No path turns an RSA or EC public key
//! into HMAC key material, which is what the classic "alg confusion" attack needs.

mod jwk;
mod key;
pub mod pem;
mod public_key;
mod secret;
pub(crate) mod set;

pub use jwk::{import_jwk, import_oct_jwk, KeyProblem};
pub use key::{KeyEntry, VerifyingKey};
pub use public_key::{P256PublicKey, RsaKeyProblem, RsaPublicKey, RSA_MAX_BITS, RSA_MIN_BITS};
pub use secret::{HmacSecret, MIN_HMAC_SECRET_BYTES};
pub use set::{KeySet, SkippedKey};
