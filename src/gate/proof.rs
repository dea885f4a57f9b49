//! The proof header of gate-only mode: `x-aalgate-proof: v1.<unix seconds>.<hex HMAC-SHA256>`, signed
//! with a secret the project's database also holds (`aalgate.proof_secrets`), so the origin wall
//! (`aalgate.require_proof()` in `sql/…_aalgate_wall.sql`) can refuse Data API requests that did not
//! come through the gate. The MAC covers `"v1\n<seconds>\n<METHOD>\n<path as PostgREST sees it>"`; the
//! database accepts it for 60 s.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header the gate adds (inbound `x-aalgate-*` headers are always stripped, so a client cannot
/// bring its own).
pub const PROOF_HEADER: &str = "x-aalgate-proof";

/// Shortest secret accepted (the database's check constraint says the same).
pub const MIN_SECRET_BYTES: usize = 32;

/// The path PostgREST sees behind Supabase's API gateway for a request the gate forwards, or `None`
/// when the request does not go to PostgREST: `/rest/v1/x` → `/x`, `/graphql/v1` → `/rpc/graphql`
/// (the gateway rewrites GraphQL to that RPC).
pub fn data_api_path(path: &str) -> Option<&str> {
    if let Some(rest) = path.strip_prefix("/rest/v1") {
        return match rest {
            "" => Some("/"),
            r if r.starts_with('/') => Some(r),
            _ => None,
        };
    }
    match path.strip_prefix("/graphql/v1") {
        Some("" | "/") => Some("/rpc/graphql"),
        _ => None,
    }
}

/// The header value for `method` on the PostgREST path `path` at `now`.
pub fn sign(secret: &[u8], now: u64, method: &str, path: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("v1\n{now}\n{}\n{path}", method.to_ascii_uppercase()).as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1.{now}.{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proof_is_what_the_database_checks() {
        // The same vector tests/sql/wall.test.mjs verifies against aalgate.require_proof() (computed
        // there with node:crypto from the documented message format).
        assert_eq!(
            sign(
                b"proof-secret-A-at-least-32-bytes-long!!",
                1793491200,
                "get",
                "/todos"
            ),
            "v1.1793491200.ceec14d64deb391263d79404c373bee6ea8a6675ba60393c7301380ce602e815"
        );
    }

    #[test]
    fn only_data_api_paths_get_a_proof() {
        assert_eq!(data_api_path("/rest/v1/todos"), Some("/todos"));
        assert_eq!(data_api_path("/rest/v1/rpc/f"), Some("/rpc/f"));
        assert_eq!(data_api_path("/rest/v1"), Some("/"));
        assert_eq!(data_api_path("/rest/v1/"), Some("/"));
        assert_eq!(data_api_path("/graphql/v1"), Some("/rpc/graphql"));
        assert_eq!(data_api_path("/rest/v10/x"), None);
        assert_eq!(data_api_path("/graphql/v1x"), None);
        assert_eq!(data_api_path("/storage/v1/object/x"), None);
    }
}
