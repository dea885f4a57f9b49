//! Service identities from the command line: `aalgate keygen`, `jwks`, `mint` and `sql role`.
//!
//! Backend services and agents should not hold the project's secret key. Instead: a signing key of
//! your own (uploaded to Supabase as a standby or the current key), short-lived tokens for a
//! least-privilege Postgres role, and gate rules that keep each role on its routes.

use super::io::{migration_stamp, now_or_clock, read_keys_file, write_new};
use crate::service_role::{
    grant_sql, ident, plain_role_name, reserved_role, MAX_EXP, MINT_LIFETIME_CAP,
    MINT_RESERVED_CLAIMS,
};
use crate::signing::{choose_signing_key, public_jwks, Choice, SigningKey};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum KeyAlg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "RS256")]
    Rs256,
}

#[derive(Args)]
pub(super) struct KeygenArgs {
    /// Key algorithm.
    #[arg(long, value_enum, default_value = "ES256")]
    alg: KeyAlg,
    /// Write (or with --append, extend) this signing-keys file (created with mode 0600).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Add the new key to --out as the one signing key, first in the file; the existing keys become
    /// verify-only.
    #[arg(long, requires = "out")]
    append: bool,
}

#[derive(Args)]
pub(super) struct MintArgs {
    /// The Postgres role the token runs as (see `aalgate sql role`).
    #[arg(long)]
    role: String,
    /// The `sub` claim (a UUID). Default: a new random UUID.
    #[arg(long, value_name = "UUID")]
    sub: Option<String>,
    /// Lifetime, e.g. `15m`, `1h`, `7d` (default 1h).
    #[arg(long, value_name = "DURATION", conflicts_with = "exp")]
    valid_for: Option<String>,
    /// Expiry as an RFC 3339 time in UTC, e.g. `2026-12-31T23:59:59Z`.
    #[arg(long, value_name = "RFC3339")]
    exp: Option<String>,
    /// An extra claim, KEY=JSON (e.g. `--claim 'app_metadata={"tenant":"a"}'`). Repeatable.
    #[arg(long, value_name = "KEY=JSON")]
    claim: Vec<String>,
    /// The `iss` claim: your project's `https://<ref>.supabase.co/auth/v1` for the gate to accept it.
    #[arg(long, value_name = "ISS")]
    issuer: Option<String>,
    /// The `aud` claim.
    #[arg(long, value_name = "AUD", default_value = "authenticated")]
    audience: String,
    /// The signing-keys file (its one `sign` key signs).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "supabase/signing_keys.json"
    )]
    key: PathBuf,
    /// The `kid` of the key that signs (default: the file's one `sign` key; of several, the first,
    /// as `supabase gen bearer-jwt` does).
    #[arg(long, value_name = "KID")]
    kid: Option<String>,
    /// Mint the shape `supabase gen bearer-jwt` mints: no `iss`, no `aud` (the gate accepts it only
    /// for a service role with `accept_cli_tokens = true`).
    #[arg(long, conflicts_with = "issuer")]
    cli_shape: bool,
    /// Allow lifetimes above 24 h.
    #[arg(long)]
    allow_long_lived: bool,
    /// Current time in seconds since the epoch (tests only). Default: the system clock.
    #[arg(long, value_name = "UNIX", hide = true)]
    now: Option<u64>,
}

#[derive(Subcommand)]
pub(super) enum SqlCommand {
    /// The SQL for a least-privilege Postgres role that minted tokens can use.
    Role(SqlRoleArgs),
    /// The origin wall: the project's database refuses aal1 tokens of enrolled users itself.
    Wall(SqlWallArgs),
}

