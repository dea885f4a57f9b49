//! Percent-encoding's one shared rule: `%` and exactly two hex digits make a byte.
//!
//! By hand rather than `u8::from_str_radix(.., 16)`: that accepts a leading `+` (`%+A` would be byte
//! 0x0A), which neither RFC 3986 nor the servers behind the gate (Node, nginx, PostgREST's Warp) read as
//! an escape, so the gate would judge a different byte than they see.

/// The byte `%` + `pair` encodes, when `pair` is two hex digits.
pub(crate) fn hex_pair(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
        _ => None,
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::hex_pair;

    #[test]
    fn two_hex_digits_and_nothing_else_make_a_byte() {
        assert_eq!(hex_pair(b"2F"), Some(0x2f));
        assert_eq!(hex_pair(b"af"), Some(0xaf));
        assert_eq!(hex_pair(b"00"), Some(0));
        // Attack: a sign where a digit belongs (`from_str_radix` takes `+A` as 0x0A).
        assert_eq!(hex_pair(b"+A"), None);
        assert_eq!(hex_pair(b"-1"), None);
        assert_eq!(hex_pair(b" A"), None);
        assert_eq!(hex_pair(b"G0"), None);
        assert_eq!(hex_pair(b"A"), None);
        assert_eq!(hex_pair(b"ABC"), None);
    }
}
