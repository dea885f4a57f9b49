//! The key set a token is checked against, and the rules for picking its key (after panva/jose's).

use super::jwk::{import_jwk, KeyProblem};
use super::key::KeyEntry;
use crate::alg::Algorithm;
use crate::error::{Code, Error, Result};
use crate::json;
use serde_json::Value;

/// The `key_unknown` refusal, worded by whether the token named a key.
pub(crate) fn key_unknown(alg: Algorithm, kid: Option<&str>) -> Error {
    Error::new(
        Code::KeyUnknown,
        match kid {
            Some(_) => format!("no {alg} key has the token's `kid`"),
            None => format!("no {alg} key is configured"),
        },
    )
}

/// A JWKS member that was not imported, and why. Kept so operators can see it (CLI, logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the `keys` array.
    pub index: usize,
    /// The member's `kid`, if it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub problem: KeyProblem,
}

impl std::fmt::Display for SkippedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key #{}", self.index)?;
        if let Some(kid) = &self.kid {
            write!(f, " (kid {kid:?})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// Keys that tokens may be signed with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<KeyEntry>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key (from a JWKS, a JWK file, or an HS256 secret in configuration).
    pub fn push(&mut self, entry: KeyEntry) {
        self.keys.push(entry);
    }

    /// The keys, in the order they were added.
    pub fn keys(&self) -> &[KeyEntry] {
        &self.keys
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Reads a JWKS document (`{"keys":[...]}`) strictly. Members that cannot be used are skipped and
    /// reported, as one unusable key must not take down the others; a document that is not a JWKS at all
    /// is an error.
    pub fn from_jwks(document: &[u8]) -> Result<(KeySet, Vec<SkippedKey>)> {
        if json::looks_like_array(document) {
            // The Supabase CLI's signing_keys.json: private keys, never what a verifier should hold.
            return Err(Error::new(
                Code::KeyInvalid,
                "key set is a JSON array, like a signing-keys file (`supabase gen signing-key`); give its public keys: `aalgate jwks FILE > jwks.json`",
            ));
        }
        let object = json::parse_object(document)
            .map_err(|e| Error::new(Code::KeyInvalid, format!("key set {}", e.describe())))?;
        let Some(Value::Array(members)) = object.get("keys") else {
            return Err(Error::new(Code::KeyInvalid, "key set has no `keys` array"));
        };
        let mut set = KeySet::new();
        let mut skipped = Vec::new();
        for (index, member) in members.iter().enumerate() {
            match import_jwk(member) {
                Ok(entry) => set.push(entry),
                Err(problem) => skipped.push(SkippedKey {
                    index,
                    kid: member.get("kid").and_then(Value::as_str).map(str::to_owned),
                    problem,
                }),
            }
        }
        Ok((set, skipped))
    }

    /// Picks the one key that may verify a token with header `alg` and `kid`:
    /// - only keys bound to `alg` are candidates (a key never serves another algorithm);
    /// - with a `kid`, candidates must have exactly that `kid` (case-sensitive, byte for byte); an HS256
    ///   secret given without a `kid` also matches, because Supabase puts a `kid` on tokens signed with
    ///   the legacy secret while the dashboard shows the secret alone;
    /// - without a `kid`, the token is accepted only if exactly one candidate exists;
    /// - several candidates is [`Code::KeyAmbiguous`]: guessing would let one key stand in for another.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&KeyEntry> {
        let same_alg = || self.keys.iter().filter(move |k| k.key().alg() == alg);
        let mut candidates: Vec<&KeyEntry> = match kid {
            Some(kid) => same_alg().filter(|k| k.kid() == Some(kid)).collect(),
            None => same_alg().collect(),
        };
        if candidates.is_empty() && kid.is_some() && alg == Algorithm::Hs256 {
            candidates = same_alg().filter(|k| k.kid().is_none()).collect();
        }
        match candidates.as_slice() {
            [one] => Ok(one),
            [] => Err(key_unknown(alg, kid)),
            _ => Err(Error::new(
                Code::KeyAmbiguous,
                match kid {
                    Some(_) => format!("several {alg} keys have the token's `kid`"),
                    None => format!("token has no `kid` and the key set has several {alg} keys"),
                },
            )),
        }
    }
}
