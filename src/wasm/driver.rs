//! Runs one decision to the end, answering the gate's I/O steps: JWKS fetches and WebCrypto checks.
//! Each request does its own fetches (Workers forbid awaiting a promise another request created); the
//! key store's cooldown bounds how many.

use super::{fetch, now, webcrypto};
use crate::error::{Code, Error};
use crate::gate::{Gate, Outcome, Request, Verdict};
use std::cell::RefCell;

/// Most I/O rounds one request may take (missing keys, expired keys, a signature check, …).
const MAX_ROUNDS: usize = 6;

/// Decides `req`. `gate` is borrowed only between awaits, never across one.
pub async fn decide(gate: &RefCell<Gate>, req: &Request<'_>) -> Verdict {
    let now = now();
    let timeout_ms = gate.borrow().config().jwks_timing.timeout_ms;
    for _ in 0..MAX_ROUNDS {
        let outcome = gate.borrow_mut().decide(req, now);
        match outcome {
            Outcome::Done(verdict) => return verdict,
            Outcome::FetchKeys(urls) => {
                for (url, _) in urls {
                    match fetch::fetch_jwks(&url, timeout_ms).await {
                        Ok((body, max_age)) => {
                            let result = gate
                                .borrow_mut()
                                .keys_mut()
                                .fetched(&url, &body, max_age, now);
                            if let Err(e) = result {
                                log_event("jwks_unusable", &url, e.context());
                            }
                        }
                        Err(e) => {
                            log_event("jwks_fetch_failed", &url, &format!("{e:?}"));
                            gate.borrow_mut().keys_mut().fetch_failed(&url, now);
                        }
                    }
                }
            }
            Outcome::VerifySignature(job) => {
                let valid = webcrypto::verify(
                    job.key(),
                    job.key_fingerprint(),
                    job.message(),
                    job.signature(),
                )
                .await;
                gate.borrow_mut().signature_checked(job, valid, now);
            }
        }
    }
    // Unreachable while the key store honours its cooldown; fail closed if it ever is not.
    gate.borrow().reject_now(
        &Error::new(Code::JwksUnavailable, "too many key fetch rounds"),
        req,
    )
}

fn log_event(event: &str, url: &str, detail: &str) {
    let line = serde_json::json!({"aalgate": event, "url": url, "detail": detail}).to_string();
    web_sys::console::log_1(&line.into());
}
