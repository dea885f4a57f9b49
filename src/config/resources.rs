//! What a configuration names outside itself (JWKS files, secrets in settings), read through the
//! adapter's [`Sources`] into the gate's [`Resources`].

use super::GateConfig;
use crate::error::ConfigError;
use crate::gate::resources::{issuer_field, without_newline, Resources, Sources};

impl GateConfig {
    /// Reads everything the configuration names (JWKS files, the HS256 secret, the exchange's signing
    /// key, the proof secret) from `sources`: one set of rules for every adapter.
    pub fn resources(&self, sources: &impl Sources) -> Result<Resources, ConfigError> {
        let mut resources = Resources::default();
        for (i, issuer) in self.issuers().iter().enumerate() {
            let field = format!("{}.jwks_file", issuer_field(i));
            let contents = match &issuer.jwks_file {
                Some(path) => Some(sources.file(path, &field)?),
                None => None,
            };
            resources.jwks_files.push(contents);
        }
        if let Some(path) = self.hs256_secret_file() {
            let bytes = sources.file(path, "keys.hs256_secret_file")?;
            resources.hs256_secret = Some(without_newline(&bytes).to_vec());
        }
        match self.hs256_secret_env() {
            Some(name) => {
                let value = sources.setting(name).ok_or_else(|| {
                    ConfigError::new(
                        "keys.hs256_secret_env",
                        format!("names `{name}`, which is not set"),
                    )
                })?;
                resources.hs256_secret = Some(value);
            }
            None if resources.hs256_secret.is_none() => {
                resources.hs256_secret = sources
                    .default_hs256_setting()
                    .and_then(|n| sources.setting(n));
            }
            None => {}
        }
        if let Some(x) = self.exchange() {
            resources.exchange_signing_key = match &x.signing_key_file {
                Some(path) => Some(sources.file(path, "exchange.signing_key_file")?),
                None => sources.setting(&x.signing_key_env),
            };
        }
        resources.proof_secret = self.proof_secret_env().and_then(|n| sources.setting(n));
        Ok(resources)
    }
}
