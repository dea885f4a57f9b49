//! Which inbound request headers a proxying front door forwards. Pure, so every front door (the
//! Cloudflare Worker, the portable module's `proxy`, `check` and `protect`) decides on, and forwards,
//! exactly the same list.

use super::credentials::{Place, INVENTORY};
use super::Forward;

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1), and `Expect` (the
/// front door's own HTTP server answers `100-continue`; JS `fetch` refuses to send it).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Client-address headers a client could forge; a front door sets its own from what the runtime saw.
/// Compared with `_` read as `-` (some servers accept both spellings).
const CLIENT_ADDRESS_HEADERS: [&str; 11] = [
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "sb-forwarded-for",
    "cf-connecting-ip",
    "true-client-ip",
    "x-client-ip",
    "fly-client-ip",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-cluster-client-ip",
];

/// Whether a header is one where credentials travel (the inventory's header places). A `Connection`
/// header cannot make those hop-by-hop: dropping one would let the gate judge a request without the
/// credential the client also showed to a handler behind `check`.
fn credential_header(lower: &str) -> bool {
    INVENTORY
        .iter()
        .any(|c| matches!(c.place, Place::Header(name) if name == lower))
}

/// The request headers that will be forwarded: without hop-by-hop headers (the fixed list and those
/// named in `Connection`, except the Upgrade/Connection pair of a WebSocket upgrade), `Host`, client
/// address headers and identity headers. The gate decides on exactly this list, so a header it saw
/// always reaches the upstream and a header the upstream gets was always seen (`Connection:
/// authorization` cannot make the gate check a token the upstream never receives).
pub fn forwardable_headers(entries: Vec<(String, String)>) -> Vec<(String, String)> {
    let websocket = entries
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("upgrade") && v.eq_ignore_ascii_case("websocket"));
    let listed: Vec<String> = entries
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    entries
        .into_iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            let credential = credential_header(&lower);
            let hop =
                HOP_BY_HOP.contains(&lower.as_str()) || (listed.contains(&lower) && !credential);
            let keep_for_ws = websocket && (lower == "upgrade" || lower == "connection");
            let dashed = lower.replace('_', "-");
            !((hop && !keep_for_ws)
                || Forward::strips(&lower)
                || lower == "host"
                || CLIENT_ADDRESS_HEADERS.contains(&dashed.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::forwardable_headers;

    fn names(list: &[(&str, &str)]) -> Vec<String> {
        let owned = list
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        forwardable_headers(owned)
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn connection_named_headers_are_not_forwarded_except_credentials() {
        let kept = names(&[
            ("Connection", "keep-alive, Authorization, x-custom, apikey"),
            ("authorization", "Bearer x"),
            ("apikey", "k"),
            ("x-custom", "1"),
            ("Expect", "100-continue"),
        ]);
        assert_eq!(kept, ["authorization", "apikey"]);
    }

    #[test]
    fn websocket_upgrade_pair_survives() {
        let kept = names(&[
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("te", "x"),
        ]);
        assert_eq!(kept, ["upgrade", "connection"]);
    }

    #[test]
    fn host_client_address_and_identity_headers_are_dropped() {
        let kept = names(&[
            ("host", "h"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("sb-forwarded-for", "1.2.3.4"),
            ("x-aalgate_user-id", "spoof"),
            ("CF-Connecting-IP", "1.2.3.4"),
            ("true_client_ip", "1.2.3.4"),
            ("x-forwarded-port", "1"),
            ("accept", "*/*"),
        ]);
        assert_eq!(kept, ["accept"]);
    }
}
