//! Which inbound request headers a proxying front door forwards. Pure, so every front door (the
//! Cloudflare Worker, the portable module's `proxy`, `check` and `protect`) decides on, and forwards,
//! exactly the same list.

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

/// Where credentials travel. A `Connection` header cannot make them hop-by-hop: dropping one would let
/// the gate judge a request without the credential the client also showed to a handler behind `check`.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "apikey", "x-amz-security-token"];

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
            let credential = CREDENTIAL_HEADERS.contains(&lower.as_str());
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

/// `apikey` values in a query string. Supabase's API gateway also reads the key from the query, so the
/// gate judges those values as `apikey` headers (a `?apikey=sb_secret_…` is a service key like the
/// header would be; a header and a query key together are two keys: a conflict).
pub fn query_api_keys(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name)?.eq_ignore_ascii_case("apikey"))
                .then(|| percent_decode(value))
                .flatten()
        })
        .map(|v| ("apikey".to_owned(), v))
        .collect()
}

/// The header list the gate judges: the forwardable headers, then the query's `apikey` values.
pub fn judged_headers<'a>(
    forwarded: &'a [(String, String)],
    query_keys: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    forwarded
        .iter()
        .chain(query_keys)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// Form-style percent-decoding (`+` is a space). `None` for malformed escapes or non-UTF-8 (the caller
/// then does not recognise the pair; a key it cannot read is no key the gateway reads either).
/// By hand: the one decoder the core needs, not worth the `url` crate in every wasm build.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
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
    String::from_utf8(out).ok()
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
    fn query_api_keys_are_found_and_decoded() {
        use super::query_api_keys;
        let keys = |q| {
            query_api_keys(Some(q))
                .into_iter()
                .map(|(_, v)| v)
                .collect::<Vec<_>>()
        };
        assert_eq!(keys("select=*&apikey=sb_secret_x"), ["sb_secret_x"]);
        assert_eq!(keys("APIKEY=a&%61pikey=b%2Bc&x=apikey"), ["a", "b+c"]);
        assert!(keys("apikeys=a&api_key=b&apikey=%zz").is_empty());
        assert!(query_api_keys(None).is_empty());
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
