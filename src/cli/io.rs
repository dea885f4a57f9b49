//! The CLI's own I/O helpers: tokens from arguments or standard input, files, the clock.

use crate::json;
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
