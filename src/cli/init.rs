//! `aalgate init [DIR]`: makes a Supabase project folder (what `supabase init` writes) protected.
//!
//! Three things, each idempotent and each reported as written, unchanged or refused:
//! - the hook migration (and with `--wall` the origin wall) in `DIR/migrations/`, named
//!   `<timestamp>_aalgate_….sql` as `supabase migration new` names them;
//! - the `[auth.hook.custom_access_token]` section of `DIR/config.toml`, edited with `toml_edit` so
//!   every other line, comment and blank stays as the user left it;
//! - an `aalgate.toml` beside the folder: the preset and the project URL.
//!
//! Migrations already in the folder are never edited: Supabase records applied migrations by
//! version, so a changed file would not run again. A newer aalgate writes a new migration instead
//! (the SQL is `create or replace` throughout, so applying it again is safe).

use super::io::{migration_stamp, now_or_clock, write_new};
use super::service::{HOOK_SQL, WALL_SQL};
use crate::config::GateConfig;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use toml_edit::{value, DocumentMut, Item, Table};

/// The hook the migration creates, as config.toml names Postgres functions.
const HOOK_URI: &str = "pg-functions://postgres/public/aalgate_access_token_hook";
/// `supabase start` serves the API here unless config.toml's `[api] port` says otherwise.
const LOCAL_API_PORT: i64 = 54321;

#[derive(Args)]
pub(super) struct InitArgs {
    /// The Supabase project folder (holds config.toml; made by `supabase init`).
    #[arg(default_value = "supabase")]
    dir: PathBuf,
    /// Also write the origin wall migration (the database itself refuses enrolled users' aal1 tokens).
    #[arg(long)]
    wall: bool,
    /// The project URL for aalgate.toml, e.g. `https://<ref>.supabase.co`. Default: the local
    /// `supabase start` API (`http://127.0.0.1:<[api] port>`).
    #[arg(long, value_name = "URL")]
    project_url: Option<String>,
    /// Where to write the gate configuration. Default: aalgate.toml beside DIR.
    #[arg(long, value_name = "FILE")]
    config_out: Option<PathBuf>,
    /// Replace a different `[auth.hook.custom_access_token]` hook, write a new migration where an
    /// older or edited aalgate migration is found, and replace a different aalgate.toml.
    #[arg(long)]
    force: bool,
    /// Current time in seconds since the epoch for the migration names (tests only).
    #[arg(long, value_name = "UNIX", hide = true)]
    now: Option<u64>,
}

/// What one step did, for the report.
enum Step {
    Wrote(PathBuf),
    Unchanged(PathBuf),
}

