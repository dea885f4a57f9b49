//! `make demo`: a demo issuer (fixed P-256 key), two Supabase-shaped tokens (aal1 after a password login,
//! aal2 after a TOTP challenge), verified by the core exactly as the gate will verify them.
//! Prints ready-to-paste `aalgate verify` commands.

use aalgate::{b64, KeySet, NativeProvider, Validation};
use p256::ecdsa::signature::Signer;
use serde_json::json;

fn main() {
    let key = p256::ecdsa::SigningKey::from_bytes(&[0x2a; 32].into()).expect("fixed demo scalar");
    let point = key.verifying_key().to_encoded_point(false);
    let jwk = json!({"kty":"EC","crv":"P-256","kid":"demo-key-1","use":"sig","alg":"ES256","key_ops":["verify"],
        "x": b64::encode(point.x().unwrap()), "y": b64::encode(point.y().unwrap())});
    let jwks = json!({"keys": [jwk]});
    let dir = std::env::temp_dir().join("aalgate-demo");
    std::fs::create_dir_all(&dir).unwrap();
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();

    let issuer = "https://demo.supabase.co/auth/v1";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mint = |aal: &str, amr: serde_json::Value| {
        let header = json!({"alg":"ES256","typ":"JWT","kid":"demo-key-1"});
        let claims = json!({"iss": issuer, "sub": "00000000-0000-4000-8000-00000000d3m0", "aud": "authenticated",
            "exp": now + 3600, "iat": now, "role": "authenticated", "aal": aal, "amr": amr,
            "session_id": "00000000-0000-4000-8000-000000000001", "is_anonymous": false, "mfa_enrolled": true});
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes())
        );
        let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
        format!("{input}.{}", b64::encode(&sig.to_bytes()))
    };
    let aal1 = mint("aal1", json!([{"method":"password","timestamp": now}]));
    let aal2 = mint(
        "aal2",
        json!([{"method":"totp","timestamp": now},{"method":"password","timestamp": now}]),
    );

    let (keys, _) = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    let validation = Validation {
        issuers: vec![issuer.into()],
        ..Validation::default()
    };
    println!("demo issuer JWKS written to {}\n", jwks_path.display());
    for (name, token) in [
        ("aal1 (password only)", &aal1),
        ("aal2 (password + TOTP)", &aal2),
    ] {
        let verdict = match aalgate::verify(token, &keys, &validation, &NativeProvider, now) {
            Ok(v) => format!("verified, aal = {}", v.claims().aal.as_str()),
            Err(e) => format!("refused: {e}"),
        };
        println!("{name}: {verdict}");
        println!(
            "  try: cargo run -q --features cli -- verify --jwks {} --issuer {issuer} {token}\n",
            jwks_path.display()
        );
    }
}
