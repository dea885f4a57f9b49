//! What a route requires of a request: a user or not, an assurance level, claim predicates. The
//! configuration builds these; the route table and the policy read them.

use serde::Deserialize;
use serde_json::Value;

/// Whether a route needs a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthRequirement {
    /// Exempt: nothing is checked (Auth endpoints, public Storage objects).
    None,
    /// Requests without a user pass as anonymous (RLS decides); a user token present must be valid.
    Optional,
    /// A valid user token is required.
    Required,
}

impl AuthRequirement {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthRequirement::None => "none",
            AuthRequirement::Optional => "optional",
            AuthRequirement::Required => "required",
        }
    }
}

/// Which assurance level a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AalRequirement {
    /// No requirement.
    Any,
    /// aal2 when the user has a verified MFA factor (the headline rule).
    Aal2IfEnrolled,
    /// aal2 always.
    Aal2,
}

impl AalRequirement {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AalRequirement::Any => "any",
            AalRequirement::Aal2IfEnrolled => "aal2_if_enrolled",
            AalRequirement::Aal2 => "aal2",
        }
    }
}

/// A claim predicate on a trusted claim.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimPredicate {
    /// Dotted path into the claims, e.g. `app_metadata.tenant_id`.
    pub path: Vec<String>,
    /// The test.
    pub test: ClaimTest,
}

/// How a claim is tested.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimTest {
    /// The claim equals this JSON value.
    Equals(Value),
    /// The claim equals one of these values.
    OneOf(Vec<Value>),
    /// The claim is an array containing this value.
    Contains(Value),
}
