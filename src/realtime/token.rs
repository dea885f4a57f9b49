//! The token a Realtime frame carries, read as Realtime reads it.

use super::frame::{Message, Payload};
use crate::error::{Code, Error};
use serde_json::{Map, Value};

/// The events that carry a user token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenEvent {
    /// `phx_join`: the channel's token (`payload.access_token` or `payload.user_token`).
    Join,
    /// `access_token`: a refreshed token for a joined channel.
    AccessToken,
}

impl TokenEvent {
    /// The event's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            TokenEvent::Join => "phx_join",
            TokenEvent::AccessToken => "access_token",
        }
    }
}

/// The token a join or refresh carries, as Realtime reads it (realtime_channel.ex): a join's
/// `access_token` or `user_token` (Realtime prefers `user_token`; the gate refuses the two when they
/// differ), a refresh's `access_token` only. `null` or absent: no token (a join then runs on the
/// socket's credential, a refresh is ignored by Realtime). Refused: a value that is not a string (Realtime
/// would fall back to the socket's credential or ignore it), a value with `%` or white space (Realtime
/// percent-decodes the token and strips white space before verifying it, so it would verify another
/// token than the one the gate sees), a payload that is not a strict JSON object, and a token event in a
/// binary frame.
pub(super) fn token_of(event: TokenEvent, message: &Message<'_>) -> Result<Option<String>, Error> {
    let raw = match &message.payload {
        Payload::Json(raw) => raw.get(),
        Payload::Binary(_) => {
            return Err(Error::new(
                Code::FrameUnsupported,
                "a binary frame carries a channel event that carries a token",
            ))
        }
    };
    let payload: Map<String, Value> = crate::json::parse_object(raw.as_bytes()).map_err(|e| {
        Error::new(
            Code::FrameMalformed,
            format!("the {} payload {}", event.name(), e.describe()),
        )
    })?;
    let keys: &[&str] = match event {
        TokenEvent::Join => &["access_token", "user_token"],
        TokenEvent::AccessToken => &["access_token"],
    };
    let mut found: Option<String> = None;
    for key in keys {
        match payload.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(token)) => {
                if token.contains(|c: char| c == '%' || c.is_whitespace()) {
                    return Err(Error::new(
                        Code::FrameMalformed,
                        format!("`{key}` holds `%` or white space"),
                    ));
                }
                match &found {
                    Some(other) if other != token => {
                        return Err(Error::new(
                            Code::CredentialsConflict,
                            "`access_token` and `user_token` differ",
                        ))
                    }
                    _ => found = Some(token.clone()),
                }
            }
            Some(_) => {
                return Err(Error::new(
                    Code::FrameMalformed,
                    format!("`{key}` is not a string"),
                ))
            }
        }
    }
    Ok(found)
}
