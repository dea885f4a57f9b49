//! aalgate: an edge gate for Supabase.
//!
//! This crate's core is pure Rust with no I/O, no clock and no JS: it turns a bearer token plus keys into
//! a [`VerifiedToken`] or a precise [`Error`]. Adapters (CLI, Worker, wasm module) bring the keys, the
//! clock (`now`) and optionally a faster [`crypto::SignatureProvider`].
//!
//! ```text
//! token ─▶ token::UnverifiedToken::parse ─▶ Validation::algorithms ─▶ KeySet::select
//!       ─▶ signature shape ─▶ SignatureProvider::verify ─▶ Claims ─▶ Validation::check ─▶ VerifiedToken
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alg;
pub mod b64;
pub mod claims;
pub mod config;
pub mod crypto;
pub mod dangerous;
pub mod drive;
pub mod error;
pub mod exchange;
pub mod gate;
pub mod json;
pub mod keys;
pub mod realtime;
pub mod service_role;
pub mod signing;
pub mod token;
pub mod validation;
pub mod verify;
pub mod wire;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cloudflare")]
mod cloudflare;
#[cfg(feature = "js")]
pub mod js;
#[cfg(feature = "wasm")]
pub mod wasm;

pub use alg::{Algorithm, AlgorithmSet};
pub use claims::{Aal, AmrEntry, Audience, Claims};
pub use config::GateConfig;
pub use crypto::{NativeProvider, SignatureProvider};
pub use error::{Code, ConfigError, Error, Result};
pub use gate::{Decision, Gate, Outcome, Request, Resources};
pub use keys::{HmacSecret, KeyEntry, KeySet, VerifyingKey};
pub use validation::{RequiredClaim, Validation};
pub use verify::{
    check_signature, verify, verify_signature, KeySource, SignedToken, VerifiedToken,
};
