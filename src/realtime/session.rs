//! One Realtime socket as the gate sees it: which frames from the client go on, which tokens must be
//! decided first, what the client is told when a token is refused, and which frames from the server
//! belong to a channel the gate closed.
//!
//! The session never decides a token itself. A frame that carries one comes back as a
//! [`TokenCheck`]: the adapter decides [`TokenCheck::request`] with the gate (the upgrade's own
//! request with the frame's token as its `Authorization`, so the same route, verification,
//! enrollment lookups, credential rules and mode apply as to any request), then hands the verdict to
//! [`Session::judged`].

use super::check::{TokenCheck, Upgrade};
use super::frame::{self, Frame, Message, Payload, Unreadable, Vsn};
use super::handshake;
use super::token::{token_of, TokenEvent};
use crate::error::{Code, Error};
use crate::gate::credentials::query_values;
use crate::gate::verdict::{DecisionLog, Verdict};
use crate::gate::{Decision, Request};
use crate::wire::{reject_with_cors, Answer};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Channels one socket may have open through the gate (Realtime's own default limit is 100 per
/// client); beyond it a join is refused, so that the gate's record of the socket stays bounded.
pub const MAX_CHANNELS: usize = 1000;

/// Longest channel topic the gate keeps track of (Realtime's topics are `realtime:<name>`).
pub const MAX_TOPIC_BYTES: usize = 256;

/// Longest join reference (and join message reference) the gate keeps (realtime-js counts: "1", "2", …).
pub const MAX_REF_BYTES: usize = 64;

/// Events of the server that end a channel or answer its join (a frame without one of these names
/// cannot change what the gate records, so it is passed on unread).
const LIFECYCLE: [&str; 3] = ["phx_reply", "phx_close", "phx_error"];

/// A channel whose join the gate forwarded.
#[derive(Debug)]
struct Joined {
    /// The join's `join_ref` (the channel's reference; `phx_close` / `phx_error` carry it as `ref`).
    join_ref: Option<String>,
    /// The join message's `ref`, which Realtime's reply to the join carries.
    join_msg_ref: Option<String>,
}

/// Close codes the gate uses (RFC 6455 §7.4.1).
pub mod close_code {
    /// A frame over the configured size cap (what Realtime's server answers to a frame over its own
    /// cap).
    pub const TOO_BIG: u16 = 1009;
}

/// How to close the socket (both sides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    /// RFC 6455 close code.
    pub code: u16,
    /// The refusal's code (`frame_malformed`, …), as the close reason.
    pub reason: &'static str,
}

/// What the adapter does with one client frame.
#[derive(Debug, Default)]
pub struct Action {
    /// Send the client's frame upstream, unchanged.
    pub forward: bool,
    /// Frames (text, in the socket's format) to send to the client, in order.
    pub to_client: Vec<String>,
    /// Frames the gate sends upstream on the client's behalf (after the client's frame, if any).
    pub to_upstream: Vec<String>,
    /// Close the socket on both sides.
    pub close: Option<Close>,
    /// One decision log line (judged frames and refusals; frames that simply pass have none).
    pub log: Option<String>,
}

impl Action {
    fn pass() -> Action {
        Action {
            forward: true,
            ..Action::default()
        }
    }
}

/// The next step for one client frame.
#[derive(Debug)]
pub enum FrameStep {
    /// Done: do this.
    Act(Action),
    /// Decide this token, then call [`Session::judged`].
    Judge(TokenCheck),
}

/// One Realtime socket through the gate.
#[derive(Debug)]
pub struct Session {
    vsn: Vsn,
    upgrade: Arc<Upgrade>,
    route: String,
    max_frame_bytes: usize,
    /// Topics whose join the gate forwarded, with that join's reference.
    joined: HashMap<String, Joined>,
    /// Topics the gate closed on the client's behalf: the server's frames for them are dropped until
    /// a new join for the topic is forwarded.
    /// The value is the `join_ref` of the channel the gate left: its `phx_close` ends the record.
    closed: HashMap<String, Option<String>>,
    next_ref: u64,
}

