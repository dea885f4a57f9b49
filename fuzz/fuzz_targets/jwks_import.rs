//! Any byte string as a JWKS document: must never panic; every imported key must be bound to one alg.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((set, _skipped)) = aalgate::KeySet::from_jwks(data) {
        for entry in set.keys() {
            let _ = entry.key().alg();
            let _ = entry.fingerprint();
        }
    }
});
