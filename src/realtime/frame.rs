//! Phoenix channel messages in the two wire formats realtime-js speaks, read exactly as the Realtime
//! server's serializers read them, and the few messages the gate writes itself (refusals, a leave).
//!
//! - vsn `1.0.0` (Phoenix `V1JSONSerializer`): a JSON object `{join_ref, ref, topic, event, payload}`.
//! - vsn `2.0.0` (Phoenix `V2JSONSerializer`): a JSON array `[join_ref, ref, topic, event, payload]` in
//!   text frames; binary frames carry a kind byte, field sizes and the fields (see [`read_binary`]).
//!
//! The parse is strict where a lenient one could make the gate and the server see different
//! messages: an object with a repeated member is refused (the server's decoder keeps the last one),
//! unknown members and arrays of another length are refused, and names are compared after JSON
//! unescaping (`"phx\u005fjoin"` is `phx_join`).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::borrow::Cow;

/// The wire format of a socket, from the upgrade's `vsn` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vsn {
    /// `1.0.0` (also when `vsn` is absent, as Phoenix assumes): JSON objects.
    V1,
    /// `2.0.0`: JSON arrays, and binary frames.
    V2,
}

impl Vsn {
    /// The format for a `vsn` value: `1.0.x` or `2.0.x` (what Phoenix's `~> 1.0.0` / `~> 2.0.0`
    /// requirements accept), `None` for anything else.
    pub fn parse(value: &str) -> Option<Vsn> {
        let patch = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
        if value.strip_prefix("1.0.").is_some_and(patch) {
            Some(Vsn::V1)
        } else if value.strip_prefix("2.0.").is_some_and(patch) {
            Some(Vsn::V2)
        } else {
            None
        }
    }
}

/// One WebSocket data frame.
#[derive(Clone, Copy, Debug)]
pub enum Frame<'a> {
    /// A text frame (UTF-8).
    Text(&'a str),
    /// A binary frame.
    Binary(&'a [u8]),
}

impl Frame<'_> {
    /// The frame's size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the frame is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A message's payload: JSON (text frames) or bytes (binary pushes).
#[derive(Debug)]
pub enum Payload<'a> {
    /// The payload's JSON text, syntax already checked.
    Json(&'a RawValue),
    /// The bytes after a binary frame's header.
    Binary(&'a [u8]),
}

/// One Phoenix message.
#[derive(Debug)]
pub struct Message<'a> {
    /// The channel's join reference (`null` for socket-level messages and broadcasts).
    pub join_ref: Option<Cow<'a, str>>,
    /// The message reference replies answer to.
    pub msg_ref: Option<Cow<'a, str>>,
    /// The channel topic (`realtime:<name>`, `phoenix` for heartbeats).
    pub topic: Cow<'a, str>,
    /// The event (`phx_join`, `access_token`, `broadcast`, …).
    pub event: Cow<'a, str>,
    /// The payload.
    pub payload: Payload<'a>,
}

/// Why a frame could not be read as a Phoenix message (no frame content in it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Not the JSON shape of the socket's format (syntax, repeated or unknown member, wrong length,
    /// wrong types).
    Shape,
    /// A binary frame whose header does not fit the frame.
    BinaryLayout,
    /// A binary frame of a kind the gate does not know.
    BinaryKind,
}

impl Unreadable {
    /// For logs and close reasons.
    pub fn describe(self) -> &'static str {
        match self {
            Unreadable::Shape => "not a Phoenix message in the socket's format",
            Unreadable::BinaryLayout => "a binary frame whose header does not fit",
            Unreadable::BinaryKind => "a binary frame of an unknown kind",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectForm<'a> {
    #[serde(borrow, default)]
    join_ref: Option<Str<'a>>,
    #[serde(borrow, default, rename = "ref")]
    msg_ref: Option<Str<'a>>,
    #[serde(borrow)]
    topic: Str<'a>,
    #[serde(borrow)]
    event: Str<'a>,
    #[serde(borrow)]
    payload: &'a RawValue,
}

#[derive(Deserialize)]
struct ArrayForm<'a>(
    #[serde(borrow)] Option<Str<'a>>,
    #[serde(borrow)] Option<Str<'a>>,
    #[serde(borrow)] Str<'a>,
    #[serde(borrow)] Str<'a>,
    #[serde(borrow)] &'a RawValue,
);

/// A JSON string, borrowed when it has no escapes.
#[derive(Deserialize)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads a text frame in the socket's format.
pub fn read_text(vsn: Vsn, text: &str) -> Result<Message<'_>, Unreadable> {
    let message = match vsn {
        Vsn::V1 => {
            // serde's derived struct reader takes a JSON array too (fields in order); Phoenix's V1
            // serializer takes only an object.
            if !text
                .trim_start_matches([' ', '\t', '\n', '\r'])
                .starts_with('{')
            {
                return Err(Unreadable::Shape);
            }
            let m: ObjectForm<'_> = serde_json::from_str(text).map_err(|_| Unreadable::Shape)?;
            Message {
                join_ref: m.join_ref.map(|s| s.0),
                msg_ref: m.msg_ref.map(|s| s.0),
                topic: m.topic.0,
                event: m.event.0,
                payload: Payload::Json(m.payload),
            }
        }
        Vsn::V2 => {
            let ArrayForm(join_ref, msg_ref, topic, event, payload) =
                serde_json::from_str(text).map_err(|_| Unreadable::Shape)?;
            Message {
                join_ref: join_ref.map(|s| s.0),
                msg_ref: msg_ref.map(|s| s.0),
                topic: topic.0,
                event: event.0,
                payload: Payload::Json(payload),
            }
        }
    };
    Ok(message)
}