impl Session {
    /// A session for an allowed upgrade request: its socket format comes from the `vsn` query
    /// parameter (absent: `1.0.0`, as Phoenix assumes). `route` names the upgrade's route rule (for
    /// logs). Refused (`frame_unsupported`) when `vsn` is repeated or names a format the gate cannot
    /// read, since the server would then read frames the gate cannot.
    pub fn open(req: &Request<'_>, route: &str, max_frame_bytes: usize) -> Result<Session, Error> {
        handshake::check(req)?;
        let values = query_values(req.query, "vsn");
        let vsn = match values.as_slice() {
            [] => Vsn::V1,
            [one] => Vsn::parse(one).ok_or_else(|| {
                Error::new(
                    Code::FrameUnsupported,
                    "query parameter `vsn` must be 1.0.0 or 2.0.0",
                )
            })?,
            _ => {
                return Err(Error::new(
                    Code::FrameUnsupported,
                    "query parameter `vsn` is repeated",
                ))
            }
        };
        Ok(Session {
            vsn,
            upgrade: Arc::new(Upgrade {
                method: req.method.to_owned(),
                path: req.path.to_owned(),
                query: req.query.to_owned(),
                headers: req
                    .headers
                    .iter()
                    .filter(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
            }),
            route: route.to_owned(),
            max_frame_bytes,
            joined: HashMap::new(),
            closed: HashMap::new(),
            next_ref: 0,
        })
    }

    /// The socket's format.
    pub fn vsn(&self) -> Vsn {
        self.vsn
    }

    /// Channels currently joined through the gate.
    pub fn joined(&self) -> usize {
        self.joined.len()
    }

    /// Reads one frame from the client.
    pub fn client_frame(&mut self, frame: Frame<'_>) -> FrameStep {
        if frame.len() > self.max_frame_bytes {
            return FrameStep::Act(self.close(
                close_code::TOO_BIG,
                &Error::new(
                    Code::FrameTooLarge,
                    "a frame is over realtime.max_frame_bytes",
                ),
                None,
            ));
        }
        let message = match self.read_client(frame) {
            Ok(m) => m,
            // Realtime drops a frame it cannot decode and keeps the socket (RealtimeWeb.Socket
            // rescues the serializer's error): so does the gate, without forwarding it.
            Err(why) => {
                let error = Error::new(Code::FrameMalformed, why.describe());
                let code = reject_with_cors(&error, "*").code;
                return FrameStep::Act(Action {
                    log: Some(self.frame_log(code, None)),
                    ..Action::default()
                });
            }
        };
        let event = match message.event.as_ref() {
            "phx_join" => TokenEvent::Join,
            "access_token" => TokenEvent::AccessToken,
            "phx_leave" => {
                self.joined.remove(message.topic.as_ref());
                return FrameStep::Act(Action::pass());
            }
            _ => return FrameStep::Act(Action::pass()),
        };
        let limit = match event {
            TokenEvent::Join => self.join_limit(&message),
            TokenEvent::AccessToken => None,
        };
        match limit.map_or_else(|| token_of(event, &message), Err) {
            Ok(Some(token)) => FrameStep::Judge(TokenCheck {
                upgrade: Arc::clone(&self.upgrade),
                event,
                topic: message.topic.into_owned(),
                join_ref: message.join_ref.map(|s| s.into_owned()),
                msg_ref: message.msg_ref.map(|s| s.into_owned()),
                authorization: format!("Bearer {token}"),
            }),
            // No token: the channel runs on the socket's own credential, judged with the upgrade.
            Ok(None) if event == TokenEvent::Join => FrameStep::Act(self.admit_join(
                &message.topic,
                message.join_ref.as_deref(),
                message.msg_ref.as_deref(),
            )),
            Ok(None) => FrameStep::Act(Action::pass()),
            Err(error) => {
                let check = TokenCheck {
                    upgrade: Arc::clone(&self.upgrade),
                    event,
                    topic: message.topic.into_owned(),
                    join_ref: message.join_ref.map(|s| s.into_owned()),
                    msg_ref: message.msg_ref.map(|s| s.into_owned()),
                    authorization: String::new(),
                };
                let answer = reject_with_cors(&error, "*");
                let log = self.frame_log(answer.code, Some(event.name()));
                FrameStep::Act(self.refuse(&check, &answer, log))
            }
        }
    }

    /// The verdict on a [`TokenCheck`]'s request, as the gate decided it.
    pub fn judged(&mut self, check: TokenCheck, verdict: &Verdict) -> Action {
        let line = DecisionLog {
            frame: Some(check.event.name()),
            ..verdict.log.clone()
        }
        .line(None);
        match &verdict.decision {
            Decision::Forward(_) => match check.event {
                TokenEvent::Join => Action {
                    log: Some(line),
                    ..self.admit_join(
                        &check.topic,
                        check.join_ref.as_deref(),
                        check.msg_ref.as_deref(),
                    )
                },
                TokenEvent::AccessToken => Action {
                    log: Some(line),
                    ..Action::pass()
                },
            },
            Decision::Reject(answer) | Decision::Answer(answer) => {
                self.refuse(&check, answer, line)
            }
        }
    }

    /// Whether a frame from the server goes on to the client: everything does, except frames of a
    /// channel the gate closed (until its `phx_close` or a new join of the topic). The server's answers
    /// also keep the record true: a refused join and a closed or crashed channel are forgotten.
    pub fn server_frame(&mut self, frame: Frame<'_>) -> bool {
        if self.closed.is_empty() {
            if self.joined.is_empty() {
                return true;
            }
            // Only lifecycle events change the record; other frames (postgres_changes, broadcasts)
            // pass without being parsed.
            if let Frame::Text(text) = frame {
                if !LIFECYCLE.iter().any(|e| text.contains(e)) {
                    return true;
                }
            }
        }
        let message = match frame {
            Frame::Text(text) => frame::read_text(self.vsn, text),
            Frame::Binary(bytes) => frame::read_server_binary(bytes),
        };
        // The server is not the one the gate guards against: what it sends and the gate cannot read
        // goes on.
        let Ok(m) = message else {
            return true;
        };
        let topic = m.topic.as_ref();
        if let Some(left) = self.closed.get(topic) {
            if m.event == "phx_close" && m.msg_ref.as_deref() == left.as_deref() {
                self.closed.remove(topic);
            }
            return false;
        }
        let Some(channel) = self.joined.get(topic) else {
            return true;
        };
        let ends = match m.event.as_ref() {
            "phx_close" | "phx_error" => m.msg_ref.as_deref() == channel.join_ref.as_deref(),
            "phx_reply" => {
                m.msg_ref.is_some()
                    && m.msg_ref.as_deref() == channel.join_msg_ref.as_deref()
                    && reply_is_error(&m)
            }
            _ => false,
        };
        if ends {
            self.joined.remove(topic);
        }
        true
    }

    fn read_client<'f>(&self, frame: Frame<'f>) -> Result<Message<'f>, Unreadable> {
        match (frame, self.vsn) {
            (Frame::Text(text), vsn) => frame::read_text(vsn, text),
            (Frame::Binary(bytes), Vsn::V2) => frame::read_client_binary(bytes),
            // Phoenix's V1 serializer decodes a binary frame's bytes as JSON text, like a text frame.
            (Frame::Binary(bytes), Vsn::V1) => std::str::from_utf8(bytes)
                .map_err(|_| Unreadable::Shape)
                .and_then(|text| frame::read_text(Vsn::V1, text)),
        }
    }

    /// Why the socket cannot take another channel for this join, if it cannot: the gate's record of
    /// the socket stays bounded in entries and bytes.
    fn join_limit(&self, join: &Message<'_>) -> Option<Error> {
        let topic = join.topic.as_ref();
        if topic.len() > MAX_TOPIC_BYTES {
            return Some(Error::new(
                Code::FrameUnsupported,
                "a channel topic is over 256 bytes",
            ));
        }
        let long = |r: &Option<std::borrow::Cow<'_, str>>| {
            r.as_ref().is_some_and(|r| r.len() > MAX_REF_BYTES)
        };
        if long(&join.join_ref) || long(&join.msg_ref) {
            return Some(Error::new(
                Code::FrameUnsupported,
                "a join reference is over 64 bytes",
            ));
        }
        let known = self.joined.contains_key(topic) || self.closed.contains_key(topic);
        (!known && self.joined.len() + self.closed.len() >= MAX_CHANNELS)
            .then(|| Error::new(Code::TooManyChannels, "the socket has too many channels"))
    }

    /// A join that goes on: recorded (a new join of a closed topic lets its frames through again).
    fn admit_join(&mut self, topic: &str, join_ref: Option<&str>, msg_ref: Option<&str>) -> Action {
        self.closed.remove(topic);
        self.joined.insert(
            topic.to_owned(),
            Joined {
                join_ref: join_ref.map(str::to_owned),
                join_msg_ref: msg_ref.map(str::to_owned),
            },
        );
        Action::pass()
    }

    /// A refused token frame: the client is told as Realtime tells it, and a channel that was open
    /// upstream is left (its frames no longer reach the client).
    fn refuse(&mut self, check: &TokenCheck, answer: &Answer, log: String) -> Action {
        let reason = reason(answer);
        let mut action = Action {
            log: Some(log),
            ..Action::default()
        };
        match check.event {
            TokenEvent::Join => action.to_client.push(frame::write(
                self.vsn,
                check.join_ref.as_deref(),
                check.msg_ref.as_deref(),
                &check.topic,
                "phx_reply",
                json!({"status": "error", "response": {"reason": reason}}),
            )),
            TokenEvent::AccessToken => {
                // Realtime's own answer to a refused refresh: a system message, then the channel
                // stops (Phoenix sends phx_close).
                action.to_client.push(frame::write(
                    self.vsn,
                    check.join_ref.as_deref(),
                    None,
                    &check.topic,
                    "system",
                    json!({"message": reason, "status": "error", "extension": "system", "channel": channel_name(&check.topic)}),
                ));
                action.to_client.push(frame::write(
                    self.vsn,
                    check.join_ref.as_deref(),
                    check.join_ref.as_deref(),
                    &check.topic,
                    "phx_close",
                    json!({}),
                ));
            }
        }
        if let Some(Joined { join_ref, .. }) = self.joined.remove(&check.topic) {
            self.next_ref += 1;
            let msg_ref = format!("aalgate:{}", self.next_ref);
            action.to_upstream.push(frame::write_client(
                self.vsn,
                join_ref.as_deref(),
                Some(&msg_ref),
                &check.topic,
                "phx_leave",
                json!({}),
            ));
            self.closed.insert(check.topic.clone(), join_ref);
        }
        action
    }

    fn close(&self, code: u16, error: &Error, event: Option<&'static str>) -> Action {
        // (Only the size cap closes the socket; everything else is answered per frame or channel.)
        let answer = reject_with_cors(error, "*");
        Action {
            close: Some(Close {
                code,
                reason: answer.code,
            }),
            log: Some(self.frame_log(answer.code, event)),
            ..Action::default()
        }
    }

    /// The decision line of a refusal of this socket's frames that no token decided (the front
    /// door's own, such as a client that outran the gate).
    pub fn refusal_log(&self, code: &'static str) -> String {
        self.frame_log(code, None)
    }

    /// The log line of a refusal the session makes itself (no token decided).
    fn frame_log(&self, code: &'static str, event: Option<&'static str>) -> String {
        DecisionLog {
            decision: "reject",
            code: Some(code),
            route: self.route.clone(),
            method: self.upgrade.method.clone(),
            frame: Some(event.unwrap_or("frame")),
            ..DecisionLog::default()
        }
        .line(None)
    }
}

/// The reason Realtime-style: `<code>: <message>` (supabase-js shows it in `CHANNEL_ERROR`).
fn reason(answer: &Answer) -> String {
    let message = answer.body["message"].as_str().unwrap_or("refused");
    format!("{}: {message}", answer.code)
}

/// Whether a server reply says `"status": "error"` (JSON replies; binary replies are taken as not).
fn reply_is_error(m: &Message<'_>) -> bool {
    #[derive(serde::Deserialize)]
    struct Reply<'a> {
        #[serde(borrow)]
        status: Option<std::borrow::Cow<'a, str>>,
    }
    match &m.payload {
        Payload::Json(raw) => serde_json::from_str::<Reply<'_>>(raw.get())
            .is_ok_and(|r| r.status.as_deref() == Some("error")),
        Payload::Binary(_) => false,
    }
}

/// `realtime:room-1` → `room-1` (the `channel` of Realtime's system messages).
fn channel_name(topic: &str) -> &str {
    topic.strip_prefix("realtime:").unwrap_or(topic)
}
