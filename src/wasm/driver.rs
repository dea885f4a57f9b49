//! Runs one decision to the end, answering the gate's I/O steps: JWKS fetches, WebCrypto checks,
//! Auth lookups of the user's factors, and waits for another request's fetch or lookup. Each request
//! does its own fetches and waits on its own timer (Workers forbid awaiting a promise another request
//! created); the key store's one-fetch-in-flight rule and cooldown and the one-lookup-per-user rule
//! bound how many.

use super::{fetch, now, webcrypto};
use crate::error::{Code, Error};
use crate::gate::enrollment::MAX_USER_BYTES;
use crate::gate::{Gate, Outcome, Request, Verdict};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::cell::RefCell;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// Most I/O rounds one request may take (missing keys, expired keys, a signature check, a lookup, …).
const MAX_ROUNDS: usize = 8;

/// Longest pause between two looks at the store while waiting for another request's fetch or lookup.
const MAX_POLL_MS: u32 = 80;

/// Resolves after `ms` on this request's own timer.
async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(f).ok());
        match set_timeout {
            Some(f) => {
                let _ = f.call2(&JsValue::NULL, &resolve, &JsValue::from(ms));
            }
            None => {
                let _ = resolve.call0(&JsValue::NULL);
            }
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Decides `req`. `gate` is borrowed only between awaits, never across one.
pub async fn decide(gate: &RefCell<Gate>, req: &Request<'_>) -> Verdict {
    let first = gate.borrow_mut().decide(req, now());
    resolve(gate, req, first).await
}

/// Finishes a decision whose first step `first` the caller already took (front doors that answer
/// without a promise when no I/O is needed).
pub async fn resolve(gate: &RefCell<Gate>, req: &Request<'_>, first: Outcome) -> Verdict {
    let timeout_ms = gate.borrow().config().jwks_timing().timeout_ms;
    // Waiting for another request's fetch or lookup ends when it answers or its in-flight mark
    // expires (then this request asks itself); the budget only guards against a gate that keeps
    // saying "wait".
    let mut wait_budget_ms = gate
        .borrow()
        .config()
        .enrollment()
        .api_timeout_ms
        .max(timeout_ms)
        .saturating_add(3000);
    let mut rounds = 0;
    let mut waits = 0u32;
    let mut gave_up = Code::JwksUnavailable;
    let mut outcome = first;
    loop {
        let now = now();
        match outcome {
            Outcome::Done(verdict) => return verdict,
            Outcome::FetchKeys(urls) => {
                // All at once, each reported as it lands: every URL was marked in flight when handed
                // out, so one slow endpoint must neither outlast the others' marks nor hold back the
                // requests waiting for a fast one.
                let mut fetches: FuturesUnordered<_> = urls
                    .into_iter()
                    .map(|(url, _)| async move {
                        let result = fetch::fetch_jwks(&url, timeout_ms).await;
                        (url, result)
                    })
                    .collect();
                while let Some((url, result)) = fetches.next().await {
                    match result {
                        Ok((body, max_age)) => {
                            let result = gate.borrow_mut().jwks_fetched(&url, &body, max_age, now);
                            if let Err(e) = result {
                                log_event("jwks_unusable", &url, e.context());
                            }
                        }
                        Err(e) => {
                            log_event("jwks_fetch_failed", &url, &format!("{e:?}"));
                            gate.borrow_mut().jwks_fetch_failed(&url, now);
                        }
                    }
                }
            }
            Outcome::LookupEnrollment(job) => {
                gave_up = Code::EnrollmentUnavailable;
                let answer =
                    fetch::get(job.url(), job.headers(), job.timeout_ms(), MAX_USER_BYTES).await;
                let response = match &answer {
                    Ok((body, _)) => Some((200, body.as_slice())),
                    // The status decides between "Auth refuses this token" and "Auth is down".
                    Err(fetch::FetchError::Status(status)) => Some((*status, &[][..])),
                    Err(_) => None,
                };
                // The fetch took time: the answer is as of now, not as of the request's start.
                let result =
                    gate.borrow_mut()
                        .enrollment_checked(job.clone(), response, super::now());
                if let Err(e) = &result {
                    log_event("enrollment_lookup_failed", job.url(), &e.to_string());
                }
            }
            Outcome::Wait(ms, code) => {
                gave_up = code;
                // The gate's poll interval, doubled on each wait up to MAX_POLL_MS: a burst of
                // waiters (unknown `kid`s during a slow fetch) would otherwise re-decide every few ms
                // on a single-threaded runtime, while a fetch that lands early is seen soon.
                let ms = ms
                    .saturating_mul(1 << waits.min(4))
                    .min(MAX_POLL_MS.max(ms));
                waits += 1;
                if wait_budget_ms < ms {
                    break;
                }
                wait_budget_ms -= ms;
                sleep(ms).await;
                // Waiting is not an I/O round of this request.
                outcome = gate.borrow_mut().decide(req, super::now());
                continue;
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
        rounds += 1;
        if rounds >= MAX_ROUNDS {
            break;
        }
        outcome = gate.borrow_mut().decide(req, super::now());
    }
    // Unreachable while the key store honours its cooldown and lookups their deadlines; fail closed
    // if it ever is not.
    gate.borrow()
        .reject_now(&Error::new(gave_up, "too many I/O rounds"), req)
}

fn log_event(event: &str, url: &str, detail: &str) {
    let line = serde_json::json!({"aalgate": event, "url": url, "detail": detail}).to_string();
    web_sys::console::log_1(&line.into());
}
