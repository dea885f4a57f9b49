//! Strict compact-JWS parsing (size cap, three canonical base64url segments, strict JSON objects),
//! before any key is looked at.
//!
//! Order matters and is tested: the size cap comes before any decoding, the character set and the two dots
//! before base64, and the header's `alg` before the payload is decoded. The payload's JSON is parsed only
//! after the signature verified ([`parse_payload`]), so unauthenticated input meets as little parsing as
//! possible, and a JWS whose payload is not JSON (RFC 7520's prose examples) can still be checked.

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{Code, Error, Result};
use crate::json;
use serde_json::{Map, Value};

/// Default cap on a token's length in bytes (8 KiB: real Supabase tokens are about 1 KiB, and the cap
/// comes before any decoding).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Header members whose presence makes us refuse the token: `crit` lists extensions we do not
/// implement, `b64` changes what is signed (RFC 7797), `cty` announces nested content, `zip` is JWE's.
pub const FORBIDDEN_HEADER_MEMBERS: [&str; 4] = ["crit", "b64", "cty", "zip"];

/// The protected header, read strictly. Members that point at keys (`jku`, `x5u`, `jwk`, `x5c`) are kept
/// in [`Header::members`] for display but never used for anything.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    alg: Algorithm,
    kid: Option<String>,
    members: Map<String, Value>,
}

impl Header {
    /// The algorithm, already matched exactly against the algorithms aalgate knows.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key id, if the header has one. Compared byte for byte; never used as a path or URL.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Every header member as decoded.
    pub fn members(&self) -> &Map<String, Value> {
        &self.members
    }

    fn from_members(members: Map<String, Value>) -> Result<Self> {
        if let Some(name) = FORBIDDEN_HEADER_MEMBERS
            .iter()
            .find(|name| members.contains_key(**name))
        {
            return Err(Error::new(
                Code::HeaderForbidden,
                format!("header member `{name}` is not accepted"),
            ));
        }
        let alg = match members.get("alg") {
            None => return Err(Error::new(Code::AlgNotAllowed, "header has no `alg`")),
            Some(Value::String(text)) => Algorithm::from_header(text).ok_or_else(|| {
                Error::new(
                    Code::AlgNotAllowed,
                    "header `alg` is not one of ES256, RS256, HS256",
                )
            })?,
            Some(_) => {
                return Err(Error::new(
                    Code::AlgNotAllowed,
                    "header `alg` is not a string",
                ))
            }
        };
        let kid = match members.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => {
                return Err(Error::new(
                    Code::TokenMalformed,
                    "header `kid` is not a string",
                ))
            }
        };
        Ok(Header { alg, kid, members })
    }
}

/// A token that passed every structural check but whose signature has not been checked. Its payload is
/// reachable only through [`crate::dangerous`], so nothing can mistake it for a verified identity.
#[derive(Clone, Debug)]
pub struct UnverifiedToken<'t> {
    header: Header,
    payload: Vec<u8>,
    signing_input: &'t [u8],
    signature: Vec<u8>,
}

impl<'t> UnverifiedToken<'t> {
    /// Parses `token` strictly. `max_bytes` is the size cap, checked first.
    pub fn parse(token: &'t str, max_bytes: usize) -> Result<Self> {
        let raw = token.as_bytes();
        if raw.len() > max_bytes {
            return Err(Error::new(
                Code::TokenTooLarge,
                format!("token is longer than {max_bytes} bytes"),
            ));
        }
        if let Some(bad) = raw
            .iter()
            .find(|b| !(b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_' || **b == b'.'))
        {
            let what = if bad.is_ascii_whitespace() {
                "whitespace"
            } else if *bad == b'=' {
                "base64 padding"
            } else {
                "a character outside base64url"
            };
            return Err(malformed(format!("token contains {what}")));
        }
        let mut parts = raw.split(|b| *b == b'.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("token must have exactly three segments"));
        };

        let header_bytes =
            b64::decode(h).ok_or_else(|| malformed("header is not strict base64url"))?;
        let header_members = json::parse_object(&header_bytes)
            .map_err(|e| malformed(format!("header {}", e.describe())))?;
        let header = Header::from_members(header_members)?;

        let payload = b64::decode(p).ok_or_else(|| malformed("payload is not strict base64url"))?;

        let signature =
            b64::decode(s).ok_or_else(|| malformed("signature is not strict base64url"))?;

        Ok(UnverifiedToken {
            header,
            payload,
            signing_input: &raw[..h.len() + 1 + p.len()],
            signature,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The bytes the signature covers: `base64url(header) "." base64url(payload)`.
    pub fn signing_input(&self) -> &'t [u8] {
        self.signing_input
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    pub(crate) fn payload(&self) -> &[u8] {
        &self.payload
    }

    pub(crate) fn into_parts(self) -> (Header, Vec<u8>) {
        (self.header, self.payload)
    }
}

/// A JWT payload must be a strict JSON object (duplicate members and deep nesting refused).
pub fn parse_payload(bytes: &[u8]) -> Result<Map<String, Value>> {
    json::parse_object(bytes).map_err(|e| malformed(format!("payload {}", e.describe())))
}

fn malformed(context: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(Code::TokenMalformed, context)
}
