//! Credential values with multi-byte characters in every place the gate reads: the gate must decide
//! (a refusal or a pass), never panic. Found by the `credentials` fuzz target: a value whose 8th byte
//! fell inside a character made the `Bearer ` prefix check slice it mid-character, and a panic in the
//! wasm builds aborts the isolate (every request in flight on it fails).

use crate::common::gate::*;
use crate::common::*;
use aalgate::gate::{Outcome, Request};

/// Values with a multi-byte character straddling each of the first bytes, and the fuzzer's own.
fn odd_values() -> Vec<String> {
    let mut out: Vec<String> = (0..10)
        .map(|n| format!("{}é{}", "a".repeat(n), "bcdefgh"))
        .collect();
    out.extend((0..10).map(|n| format!("{}\u{fffd}rest", "b".repeat(n))));
    out.push("%asb_\u{fffd}rebsocket=4key=ockesn=4key=s".to_owned());
    out.push("Bearer é".to_owned());
    out.push("\"bearer\u{fffd}x\"".to_owned());
    out
}

#[test]
fn multibyte_credential_values_are_decided_never_a_panic() {
    let key = es256_key(11);
    let mut gate = gate_with_fetched_key(&key);
    for value in odd_values() {
        let encoded: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
        let places: [(&str, Vec<(&str, &str)>); 5] = [
            ("", vec![("apikey", value.as_str())]),
            ("", vec![("authorization", value.as_str())]),
            ("", vec![("x-api-key", value.as_str())]),
            ("", vec![("cookie", value.as_str())]),
            ("q", vec![]),
        ];
        for (kind, headers) in places {
            let query = if kind == "q" {
                format!("apikey={encoded}&access_token={encoded}")
            } else {
                String::new()
            };
            for path in [
                "/rest/v1/todos",
                "/realtime/v1/websocket",
                "/storage/v1/s3/b/k",
            ] {
                let req = Request {
                    method: "GET",
                    path,
                    query: &query,
                    headers: &headers,
                };
                match gate.decide(&req, NOW) {
                    Outcome::Done(_) | Outcome::FetchKeys(_) | Outcome::LookupEnrollment(_) => {}
                    other => panic!("{value:?} at {path}: {other:?}"),
                }
            }
        }
    }
}
