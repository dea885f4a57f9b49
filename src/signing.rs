//! Private signing keys, for the tokens aalgate mints (service tokens and the token exchange).
//!
//! Keys are read from and written to the Supabase CLI's `signing_keys.json` format: a JSON array of
//! private JWKs (`kty`, `kid`, `use: "sig"`, `key_ops`, `alg`, `ext`, key members). Exactly one key has
//! `sign` in `key_ops` (Supabase Auth refuses several signing keys); the others only verify.
//!
//! The public half of every key goes through the same import rules as keys we verify with
//! ([`crate::keys::import_jwk`]: on-curve points, RSA ≥ 2048 bits, no ROCA moduli), so a key we sign
//! with is always one the gate would accept. Private members never appear in `Debug` output.

use crate::alg::Algorithm;
use crate::b64;
use crate::keys::import_jwk;
use p256::ecdsa::signature::Signer;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{json, Map, Value};

/// The private key material, bound to its algorithm.
enum Material {
    Es256(p256::ecdsa::SigningKey),
    Rs256(Box<RsaPrivateKey>),
}

/// One private JWK of a signing-keys file.
pub struct SigningKey {
    kid: String,
    material: Material,
    signs: bool,
    /// Members we do not interpret, kept when the file is written back.
    extra: Map<String, Value>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg().as_str())
            .field("signs", &self.signs)
            .finish_non_exhaustive()
    }
}

fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("member `{name}` is missing or not a string"))
}

fn bytes(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    b64::decode(member(jwk, name)?.as_bytes())
        .ok_or_else(|| format!("member `{name}` is not base64url"))
}

/// An EC coordinate or scalar as exactly 32 bytes. The Supabase CLI has written coordinates without
/// their leading zero bytes: shorter values are left-padded, longer ones refused.
fn fixed32(jwk: &Map<String, Value>, name: &str) -> Result<[u8; 32], String> {
    let mut raw = bytes(jwk, name)?;
    // Some writers add a sign byte: one leading zero over 32 bytes is the same number.
    if raw.len() == 33 && raw[0] == 0 {
        raw.remove(0);
    }
    if raw.is_empty() || raw.len() > 32 {
        return Err(format!("member `{name}` must be at most 32 bytes"));
    }
    let mut out = [0u8; 32];
    out[32 - raw.len()..].copy_from_slice(&raw);
    Ok(out)
}

fn uint(jwk: &Map<String, Value>, name: &str) -> Result<BigUint, String> {
    Ok(BigUint::from_bytes_be(&bytes(jwk, name)?))
}

impl SigningKey {
    /// A key from its material; `kid` is the caller's (a UUID for new keys).
    fn new(kid: String, material: Material) -> Self {
        SigningKey {
            kid,
            material,
            signs: true,
            extra: Map::new(),
        }
    }

    /// A fresh ES256 key.
    pub fn es256(kid: String, key: p256::ecdsa::SigningKey) -> Self {
        Self::new(kid, Material::Es256(key))
    }

