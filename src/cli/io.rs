//! The CLI's own I/O helpers: tokens from arguments or standard input, files, the clock.

use crate::json;
use crate::signing::{public_jwks, read_keys, SigningKey};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

pub(super) fn read_token(arg: &str) -> Result<String, String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("reading the token from standard input: {e}"))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

pub(super) fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A JWKS document from `path`; a signing-keys file (the JSON array `supabase gen signing-key` and
/// `aalgate keygen` write) is read too, as the JWKS of its public halves, so every command takes the
/// file the Supabase CLI made.
pub(super) fn read_jwks(path: &Path) -> Result<Vec<u8>, String> {
    let text = read_file(path)?;
    if !json::looks_like_array(&text) {
        return Ok(text);
    }
    let keys = parse_keys_file(path, &text)?;
    eprintln!(
        "aalgate: {}: a signing-keys file; using its public keys",
        path.display()
    );
    Ok(public_jwks(&keys).to_string().into_bytes())
}

/// A signing-keys file (the Supabase CLI's JSON array of private JWKs).
pub(super) fn read_keys_file(path: &Path) -> Result<Vec<SigningKey>, String> {
    parse_keys_file(path, &read_file(path)?)
}

fn parse_keys_file(path: &Path, text: &[u8]) -> Result<Vec<SigningKey>, String> {
    read_keys(text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a new file; never over an existing one (a migration, or what a symlink points at).
pub(super) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub(super) fn read_json(path: &Path) -> Result<Value, String> {
    json::parse_value(&read_file(path)?)
        .map_err(|e| format!("{}: the file {}", path.display(), e.describe()))
}

pub(super) fn now_or_clock(now: Option<u64>) -> Result<u64, String> {
    match now {
        Some(now) => Ok(now),
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| "the system clock is before 1970".to_string()),
    }
}

/// A migration version as `supabase migration new` writes it: the UTC time as `YYYYMMDDHHMMSS`.
pub(super) fn migration_stamp(unix: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn migration_stamps_are_utc_digits() {
        assert_eq!(super::migration_stamp(1_764_720_000), "20251203000000");
    }
}
