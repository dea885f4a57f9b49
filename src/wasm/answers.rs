//! The front doors' own answers, for what happens around the gate rather than in it (the gate's
//! refusals are [`crate::wire`]'s): a configuration that does not load, an upgrade the runtime cannot
//! proxy, an upstream that cannot be reached. Same body shape as the gate's refusals.

use crate::error::ConfigError;
use crate::wire::{error_body, Answer};

/// The codes of these answers (stable, like [`crate::Code`]'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoorCode {
    /// 500: the configuration did not load; every request gets this until it is fixed.
    ConfigInvalid,
    /// 501: this runtime's front door cannot proxy WebSocket upgrades.
    UpgradeUnsupported,
    /// 502: the forwarded request could not reach the upstream.
    UpstreamUnreachable,
}

impl DoorCode {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DoorCode::ConfigInvalid => "config_invalid",
            DoorCode::UpgradeUnsupported => "upgrade_unsupported",
            DoorCode::UpstreamUnreachable => "upstream_unreachable",
        }
    }

    fn status(self) -> u16 {
        match self {
            DoorCode::ConfigInvalid => 500,
            DoorCode::UpgradeUnsupported => 501,
            DoorCode::UpstreamUnreachable => 502,
        }
    }
}

fn answer(code: DoorCode, message: String, hint: Option<&str>) -> Answer {
    Answer {
        status: code.status(),
        code: code.as_str(),
        headers: vec![
            (
                "content-type".to_owned(),
                "application/json; charset=utf-8".to_owned(),
            ),
            ("access-control-allow-origin".to_owned(), "*".to_owned()),
        ],
        body: error_body(code.as_str(), &message, None, hint),
    }
}

/// While the configuration is invalid: 500, naming the problem (the operator's own configuration, so
/// naming it leaks nothing); `hint` says where this front door's configuration lives.
pub fn config_invalid(error: &ConfigError, hint: &str) -> Answer {
    answer(DoorCode::ConfigInvalid, error.to_string(), Some(hint))
}

/// A runtime whose `fetch` cannot proxy WebSocket upgrades (Node's and Deno's): 501, rather than a
/// misleading 502 or a silently dropped `Upgrade`.
pub fn upgrade_unsupported() -> Answer {
    answer(
        DoorCode::UpgradeUnsupported,
        "This front door cannot proxy WebSocket upgrades.".into(),
        Some("Connect Realtime through the Cloudflare Worker, or directly to the project."),
    )
}

/// A forwarded request that could not reach the upstream at all.
pub fn upstream_unreachable() -> Answer {
    answer(
        DoorCode::UpstreamUnreachable,
        "The Supabase project could not be reached.".into(),
        None,
    )
}
