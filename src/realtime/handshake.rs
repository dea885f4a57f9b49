//! The client's side of a Realtime socket's WebSocket handshake, as the gate checks it at the upgrade.

use crate::error::{Code, Error};
use crate::gate::Request;

/// The client's side of the WebSocket handshake (RFC 6455 §4.2.1): a `Sec-WebSocket-Key` and
/// `Sec-WebSocket-Version: 13`, once each. Checked by the gate itself so that every front door refuses
/// a malformed upgrade alike, before it opens a socket to the project (Deno opens that one first).
pub(super) fn check(req: &Request<'_>) -> Result<(), Error> {
    let one = |name: &str| {
        let mut values = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim());
        match (values.next(), values.next()) {
            (Some(v), None) if !v.is_empty() => Some(v),
            _ => None,
        }
    };
    if one("sec-websocket-key").is_none() {
        return Err(Error::new(
            Code::UpgradeMalformed,
            "header `Sec-WebSocket-Key` must be sent once",
        ));
    }
    if one("sec-websocket-version") != Some("13") {
        return Err(Error::new(
            Code::UpgradeMalformed,
            "header `Sec-WebSocket-Version` must be 13",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::gate::Request;

    fn with(headers: &[(&str, &str)]) -> bool {
        let req = Request {
            method: "GET",
            path: "/realtime/v1/websocket",
            query: "vsn=2.0.0",
            headers,
        };
        check(&req).is_ok()
    }

    #[test]
    fn a_key_once_and_version_13_make_a_handshake() {
        let key = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
        assert!(with(&[key, ("sec-websocket-version", "13")]));
        assert!(!with(&[("sec-websocket-version", "13")]));
        assert!(!with(&[
            ("sec-websocket-key", " "),
            ("sec-websocket-version", "13")
        ]));
        assert!(!with(&[key, ("sec-websocket-version", "8")]));
        assert!(!with(&[key]));
        // Two keys, or two versions: which one a server takes is its own choice.
        assert!(!with(&[key, key, ("sec-websocket-version", "13")]));
        assert!(!with(&[
            key,
            ("sec-websocket-version", "13"),
            ("sec-websocket-version", "13")
        ]));
    }
}