pub(super) fn run_init(args: InitArgs) -> Result<ExitCode, String> {
    let config_path = args.dir.join("config.toml");
    if !config_path.is_file() {
        return Err(format!(
            "{}: not found; run `supabase init` first, or give the project folder: aalgate init path/to/supabase",
            config_path.display()
        ));
    }
    let config_text = std::fs::read_to_string(&config_path)
        .map_err(|e| format!("{}: {e}", config_path.display()))?;
    let mut doc: DocumentMut = config_text
        .parse()
        .map_err(|e| format!("{}: not valid TOML: {e}", config_path.display()))?;
    // Every check happens before anything is written, so a refusal leaves the folder as it was.
    let hook_changed =
        set_hook(&mut doc, args.force).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let gate_config_path = args.config_out.clone().unwrap_or_else(|| {
        let parent = args.dir.parent().filter(|p| !p.as_os_str().is_empty());
        parent.unwrap_or(Path::new(".")).join("aalgate.toml")
    });
    let gate_config = gate_config_text(args.project_url.as_deref(), api_port(&doc))?;
    let gate_config_step = plan_file(&gate_config_path, &gate_config, args.force)?;

    let migrations = args.dir.join("migrations");
    let mut wanted = vec![("aalgate_mfa_claims", HOOK_SQL)];
    if args.wall {
        wanted.push(("aalgate_wall", WALL_SQL));
    }
    let mut plan = Vec::new();
    let mut stamp = now_or_clock(args.now)?;
    for (stem, sql) in wanted {
        match find_migration(&migrations, stem, sql)? {
            Found::Same(path) => plan.push((Step::Unchanged(path), None)),
            Found::Different(path) if !args.force => {
                return Err(format!(
                    "{}: an aalgate migration with other content (an older aalgate, or edited); pass --force to add the current one as a new migration",
                    path.display()
                ))
            }
            Found::Different(_) | Found::None => {
                stamp = free_version(&migrations, stamp)?;
                let path = migrations.join(format!("{}_{stem}.sql", migration_stamp(stamp)));
                plan.push((Step::Wrote(path), Some(sql)));
                // The next migration needs a later version: Supabase keys migrations by it.
                stamp += 1;
            }
        }
    }

    std::fs::create_dir_all(&migrations).map_err(|e| format!("{}: {e}", migrations.display()))?;
    let mut report = Vec::new();
    for (step, sql) in plan {
        if let (Step::Wrote(path), Some(sql)) = (&step, sql) {
            write_new(path, sql.as_bytes())?;
        }
        report.push(step);
    }
    if hook_changed {
        replace_file(&config_path, doc.to_string().as_bytes())?;
        report.push(Step::Wrote(config_path.clone()));
    } else {
        report.push(Step::Unchanged(config_path.clone()));
    }
    if let Step::Wrote(path) = &gate_config_step {
        replace_file(path, gate_config.as_bytes())?;
    }
    report.push(gate_config_step);

    for step in &report {
        match step {
            Step::Wrote(p) => println!("wrote      {}", p.display()),
            Step::Unchanged(p) => println!("unchanged  {}", p.display()),
        }
    }
    println!("\nNext steps:");
    println!("  supabase db push        # apply the migrations (locally: supabase db reset, or supabase migration up)");
    println!(
        "  supabase stop && supabase start   # locally, so Auth reads the hook from config.toml"
    );
    println!("  in the dashboard: Authentication > Hooks > Customize Access Token > public.aalgate_access_token_hook");
    println!("    (config.toml configures the local stack only; `supabase config push` sends it to the hosted project)");
    println!(
        "  deploy the gate with {} (README: Deploy to Cloudflare, The portable module)",
        gate_config_path.display()
    );
    if args.wall {
        println!(
            "  check the wall covers your tables: aalgate sql wall --check --db-url <postgres URL>"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds or updates `[auth.hook.custom_access_token]`. Returns whether the document changed. A hook
/// that calls something else is refused without `force`: two hooks cannot both run, and silently
/// replacing the user's would drop whatever claims it adds.
fn set_hook(doc: &mut DocumentMut, force: bool) -> Result<bool, String> {
    let auth = table_at(doc.as_table_mut(), "auth", "[auth]")?;
    let hook = table_at(auth, "hook", "[auth.hook]")?;
    let section = "[auth.hook.custom_access_token]";
    let existing = hook.get("custom_access_token");
    if let Some(item) = existing {
        let found = item
            .as_table_like()
            .ok_or_else(|| format!("`{section}` is not a table"))?;
        let uri = found.get("uri").and_then(Item::as_str);
        let enabled = found.get("enabled").and_then(Item::as_bool) == Some(true);
        if uri == Some(HOOK_URI) && enabled {
            return Ok(false);
        }
        if uri.is_some_and(|u| u != HOOK_URI) && !force {
            return Err(format!(
                "{section} already calls {:?} (enabled = {enabled}); only one access-token hook runs. Keep yours and call aalgate.add_mfa_claims(event) from it (README \"Install the hook\"), or pass --force to point the section at {HOOK_URI}",
                uri.unwrap_or_default()
            ));
        }
    }
    let entry = hook
        .entry("custom_access_token")
        .or_insert_with(|| Item::Table(Table::new()));
    let table = entry
        .as_table_like_mut()
        .ok_or_else(|| format!("`{section}` is not a table"))?;
    table.insert("enabled", value(true));
    table.insert("uri", value(HOOK_URI));
    // An HTTP hook's `secrets` mean nothing for a Postgres function; the CLI refuses them there.
    table.remove("secrets");
    Ok(true)
}

/// The table `key` inside `parent`, made (implicit, so no empty header is printed) when missing.
fn table_at<'a>(parent: &'a mut Table, key: &str, name: &str) -> Result<&'a mut Table, String> {
    let item = parent.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    item.as_table_mut()
        .ok_or_else(|| format!("`{name}` is not a table"))
}

/// `[api] port` of config.toml, or Supabase's default.
fn api_port(doc: &DocumentMut) -> i64 {
    doc.get("api")
        .and_then(|api| api.get("port"))
        .and_then(Item::as_integer)
        .unwrap_or(LOCAL_API_PORT)
}

/// The aalgate.toml `init` writes, checked by the same loader the gate uses so a bad `--project-url`
/// is refused here, naming the field, and not at deploy time.
fn gate_config_text(project_url: Option<&str>, api_port: i64) -> Result<String, String> {
    let (url, note) = match project_url {
        // Printable ASCII only (a URL is), so the `{:?}` quoting below is TOML's too.
        Some(url) if !url.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(format!(
                "--project-url {:?}: spaces, control or non-ASCII characters; give the plain https://<ref>.supabase.co",
                url
            ))
        }
        Some(url) => (url.trim_end_matches('/').to_owned(), ""),
        None => (
            format!("http://127.0.0.1:{api_port}"),
            "   # the local `supabase start`; your project's https://<ref>.supabase.co to deploy",
        ),
    };
    let text = format!(
        "# aalgate configuration (written by `aalgate init`; every key: README \"Configuration\").\n\
         supabase_url = {url:?}{note}\n\
         require_aal2_for_enrolled = true\n\
         # The Supabase routes (Data API, Storage, Realtime, Auth, Functions) after your own [[routes]].\n\
         preset = true\n"
    );
    GateConfig::from_toml(&text).map_err(|e| format!("--project-url: {e}"))?;
    Ok(text)
}

