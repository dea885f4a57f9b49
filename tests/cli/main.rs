//! The CLI through the real binary: `aalgate verify` / `aalgate inspect` round trips, `explain` and
//! `check-config`, service identities (keygen, jwks, mint, sql role).

#[path = "../common/mod.rs"]
mod common;

mod explain;
mod service_identities;
mod verify;
