//! What the gate keeps for the exchange: its configuration, the signing key, each provider's keys,
//! and the signature verdicts waiting for providers' tokens, as one value.

use super::settings::{ExchangeConfig, ProviderId};
use crate::alg::Algorithm;
use crate::crypto::SignatureProvider;
use crate::error::ConfigError;
use crate::gate::keystore::{IssuerKeysConfig, JwksTiming, KeyStore};
use crate::gate::outcome::SignatureJob;
use crate::gate::resources::{local_keys, Resources};
use crate::gate::verification::{conclude, Concluded, Verification};
use crate::keys::KeySet;
use crate::signing::{read_keys, signing_key, SigningKey};
use crate::verify::VerifiedToken;
use serde_json::Value;

/// The token exchange: configuration and state together, so that neither can be there without the
/// other.
pub struct Exchange {
    config: ExchangeConfig,
    signer: SigningKey,
    /// Fingerprints of every key in the exchange's key file (the signer and keys retired by a
    /// rotation): tokens the gate later sees signed with them may be ours.
    fingerprints: Vec<[u8; 32]>,
    /// One key store per provider (same order as the config's providers).
    stores: Vec<KeyStore>,
    /// Signature verdicts the adapter delivered for providers' tokens.
    concluded: Concluded,
}

impl Exchange {
    pub(crate) fn new(
        cfg: &ExchangeConfig,
        resources: &Resources,
        timing: JwksTiming,
        warnings: &mut Vec<String>,
    ) -> std::result::Result<Self, ConfigError> {
        let key_field = if cfg.signing_key_file.is_some() {
            "exchange.signing_key_file"
        } else {
            "exchange.signing_key_env"
        };
        let raw = resources.exchange_signing_key.as_ref().ok_or_else(|| {
            ConfigError::new(
                key_field,
                format!(
                    "the signing key was not provided (set the secret `{}`)",
                    cfg.signing_key_env
                ),
            )
        })?;
        let mut keys = read_keys(raw).map_err(|e| ConfigError::new(key_field, e))?;
        let current = signing_key(&keys).map_err(|e| ConfigError::new(key_field, e))?;
        // ES256 only: RSA signing here would be unblinded on a network-facing endpoint.
        if current.alg() != Algorithm::Es256 {
            return Err(ConfigError::new(
                key_field,
                "must be an ES256 key (aalgate keygen --alg ES256)",
            ));
        }
        let fingerprints = keys
            .iter()
            .map(|k| {
                crate::keys::import_jwk(&k.public_jwk())
                    .map(|e| *e.fingerprint())
                    .map_err(|e| ConfigError::new(key_field, e.to_string()))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let signer = keys.swap_remove(
            keys.iter()
                .position(SigningKey::signs)
                .expect("signing_key found it"),
        );
        let mut stores = Vec::new();
        for (i, p) in cfg.providers.iter().enumerate() {
            let mut local = KeySet::new();
            if let Some(doc) = &p.jwks_inline {
                let field = format!("exchange.providers[{i}].jwks");
                local = local_keys(doc.to_string().as_bytes(), &field, warnings)?;
            }
            let issuer = IssuerKeysConfig {
                issuer: p.issuer.clone(),
                jwks_url: p.jwks_url.clone(),
                jwks_file: None,
                jwks_inline: None,
            };
            stores.push(KeyStore::new(&[issuer], vec![local], timing));
        }
        Ok(Exchange {
            config: cfg.clone(),
            signer,
            fingerprints,
            stores,
            concluded: Concluded::new(),
        })
    }

    /// Whether a verified token is one the exchange minted: signed with one of its keys (the current
    /// one, or one it signed with before a rotation), with its issuer and its `app_metadata.provider`
    /// mark (Supabase Auth writes `app_metadata` itself, so its own tokens never carry the mark, even
    /// if it were ever to sign with this key).
    pub(crate) fn minted(&self, token: &VerifiedToken) -> bool {
        let c = token.claims();
        self.fingerprints.contains(token.key_fingerprint())
            && c.iss.as_deref() == Some(self.config.issuer.as_str())
            && c.get("app_metadata")
                .and_then(|m| m.get("provider"))
                .and_then(Value::as_str)
                == Some("aalgate_exchange")
    }

    /// The providers' stores that fetch `url` (several providers may share one JWKS URL).
    pub(crate) fn stores_for<'a>(
        &'a mut self,
        url: &'a str,
    ) -> impl Iterator<Item = &'a mut KeyStore> + 'a {
        self.stores.iter_mut().filter(move |s| s.fetches(url))
    }
}

impl Exchange {
    /// The validated section.
    pub fn config(&self) -> &ExchangeConfig {
        &self.config
    }

    pub(crate) fn signer(&self) -> &SigningKey {
        &self.signer
    }

    /// Everything one provider's token is verified with.
    pub(crate) fn verification<'a>(
        &'a mut self,
        id: ProviderId,
        provider: Option<&'a dyn SignatureProvider>,
    ) -> Verification<'a> {
        Verification {
            keys: &mut self.stores[id.0],
            validation: &self.config.providers[id.0].validation,
            concluded: &mut self.concluded,
            provider,
            exchange_provider: Some(id),
            keys_unavailable: "the identity provider's keys could not be fetched",
        }
    }

    /// The adapter's signature verdict for a provider's token.
    pub(crate) fn signature_checked(
        &mut self,
        id: ProviderId,
        job: SignatureJob,
        valid: bool,
        now: u64,
    ) {
        if let Some(p) = self.config.providers.get(id.0) {
            conclude(job, valid, &p.validation, &mut self.concluded, now);
        }
    }
}
