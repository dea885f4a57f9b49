//! `aalgate check-config` (load a configuration and print what it means) and `aalgate explain` (each
//! step of one decision, and the exact response). The CLI is the adapter here: it reads the files a
//! configuration points at, and answers the gate's I/O tickets from files given on the command line.

use super::io::{now_or_clock, read_file, read_jwks};
use crate::config::GateConfig;
use crate::drive::{drive, Io};
use crate::error::Error;
use crate::gate::enrollment::{EnrollmentJob, LookupFailure};
use crate::gate::resources::Sources;
use crate::gate::{Decision, Gate, Request};
use clap::Args;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub(super) struct ExplainArgs {
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
    let sources = FilesAndEnv {
        base: path.parent().unwrap_or(Path::new(".")),
    };
    let resources = config
        .resources(&sources)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Gate::new(config, resources).map_err(|e| format!("{}: {e}", path.display()))
}

pub(super) fn run_check_config(path: &Path) -> Result<ExitCode, String> {
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
    print_service_roles_and_exchange(cfg);
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run_explain(args: ExplainArgs) -> Result<ExitCode, String> {
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
    let mut io = FilesIo {
        jwks: args.jwks.as_deref(),
        user_json: args.user_json.as_deref(),
    };
    let verdict = drive(&mut gate, &req, now, &mut io).map_err(|e| e.to_string())?;
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

/// `explain`'s I/O: the files given with `--jwks` and `--user-json` (the CLI never fetches).
struct FilesIo<'a> {
    jwks: Option<&'a Path>,
    user_json: Option<&'a Path>,
}

impl Io for FilesIo<'_> {
    fn fetch_jwks(&mut self, url: &str) -> Result<Vec<u8>, String> {
        let file = self.jwks.ok_or_else(|| {
            format!("the decision needs the JWKS at {url}; the CLI does not fetch: save it and pass --jwks FILE")
        })?;
        read_jwks(file)
    }

    fn lookup_user(&mut self, job: &EnrollmentJob) -> Result<Option<(u16, Vec<u8>)>, String> {
        let file = self.user_json.ok_or_else(|| {
            format!(
                "the decision needs GET {} (the user's factors); the CLI does not fetch: save the answer and pass --user-json FILE",
                job.url()
            )
        })?;
        Ok(Some((200, read_file(file)?)))
    }

    fn jwks_unusable(&mut self, _url: &str, why: &Error) -> Result<(), String> {
        Err(format!("{}: {}", shown(self.jwks), why.context()))
    }

    fn lookup_unusable(&mut self, why: &LookupFailure) -> Result<(), String> {
        Err(format!("{}: {why}", shown(self.user_json)))
    }
}

/// A file named on the command line, for a message (only called once the file was read).
fn shown(file: Option<&Path>) -> String {
    file.map(|f| f.display().to_string()).unwrap_or_default()
}

/// The CLI's sources: files relative to the configuration file, settings from the environment.
struct FilesAndEnv<'a> {
    base: &'a Path,
}

impl Sources for FilesAndEnv<'_> {
    fn setting(&self, name: &str) -> Option<Vec<u8>> {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(String::into_bytes)
    }

    fn file(&self, path: &str, field: &str) -> Result<Vec<u8>, crate::error::ConfigError> {
        read_file(&self.base.join(path)).map_err(|e| crate::error::ConfigError::new(field, e))
    }
}

/// The parts of a configuration besides the route table that decide who gets in: service roles (and
/// their scopes) and the exchange's providers.
fn print_service_roles_and_exchange(cfg: &GateConfig) {
    let list = |v: &[String]| {
        if v.is_empty() {
            "any".to_owned()
        } else {
            v.join(",")
        }
    };
    if !cfg.service_roles().is_empty() {
        println!("service roles (their scopes replace the route table for their tokens):");
    }
    for role in cfg.service_roles() {
        let scopes: Vec<String> = role
            .scopes
            .iter()
            .map(|s| {
                let methods = if s.methods.is_empty() {
                    "*".to_owned()
                } else {
                    s.methods.join(",")
                };
                format!("{methods} {}", s.pattern.as_str())
            })
            .collect();
        println!(
            "  {:<31} max_lifetime={} subs={} issuers={} scopes: {}",
            role.role,
            role.max_lifetime,
            list(&role.subs),
            role.issuers.join(","),
            scopes.join("; ")
        );
    }
    if let Some(x) = cfg.exchange() {
        println!(
            "exchange: POST {} mints tokens of {} (at most {} s)",
            x.path, x.issuer, x.max_lifetime
        );
        for p in &x.providers {
            println!(
                "  provider {} audiences={} aal2_when: acr={} amr={}{}",
                p.issuer,
                p.validation.audiences.join(","),
                list(&p.aal2_acr),
                list(&p.aal2_amr),
                if p.require_mfa { " require_mfa" } else { "" }
            );
        }
    }
}