/// Whether `path` must be written: absent, or different and `force`.
fn plan_file(path: &Path, text: &str, force: bool) -> Result<Step, String> {
    match std::fs::read(path) {
        Ok(old) if old == text.as_bytes() => Ok(Step::Unchanged(path.to_owned())),
        Ok(_) if !force => Err(format!(
            "{}: exists with other settings and is left as is; pass --force to replace it, or --config-out to write elsewhere",
            path.display()
        )),
        Ok(_) => Ok(Step::Wrote(path.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Step::Wrote(path.to_owned())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

enum Found {
    Same(PathBuf),
    Different(PathBuf),
    None,
}

/// An existing `*_<stem>.sql`: one with exactly `sql` wins over older versions.
fn find_migration(dir: &Path, stem: &str, sql: &str) -> Result<Found, String> {
    let mut different = None;
    for path in migration_files(dir)? {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.ends_with(&format!("_{stem}.sql")) {
            continue;
        }
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if text == sql.as_bytes() {
            return Ok(Found::Same(path));
        }
        different = Some(path);
    }
    Ok(different.map_or(Found::None, Found::Different))
}

fn migration_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    Ok(files)
}

/// The first second at or after `stamp` whose version no migration in `dir` uses yet.
fn free_version(dir: &Path, mut stamp: u64) -> Result<u64, String> {
    let used: Vec<String> = migration_files(dir)?
        .iter()
        .filter_map(|p| {
            p.file_name()?
                .to_str()?
                .split('_')
                .next()
                .map(str::to_owned)
        })
        .collect();
    while used.contains(&migration_stamp(stamp)) {
        stamp += 1;
    }
    Ok(stamp)
}

/// Replaces `path` through a temporary file and a rename, so an interrupted run never leaves half a
/// config.toml. The temporary name is random and made with `create_new`: a project folder from
/// someone else may hold symlinks at predictable names, and writing through one would overwrite its
/// target.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!("aalgate-tmp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| {
            if let Ok(meta) = std::fs::metadata(path) {
                std::fs::set_permissions(&tmp, meta.permissions())?;
            }
            std::fs::rename(&tmp, path)
        })
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", path.display())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_section_is_added_once_and_the_rest_of_the_file_is_kept_byte_for_byte() {
        let before = "# my project\n[api]\nport = 54321 # keep me\n\n[auth]\nsite_url = \"x\"\n\n# [auth.hook.custom_access_token]\n# enabled = true\n";
        let mut doc: DocumentMut = before.parse().unwrap();
        assert!(set_hook(&mut doc, false).unwrap());
        let after = doc.to_string();
        let block =
            format!("[auth.hook.custom_access_token]\nenabled = true\nuri = \"{HOOK_URI}\"\n");
        assert!(after.contains(&block), "{after}");
        // toml_edit sets the new section off with one blank line.
        assert_eq!(
            after.replacen(&format!("{block}\n"), "", 1),
            before,
            "only the section is added"
        );
        assert!(
            !after.contains("[auth.hook]\n"),
            "no empty parent header: {after}"
        );
        let mut again: DocumentMut = after.parse().unwrap();
        assert!(!set_hook(&mut again, false).unwrap());
        assert_eq!(again.to_string(), after);
    }

    #[test]
    fn another_hook_is_refused_without_force_and_named() {
        let before = "[auth.hook.custom_access_token]\nenabled = true\nuri = \"pg-functions://postgres/public/my_hook\"\n";
        let mut doc: DocumentMut = before.parse().unwrap();
        let e = set_hook(&mut doc, false).unwrap_err();
        assert!(
            e.contains("my_hook") && e.contains("--force") && e.contains("add_mfa_claims"),
            "{e}"
        );
        assert_eq!(doc.to_string(), before);
        assert!(set_hook(&mut doc, true).unwrap());
        assert!(doc.to_string().contains(HOOK_URI));
    }

    #[test]
    fn a_disabled_section_of_ours_is_enabled_and_http_secrets_dropped() {
        let mut doc: DocumentMut = format!("[auth.hook.custom_access_token]\nenabled = false\nuri = \"{HOOK_URI}\"\nsecrets = \"v1,whsec_x\"\n").parse().unwrap();
        assert!(set_hook(&mut doc, false).unwrap());
        let t = doc.to_string();
        assert!(
            t.contains("enabled = true") && !t.contains("secrets"),
            "{t}"
        );
    }

    #[test]
    fn attack_replace_file_never_writes_through_a_planted_symlink() {
        let dir = std::env::temp_dir().join(format!("aalgate-init-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim.txt");
        std::fs::write(&victim, "mine").unwrap();
        let config = dir.join("config.toml");
        std::fs::write(&config, "a = 1\n").unwrap();
        // What a hostile folder could plant for the old, pid-based temporary name.
        let planted = config.with_extension(format!("aalgate-tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, planted).unwrap();
        replace_file(&config, b"b = 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "mine");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "b = 2\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_gate_config_is_checked_by_the_gate_loader() {
        let local = gate_config_text(None, 55321).unwrap();
        assert!(local.contains("\"http://127.0.0.1:55321\""), "{local}");
        let e = gate_config_text(Some("http://evil.example"), LOCAL_API_PORT).unwrap_err();
        assert!(e.contains("supabase_url"), "{e}");
        for odd in [
            "https://a.supabase.co\u{200b}",
            "https://a.supabase.co\"\nmode = \"x",
            "https://a b",
        ] {
            let e = gate_config_text(Some(odd), LOCAL_API_PORT).unwrap_err();
            assert!(e.contains("--project-url"), "{e}");
        }
    }
}
