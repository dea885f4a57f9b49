//! The signature algorithms aalgate knows. `none` is not one of them and cannot be spelled.

use std::fmt;

/// A JWS algorithm aalgate can verify. Every key is bound to exactly one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256, signature as raw 64-byte r‖s (Supabase's default for new projects).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// HMAC-SHA256 with a shared secret (Supabase's legacy JWT secret).
    Hs256,
}

impl Algorithm {
    /// All algorithms, in a fixed order.
    pub const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Rs256, Algorithm::Hs256];

    /// The exact header spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
            Algorithm::Hs256 => "HS256",
        }
    }

    /// Exact, case-sensitive match of a header `alg` value. `"none"`, `"es256"`, `"HS256 "` all fail.
    pub fn from_header(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == value)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of algorithms (the allow-list of a [`crate::Validation`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlgorithmSet(u8);

impl AlgorithmSet {
    /// No algorithm: nothing verifies.
    pub const EMPTY: AlgorithmSet = AlgorithmSet(0);

    /// Every algorithm aalgate knows.
    pub fn all() -> Self {
        Self::from_iter(Algorithm::ALL)
    }

    /// Whether `alg` is in the set.
    pub fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    /// The set with `alg` added.
    pub fn with(self, alg: Algorithm) -> Self {
        AlgorithmSet(self.0 | alg.bit())
    }

    /// The members, in [`Algorithm::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        iter.into_iter()
            .fold(AlgorithmSet::EMPTY, AlgorithmSet::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_match_is_exact() {
        assert_eq!(Algorithm::from_header("ES256"), Some(Algorithm::Es256));
        for bad in [
            "none", "None", "NONE", "es256", "HS256 ", " RS256", "ES384", "PS256", "",
        ] {
            assert_eq!(Algorithm::from_header(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn set_membership() {
        let set = AlgorithmSet::EMPTY.with(Algorithm::Es256);
        assert!(set.contains(Algorithm::Es256));
        assert!(!set.contains(Algorithm::Hs256));
        assert_eq!(AlgorithmSet::all().iter().count(), 3);
    }
}
