//! The I/O protocol between the gate and its adapter: what [`crate::Gate::decide`] needs next. Each
//! ticket (`FetchKeys`, `VerifySignature`, `LookupEnrollment`) names the one report that answers it;
//! the adapter does the I/O, reports, and calls `decide` again (the round limit is the adapter's, and
//! it fails closed).

use super::cache::TokenDigest;
use super::enrollment::EnrollmentJob;
use super::keystore::FetchReason;
use super::verdict::{Identity, Verdict};
use crate::error::{Code, Error};
use crate::exchange::settings::ProviderId;
use crate::keys::VerifyingKey;
use crate::verify::PendingSignature;
use crate::wire::Answer;

/// What [`crate::Gate::decide`] needs next.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // `Done` is the common case; boxing it would cost every request.
pub enum Outcome {
    /// The decision.
    Done(Verdict),
    /// Fetch these JWKS URLs, report each with [`crate::Gate::jwks_fetched`] or
    /// [`crate::Gate::jwks_fetch_failed`], and call `decide` again.
    FetchKeys(Vec<(String, FetchReason)>),
    /// Check this signature (only with [`crate::Gate::with_external_signatures`]), report it with
    /// [`crate::Gate::signature_checked`], and call `decide` again.
    VerifySignature(SignatureJob),
    /// Ask Supabase Auth whether the user has a verified factor (`GET` the job's URL with its
    /// headers), report the answer with [`crate::Gate::enrollment_checked`], and call `decide` again.
    LookupEnrollment(EnrollmentJob),
    /// Another request is fetching what this decision needs (the JWKS, or Auth's answer about this
    /// user): call `decide` again after this many milliseconds, on this request's own timer (Workers
    /// forbid awaiting another request's promise). The code is the refusal if waiting never ends.
    Wait(u32, Code),
}

/// A signature the adapter must check (asynchronous providers such as WebCrypto).
#[derive(Clone, Debug)]
pub struct SignatureJob {
    pub(crate) digest: TokenDigest,
    pub(crate) pending: PendingSignature,
    /// The exchange provider whose token this is (`None`: a token for the project's routes).
    pub(crate) provider: Option<ProviderId>,
}

impl SignatureJob {
    /// The key (ES256 or RS256) to verify with.
    pub fn key(&self) -> &VerifyingKey {
        self.pending.key()
    }

    /// Fingerprint of the key, for caching imported keys.
    pub fn key_fingerprint(&self) -> &[u8; 32] {
        self.pending.key_fingerprint()
    }

    /// The signed bytes.
    pub fn message(&self) -> &[u8] {
        self.pending.message()
    }

    /// The signature (shape already checked: 64-byte r‖s for ES256, modulus length for RS256).
    pub fn signature(&self) -> &[u8] {
        self.pending.signature()
    }
}

/// Where one pipeline step leaves the decision: finished, or waiting for a ticket.
pub(crate) enum Step {
    Forward(Identity),
    Reject(Error),
    Fetch(Vec<(String, FetchReason)>),
    Verify(Box<SignatureJob>),
    Lookup(Box<EnrollmentJob>),
    Wait(u32, Code),
    Answer(Answer),
}
