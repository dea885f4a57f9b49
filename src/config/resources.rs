//! What a configuration names outside itself (JWKS files, secrets in settings), read through the
//! adapter's [`Sources`] into the gate's [`Resources`].

use super::GateConfig;
use crate::error::ConfigError;
use crate::gate::resources::{without_newline, Resources, Sources};

impl GateConfig {
    /// Reads everything the configuration names (JWKS files, the HS256 secret, the exchange's signing key, the
    /// proof secret) from `sources`: one set of rules for every adapter.
    pub fn resources(&self, sources: &impl Sources) -> Result<Resources, ConfigError> {
        let config = self;
        let mut resources = Resources::default();
        for (i, issuer) in config.issuers().iter().enumerate() {
            let field = if i == 0 {
                "keys.jwks_file".to_owned()
            } else {
                format!("keys.extra_issuers[{}].jwks_file", i - 1)
            };
            let contents = match &issuer.jwks_file {
                Some(path) => Some(sources.file(path, &field)?),
                None => None,
            };
            resources.jwks_files.push(contents);
        }
        if let Some(path) = config.hs256_secret_file() {
            let bytes = sources.file(path, "keys.hs256_secret_file")?;
            resources.hs256_secret = Some(without_newline(&bytes).to_vec());
        }
        match config.hs256_secret_env() {
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
        if let Some(x) = config.exchange() {
            resources.exchange_signing_key = match &x.signing_key_file {
                Some(path) => Some(sources.file(path, "exchange.signing_key_file")?),
                None => sources.setting(&x.signing_key_env),
            };
        }
        resources.proof_secret = config.proof_secret_env().and_then(|n| sources.setting(n));
        Ok(resources)
    }
}
