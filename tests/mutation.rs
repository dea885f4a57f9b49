//! Property: changing any single byte of a valid token never yields acceptance.
//! Exhaustive over positions; every possible replacement byte for HS256, a spread of them for the
//! slower asymmetric algorithms. Deterministic, so a failure names the exact position and byte.

mod common;

use common::*;

fn assert_no_single_byte_change_is_accepted(w: &World, token: &str, replacements: &[u8]) -> usize {
    assert_eq!(w.code(token), "ok", "the unmodified token must verify");
    let mut tried = 0;
    let bytes = token.as_bytes();
    for pos in 0..bytes.len() {
        for &b in replacements {
            if b == bytes[pos] {
                continue;
            }
            let mut changed = bytes.to_vec();
            changed[pos] = b;
            // Non-UTF-8 results cannot even be a &str header value; skip them only at the type level.
            let Ok(changed) = String::from_utf8(changed) else {
                continue;
            };
            tried += 1;
            assert!(
                w.verify(&changed).is_err(),
                "accepted after changing byte {pos} to {b:#04x}"
            );
        }
    }
    tried
}

#[test]
fn single_byte_changes_never_verify_hs256() {
    let w = World::new();
    let all: Vec<u8> = (0u8..=0x7f).collect();
    let tried = assert_no_single_byte_change_is_accepted(&w, &w.hs_token(&supabase_claims()), &all);
    assert!(tried > 40_000, "{tried}");
}

#[test]
fn single_byte_changes_never_verify_es256() {
    let w = World::new();
    let some = b"A_-0z.=+/ \x00Qgw";
    assert_no_single_byte_change_is_accepted(&w, &w.es_token(&supabase_claims()), some);
}

#[test]
fn single_byte_changes_never_verify_rs256() {
    let w = World::new();
    let some = b"A_-z.=+ Qw";
    assert_no_single_byte_change_is_accepted(&w, &w.rs_token(&supabase_claims()), some);
}
