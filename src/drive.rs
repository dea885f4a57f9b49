//! The one blocking driver of the sans-I/O gate, for the CLI and the tests: [`drive`] calls
//! [`Gate::decide`] until it has a verdict, answering each ticket through an [`Io`]. The wasm front doors
//! have their own (asynchronous) driver; both stop after [`MAX_ROUNDS`] and fail closed.

use crate::crypto::{NativeProvider, SignatureProvider};
use crate::error::Error;
use crate::gate::enrollment::{EnrollmentJob, LookupFailure};
use crate::gate::{Gate, Outcome, Request, SignatureJob, Verdict};

/// Rounds of I/O one decision may take (keys, a signature, a lookup, and a retry of each), after which
/// the driver gives up: a gate that keeps asking is a bug, never a reason to let a request through.
pub const MAX_ROUNDS: usize = 8;

/// Synchronous answers to the gate's tickets.
pub trait Io {
    /// The body of the JWKS at `url`, or why there is none (the drive stops with that message).
    fn fetch_jwks(&mut self, url: &str) -> Result<Vec<u8>, String>;

    /// Supabase Auth's answer to the job (`GET /auth/v1/user`): `Ok(None)` reports a network failure
    /// to the gate; `Err` stops the drive with that message.
    fn lookup_user(&mut self, job: &EnrollmentJob) -> Result<Option<(u16, Vec<u8>)>, String>;

    /// The verdict of a signature check the gate handed out (gates built with external signatures).
    fn verify_signature(&mut self, job: &SignatureJob) -> bool {
        NativeProvider.verify(job.key(), job.message(), job.signature())
    }

    /// A fetched JWKS the gate could not use: `Err` stops the drive (default: go on; the gate decides).
    fn jwks_unusable(&mut self, _url: &str, _why: &Error) -> Result<(), String> {
        Ok(())
    }

    /// An Auth answer that gave no fact: `Err` stops the drive (default: go on; the gate decides).
    fn lookup_unusable(&mut self, _why: &LookupFailure) -> Result<(), String> {
        Ok(())
    }
}

/// Why a drive ended without a verdict.
#[derive(Debug, PartialEq, Eq)]
pub enum DriveError {
    /// The [`Io`] stopped it.
    Io(String),
    /// The gate asked to wait for another request's fetch or lookup: a single blocking decision
    /// has none.
    Wait(u32),
    /// More than [`MAX_ROUNDS`] rounds.
    TooManyRounds,
}

impl std::fmt::Display for DriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriveError::Io(why) => f.write_str(why),
            DriveError::Wait(ms) => write!(f, "the gate asked to wait {ms} ms for another request"),
            DriveError::TooManyRounds => write!(f, "no verdict after {MAX_ROUNDS} rounds of I/O"),
        }
    }
}

/// Decides `req` at `now`, doing the I/O the gate asks for through `io`.
pub fn drive(
    gate: &mut Gate,
    req: &Request<'_>,
    now: u64,
    io: &mut impl Io,
) -> Result<Verdict, DriveError> {
    for _ in 0..MAX_ROUNDS {
        match gate.decide(req, now) {
            Outcome::Done(v) => return Ok(v),
            Outcome::Wait(ms, _) => return Err(DriveError::Wait(ms)),
            Outcome::VerifySignature(job) => {
                let valid = io.verify_signature(&job);
                gate.signature_checked(job, valid, now);
            }
            Outcome::LookupEnrollment(job) => {
                let answer = io.lookup_user(&job).map_err(DriveError::Io)?;
                let response = answer.as_ref().map(|(s, b)| (*s, b.as_slice()));
                if let Err(why) = gate.enrollment_checked(job, response, now) {
                    io.lookup_unusable(&why).map_err(DriveError::Io)?;
                }
            }
            Outcome::FetchKeys(urls) => {
                for (url, _) in &urls {
                    match io.fetch_jwks(url) {
                        Ok(body) => {
                            if let Err(e) = gate.jwks_fetched(url, &body, None, now) {
                                io.jwks_unusable(url, &e).map_err(DriveError::Io)?;
                            }
                        }
                        Err(why) => return Err(DriveError::Io(why)),
                    }
                }
            }
        }
    }
    Err(DriveError::TooManyRounds)
}
