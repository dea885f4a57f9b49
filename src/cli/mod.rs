//! The native command-line front door: `aalgate verify`, `inspect`, `check-config`, `explain`, and the
//! service-identity commands in [`service`] (`keygen`, `jwks`, `mint`, `sql role`).
//!
//! Exit codes: 0 valid, 1 token refused (code and reason printed), 2 usage or key-file problem.

use crate::config::GateConfig;
use crate::dangerous::insecure_decode;
use crate::gate::{Decision, Gate, Outcome, Request, Resources};
use crate::keys::{import_jwk, import_oct_jwk, HmacSecret, KeyEntry, KeySet, VerifyingKey};
use crate::token::Header;
use crate::{json, verify, verify_signature, NativeProvider, Validation};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod probe;
mod service;

#[derive(Parser)]
#[command(
    name = "aalgate",
    version,
    about = "Edge gate for Supabase: verify tokens, explain decisions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a token offline against local keys.
    Verify(VerifyArgs),
    /// Decode a token WITHOUT verifying it.
    Inspect {
        /// The token, or `-` to read it from standard input.
        token: String,
    },
    /// Validate a gate configuration file (TOML or JSON) and print its route table.
    CheckConfig {
        /// The configuration file (`.toml` or `.json`).
        file: PathBuf,
    },
    /// Show each step of the gate's decision for one request, and the exact response.
    Explain(ExplainArgs),
    /// Generate a signing key (the Supabase CLI's signing_keys.json format).
    Keygen(service::KeygenArgs),
    /// Print the public JWKS of a signing-keys file (to publish or upload).
    Jwks {
        /// The signing-keys file.
        file: PathBuf,
    },
    /// Mint a token for a service role, signed with the file's signing key.
    Mint(service::MintArgs),
    /// SQL templates.
    #[command(subcommand)]
    Sql(service::SqlCommand),
    /// Check a live project from outside: does its origin wall refuse an enrolled user's aal1 token?
    Probe(probe::ProbeArgs),
}

#[derive(Args)]
struct ExplainArgs {
    /// The configuration file (`.toml` or `.json`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// HTTP method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request path, optionally with its query (`/rest/v1/todos?select=*`).
    #[arg(long)]
    path: String,
    /// A request header, `Name: value`. Repeatable.
    #[arg(long = "header", value_name = "'K: V'")]
    headers: Vec<String>,
    /// Shorthand for `--header 'Authorization: Bearer TOKEN'`.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// JWKS file to use where the configuration names a JWKS URL (the CLI does not fetch).
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// A saved answer of `GET /auth/v1/user` for the token's user (for a route that needs the
    /// enrollment fact when the token does not settle it); the CLI does not fetch.
    #[arg(long, value_name = "FILE")]
    user_json: Option<PathBuf>,
    /// Current time in seconds since the epoch. Default: the system clock.
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// JWKS file (`{"keys":[...]}`) with public EC P-256 / RSA keys. Repeatable.
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

/// Runs the CLI with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => run_verify(args),
        Command::Inspect { token } => run_inspect(&token),
        Command::CheckConfig { file } => run_check_config(&file),
        Command::Explain(args) => run_explain(args),
        Command::Keygen(args) => service::run_keygen(args),
        Command::Jwks { file } => service::run_jwks(&file),
        Command::Mint(args) => service::run_mint(args),
        Command::Sql(command) => service::run_sql(command),
        Command::Probe(args) => probe::run_probe(args),
    };
    match result {
        Ok(code) => code,
        Err(usage) => {
            eprintln!("aalgate: {usage}");
            ExitCode::from(2)
        }
    }
}

fn read_token(arg: &str) -> Result<String, String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("reading the token from standard input: {e}"))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_json(path: &Path) -> Result<Value, String> {
    json::parse_value(&read_file(path)?)
        .map_err(|e| format!("{}: the file {}", path.display(), e.describe()))
}

