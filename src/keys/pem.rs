//! PEM public keys (SubjectPublicKeyInfo, RSA or EC P-256) read into JWKs, which then go through the
//! same import rules as every key (size, curve, ROCA).

use serde_json::{json, Value};

/// A PEM `PUBLIC KEY` block as a JWK (`alg` and `use: sig` set, `kid` when given). The error says
/// what is wrong with the text, never repeats it.
pub fn public_key_jwk(pem: &str, kid: Option<&str>) -> Result<Value, &'static str> {
    use base64::Engine as _;
    use p256::pkcs8::DecodePublicKey as _;
    let text = pem.trim();
    let body = text
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|r| r.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or("must be a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo)")?;
    let b64: String = body.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "is not valid base64 inside the PEM block")?;
    let mut jwk = if let Ok(k) = rsa::RsaPublicKey::from_public_key_der(&der) {
        use rsa::traits::PublicKeyParts;
        json!({"kty": "RSA", "alg": "RS256", "n": crate::b64::encode(&k.n().to_bytes_be()),
            "e": crate::b64::encode(&k.e().to_bytes_be())})
    } else if let Ok(k) = p256::PublicKey::from_public_key_der(&der) {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let point = k.to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "alg": "ES256",
            "x": crate::b64::encode(point.x().expect("uncompressed")),
            "y": crate::b64::encode(point.y().expect("uncompressed"))})
    } else {
        return Err("is neither an RSA nor a P-256 public key");
    };
    jwk["use"] = json!("sig");
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    Ok(jwk)
}