    /// A fresh RS256 key (at least 2048 bits, checked when its public half is imported).
    pub fn rs256(kid: String, key: RsaPrivateKey) -> Result<Self, String> {
        let k = Self::new(kid, Material::Rs256(Box::new(key)));
        k.check_public()?;
        Ok(k)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the key is bound to.
    pub fn alg(&self) -> Algorithm {
        match self.material {
            Material::Es256(_) => Algorithm::Es256,
            Material::Rs256(_) => Algorithm::Rs256,
        }
    }

    /// Whether `key_ops` includes `sign`.
    pub fn signs(&self) -> bool {
        self.signs
    }

    /// Makes the key verify-only (when another key takes over signing).
    pub fn retire(&mut self) {
        self.signs = false;
    }

    /// Reads one private JWK.
    pub fn from_jwk(value: &Value) -> Result<Self, String> {
        let jwk = value.as_object().ok_or("a key must be a JSON object")?;
        let kid = member(jwk, "kid")?.to_owned();
        if kid.is_empty() {
            return Err("member `kid` is empty".into());
        }
        if jwk.get("use").is_some_and(|u| u != "sig") {
            return Err("member `use` must be \"sig\" for a signing key".into());
        }
        let material = match (member(jwk, "kty")?, jwk.get("alg").and_then(Value::as_str)) {
            ("EC", None | Some("ES256")) => {
                if member(jwk, "crv")? != "P-256" {
                    return Err("only the P-256 curve is supported".into());
                }
                let d = fixed32(jwk, "d")?;
                let key = p256::ecdsa::SigningKey::from_slice(&d)
                    .map_err(|_| "member `d` is not a valid P-256 private key")?;
                let point = key.verifying_key().to_encoded_point(false);
                let (x, y) = (fixed32(jwk, "x")?, fixed32(jwk, "y")?);
                if point.x().map(|v| &v[..]) != Some(&x[..])
                    || point.y().map(|v| &v[..]) != Some(&y[..])
                {
                    return Err("`x`/`y` are not the public key of `d`".into());
                }
                Material::Es256(key)
            }
            ("RSA", None | Some("RS256")) => {
                let primes = vec![uint(jwk, "p")?, uint(jwk, "q")?];
                let mut key = RsaPrivateKey::from_components(
                    uint(jwk, "n")?,
                    uint(jwk, "e")?,
                    uint(jwk, "d")?,
                    primes,
                )
                .map_err(|e| format!("inconsistent RSA private key: {e}"))?;
                key.validate()
                    .map_err(|e| format!("invalid RSA private key: {e}"))?;
                key.precompute()
                    .map_err(|e| format!("invalid RSA private key: {e}"))?;
                // CRT members, when present, must be the ones the key implies (they are rewritten from
                // the key; a file whose values differ is damaged).
                let crt = [
                    ("dp", key.dp().cloned()),
                    ("dq", key.dq().cloned()),
                    ("qi", key.crt_coefficient()),
                ];
                for (name, computed) in crt {
                    if jwk.contains_key(name) && Some(uint(jwk, name)?) != computed {
                        return Err(format!("member `{name}` does not belong to this key"));
                    }
                }
                Material::Rs256(Box::new(key))
            }
            (kty, alg) => {
                return Err(format!(
                    "unsupported key (kty {kty}, alg {}): ES256 (EC P-256) and RS256 only",
                    alg.unwrap_or("none")
                ))
            }
        };
        let signs = match jwk.get("key_ops") {
            None => true,
            Some(Value::Array(ops)) => ops.iter().any(|o| o == "sign"),
            Some(_) => return Err("member `key_ops` must be an array".into()),
        };
        const KNOWN: [&str; 17] = [
            "kty", "kid", "use", "key_ops", "alg", "ext", "crv", "x", "y", "d", "n", "e", "p", "q",
            "dp", "dq", "qi",
        ];
        let extra = jwk
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = SigningKey {
            kid,
            material,
            signs,
            extra,
        };
        key.check_public()?;
        Ok(key)
    }

    /// The public half passes the rules of keys we verify with.
    fn check_public(&self) -> Result<(), String> {
        import_jwk(&self.public_jwk())
            .map(|_| ())
            .map_err(|e| format!("key `{}`: {e}", self.kid))
    }

    fn common(&self, ops: &[&str]) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "kty".into(),
            json!(match self.material {
                Material::Es256(_) => "EC",
                Material::Rs256(_) => "RSA",
            }),
        );
        m.insert("kid".into(), json!(self.kid));
        m.insert("use".into(), json!("sig"));
        m.insert("key_ops".into(), json!(ops));
        m.insert("alg".into(), json!(self.alg().as_str()));
        m
    }

    fn public_members(&self, m: &mut Map<String, Value>) {
        match &self.material {
            Material::Es256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                m.insert("crv".into(), json!("P-256"));
                m.insert("x".into(), json!(b64::encode(p.x().expect("uncompressed"))));
                m.insert("y".into(), json!(b64::encode(p.y().expect("uncompressed"))));
            }
            Material::Rs256(k) => {
                m.insert("n".into(), json!(b64::encode(&k.n().to_bytes_be())));
                m.insert("e".into(), json!(b64::encode(&k.e().to_bytes_be())));
            }
        }
    }

    /// The public JWK to publish (`key_ops: ["verify"]`).
    pub fn public_jwk(&self) -> Value {
        let mut m = self.common(&["verify"]);
        self.public_members(&mut m);
        Value::Object(m)
    }

    /// The private JWK as the Supabase CLI writes it (coordinates padded to 32 bytes).
    pub fn private_jwk(&self) -> Value {
        let ops: &[&str] = if self.signs {
            &["sign", "verify"]
        } else {
            &["verify"]
        };
        let mut m = self.common(ops);
        m.insert("ext".into(), json!(true));
        self.public_members(&mut m);
        match &self.material {
            Material::Es256(k) => {
                m.insert("d".into(), json!(b64::encode(&k.to_bytes())));
            }
            Material::Rs256(k) => {
                let enc = |v: &BigUint| json!(b64::encode(&v.to_bytes_be()));
                m.insert("d".into(), enc(k.d()));
                m.insert("p".into(), enc(&k.primes()[0]));
                m.insert("q".into(), enc(&k.primes()[1]));
                if let (Some(dp), Some(dq)) = (k.dp(), k.dq()) {
                    m.insert("dp".into(), enc(dp));
                    m.insert("dq".into(), enc(dq));
                }
                if let Some(qi) = k.crt_coefficient() {
                    m.insert("qi".into(), enc(&qi));
                }
            }
        }
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(m)
    }

    /// Signs `claims` as a compact JWS with header `{"alg","kid","typ":"JWT"}`. ES256 signatures are
    /// deterministic (RFC 6979), RS256 is PKCS#1 v1.5.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg().as_str(), "kid": self.kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes())
        );
        let signature = match &self.material {
            Material::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(input.as_bytes());
                sig.to_bytes().to_vec()
            }
            Material::Rs256(k) => {
                use rsa::signature::SignatureEncoding;
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
                // Blinded where there is a random source (the CLI); the exchange endpoint signs ES256
                // only, so unblinded RSA never runs on a network-facing path.
                #[cfg(feature = "cli")]
                let sig = {
                    use rsa::signature::RandomizedSigner;
                    signer.sign_with_rng(&mut rand_core::OsRng, input.as_bytes())
                };
                #[cfg(not(feature = "cli"))]
                let sig = signer.sign(input.as_bytes());
                sig.to_vec()
            }
        };
        format!("{input}.{}", b64::encode(&signature))
    }
}

