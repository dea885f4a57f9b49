//! `aalgate verify` (a token against local keys) and `aalgate inspect` (decode without verifying).

use super::io::{now_or_clock, read_file, read_json, read_jwks, read_token};
use crate::dangerous::insecure_decode;
use crate::gate::resources::without_newline;
use crate::keys::{import_jwk, import_oct_jwk, HmacSecret, KeyEntry, KeySet, VerifyingKey};
use crate::service_role::reserved_role;
use crate::token::Header;
use crate::{verify, verify_signature, NativeProvider, Validation};
use clap::Args;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(super) struct VerifyArgs {
    /// JWKS file (`{"keys":[...]}`) with public EC P-256 / RSA keys, or a signing-keys file (the JSON
    /// array `supabase gen signing-key` and `aalgate keygen` write: its public halves are used).
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    jwks: Vec<PathBuf>,
    /// File with one public JWK. Repeatable.
    #[arg(long, value_name = "FILE")]
    jwk: Vec<PathBuf>,
    /// File holding the HS256 secret as Supabase shows it; its bytes are the key (one trailing newline
    /// is ignored).
    #[arg(long, value_name = "FILE")]
    hs256_secret_file: Option<PathBuf>,
    /// File with an `oct` JWK to use as the HS256 secret.
    #[arg(long, value_name = "FILE")]
    hs256_jwk: Option<PathBuf>,
    /// Accepted issuer (exact). Repeatable. Default: any.
    #[arg(long, value_name = "ISS")]
    issuer: Vec<String>,
    /// Accepted audience (exact). Repeatable. Default: authenticated.
    #[arg(long, value_name = "AUD")]
    audience: Vec<String>,
    /// Accept a token with neither `iss` nor `aud` (what `supabase gen bearer-jwt` mints) when its
    /// `role` is ROLE, as a service role with `accept_cli_tokens = true` does; every key given counts
    /// as the project's own (the gate accepts such tokens only from the project's keys: give only
    /// those). Repeatable; not for Supabase's own roles.
    #[arg(long, value_name = "ROLE")]
    accept_cli_role: Vec<String>,
    /// Current time in seconds since the epoch. Default: the system clock.
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// Allowed clock skew in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    leeway: u64,
    /// Largest accepted `exp - iat` in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    max_lifetime: u64,
    /// Check the header and the signature only, not the claims (for vectors whose `exp` is long past).
    #[arg(long)]
    skip_claims: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The token, or `-` to read it from standard input.
    token: String,
}

/// Builds the key set from the flags. A file that yields no usable key is an error naming each skipped
/// key and why, because silently verifying against fewer keys than intended hides mistakes.
fn load_keys(args: &VerifyArgs) -> Result<KeySet, String> {
    let mut set = KeySet::new();
    for path in &args.jwks {
        let text = read_jwks(path)?;
        let (keys, skipped) =
            KeySet::from_jwks(&text).map_err(|e| format!("{}: {}", path.display(), e.context()))?;
        if keys.is_empty() {
            let mut msg = format!("{}: no usable key", path.display());
            for s in &skipped {
                msg.push_str(&format!(
                    "
  {s}"
                ));
            }
            if skipped.is_empty() {
                msg.push_str(" (the `keys` array is empty)");
            }
            return Err(msg);
        }
        for s in &skipped {
            eprintln!("aalgate: {}: skipped {s}", path.display());
        }
        keys.keys().iter().cloned().for_each(|k| set.push(k));
    }
    for path in &args.jwk {
        let entry =
            import_jwk(&read_json(path)?).map_err(|p| format!("{}: {p}", path.display()))?;
        set.push(entry);
    }
    if let Some(path) = &args.hs256_secret_file {
        let bytes = read_file(path)?;
        let secret = HmacSecret::new(without_newline(&bytes).to_vec()).map_err(|len| {
            format!(
                "{}: HMAC secret is {len} bytes; at least 32 are required",
                path.display()
            )
        })?;
        set.push(KeyEntry::new(None, VerifyingKey::Hs256(secret)));
    }
    if let Some(path) = &args.hs256_jwk {
        let entry =
            import_oct_jwk(&read_json(path)?).map_err(|p| format!("{}: {p}", path.display()))?;
        set.push(entry);
    }
    if set.is_empty() {
        return Err("no keys given: use --jwks, --jwk, --hs256-secret-file or --hs256-jwk".into());
    }
    Ok(set)
}

pub(super) fn run_verify(args: VerifyArgs) -> Result<ExitCode, String> {
    if let Some(role) = args.accept_cli_role.iter().find(|r| reserved_role(r)) {
        return Err(format!(
            "--accept-cli-role {role}: only for service roles of your own (the gate never accepts a {role} token without `iss` and `aud`)"
        ));
    }
    let keys = load_keys(&args)?;
    let token = read_token(&args.token)?;
    if args.issuer.is_empty() && !args.skip_claims {
        eprintln!("aalgate: note: no --issuer given, so `iss` is not checked");
    }
    let mut validation = Validation {
        issuers: args.issuer.clone(),
        any_issuer: args.issuer.is_empty(),
        leeway: args.leeway,
        max_lifetime: Some(args.max_lifetime),
        issuerless_roles: args.accept_cli_role.clone(),
        ..Validation::default()
    };
    if !args.audience.is_empty() {
        validation.audiences = args.audience.clone();
    }
    let now = now_or_clock(args.now)?;
    let outcome = if args.skip_claims {
        verify_signature(&token, &keys, &validation, &NativeProvider).map(|t| {
            // A JWS payload need not be JSON (RFC 7520's examples are prose): show it as text then.
            let payload = t.payload_json().unwrap_or_else(|_| {
                let mut m = Map::new();
                m.insert(
                    "payload_text".into(),
                    Value::String(String::from_utf8_lossy(t.payload()).into_owned()),
                );
                m
            });
            (t.header().clone(), payload)
        })
    } else {
        verify(&token, &keys, &validation, &NativeProvider, now)
            .map(|t| (t.header().clone(), t.claims().all().clone()))
    };
    match outcome {
        Ok((header, claims)) => {
            if args.json {
                let out = json!({"valid": true, "header": header.members(), "claims": claims});
                println!("{out}");
            } else {
                let what = if args.skip_claims {
                    "signature verified (claims NOT checked)"
                } else {
                    "signature and claims verified"
                };
                println!("valid: {what}");
                print_parts(&header, &claims);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    json!({"valid": false, "code": e.code().as_str(), "message": e.context()})
                );
            } else {
                println!("invalid: {}: {}", e.code(), e.context());
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn print_parts(header: &Header, claims: &Map<String, Value>) {
    let pretty = |v: &Map<String, Value>| serde_json::to_string_pretty(v).unwrap_or_default();
    println!("header: {}", pretty(header.members()));
    println!("claims: {}", pretty(claims));
}

pub(super) fn run_inspect(arg: &str) -> Result<ExitCode, String> {
    let token = read_token(arg)?;
    match insecure_decode(&token, crate::token::DEFAULT_MAX_TOKEN_BYTES) {
        Ok((header, payload)) => {
            println!("UNVERIFIED: decoded only; nothing here is trustworthy until `aalgate verify` accepts it");
            print_parts(&header, &payload);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("invalid: {}: {}", e.code(), e.context());
            Ok(ExitCode::from(1))
        }
    }
}
