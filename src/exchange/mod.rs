//! Token exchange: a third-party identity provider's token in, a Supabase-acceptable token out.
//!
//! `POST {exchange.path}` with `Authorization: Bearer <IdP token>`. The IdP token is verified like any
//! token (strict parse, key bound to its algorithm, signature, then claims) against the provider's own
//! keys, and **its issuer and audience are always checked** (the common sample code skips both). The
//! minted token has `role: "authenticated"`, `aud: "authenticated"`, our issuer, `exp` capped, a `sub`
//! and `session_id` derived deterministically, the mapped claims, and `aal` from an explicit rule
//! (aal1 unless the rule says otherwise). It is signed with the configured private key.
//!
//! Sans I/O like the rest of the gate: provider JWKS are fetched through [`crate::gate::Outcome::FetchKeys`],
//! signatures may be checked by the adapter, and the time is passed in.
//!
//! Rooms: [`settings`] (the validated section), [`mapping`] (IdP claims → minted claims, pure),
//! `state` (the signing key and each provider's keys: the configuration and its state are one value,
//! [`Exchange`]), `endpoint` (the request → answer step).

mod endpoint;
pub mod mapping;
pub mod settings;
mod state;

pub use mapping::{derived_uuid, is_aal2, minted_claims, token_body};
pub use settings::{
    ClaimMap, ExchangeConfig, Provider, ProviderId, DEFAULT_KEY_SETTING, DEFAULT_PATH,
};
pub use state::Exchange;
