//! Query strings read the way the services behind the gate read them (lenient percent-decoding,
//! case-insensitive names, `name[…]` array forms).

use crate::gate::percent::hex_pair;
use std::borrow::Cow;

/// The values of one query parameter, percent-decoded the way lenient servers do. A name counts when,
/// compared case-insensitively, it is `name` or `name[…]` (the array forms some query parsers build).
pub(crate) fn query_values<'q>(query: &'q str, name: &str) -> Vec<Cow<'q, str>> {
    query_pairs(query)
        .filter(|(n, _)| n.split('[').next().unwrap_or("").eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

/// Form-style percent-decoding (`+` is a space) that keeps malformed escapes as they are and replaces
/// invalid UTF-8, as Node's `querystring` and nginx do: what a lenient service reads is what is judged.
/// By hand: the one decoder the core needs, not worth the `url` crate in every wasm build.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_pair) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The query's pairs, names and values percent-decoded (names exactly as sent otherwise).
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(n), percent_decode(v))
    })
}
