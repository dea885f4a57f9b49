//! What the gate decided, and the record of it: the decision (forward, refuse, answer), who the
//! forwarded request is from, the log line, and the mode that turns refusals into forwards.

use crate::verify::VerifiedToken;
use crate::wire::Answer;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Enforce, or only decide and log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Refusals are sent to the client (default).
    #[default]
    Enforce,
    /// Every request is forwarded; refusals are only logged (`would_reject`).
    ReportOnly,
}

/// Prefix of the identity headers the gate may set. Inbound headers with this prefix are always
/// stripped, so a client can never pose as a verified identity to the upstream.
pub const IDENTITY_HEADER_PREFIX: &str = "x-aalgate-";

/// Who the forwarded request is from, as far as the gate knows.
#[derive(Clone, Debug)]
pub enum Identity {
    /// Nobody was checked: exempt route, preflight, no user, or report-only refusal.
    Anonymous,
    /// Service credentials on a route that allows them (the upstream verifies them).
    Service,
    /// A verified user token.
    User(Arc<VerifiedToken>),
}

/// Forward the request upstream.
#[derive(Clone, Debug)]
pub struct Forward {
    /// Who it is from.
    pub identity: Identity,
    /// Headers to add (after stripping every inbound header for which [`Forward::strips`] is true).
    pub add_headers: Vec<(String, String)>,
    /// In `report_only` mode: the refusal that enforcement would have sent.
    pub would_reject: Option<Answer>,
}

impl Forward {
    /// Whether an inbound header must be removed before forwarding.
    ///
    /// `_` counts as `-` (CGI-style upstreams read `x-aalgate_user-id` as `X-AALGATE-USER-ID`), and the
    /// bare name `x-aalgate` is stripped too.
    pub fn strips(name: &str) -> bool {
        let stem = IDENTITY_HEADER_PREFIX.trim_end_matches('-').as_bytes();
        let bytes = name.as_bytes();
        let same =
            |a: u8, b: u8| a.eq_ignore_ascii_case(&b) || (matches!(a, b'-' | b'_') && b == b'-');
        bytes.len() >= stem.len()
            && bytes.iter().zip(stem).all(|(a, b)| same(*a, *b))
            && matches!(bytes.get(stem.len()), None | Some(b'-' | b'_'))
    }
}

/// What to do with a request.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Send it upstream.
    Forward(Forward),
    /// Answer it with this refusal; the upstream never sees it.
    Reject(Answer),
    /// The gate's own endpoint answers (the token exchange: a token, a preflight, or its refusal, which
    /// `report_only` does not turn into a forward: there is nothing upstream to forward to).
    Answer(Answer),
}

/// One decision and its log record.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The decision.
    pub decision: Decision,
    /// The log record (see [`Verdict::log_line`]).
    pub log: DecisionLog,
    /// Each step taken, for `aalgate explain`.
    pub steps: Vec<String>,
}

/// The facts of a decision that are logged (never token contents; the user id only if configured).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecisionLog {
    /// `forward` or `reject`.
    pub decision: &'static str,
    /// The refusal code (also set in report-only mode, where the request was forwarded).
    pub code: Option<&'static str>,
    /// The route rule's name.
    pub route: String,
    /// The request method.
    pub method: String,
    /// The token's aal, when a token was verified.
    pub aal: Option<&'static str>,
    /// The enrollment fact, when the policy needed it.
    pub enrolled: Option<bool>,
    /// Where that fact came from: `claim` or `auth_api`.
    pub enrollment_source: Option<&'static str>,
    /// Whether the token came from the verified-token cache.
    pub cached: bool,
    /// The user id (`sub`), only with `log.user_id = true`.
    pub user: Option<String>,
    /// For a decision on a Realtime frame: the frame's event (`phx_join`, `access_token`, or
    /// `frame` for a frame refused before any token was read).
    pub frame: Option<&'static str>,
}

impl Verdict {
    /// One JSON line for the decision; `duration_us` is measured by the adapter.
    pub fn log_line(&self, duration_us: Option<u64>) -> String {
        self.log.line(duration_us)
    }
}

impl DecisionLog {
    /// One JSON line for the decision; `duration_us` is measured by the adapter.
    pub fn line(&self, duration_us: Option<u64>) -> String {
        let l = self;
        let mut v = json!({
            "aalgate": "decision",
            "decision": l.decision,
            "code": l.code,
            "route": l.route,
            "method": l.method,
            "aal": l.aal,
            "enrolled": l.enrolled,
            "cached": l.cached,
        });
        if let Some(source) = l.enrollment_source {
            v["enrollment_source"] = Value::String(source.into());
        }
        if let Some(user) = &l.user {
            v["user"] = Value::String(user.clone());
        }
        if let Some(frame) = l.frame {
            v["frame"] = Value::String(frame.into());
        }
        if let Some(d) = duration_us {
            v["duration_us"] = json!(d);
        }
        v.to_string()
    }
}

/// The method for logs: known methods as they are, anything else (attacker-chosen) as `OTHER`.
pub(crate) fn log_method(method: &str) -> String {
    let upper = method.to_ascii_uppercase();
    if super::route::HTTP_METHODS.contains(&upper.as_str()) {
        upper
    } else {
        "OTHER".into()
    }
}

/// A decision in progress: its log record and, when tracing, its steps.
pub(crate) struct Run {
    /// `None` unless tracing: formatting each step costs allocations on every request.
    pub(crate) steps: Option<Vec<String>>,
    pub(crate) log: DecisionLog,
}

impl Run {
    pub(crate) fn new(method: &str, trace: bool) -> Run {
        Run {
            steps: trace.then(Vec::new),
            log: DecisionLog {
                method: log_method(method),
                ..DecisionLog::default()
            },
        }
    }

    pub(crate) fn step(&mut self, text: impl FnOnce() -> String) {
        if let Some(steps) = &mut self.steps {
            steps.push(text());
        }
    }

    /// The finished verdict.
    pub(crate) fn verdict(self, decision: Decision) -> Verdict {
        Verdict {
            decision,
            log: self.log,
            steps: self.steps.unwrap_or_default(),
        }
    }
}
