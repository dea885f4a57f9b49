//! The gate beyond the conformance table: configuration errors, the JWKS cache rules, the verified-token
//! cache, the fetch step, the enrollment lookup, logs.

#[path = "../common/mod.rs"]
mod common;

mod cli_tokens;
mod config;
mod credential_bytes;
mod enrollment;
mod enrollment_lookup;
mod forwarding;
mod issuer_narrowing;
mod jwks;
mod jwks_in_flight;
mod policy;
mod token_cache;
