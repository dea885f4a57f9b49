//! APIs that skip verification. Fenced here, after rustls, so that every use is visible in review.

use crate::error::Result;
use crate::token::{parse_payload, Header, UnverifiedToken};
use serde_json::{Map, Value};

/// Decodes a token **without verifying anything but its structure** (for `aalgate inspect` and
/// debugging). Never base a decision on the result.
pub fn insecure_decode(token: &str, max_bytes: usize) -> Result<(Header, Map<String, Value>)> {
    let parsed = UnverifiedToken::parse(token, max_bytes)?;
    let payload = parse_payload(parsed.payload())?;
    Ok((parsed.header().clone(), payload))
}