/// Builds the key set from the flags. A file that yields no usable key is an error naming each skipped
/// key and why, because silently verifying against fewer keys than intended hides mistakes.
fn load_keys(args: &VerifyArgs) -> Result<KeySet, String> {
    let mut set = KeySet::new();
    for path in &args.jwks {
        let (keys, skipped) = KeySet::from_jwks(&read_file(path)?)
            .map_err(|e| format!("{}: {}", path.display(), e.context()))?;
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
        let trimmed = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(&bytes);
        let secret = HmacSecret::new(trimmed.to_vec()).map_err(|len| {
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

fn run_verify(args: VerifyArgs) -> Result<ExitCode, String> {
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

fn run_inspect(arg: &str) -> Result<ExitCode, String> {
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

fn now_or_clock(now: Option<u64>) -> Result<u64, String> {
    match now {
        Some(now) => Ok(now),
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| "the system clock is before 1970".to_string()),
    }
}

/// Reads a configuration file and everything it points at (JWKS files relative to it, the HS256 secret
/// from its file or environment variable): the CLI is the adapter that does this I/O.
fn load_gate(path: &Path) -> Result<(Gate, Vec<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let is_json =
        path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    let config = if is_json {
        GateConfig::from_json(&text)
    } else {
        GateConfig::from_toml(&text)
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut resources = Resources::default();
    for issuer in config.issuers() {
        let contents = match &issuer.jwks_file {
            Some(file) => Some(read_file(&base.join(file))?),
            None => None,
        };
        resources.jwks_files.push(contents);
    }
    if let Some(var) = &config.hs256_secret_env() {
        let value = std::env::var(var).map_err(|_| {
            format!(
                "{}: keys.hs256_secret_env names `{var}`, which is not set",
                path.display()
            )
        })?;
        resources.hs256_secret = Some(value.into_bytes());
    }
    if let Some(file) = &config.hs256_secret_file() {
        let bytes = read_file(&base.join(file))?;
        let trimmed = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(&bytes);
        resources.hs256_secret = Some(trimmed.to_vec());
    }
    if let Some(x) = &config.exchange() {
        resources.exchange_signing_key = match &x.signing_key_file {
            Some(file) => Some(read_file(&base.join(file))?),
            None => std::env::var(&x.signing_key_env)
                .ok()
                .map(String::into_bytes),
        };
    }
    if let Some(var) = &config.proof_secret_env() {
        resources.proof_secret = std::env::var(var).ok().map(String::into_bytes);
    }
    Gate::new(config, resources).map_err(|e| format!("{}: {e}", path.display()))
}

fn run_check_config(path: &Path) -> Result<ExitCode, String> {
    let (gate, warnings) = load_gate(path)?;
    for w in &warnings {
        eprintln!("aalgate: warning: {w}");
    }
    let cfg = gate.config();
    println!("ok: {}", path.display());
    println!("supabase_url: {}", cfg.supabase_url());
    println!("issuers: {}", cfg.validation().issuers.join(", "));
    println!(
        "require_aal2_for_enrolled: {}",
        if cfg.require_aal2_for_enrolled() {
            "on"
        } else {
            "OFF (enrolled users pass at aal1 unless a route says otherwise)"
        }
    );
    println!(
        "mode: {}",
        if cfg.mode() == crate::gate::Mode::Enforce {
            "enforce"
        } else {
            "report_only"
        }
    );
    println!("routes (first match wins):");
    for r in cfg.routes().iter().chain(std::iter::once(cfg.fallback())) {
        let methods = if r.methods.is_empty() {
            "*".to_owned()
        } else {
            r.methods.join(",")
        };
        println!(
            "  {:<31} {:<8} {:<38} auth={:<8} aal={}{}{}",
            r.name,
            methods,
            r.pattern.as_str(),
            r.auth.as_str(),
            r.aal.as_str(),
            r.max_age
                .map(|m| format!(" max_age={m}"))
                .unwrap_or_default(),
            if r.allow_service_keys {
                " service_keys"
            } else {
                ""
            },
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_explain(args: ExplainArgs) -> Result<ExitCode, String> {
    let (mut gate, warnings) = load_gate(&args.config)?;
    gate.set_tracing(true);
    for w in &warnings {
        eprintln!("aalgate: warning: {w}");
    }
    let now = now_or_clock(args.now)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("--header {h:?}: expected 'Name: value'"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    if let Some(token) = &args.token {
        headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
    }
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let method = args.method.to_ascii_uppercase();
    // `--path '/storage/v1/s3/b/k?X-Amz-Security-Token=…'`: the query is judged too.
    let (path, query) = args.path.split_once('?').unwrap_or((&args.path, ""));
    let req = Request {
        method: &method,
        path,
        query,
        headers: &refs,
    };
    let mut fetched = false;
    let verdict = loop {
        match gate.decide(&req, now) {
            Outcome::Done(v) => break v,
            Outcome::VerifySignature(_) | Outcome::Wait(_) => {
                return Err("internal: unexpected step for a single native decision".into())
            }
            Outcome::LookupEnrollment(job) => {
                let Some(file) = &args.user_json else {
                    return Err(format!(
                        "the decision needs GET {} (the user's factors); the CLI does not fetch: save the answer and pass --user-json FILE",
                        job.url()
                    ));
                };
                let body = read_file(file)?;
                gate.enrollment_checked(job, Some((200, &body)), now)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
            }
            Outcome::FetchKeys(urls) => {
                let Some(file) = &args.jwks else {
                    return Err(format!(
                        "the decision needs the JWKS at {}; the CLI does not fetch: save it and pass --jwks FILE",
                        urls[0].0
                    ));
                };
                if fetched {
                    return Err("internal: keys requested twice".into());
                }
                let body = read_file(file)?;
                for (url, _) in &urls {
                    gate.jwks_fetched(url, &body, None, now)
                        .map_err(|e| format!("{}: {}", file.display(), e.context()))?;
                }
                fetched = true;
            }
        }
    };
    let (decision, status, code, out_headers, body, extra) = match &verdict.decision {
        Decision::Reject(r) | Decision::Answer(r) => (
            if matches!(verdict.decision, Decision::Answer(_)) {
                "answer"
            } else {
                "reject"
            },
            json!(r.status),
            json!(r.code),
            r.headers
                .iter()
                .map(|(n, v)| (n.clone(), json!(v)))
                .collect::<Map<String, Value>>(),
            r.body.clone(),
            Value::Null,
        ),
        Decision::Forward(f) => (
            "forward",
            Value::Null,
            json!(f.would_reject.as_ref().map(|r| r.code)),
            f.add_headers
                .iter()
                .map(|(n, v)| (n.clone(), json!(v)))
                .collect(),
            Value::Null,
            json!({"would_reject": f.would_reject.as_ref().map(|r| json!({"status": r.status, "code": r.code}))}),
        ),
    };
    if args.json {
        let mut out = json!({"decision": decision, "status": status, "code": code, "headers": out_headers, "body": body, "steps": verdict.steps});
        if !extra.is_null() {
            out["would_reject"] = extra["would_reject"].clone();
        }
        println!("{out}");
    } else {
        println!("request: {method} {}", args.path);
        for (i, step) in verdict.steps.iter().enumerate() {
            println!("  {}. {step}", i + 1);
        }
        match &verdict.decision {
            Decision::Reject(r) | Decision::Answer(r) => {
                if matches!(verdict.decision, Decision::Answer(_)) {
                    println!("decision: answered by the gate's own endpoint");
                } else {
                    println!("decision: reject — the upstream is never called");
                }
                println!("response: HTTP {}", r.status);
                for (n, v) in &r.headers {
                    println!("  {n}: {v}");
                }
                println!("  {}", r.body);
            }
            Decision::Forward(f) => {
                println!("decision: forward — the upstream answers");
                for (n, v) in &f.add_headers {
                    println!("  adds {n}: {v}");
                }
                if let Some(r) = &f.would_reject {
                    println!(
                        "  report_only: enforcement would answer HTTP {} {}",
                        r.status, r.code
                    );
                }
            }
        }
    }
    Ok(match verdict.decision {
        Decision::Forward(_) => ExitCode::SUCCESS,
        Decision::Answer(r) if r.status < 400 => ExitCode::SUCCESS,
        Decision::Reject(_) | Decision::Answer(_) => ExitCode::from(1),
    })
}
