//! Realtime through the gate: the user's token travels inside the WebSocket (the `phx_join` of each
//! channel and later `access_token` events), so the gate reads every frame the client sends and decides
//! each token exactly as a request to the socket's route would be decided. No I/O here: the front
//! doors relay the frames (`crate::wasm::relay`) and do the gate's I/O.
//!
//! Rooms: [`frame`] (Phoenix messages in vsn 1.0.0 and 2.0.0, read as Realtime's serializers read
//! them), [`token`] (the token a frame carries), [`check`] (that token as a request for the gate) and
//! [`session`] (one socket: what goes on, what is decided, what the client is told).

pub mod check;
pub mod frame;
mod handshake;
pub mod session;
pub mod token;

#[cfg(test)]
mod tests;

pub use check::{CheckRequest, TokenCheck};
pub use frame::{Frame, Vsn};
pub use session::{Action, Close, FrameStep, Session, MAX_CHANNELS};
pub use token::TokenEvent;
// Which Realtime paths pass is a routing rule of the gate's (dependencies point from here to the gate).
pub use crate::gate::realtime_transport::{is_realtime_path, is_socket_path, REALTIME_PATH};