/// A signing-keys file: the Supabase CLI's JSON array (a single JWK object is accepted too).
pub fn read_keys(text: &[u8]) -> Result<Vec<SigningKey>, String> {
    let doc: Value = serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = match doc {
        Value::Array(a) => a,
        obj @ Value::Object(_) => vec![obj],
        _ => return Err("expected a JSON array of JWKs".into()),
    };
    let keys = list
        .iter()
        .enumerate()
        .map(|(i, k)| SigningKey::from_jwk(k).map_err(|e| format!("key [{i}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut kids: Vec<&str> = keys.iter().map(SigningKey::kid).collect();
    kids.sort_unstable();
    if kids.windows(2).any(|w| w[0] == w[1]) {
        return Err("two keys share a `kid`".into());
    }
    Ok(keys)
}

/// The JWKS (`{"keys":[…]}`) of the public halves of `keys`, to publish or verify with.
pub fn public_jwks(keys: &[SigningKey]) -> Value {
    serde_json::json!({"keys": keys.iter().map(SigningKey::public_jwk).collect::<Vec<_>>()})
}

/// The one key of `keys` that signs.
pub fn signing_key(keys: &[SigningKey]) -> Result<&SigningKey, String> {
    match choose_signing_key(keys, None)? {
        (k, Choice::Only) => Ok(k),
        (_, Choice::FirstOfSeveral) => Err(SEVERAL_SIGNERS.into()),
    }
}

const SEVERAL_SIGNERS: &str = "several keys have `sign` in `key_ops` (Supabase Auth accepts one; `supabase gen signing-key --append` marks every key so): keep `sign` on the current key only";

/// How [`choose_signing_key`] found its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// The only key with `sign`, or the one named by its `kid`.
    Only,
    /// The first of several keys with `sign`.
    FirstOfSeveral,
}

/// The key a command-line signer uses: the one named `kid` (it must have `sign`), else the one key
/// with `sign`, else, when several have it (a file extended by `supabase gen signing-key --append`),
/// the first, which is the one `supabase gen bearer-jwt` picks when asked for no `kid`.
pub fn choose_signing_key<'a>(
    keys: &'a [SigningKey],
    kid: Option<&str>,
) -> Result<(&'a SigningKey, Choice), String> {
    if let Some(kid) = kid {
        let key = keys
            .iter()
            .find(|k| k.kid() == kid)
            .ok_or_else(|| format!("no key has `kid` {kid:?}"))?;
        if !key.signs() {
            return Err(format!(
                "key {kid:?} has no `sign` in `key_ops` (it only verifies)"
            ));
        }
        return Ok((key, Choice::Only));
    }
    let mut signers = keys.iter().filter(|k| k.signs());
    match (signers.next(), signers.next()) {
        (Some(k), None) => Ok((k, Choice::Only)),
        (None, _) => Err("no key has `sign` in `key_ops`".into()),
        (Some(k), Some(_)) => Ok((k, Choice::FirstOfSeveral)),
    }
}
