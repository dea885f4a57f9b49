//! The verified-token cache: a token seen before skips parsing and signature checking, never policy.
//!
//! Bounded by entries and by bytes (LRU eviction). Keyed by SHA-256 of the whole token, so two tokens
//! share an entry only if they are byte-identical. On every hit `exp` is checked again against `now`, and
//! the entry is dropped if the key that verified it has left the key set (rotation, revocation).

use super::keystore::KeyStore;
use crate::verify::VerifiedToken;
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::num::NonZeroUsize;
use std::sync::Arc;

/// Digest identifying a token in the cache.
pub type TokenDigest = [u8; 32];

struct Entry {
    token: Arc<VerifiedToken>,
    bytes: usize,
}

/// See the module documentation.
pub struct TokenCache {
    entries: Option<LruCache<TokenDigest, Entry>>,
    max_bytes: usize,
    bytes: usize,
}

impl TokenCache {
    /// A cache of at most `max_entries` entries and about `max_bytes` bytes; 0 entries disables it.
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        TokenCache {
            entries: NonZeroUsize::new(max_entries).map(LruCache::new),
            max_bytes,
            bytes: 0,
        }
    }

    /// The cache key for `token`.
    pub fn digest(token: &str) -> TokenDigest {
        Sha256::digest(token.as_bytes()).into()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, LruCache::len)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// A still-valid entry: `exp` rechecked (`now < exp + leeway`) and its key still in `keys`.
    /// Entries failing either check are removed.
    pub fn get(
        &mut self,
        digest: &TokenDigest,
        now: u64,
        leeway: u64,
        keys: &KeyStore,
    ) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.as_mut()?;
        let entry = entries.get(digest)?;
        let token = &entry.token;
        let unexpired = token
            .claims()
            .exp
            .is_none_or(|exp| now < exp.saturating_add(leeway));
        let iss = token.claims().iss.as_deref();
        if unexpired && keys.still_vouches(token.key_fingerprint(), iss, now) {
            return Some(Arc::clone(token));
        }
        if let Some(gone) = entries.pop(digest) {
            self.bytes -= gone.bytes;
        }
        None
    }

    /// Remembers a verified token; `token_len` is the raw token's length (the size estimate's base).
    pub fn insert(&mut self, digest: TokenDigest, token: Arc<VerifiedToken>, token_len: usize) {
        let Some(entries) = self.entries.as_mut() else {
            return;
        };
        // The decoded claims take about as much room as the token text; count both plus bookkeeping.
        let bytes = token_len * 2 + 256;
        if bytes > self.max_bytes {
            return;
        }
        if let Some(old) = entries.pop(&digest) {
            self.bytes -= old.bytes;
        }
        while self.bytes + bytes > self.max_bytes {
            match entries.pop_lru() {
                Some((_, old)) => self.bytes -= old.bytes,
                None => break,
            }
        }
        if let Some((_, evicted)) = entries.push(digest, Entry { token, bytes }) {
            self.bytes -= evicted.bytes;
        }
        self.bytes += bytes;
    }
}
