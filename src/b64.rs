//! Strict base64url (RFC 7515 §2): URL-safe alphabet, no padding, canonical trailing bits.
//!
//! Canonical trailing bits matter: without that check `...Q` and `...R` can decode to the same bytes, so
//! one signature would have several spellings and a token digest would not identify a token.

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Decodes strict base64url; `None` for anything else (padding, whitespace, `+`/`/`, stray bits).
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    STRICT.decode(text).ok()
}

/// Encodes as base64url without padding.
pub fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_padding_whitespace_and_standard_alphabet() {
        assert_eq!(decode(b"YQ"), Some(b"a".to_vec()));
        assert_eq!(decode(b"YQ=="), None);
        assert_eq!(decode(b"Y Q"), None);
        assert_eq!(decode(b"+/8"), None);
        assert_eq!(decode(b"-_8"), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn refuses_non_canonical_trailing_bits() {
        // "YQ" is canonical for "a"; "YR" carries non-zero unused bits.
        assert_eq!(decode(b"YR"), None);
    }

    #[test]
    fn refuses_impossible_length() {
        assert_eq!(decode(b"YWJjZ"), None);
    }
}
