//! A typed view of Supabase access-token claims (`sub`, `role`, `aal`, `amr`, `session_id`, …).
//!
//! Built only from a payload whose signature verified; every claim we type is checked for its type here,
//! so the policy layer never meets a `"exp": "soon"`. Claims we do not type (hook claims, `app_metadata`)
//! stay reachable through [`Claims::get`].

use crate::error::{Code, Error, Result};
use serde_json::{Map, Value};

/// Largest accepted NumericDate: 9999-12-31T23:59:59Z. Larger values are mistakes or attacks, and every
/// runtime can hold this one exactly (it is far below 2^53).
pub const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// Authenticator assurance level. An absent `aal` means `aal1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aal {
    /// One factor (password, magic link, OAuth, passkey, anonymous).
    Aal1,
    /// Two factors: an MFA challenge was completed in this session.
    Aal2,
    /// Reserved by Supabase; treated as at least aal2.
    Aal3,
}

impl Aal {
    /// The claim spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
            Aal::Aal3 => "aal3",
        }
    }
}

/// One `amr` entry: Supabase writes objects, some tools write plain method strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmrEntry {
    /// `password`, `otp`, `oauth`, `totp`, `mfa/phone`, `mfa/webauthn`, …
    pub method: String,
    /// When that method was completed (absent in the string form).
    pub timestamp: Option<u64>,
    /// OAuth provider, when present.
    pub provider: Option<String>,
}

impl AmrEntry {
    /// Whether this entry records a second factor.
    pub fn is_mfa(&self) -> bool {
        matches!(self.method.as_str(), "totp" | "mfa/phone" | "mfa/webauthn")
    }
}

/// `aud` as the token has it: one string or a non-empty array of strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// The audience values.
    pub fn values(&self) -> &[String] {
        &self.0
    }

    /// Exact match against any value.
    pub fn contains(&self, expected: &str) -> bool {
        self.0.iter().any(|a| a == expected)
    }
}

/// The claims of a verified token.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Claims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub` (the user's UUID for user tokens).
    pub sub: Option<String>,
    /// `aud`.
    pub aud: Option<Audience>,
    /// `exp` (seconds since the epoch).
    pub exp: Option<u64>,
    /// `iat`.
    pub iat: Option<u64>,
    /// `nbf` (Supabase never sets it; honoured when present).
    pub nbf: Option<u64>,
    /// `role` (`authenticated`, `anon`, `service_role`, or a custom Postgres role).
    pub role: Option<String>,
    /// `aal`, `aal1` when absent.
    pub aal: Aal,
    /// `amr`, newest first as Supabase writes it.
    pub amr: Vec<AmrEntry>,
    /// `session_id`.
    pub session_id: Option<String>,
    /// `is_anonymous` (false when absent).
    pub is_anonymous: bool,
    /// `email`.
    pub email: Option<String>,
    /// `phone` (Supabase writes `""` for none).
    pub phone: Option<String>,
    /// `client_id` (OAuth 2.1 server tokens).
    pub client_id: Option<String>,
    /// `scope` (OAuth 2.1 server tokens).
    pub scope: Option<String>,
    all: Map<String, Value>,
}

impl Claims {
    /// Reads and type-checks the claims we know. Errors name the claim, never its value.
    pub(crate) fn from_payload(all: Map<String, Value>) -> Result<Self> {
        Ok(Claims {
            iss: string(&all, "iss")?,
            sub: match string(&all, "sub")? {
                Some(s) if s.is_empty() => return Err(invalid("sub", "is empty")),
                other => other,
            },
            aud: audience(&all)?,
            exp: numeric_date(&all, "exp")?,
            iat: numeric_date(&all, "iat")?,
            nbf: numeric_date(&all, "nbf")?,
            role: string(&all, "role")?,
            aal: aal(&all)?,
            amr: amr(&all)?,
            session_id: string(&all, "session_id")?,
            is_anonymous: match all.get("is_anonymous") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(invalid("is_anonymous", "is not a boolean")),
            },
            email: string(&all, "email")?,
            phone: string(&all, "phone")?,
            client_id: string(&all, "client_id")?,
            scope: string(&all, "scope")?,
            all,
        })
    }

    /// Any claim by name, e.g. a hook claim like `mfa_enrolled` or `app_metadata`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all.get(name)
    }

    /// A claim by dotted path (`app_metadata.role` is `["app_metadata", "role"]`).
    pub fn at(&self, path: &[String]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        rest.iter()
            .try_fold(self.get(first)?, |v, key| v.as_object()?.get(key))
    }

    /// Every claim.
    pub fn all(&self) -> &Map<String, Value> {
        &self.all
    }

    /// The timestamp of the newest MFA entry in `amr`, for recency rules.
    pub fn newest_mfa_at(&self) -> Option<u64> {
        self.amr
            .iter()
            .filter(|e| e.is_mfa())
            .filter_map(|e| e.timestamp)
            .max()
    }
}

