//! The native command-line front door: `aalgate verify`, `inspect`, `check-config`, `explain`, and the
//! service-identity commands in [`service`] (`keygen`, `jwks`, `mint`, `sql role`), and `init` for a
//! Supabase project folder.
//!
//! Exit codes: 0 valid, 1 token refused (code and reason printed), 2 usage or key-file problem.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod gate;
mod init;
mod io;
mod probe;
mod service;
mod verify;

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
    Verify(verify::VerifyArgs),
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
    Explain(gate::ExplainArgs),
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
    /// Make a Supabase project folder protected: hook (and wall) migrations, config.toml's hook
    /// section, aalgate.toml.
    Init(init::InitArgs),
    /// Check a live project from outside: does its origin wall refuse an enrolled user's aal1 token?
    Probe(probe::ProbeArgs),
}

/// Runs the CLI with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify::run_verify(args),
        Command::Inspect { token } => verify::run_inspect(&token),
        Command::CheckConfig { file } => gate::run_check_config(&file),
        Command::Explain(args) => gate::run_explain(args),
        Command::Keygen(args) => service::run_keygen(args),
        Command::Jwks { file } => service::run_jwks(&file),
        Command::Mint(args) => service::run_mint(args),
        Command::Sql(command) => service::run_sql(command),
        Command::Probe(args) => probe::run_probe(args),
        Command::Init(args) => init::run_init(args),
    };
    match result {
        Ok(code) => code,
        Err(usage) => {
            eprintln!("aalgate: {usage}");
            ExitCode::from(2)
        }
    }
}
