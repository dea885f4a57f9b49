//! HMAC secrets: only ever from configuration, never from a JWKS or a token.

use std::fmt;
use zeroize::Zeroizing;

/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// A shared secret of at least [`MIN_HMAC_SECRET_BYTES`], wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacSecret(Zeroizing<Vec<u8>>);

impl HmacSecret {
    /// Takes the secret's bytes. Supabase shows the legacy JWT secret as text; its UTF-8 bytes are the
    /// key (it is *not* base64-decoded first).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, usize> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.len() < MIN_HMAC_SECRET_BYTES {
            return Err(bytes.len());
        }
        Ok(HmacSecret(bytes))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacSecret({} bytes)", self.0.len())
    }
}
