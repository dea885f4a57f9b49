//! From a verified IdP token to the claims of the token the exchange mints: pure functions of the
//! provider's rules, the IdP claims and `now`.

use super::settings::{ExchangeConfig, Provider};
use crate::claims::Claims;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// A UUID (version 8, RFC 9562: custom) from SHA-256 of the parts: the same input always gives the
/// same id, and `auth.uid()` (a cast to uuid) works on it.
pub fn derived_uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Whether the IdP token shows MFA under the provider's explicit rule (default: never).
pub fn is_aal2(p: &Provider, claims: &Claims) -> bool {
    let acr = claims.get("acr").and_then(Value::as_str);
    let acr_ok = acr.is_some_and(|a| p.aal2_acr.iter().any(|v| v == a));
    let amr_ok = claims
        .get("amr")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|e| {
                let m = e
                    .as_str()
                    .or_else(|| e.get("method").and_then(Value::as_str));
                m.is_some_and(|m| p.aal2_amr.iter().any(|v| v == m))
            })
        });
    acr_ok || amr_ok
}

/// The claims of the token to mint for a verified IdP token, at `now`. `enrollment_claim` is the
/// gate's `enrollment.claim` path, where the enrollment fact is written. `None` when the IdP token
/// lacks the configured user id.
pub fn minted_claims(
    cfg: &ExchangeConfig,
    p: &Provider,
    idp: &Claims,
    enrollment_claim: &[String],
    now: u64,
) -> Option<Value> {
    let idp_sub = idp.at(&p.claims.sub)?.as_str()?.to_owned();
    // Always derived from (issuer, id), never taken as is: an IdP user whose id happens to be (or is
    // chosen as) a Supabase user's UUID must not become that user. `auth.uid()` casts the result.
    let sub = derived_uuid(&["aalgate-exchange-sub", &p.issuer, &idp_sub]);
    // Only addresses the IdP vouches for: RLS rules compare `auth.jwt()->>'email'`.
    let verified_text = |path: &Option<Vec<String>>, flag: &str| {
        let verified = idp.get(flag).and_then(Value::as_bool) == Some(true);
        path.as_ref()
            .filter(|_| verified)
            .and_then(|p| idp.at(p))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let exp = idp
        .exp
        .unwrap_or(now)
        .min(now.saturating_add(cfg.max_lifetime));
    let aal2 = is_aal2(p, idp);
    let session_marker = idp
        .get("jti")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| idp.iat.map(|t| t.to_string()))
        .unwrap_or_default();
    let mut app_metadata = Map::new();
    app_metadata.insert("provider".into(), json!("aalgate_exchange"));
    app_metadata.insert("idp_iss".into(), json!(p.issuer));
    app_metadata.insert("idp_sub".into(), json!(idp_sub));
    // A tenant is one string (route predicates and `->>` compare it as such).
    let tenant = p
        .claims
        .tenant
        .as_ref()
        .and_then(|path| idp.at(path))
        .filter(|v| v.is_string())
        .cloned();
    if let Some(t) = &tenant {
        app_metadata.insert("tenant_id".into(), t.clone());
    }
    for (key, path) in &p.claims.app_metadata {
        if let Some(v) = idp.at(path) {
            app_metadata.insert(key.clone(), v.clone());
        }
    }
    let mut out = json!({
        "iss": cfg.issuer,
        "aud": "authenticated",
        "role": "authenticated",
        "sub": sub,
        "iat": now,
        "exp": exp,
        "email": verified_text(&p.claims.email, "email_verified"),
        "phone": verified_text(&p.claims.phone, "phone_number_verified"),
        "aal": if aal2 { "aal2" } else { "aal1" },
        "amr": [{"method": "oauth", "provider": p.issuer, "timestamp": idp.iat.unwrap_or(now)}],
        "session_id": derived_uuid(&["aalgate-exchange-session", &p.issuer, &idp_sub, &session_marker]),
        "is_anonymous": false,
        "app_metadata": app_metadata,
        "user_metadata": {},
    });
    if let Some(t) = tenant {
        out["tenant_id"] = t;
    }
    // The enrollment fact where the gate reads it (`enrollment.claim`, e.g. a nested path).
    let mut slot = &mut out;
    if let Some((last, parents)) = enrollment_claim.split_last() {
        for key in parents {
            if !slot.get(key).is_some_and(Value::is_object) {
                slot[key] = json!({});
            }
            slot = &mut slot[key];
        }
        slot[last] = json!(aal2 || p.require_mfa);
    }
    Some(out)
}

/// The endpoint's successful answer body.
pub fn token_body(access_token: &str, now: u64, exp: u64) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": exp.saturating_sub(now),
        "expires_at": exp,
    })
}

#[cfg(test)]
mod tests {
    use super::{derived_uuid, is_uuid};

    #[test]
    fn derived_uuids_are_stable_valid_and_distinct() {
        let a = derived_uuid(&["x", "iss", "sub"]);
        assert_eq!(a, derived_uuid(&["x", "iss", "sub"]));
        assert_ne!(a, derived_uuid(&["x", "iss", "sub2"]));
        // Length-prefixed: ("ab","c") and ("a","bc") differ.
        assert_ne!(derived_uuid(&["ab", "c"]), derived_uuid(&["a", "bc"]));
        assert!(is_uuid(&a));
        assert_eq!(&a[14..15], "8", "version 8");
    }
}