#[derive(Args)]
pub(super) struct SqlWallArgs {
    /// Write a migration file: this path, or `<timestamp>_aalgate_wall.sql` in this directory (e.g.
    /// `supabase/migrations/`).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// The SQL that removes every object the wall made.
    #[arg(long, conflicts_with = "check")]
    uninstall: bool,
    /// The query that lists tables of protected schemas the wall cannot cover (no row level security);
    /// with `--db-url`, runs it with `psql` and exits 1 when it lists any.
    #[arg(long)]
    check: bool,
    /// Database to check (a `postgres://` URL, as `supabase status` or the dashboard shows it).
    #[arg(long, value_name = "URL", requires = "check")]
    db_url: Option<String>,
}

/// The hook and wall migrations and the wall's removal, shipped inside the binary (the files under
/// `sql/`; `aalgate init` writes the first two into a project).
pub(super) const HOOK_SQL: &str = include_str!("../../sql/20261122000000_aalgate_mfa_claims.sql");
pub(super) const WALL_SQL: &str = include_str!("../../sql/20261202000000_aalgate_wall.sql");
const WALL_UNINSTALL_SQL: &str = include_str!("../../sql/uninstall/aalgate_wall_uninstall.sql");
const WALL_CHECK_SQL: &str =
    "select schema_name, table_name, reason from aalgate.unprotected_tables();\n";

#[derive(Args)]
pub(super) struct SqlRoleArgs {
    /// The role name (lower case letters, digits, `_`).
    name: String,
    /// A grant: `select on public.t`, `select, insert on table public.t`, `usage on sequence public.s`,
    /// `execute on function public.f(int, text)`. Repeatable.
    #[arg(long, value_name = "GRANT")]
    grant: Vec<String>,
    /// Write a migration file: this path, or `<timestamp>_aalgate_role_<name>.sql` in this directory.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Writes `bytes` to `path` readable by its owner only, via a temporary file, so a crash never
/// leaves half a key file and the key is never briefly world-readable. `replace`: the file exists and
/// is replaced (rename); otherwise it must not exist (hard link, which fails rather than overwrite).
fn write_private(path: &Path, bytes: &[u8], replace: bool) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!(
            "{}: is a symbolic link; give the real path",
            path.display()
        ));
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if replace {
            std::fs::rename(&tmp, path)
        } else {
            std::fs::hard_link(&tmp, path)?;
            std::fs::remove_file(&tmp)
        }
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

fn keys_json(keys: &[SigningKey]) -> String {
    let list: Vec<Value> = keys.iter().map(SigningKey::private_jwk).collect();
    serde_json::to_string_pretty(&list).expect("JSON values serialise") + "\n"
}

