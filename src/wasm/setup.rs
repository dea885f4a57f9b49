//! Building the gate in a wasm front door from what the runtime offers: a configuration document
//! (JSON text) and named settings (`SUPABASE_URL`, the HS256 secret). Shared by the Worker (vars and
//! secrets) and the portable module (a config object plus `Deno.env` / `process.env`), so both accept
//! and refuse exactly the same configurations.

use crate::config::GateConfig;
use crate::error::ConfigError;
use crate::gate::resources::Sources;
use crate::gate::Gate;

/// A built gate and the project it guards.
pub struct Loaded {
    /// The gate (signatures are checked by WebCrypto through the driver).
    pub gate: Gate,
    /// The project URL without a trailing slash: where `proxy` forwards to.
    pub upstream: String,
    /// Load-time warnings, for the runtime's console.
    pub warnings: Vec<String>,
}

/// Builds the gate. `config_json` is the `AALGATE_CONFIG` document (`None`: only `SUPABASE_URL`); `setting` reads a named environment value (empty counts as unset); `source`
/// names where `config_json` came from, for error messages.
pub fn load(
    config_json: Option<&str>,
    source: &str,
    setting: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    let setting = |name: &str| setting(name).filter(|v| !v.is_empty());
    let mut doc = match config_json {
        Some(json) => serde_json::from_str::<serde_json::Value>(json)
            .map_err(|e| ConfigError::new(source, format!("is not valid JSON: {e}")))?,
        // The headline rule is on by default in the core; nothing to add here.
        None => serde_json::json!({}),
    };
    let object = doc
        .as_object_mut()
        .ok_or_else(|| ConfigError::new(source, "must be a JSON object"))?;
    if let Some(url) = setting("SUPABASE_URL") {
        match object.get("supabase_url").and_then(|v| v.as_str()) {
            Some(existing) if existing.trim_end_matches('/') != url.trim_end_matches('/') => {
                return Err(ConfigError::new(
                    "supabase_url",
                    format!("{source} and SUPABASE_URL name different projects"),
                ))
            }
            _ => {
                object.insert("supabase_url".into(), url.into());
            }
        }
    }
    let config = GateConfig::from_json(&doc.to_string())?;
    let resources = config.resources(&Settings(&setting))?;
    let upstream = config.supabase_url().to_owned();
    let (gate, warnings) = Gate::with_external_signatures(config, resources)?;
    Ok(Loaded {
        gate,
        upstream,
        warnings,
    })
}

/// The wasm front doors' sources: named settings only. Files are refused: a Worker has none, and the
/// portable module must behave the same in every runtime.
struct Settings<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Sources for Settings<'_> {
    fn setting(&self, name: &str) -> Option<Vec<u8>> {
        (self.0)(name).map(String::into_bytes)
    }

    fn file(&self, _path: &str, field: &str) -> Result<Vec<u8>, ConfigError> {
        let instead = match field {
            "keys.hs256_secret_file" => "use the SUPABASE_JWT_SECRET setting",
            "exchange.signing_key_file" => {
                "put the private JWK in a secret (exchange.signing_key_env)"
            }
            _ => "give the JWKS inline (`jwks`) or a `jwks_url`",
        };
        Err(ConfigError::new(
            field,
            format!("files are not read by the wasm front doors; {instead}"),
        ))
    }

    fn default_hs256_setting(&self) -> Option<&str> {
        Some("SUPABASE_JWT_SECRET")
    }
}
