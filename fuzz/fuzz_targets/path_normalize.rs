//! Any string as a request path: normalising must never panic, a normalised path must normalise to
//! itself, and it must hold none of the forms servers read differently (dot or empty segments,
//! backslashes, encoded `/` or `\`, controls).
#![no_main]

use aalgate::gate::route::normalize_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Ok(path) = normalize_path(raw) {
        assert_eq!(normalize_path(&path).as_deref(), Ok(path.as_str()), "not idempotent: {raw:?}");
        assert!(path.starts_with('/'));
        assert!(!path.contains('\\') && !path.contains("//"), "{path:?}");
        assert!(!path.split('/').any(|s| s == "." || s == ".."), "dot segment in {path:?}");
        let lower = path.to_ascii_lowercase();
        assert!(!lower.contains("%2f") && !lower.contains("%5c"), "{path:?}");
        assert!(path.bytes().all(|b| b > 0x20 && b != 0x7f), "{path:?}");
    }
});