pub(super) fn run_keygen(args: KeygenArgs) -> Result<ExitCode, String> {
    let mut rng = rand_core::OsRng;
    let key = match args.alg {
        KeyAlg::Es256 => SigningKey::es256(new_uuid(), p256::ecdsa::SigningKey::random(&mut rng)),
        KeyAlg::Rs256 => {
            let k = rsa::RsaPrivateKey::new(&mut rng, 2048)
                .map_err(|e| format!("RSA key generation failed: {e}"))?;
            SigningKey::rs256(new_uuid(), k)?
        }
    };
    let Some(out) = args.out else {
        let text = serde_json::to_string_pretty(&key.private_jwk()).expect("JSON");
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    let mut keys = if args.append {
        read_keys_file(&out)?
    } else {
        if out.exists() {
            return Err(format!(
                "{} exists; use --append to add a key to it (the current keys become verify-only)",
                out.display()
            ));
        }
        Vec::new()
    };
    keys.iter_mut().for_each(SigningKey::retire);
    let kid = key.kid().to_owned();
    // First in the file: `supabase gen bearer-jwt` signs with the first key whatever its `key_ops`
    // say, Supabase Auth with the one that has `sign`; first and only signer satisfies both.
    keys.insert(0, key);
    write_private(&out, keys_json(&keys).as_bytes(), args.append)?;
    eprintln!(
        "aalgate: wrote {} ({} key{}); signing key {kid}",
        out.display(),
        keys.len(),
        if keys.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run_jwks(file: &Path) -> Result<ExitCode, String> {
    let keys = read_keys_file(file)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&public_jwks(&keys)).expect("JSON")
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run_mint(args: MintArgs) -> Result<ExitCode, String> {
    if !plain_role_name(&args.role) {
        return Err(format!(
            "--role {:?}: lower case letters, digits and `_`, at most 63",
            args.role
        ));
    }
    if reserved_role(&args.role) {
        return Err(format!(
            "--role {}: mint tokens for a service role of your own (aalgate sql role); user and Supabase roles are not minted here",
            args.role
        ));
    }
    let sub = match args.sub {
        // Written in the canonical form `auth.uid()` casts and `service_roles.subs` compares.
        Some(s) => uuid::Uuid::parse_str(&s)
            .map_err(|_| format!("--sub {s:?}: not a UUID"))?
            .hyphenated()
            .to_string(),
        None => new_uuid(),
    };
    let now = super::io::now_or_clock(args.now)?;
    let exp = match (&args.valid_for, &args.exp) {
        (Some(d), _) => {
            let d = humantime::parse_duration(d).map_err(|e| format!("--valid-for {d:?}: {e}"))?;
            now.checked_add(d.as_secs())
                .ok_or("--valid-for: too long")?
        }
        (None, Some(t)) => {
            let at = humantime::parse_rfc3339(t).map_err(|e| format!("--exp {t:?}: {e}"))?;
            at.duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| format!("--exp {t:?}: before 1970"))?
                .as_secs()
        }
        (None, None) => now.checked_add(3600).ok_or("--now: out of range")?,
    };
    if exp > MAX_EXP {
        return Err("the expiry is beyond what JSON numbers carry exactly".into());
    }
    if exp <= now {
        return Err("the token would already be expired".into());
    }
    if exp - now > MINT_LIFETIME_CAP && !args.allow_long_lived {
        return Err(format!(
            "a lifetime of {} s is above 24 h; a leaked long-lived token stays useful: pass --allow-long-lived if you mean it (and raise the gate's tokens.max_lifetime)",
            exp - now
        ));
    }
    let mut claims = Map::new();
    for c in &args.claim {
        let (k, v) = c
            .split_once('=')
            .ok_or_else(|| format!("--claim {c:?}: expected KEY=JSON"))?;
        let k = k.trim();
        if k.is_empty() || MINT_RESERVED_CLAIMS.contains(&k) {
            return Err(format!("--claim {k:?}: set it with its own flag"));
        }
        let v: Value = serde_json::from_str(v).map_err(|e| {
            format!("--claim {k}: the value is not JSON ({e}); quote strings: '\"text\"'")
        })?;
        claims.insert(k.to_owned(), v);
    }
    claims.insert("role".into(), Value::from(args.role.clone()));
    claims.insert("sub".into(), Value::from(sub));
    if !args.cli_shape {
        claims.insert("aud".into(), Value::from(args.audience));
    }
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(exp));
    if let Some(iss) = args.issuer {
        claims.insert("iss".into(), Value::from(iss));
    } else if !args.cli_shape {
        eprintln!("aalgate: no --issuer: the gate requires `iss` (PostgREST does not), unless the role has accept_cli_tokens = true and --cli-shape is given");
    }
    let keys = read_keys_file(&args.key)?;
    let (key, choice) = choose_signing_key(&keys, args.kid.as_deref())
        .map_err(|e| format!("{}: {e}", args.key.display()))?;
    if choice == Choice::FirstOfSeveral {
        eprintln!(
            "aalgate: {}: several keys have `sign`; signing with the first, {} (as `supabase gen bearer-jwt` does; choose with --kid)",
            args.key.display(),
            key.kid()
        );
    }
    println!("{}", key.sign(&Value::Object(claims)));
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run_sql(command: SqlCommand) -> Result<ExitCode, String> {
    let args = match command {
        SqlCommand::Role(args) => args,
        SqlCommand::Wall(args) => return run_sql_wall(args),
    };
    let role = ident(&args.name).map_err(|e| format!("role name: {e}"))?;
    if reserved_role(&args.name) {
        return Err(format!("role name {:?} belongs to Supabase", args.name));
    }
    let mut sql = format!(
        "-- Least-privilege role {role} for a backend service (written by `aalgate sql role`).\n\
         -- Tokens minted with `aalgate mint --role {name}` run as this role in PostgREST; it can do\n\
         -- exactly what is granted below, and row level security applies to it like to any role.\n\
         create role {role} nologin noinherit;\n\
         -- PostgREST connects as `authenticator` and switches to the token's role.\n\
         grant {role} to authenticator;\n\
         -- Start from nothing (no-ops for a new role; they undo an earlier version of this file).\n\
         revoke all privileges on all tables in schema \"public\" from {role};\n\
         revoke all privileges on all sequences in schema \"public\" from {role};\n\
         revoke all privileges on all functions in schema \"public\" from {role};\n\
         grant usage on schema \"public\" to {role};\n",
        name = args.name
    );
    for g in &args.grant {
        sql.push_str(&grant_sql(g, &role)?);
        sql.push('\n');
    }
    sql.push_str(&format!(
        "-- Tables with row level security need a policy for this role too, e.g.:\n\
         --   create policy \"{name} reads\" on public.t for select to {role} using (true);\n\
         -- Postgres lets every role (PUBLIC) execute new functions unless revoked: functions this role\n\
         -- must not call through /rest/v1/rpc need `revoke execute on function … from public`.\n",
        name = args.name
    ));
    emit(&sql, args.out, &format!("aalgate_role_{}", args.name))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `sql`, or writes it as a new migration: `out` itself, or `<timestamp>_<stem>.sql` when `out`
/// is a directory. Never over an existing file (a migration, or what a symlink points at).
fn emit(sql: &str, out: Option<PathBuf>, stem: &str) -> Result<(), String> {
    let Some(out) = out else {
        print!("{sql}");
        return Ok(());
    };
    let path = if out.is_dir() {
        let stamp = migration_stamp(now_or_clock(None)?);
        out.join(format!("{stamp}_{stem}.sql"))
    } else {
        out
    };
    write_new(&path, sql.as_bytes())?;
    eprintln!("aalgate: wrote {}", path.display());
    Ok(())
}

fn run_sql_wall(args: SqlWallArgs) -> Result<ExitCode, String> {
    if args.check {
        let Some(url) = args.db_url else {
            print!("{WALL_CHECK_SQL}");
            return Ok(ExitCode::SUCCESS);
        };
        // psql, not a Postgres client in this binary: the one tool every Supabase user already has.
        let out = std::process::Command::new("psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
            ])
            .arg(WALL_CHECK_SQL)
            .arg(&url)
            .output()
            .map_err(|e| format!("running psql (needed for --check --db-url): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let rows = String::from_utf8_lossy(&out.stdout);
        let rows: Vec<&str> = rows.lines().filter(|l| !l.is_empty()).collect();
        if rows.is_empty() {
            println!("ok: every table of the protected schemas has row level security and the wall policy");
            return Ok(ExitCode::SUCCESS);
        }
        println!("tables the wall does not cover (run `select aalgate.protect_schema('<schema>', enable_rls => true)` or enable RLS yourself):");
        for row in rows {
            let mut cols = row.split('\t');
            let (schema, table, why) = (
                cols.next().unwrap_or(""),
                cols.next().unwrap_or(""),
                cols.next().unwrap_or(""),
            );
            println!("  {schema}.{table}: {why}");
        }
        return Ok(ExitCode::from(1));
    }
    let (sql, stem) = if args.uninstall {
        (WALL_UNINSTALL_SQL, "aalgate_wall_uninstall")
    } else {
        (WALL_SQL, "aalgate_wall")
    };
    emit(sql, args.out, stem)?;
    Ok(ExitCode::SUCCESS)
}