fn invalid(name: &str, why: &str) -> Error {
    Error::new(Code::ClaimInvalid, format!("claim `{name}` {why}"))
}

/// A typed string claim: absent is `None`; `null` or any other type is refused (Supabase never writes
/// `null` for these, so one means the token was not made by Supabase Auth as we know it).
fn string(all: &Map<String, Value>, name: &'static str) -> Result<Option<String>> {
    match all.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(name, "is not a string")),
    }
}

/// RFC 7519 NumericDate, strictly: a JSON integer literal in `0..=MAX_NUMERIC_DATE`.
///
/// Anything written with a fraction or an exponent is refused, even `1700000000.0`: a float can round
/// (`1700000000.00000000001` parses to exactly 1700000000), so only the integer form is unambiguous
/// across parsers. Strings, booleans, null, negatives (including `-0`) and huge values (2^64, 1e300)
/// are refused too. Supabase writes integers.
pub fn parse_numeric_date(value: &Value) -> Option<u64> {
    value.as_u64().filter(|u| *u <= MAX_NUMERIC_DATE)
}

fn numeric_date(all: &Map<String, Value>, name: &'static str) -> Result<Option<u64>> {
    match all.get(name) {
        None => Ok(None),
        Some(v) => parse_numeric_date(v)
            .map(Some)
            .ok_or_else(|| invalid(name, "is not an integer NumericDate in range")),
    }
}

fn audience(all: &Map<String, Value>) -> Result<Option<Audience>> {
    match all.get("aud") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(Audience(vec![s.clone()]))),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(|v| Some(Audience(v)))
            .ok_or_else(|| invalid("aud", "array holds a non-string")),
        Some(Value::Array(_)) => Err(invalid("aud", "is an empty array")),
        Some(_) => Err(invalid("aud", "is not a string or an array of strings")),
    }
}

fn aal(all: &Map<String, Value>) -> Result<Aal> {
    match all.get("aal") {
        None => Ok(Aal::Aal1),
        Some(Value::String(s)) => match s.as_str() {
            "aal1" => Ok(Aal::Aal1),
            "aal2" => Ok(Aal::Aal2),
            "aal3" => Ok(Aal::Aal3),
            _ => Err(invalid("aal", "is not aal1, aal2 or aal3")),
        },
        Some(_) => Err(invalid("aal", "is not a string")),
    }
}

fn amr(all: &Map<String, Value>) -> Result<Vec<AmrEntry>> {
    let items = match all.get("amr") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("amr", "is not an array")),
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(method) => Ok(AmrEntry {
                method: method.clone(),
                timestamp: None,
                provider: None,
            }),
            Value::Object(entry) => {
                let method = match entry.get("method") {
                    Some(Value::String(m)) => m.clone(),
                    _ => return Err(invalid("amr", "entry has no string `method`")),
                };
                let timestamp =
                    match entry.get("timestamp") {
                        None => None,
                        Some(v) => Some(parse_numeric_date(v).ok_or_else(|| {
                            invalid("amr", "entry `timestamp` is not a NumericDate")
                        })?),
                    };
                let provider = match entry.get("provider") {
                    None => None,
                    Some(Value::String(p)) => Some(p.clone()),
                    Some(_) => return Err(invalid("amr", "entry `provider` is not a string")),
                };
                Ok(AmrEntry {
                    method,
                    timestamp,
                    provider,
                })
            }
            _ => Err(invalid("amr", "entry is neither an object nor a string")),
        })
        .collect()
}
