//! Shared test fixtures: fixed keys and a token minter, so every test builds exactly the token it needs.
//! Nothing here is random: keys are fixed, ECDSA signing is deterministic (RFC 6979), `now` is a constant.
#![allow(dead_code)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod gate;

use aalgate::b64;
use aalgate::keys::{import_jwk, KeyEntry};
use aalgate::{HmacSecret, KeySet, Validation, VerifyingKey};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::Sha256;

/// The fixed "current time" of every test: 2026-11-01T00:00:00Z.
pub const NOW: u64 = 1_793_491_200;
pub const ISSUER: &str = "https://abcdefghijklmnopqrst.supabase.co/auth/v1";
pub const USER: &str = "8d0f4b7e-3a2c-4f9e-9b1d-5c6a7e8f9a0b";
pub const HS_SECRET: &[u8] = b"super-secret-jwt-token-with-at-least-32-characters-long";

#[allow(clippy::large_enum_variant)]
pub enum Signer_ {
    Es256(p256::ecdsa::SigningKey),
    Rs256(rsa::RsaPrivateKey),
    Hs256(Vec<u8>),
}

pub fn es256_key(seed: u8) -> p256::ecdsa::SigningKey {
    let mut bytes = [seed; 32];
    bytes[0] = 0x01; // keep the scalar below the group order
    p256::ecdsa::SigningKey::from_bytes(&bytes.into()).expect("valid scalar")
}

pub fn rs256_key() -> rsa::RsaPrivateKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rs256_test_key.pem"
    ))
    .expect("test key");
    rsa::RsaPrivateKey::from_pkcs1_pem(&pem).expect("pem")
}

pub fn rs1024_key() -> rsa::RsaPrivateKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rs1024_test_key.pem"
    ))
    .expect("test key");
    rsa::RsaPrivateKey::from_pkcs1_pem(&pem).expect("pem")
}

/// Public JWK for an ES256 signing key.
pub fn es256_jwk(key: &p256::ecdsa::SigningKey, kid: &str) -> Value {
    let point = key.verifying_key().to_encoded_point(false);
    json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256", "key_ops": ["verify"],
        "x": b64::encode(point.x().unwrap()), "y": b64::encode(point.y().unwrap()),
    })
}

pub fn rs256_jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
    json!({
        "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
        "n": b64::encode(&key.n().to_bytes_be()), "e": b64::encode(&key.e().to_bytes_be()),
    })
}

/// Signs `header.payload` given as raw JSON text (so tests can write duplicate members, odd spacing…).
pub fn sign_raw(header_json: &str, payload_json: &str, signer: &Signer_) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header_json.as_bytes()),
        b64::encode(payload_json.as_bytes())
    );
    let sig = sign_bytes(input.as_bytes(), signer);
    format!("{input}.{}", b64::encode(&sig))
}

pub fn sign_bytes(input: &[u8], signer: &Signer_) -> Vec<u8> {
    match signer {
        Signer_::Es256(k) => {
            let sig: p256::ecdsa::Signature = k.sign(input);
            sig.to_bytes().to_vec()
        }
        Signer_::Rs256(k) => {
            let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new(k.clone());
            let sig: rsa::pkcs1v15::Signature = sk.sign(input);
            rsa::signature::SignatureEncoding::to_vec(&sig)
        }
        Signer_::Hs256(secret) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
    }
}

pub fn sign(header: &Value, claims: &Value, signer: &Signer_) -> String {
    sign_raw(&header.to_string(), &claims.to_string(), signer)
}

/// A typical Supabase user token's claims (aal1, password login), valid at [`NOW`].
pub fn supabase_claims() -> Value {
    json!({
        "iss": ISSUER, "sub": USER, "aud": "authenticated",
        "exp": NOW + 3000, "iat": NOW - 600,
        "email": "user@example.com", "phone": "", "role": "authenticated", "aal": "aal1",
        "amr": [{"method": "password", "timestamp": NOW - 600}],
        "session_id": "5b1c7d9e-0000-4000-8000-000000000001", "is_anonymous": false,
        "app_metadata": {"provider": "email", "providers": ["email"]}, "user_metadata": {},
    })
}

/// The standard fixture world: an ES256 key "es-1", an RS256 key "rs-1", the HS256 secret.
pub struct World {
    pub es: p256::ecdsa::SigningKey,
    pub rs: rsa::RsaPrivateKey,
    pub keys: KeySet,
    pub validation: Validation,
}

impl World {
    pub fn new() -> Self {
        let es = es256_key(7);
        let rs = rs256_key();
        let mut keys = KeySet::new();
        keys.push(import_jwk(&es256_jwk(&es, "es-1")).unwrap());
        keys.push(import_jwk(&rs256_jwk(&rs, "rs-1")).unwrap());
        keys.push(KeyEntry::new(
            None,
            VerifyingKey::Hs256(HmacSecret::new(HS_SECRET).unwrap()),
        ));
        let validation = Validation {
            issuers: vec![ISSUER.to_owned()],
            ..Validation::default()
        };
        World {
            es,
            rs,
            keys,
            validation,
        }
    }

    pub fn es_token(&self, claims: &Value) -> String {
        sign(
            &json!({"alg": "ES256", "typ": "JWT", "kid": "es-1"}),
            claims,
            &Signer_::Es256(self.es.clone()),
        )
    }

    pub fn rs_token(&self, claims: &Value) -> String {
        sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": "rs-1"}),
            claims,
            &Signer_::Rs256(self.rs.clone()),
        )
    }

    pub fn hs_token(&self, claims: &Value) -> String {
        sign(
            &json!({"alg": "HS256", "typ": "JWT"}),
            claims,
            &Signer_::Hs256(HS_SECRET.to_vec()),
        )
    }

    pub fn verify(&self, token: &str) -> Result<aalgate::VerifiedToken, aalgate::Error> {
        aalgate::verify(
            token,
            &self.keys,
            &self.validation,
            &aalgate::NativeProvider,
            NOW,
        )
    }

    pub fn code(&self, token: &str) -> &'static str {
        match self.verify(token) {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        }
    }
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
