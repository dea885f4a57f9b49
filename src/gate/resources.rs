//! What the adapter read at load time (the core reads no files and no environment), and the key sets
//! and secrets built from it when the gate is built.

use super::keystore::IssuerKeysConfig;
use super::proof;
use crate::error::ConfigError;
use crate::keys::{HmacSecret, KeyEntry, KeySet, VerifyingKey};

/// Material the adapter read at load time (the core reads no files and no environment).
#[derive(Clone, Default)]
pub struct Resources {
    /// The HS256 secret (from `keys.hs256_secret_env` or `keys.hs256_secret_file`), for the Supabase issuer.
    pub hs256_secret: Option<Vec<u8>>,
    /// Contents of `jwks_file` per issuer, in the configuration's issuer order (`None` where there is none).
    pub jwks_files: Vec<Option<Vec<u8>>>,
    /// The token exchange's private signing key: a JWK, or a signing-keys file (its `sign` key).
    pub exchange_signing_key: Option<Vec<u8>>,
    /// The proof secret (from `forward.proof_secret_env`), for gate-only mode.
    pub proof_secret: Option<Vec<u8>>,
}

/// Secrets: `Debug` says only what is present.
impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resources")
            .field("hs256_secret", &self.hs256_secret.as_ref().map(|_| "…"))
            .field("jwks_files", &self.jwks_files.len())
            .field(
                "exchange_signing_key",
                &self.exchange_signing_key.as_ref().map(|_| "…"),
            )
            .field("proof_secret", &self.proof_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

pub(crate) fn local_keys(
    doc: &[u8],
    field: &str,
    warnings: &mut Vec<String>,
) -> std::result::Result<KeySet, ConfigError> {
    let (set, skipped) =
        KeySet::from_jwks(doc).map_err(|e| ConfigError::new(field, e.context().to_owned()))?;
    let reasons: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    if set.is_empty() {
        return Err(ConfigError::new(
            field,
            format!(
                "no usable key ({})",
                if reasons.is_empty() {
                    "empty".into()
                } else {
                    reasons.join("; ")
                }
            ),
        ));
    }
    warnings.extend(reasons.into_iter().map(|r| format!("{field}: skipped {r}")));
    Ok(set)
}

/// The configuration field of the `i`-th issuer (the Supabase issuer's `keys`, then
/// `keys.extra_issuers[…]`), for errors.
pub fn issuer_field(i: usize) -> String {
    match i {
        0 => "keys".to_owned(),
        _ => format!("keys.extra_issuers[{}]", i - 1),
    }
}

/// The local key set of each issuer (inline JWKS, a JWKS file the adapter read, the HS256 secret for
/// the Supabase issuer), in issuer order. Skipped keys become warnings.
pub(crate) fn issuer_keys(
    issuers: &[IssuerKeysConfig],
    hs256_configured: bool,
    resources: &Resources,
    warnings: &mut Vec<String>,
) -> Result<Vec<KeySet>, ConfigError> {
    let mut local = Vec::new();
    for (i, issuer) in issuers.iter().enumerate() {
        let field = issuer_field(i);
        let mut set = KeySet::new();
        if let Some(inline) = &issuer.jwks_inline {
            set = local_keys(
                inline.to_string().as_bytes(),
                &format!("{field}.jwks"),
                warnings,
            )?;
        }
        if issuer.jwks_file.is_some() {
            let doc = resources
                .jwks_files
                .get(i)
                .and_then(Option::as_ref)
                .ok_or_else(|| {
                    ConfigError::new(format!("{field}.jwks_file"), "was not read by the adapter")
                })?;
            set = local_keys(doc, &format!("{field}.jwks_file"), warnings)?;
        }
        if i == 0 {
            if let Some(secret) = &resources.hs256_secret {
                let secret = HmacSecret::new(secret.clone()).map_err(|len| {
                    ConfigError::new(
                        "keys.hs256_secret",
                        format!("is {len} bytes; at least 32 are required"),
                    )
                })?;
                set.push(KeyEntry::new(None, VerifyingKey::Hs256(secret)));
            } else if hs256_configured {
                return Err(ConfigError::new(
                    "keys.hs256_secret",
                    "is configured but was not provided",
                ));
            }
        }
        local.push(set);
    }
    Ok(local)
}

/// Gate-only mode's secret, when `forward.proof_secret_env` names one: present and long enough.
pub(crate) fn proof_secret(
    setting: Option<&str>,
    resources: &Resources,
) -> Result<Option<Vec<u8>>, ConfigError> {
    match (setting, &resources.proof_secret) {
        (None, _) => Ok(None),
        (Some(name), None) => Err(ConfigError::new(
            "forward.proof_secret_env",
            format!("names `{name}`, which is not set"),
        )),
        (Some(_), Some(s)) if s.len() < proof::MIN_SECRET_BYTES => Err(ConfigError::new(
            "forward.proof_secret_env",
            format!(
                "the secret is {} bytes; at least {} are required",
                s.len(),
                proof::MIN_SECRET_BYTES
            ),
        )),
        (Some(_), Some(s)) => Ok(Some(s.clone())),
    }
}

/// Where an adapter finds what a configuration names: settings (environment variables, Worker vars
/// and secrets) and files. The CLI has both; the wasm front doors have settings only.
pub trait Sources {
    /// A setting's value; `None` when it is unset (or empty).
    fn setting(&self, name: &str) -> Option<Vec<u8>>;

    /// A file the configuration names at `field`; the error names the field and the problem.
    fn file(&self, path: &str, field: &str) -> Result<Vec<u8>, ConfigError>;

    /// The setting holding the HS256 secret when `keys.hs256_secret_env` is not given (the wasm front
    /// doors read `SUPABASE_JWT_SECRET`; the CLI reads none).
    fn default_hs256_setting(&self) -> Option<&str> {
        None
    }
}

/// A secret file's bytes without one trailing newline (editors add one; the secret never has it).
pub fn without_newline(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes)
}