/// Binary frame kinds (Phoenix `V2JSONSerializer`, plus realtime-js's user broadcast push).
const KIND_PUSH: u8 = 0;
const KIND_REPLY: u8 = 1;
const KIND_BROADCAST: u8 = 2;
/// realtime-js `userBroadcastPush` (a client broadcast with a binary or JSON payload).
const KIND_USER_BROADCAST_PUSH: u8 = 3;
/// realtime-js `userBroadcast` (the server's side of the same).
const KIND_USER_BROADCAST: u8 = 4;

/// Reads a binary frame a client sent on a vsn `2.0.0` socket. The kinds a client sends:
///
/// - push (0): `kind, join_ref_size, ref_size, topic_size, event_size`, then the four strings, then the
///   payload bytes (Phoenix `V2JSONSerializer.decode!`);
/// - user broadcast push (3, realtime-js): `kind, join_ref_size, ref_size, topic_size,
///   user_event_size, metadata_size, payload_encoding`, then the five strings, then the payload:
///   Realtime reads it as a `broadcast` event, whatever the user event is called.
///
/// Any other kind is one the server does not take from a client.
pub fn read_client_binary(bytes: &[u8]) -> Result<Message<'_>, Unreadable> {
    let (&kind, rest) = bytes.split_first().ok_or(Unreadable::BinaryLayout)?;
    match kind {
        KIND_PUSH => {
            let (f, body) = fields::<4>(rest, 0)?;
            let [join_ref, msg_ref, topic, event] = f;
            Ok(Message {
                join_ref: Some(join_ref),
                msg_ref: Some(msg_ref),
                topic,
                event,
                payload: Payload::Binary(body),
            })
        }
        KIND_USER_BROADCAST_PUSH => {
            let (f, body) = fields::<5>(rest, 1)?;
            let [join_ref, msg_ref, topic, _user_event, _metadata] = f;
            Ok(Message {
                join_ref: Some(join_ref),
                msg_ref: Some(msg_ref),
                topic,
                event: Cow::Borrowed("broadcast"),
                payload: Payload::Binary(body),
            })
        }
        _ => Err(Unreadable::BinaryKind),
    }
}

/// Reads a binary frame the server sent on a vsn `2.0.0` socket, for its topic: reply (1:
/// `kind, join_ref_size, ref_size, topic_size, status_size`), broadcast (2: `kind, topic_size,
/// event_size`) and user broadcast (4: `kind, topic_size, user_event_size, metadata_size,
/// payload_encoding`), each followed by its strings and the payload.
pub fn read_server_binary(bytes: &[u8]) -> Result<Message<'_>, Unreadable> {
    let (&kind, rest) = bytes.split_first().ok_or(Unreadable::BinaryLayout)?;
    let (join_ref, msg_ref, topic, event, body) = match kind {
        KIND_REPLY => {
            let ([join_ref, msg_ref, topic, _status], body) = fields::<4>(rest, 0)?;
            (
                Some(join_ref),
                Some(msg_ref),
                topic,
                Cow::Borrowed("phx_reply"),
                body,
            )
        }
        KIND_BROADCAST => {
            let ([topic, event], body) = fields::<2>(rest, 0)?;
            (None, None, topic, event, body)
        }
        KIND_USER_BROADCAST => {
            let ([topic, _user_event, _metadata], body) = fields::<3>(rest, 1)?;
            (None, None, topic, Cow::Borrowed("broadcast"), body)
        }
        _ => return Err(Unreadable::BinaryKind),
    };
    Ok(Message {
        join_ref,
        msg_ref,
        topic,
        event,
        payload: Payload::Binary(body),
    })
}

/// `N` one-byte sizes, `extra` bytes the gate does not need (the payload encoding), then the `N`
/// UTF-8 strings; returns them and the rest (the payload).
fn fields<const N: usize>(
    rest: &[u8],
    extra: usize,
) -> Result<([Cow<'_, str>; N], &[u8]), Unreadable> {
    if rest.len() < N + extra {
        return Err(Unreadable::BinaryLayout);
    }
    let (sizes, mut body) = rest.split_at(N + extra);
    let mut out: [Cow<'_, str>; N] = std::array::from_fn(|_| Cow::Borrowed(""));
    for (slot, &n) in out.iter_mut().zip(&sizes[..N]) {
        let n = usize::from(n);
        if body.len() < n {
            return Err(Unreadable::BinaryLayout);
        }
        let (field, tail) = body.split_at(n);
        *slot = Cow::Borrowed(std::str::from_utf8(field).map_err(|_| Unreadable::BinaryLayout)?);
        body = tail;
    }
    Ok((out, body))
}

/// Writes a message the gate sends itself, in the socket's format (always a text frame). In vsn
/// `1.0.0` the server's messages carry no `join_ref` (Phoenix's V1 serializer leaves it out), so
/// neither do the gate's.
pub fn write(
    vsn: Vsn,
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: Value,
) -> String {
    message(vsn, false, join_ref, msg_ref, topic, event, payload)
}

/// Writes a client message (what realtime-js sends: vsn `1.0.0` objects carry `join_ref`), for the
/// gate's own `phx_leave` on the client's behalf and for tests.
pub fn write_client(
    vsn: Vsn,
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: Value,
) -> String {
    message(vsn, true, join_ref, msg_ref, topic, event, payload)
}

fn message(
    vsn: Vsn,
    v1_join_ref: bool,
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: Value,
) -> String {
    match vsn {
        Vsn::V1 => {
            let mut m = json!({"ref": msg_ref, "topic": topic, "event": event, "payload": payload});
            if v1_join_ref {
                m["join_ref"] = json!(join_ref);
            }
            m.to_string()
        }
        Vsn::V2 => json!([join_ref, msg_ref, topic, event, payload]).to_string(),
    }
}
