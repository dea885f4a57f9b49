//! Any byte string through the whole verification pipeline: must never panic, and must never verify
//! (the key set holds one HS256 secret the fuzzer cannot know... unless it finds a MAC, which would be news).
#![no_main]

use aalgate::{HmacSecret, KeyEntry, KeySet, NativeProvider, Validation, VerifyingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let _ = aalgate::dangerous::insecure_decode(token, 8192);
    let mut keys = KeySet::new();
    keys.push(KeyEntry::new(None, VerifyingKey::Hs256(HmacSecret::new(vec![0x5a; 32]).unwrap())));
    let v = Validation { audiences: vec![], required: vec![], ..Validation::default() };
    assert!(aalgate::verify(token, &keys, &v, &NativeProvider, 1_800_000_000).is_err());
    if let Ok(value) = aalgate::json::parse_value(data) {
        // Whatever strict parsing accepts must round-trip through serde_json.
        let text = value.to_string();
        assert_eq!(aalgate::json::parse_value(text.as_bytes()).ok(), Some(value));
    }
});
