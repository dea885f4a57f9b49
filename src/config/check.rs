//! The checks every section shares, each written once: URLs, claim paths, HTTP methods, number ranges
//! (the message is made from the range, so code and message cannot disagree), inline JWKS.

use crate::error::ConfigError;
use crate::gate::route::HTTP_METHODS;
use serde_json::Value;
use std::fmt::Display;
use std::ops::RangeInclusive;

/// `value` (or `default` when absent) within `range`; the error names the range and its `unit`
/// (`" seconds"`, `""`).
pub(super) fn in_range<T>(
    value: Option<T>,
    default: T,
    range: RangeInclusive<T>,
    field: &str,
    unit: &str,
) -> Result<T, ConfigError>
where
    T: PartialOrd + Display + Copy + Default,
{
    let v = value.unwrap_or(default);
    if range.contains(&v) {
        return Ok(v);
    }
    let (lo, hi) = (range.start(), range.end());
    Err(ConfigError::new(
        field,
        if *lo == T::default() {
            format!("must be at most {hi}{unit}")
        } else {
            format!("must be {lo}..={hi}{unit}")
        },
    ))
}

/// HTTP method names (upper-cased); `None` means any method. An empty list is refused: it would
/// match nothing, which is never what was meant.
pub(super) fn methods(list: Option<Vec<String>>, field: &str) -> Result<Vec<String>, ConfigError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(ConfigError::new(
            field,
            "must not be empty (omit it for any method)",
        ));
    }
    let mut out = Vec::new();
    for (j, m) in list.iter().enumerate() {
        let upper = m.to_ascii_uppercase();
        if !HTTP_METHODS.contains(&upper.as_str()) {
            return Err(ConfigError::new(
                format!("{field}[{j}]"),
                "is not an HTTP method",
            ));
        }
        out.push(upper);
    }
    Ok(out)
}

/// A claim name or dotted path (`app_metadata.tenant_id`): no empty segment.
pub(super) fn claim_path(raw: &str, field: &str) -> Result<Vec<String>, ConfigError> {
    let parts: Vec<String> = raw.split('.').map(str::to_owned).collect();
    if parts.iter().any(String::is_empty) {
        return Err(ConfigError::new(
            field,
            "must be a claim name or dotted path like `app_metadata.tenant_id`",
        ));
    }
    Ok(parts)
}

/// A claim path that a gate may authorise on. `user_metadata` is writable by the user
/// (`supabase.auth.updateUser`), so authorising on it would let users grant themselves access.
pub(super) fn trusted_claim_path(raw: &str, field: &str) -> Result<Vec<String>, ConfigError> {
    let parts = claim_path(raw, field)?;
    if parts[0] == "user_metadata" {
        return Err(ConfigError::new(
            field,
            "user_metadata is writable by the user and must never be used for authorization; use app_metadata or a hook claim",
        ));
    }
    Ok(parts)
}

/// An inline JWKS: an object with a `keys` array (the keys themselves are checked when imported).
pub(super) fn inline_jwks(v: &Value, field: &str) -> Result<(), ConfigError> {
    match v.get("keys") {
        Some(Value::Array(_)) => Ok(()),
        _ => Err(ConfigError::new(
            field,
            "must be a JWKS object with a `keys` array",
        )),
    }
}

/// `https://host[:port]` without path, query or credentials; `http://` only for loopback development
/// (the host must be exactly a loopback name: `http://localhost.evil.example` is not loopback).
pub(super) fn base_url(raw: &str, field: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim_end_matches('/');
    let rest = if let Some(rest) = trimmed.strip_prefix("https://") {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        // Exactly a loopback host, then nothing or `:port`: a name that only starts like one
        // (`localhost.evil.example`, `[::1].evil.example`) is somebody else's host.
        let loopback = ["localhost", "127.0.0.1", "[::1]"].iter().any(|host| {
            rest.strip_prefix(host)
                .is_some_and(|after| match after.strip_prefix(':') {
                    Some(port) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
                    None => after.is_empty(),
                })
        });
        if !loopback {
            return Err(ConfigError::new(
                field,
                "must use https:// (http:// only for localhost)",
            ));
        }
        rest
    } else {
        return Err(ConfigError::new(field, "must start with https://"));
    };
    if rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' ', '\\'])
        || !rest.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ConfigError::new(
            field,
            "must be a bare origin like https://<ref>.supabase.co (no path, query or credentials)",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A full URL (path allowed) with the same scheme and host rules as [`base_url`].
pub(super) fn https_url(raw: &str, field: &str) -> Result<String, ConfigError> {
    let (origin, path) = match raw.find("://").map(|i| i + 3) {
        Some(start) => match raw[start..].find('/') {
            Some(p) => raw.split_at(start + p),
            None => (raw, ""),
        },
        None => return Err(ConfigError::new(field, "must be an absolute https:// URL")),
    };
    base_url(origin, field)?;
    if path.contains(['#', ' ', '\\']) || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::new(
            field,
            "has characters that are not allowed in a URL",
        ));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_is_only_for_loopback_hosts_not_names_that_start_like_them() {
        for ok in [
            "http://localhost:54321",
            "http://127.0.0.1:8080",
            "http://[::1]:9999",
            "https://idp.example",
        ] {
            assert!(base_url(ok, "f").is_ok(), "{ok}");
        }
        for bad in [
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "http://localhost@evil.example",
            "http://evil.example",
            "http://[::1].evil.example",
            "http://[::1]x",
            "http://localhost:80x",
            "http://localhost:",
        ] {
            assert!(base_url(bad, "f").is_err(), "{bad}");
            assert!(
                https_url(&format!("{bad}/.well-known/jwks.json"), "f").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn range_messages_come_from_the_range() {
        let e = in_range(Some(0u64), 5, 1..=3600, "a", " seconds").unwrap_err();
        assert_eq!(e.problem, "must be 1..=3600 seconds");
        let e = in_range(Some(400u64), 5, 0..=300, "b", " seconds").unwrap_err();
        assert_eq!(e.problem, "must be at most 300 seconds");
        assert_eq!(in_range(None, 5u64, 1..=10, "c", ""), Ok(5));
    }
}
