//! Any bytes as a request's credentials (method, path, query and headers cut from the input at NUL
//! bytes): collecting them from every place Supabase reads must never panic, and the answer must not
//! depend on what the classification memo already holds (a warm memo equals a cold one).
#![no_main]

use aalgate::gate::credentials::{extract, ClassificationMemo};
use aalgate::gate::route::normalize_path;
use aalgate::gate::Request;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 8] = ["authorization", "apikey", "x-api-key", "sb-api-key", "cookie", "content-type", "x-amz-security-token", "upgrade"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.split('\0');
    let method = parts.next().unwrap_or("GET");
    let path = parts.next().unwrap_or("/");
    let query = parts.next().unwrap_or("");
    let values: Vec<&str> = parts.collect();
    let headers: Vec<(&str, &str)> = values.iter().enumerate().map(|(i, v)| (NAMES[i % NAMES.len()], *v)).collect();
    let req = Request { method, path, query, headers: &headers };
    let normalized = normalize_path(path).unwrap_or_else(|_| "/".to_owned());
    let mut memo = ClassificationMemo::default();
    let cold = extract(&req, &normalized, 8192, &mut memo);
    let warm = extract(&req, &normalized, 8192, &mut memo);
    assert_eq!(cold.any(), warm.any());
    assert_eq!(cold.credentials(), warm.credentials(), "the memo changed the answer");
});
