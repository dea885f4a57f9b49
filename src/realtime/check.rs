//! A frame's token as a request for the gate: the socket's upgrade request with the token as its
//! `Authorization`, so a frame is decided exactly as a request to the socket's route would be.

use super::token::TokenEvent;
use crate::gate::Request;
use std::sync::Arc;

/// The socket's upgrade request, as every token of the socket is decided against it.
#[derive(Debug)]
pub(super) struct Upgrade {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) query: String,
    /// The upgrade's forwardable headers, without `Authorization`.
    pub(super) headers: Vec<(String, String)>,
}

/// A frame whose token must be decided before it may go on. It holds what it needs, so that deciding
/// it borrows nothing of the session.
#[derive(Debug)]
pub struct TokenCheck {
    pub(super) upgrade: Arc<Upgrade>,
    pub(super) event: TokenEvent,
    pub(super) topic: String,
    pub(super) join_ref: Option<String>,
    pub(super) msg_ref: Option<String>,
    /// `Bearer <token>`: the frame's token as the decided request's `Authorization`.
    pub(super) authorization: String,
}

impl TokenCheck {
    /// The event that carried the token.
    pub fn event(&self) -> TokenEvent {
        self.event
    }

    /// The request to decide for this token: the socket's upgrade request with `Authorization:
    /// Bearer <token>` (any `Authorization` the upgrade had is replaced: the channel uses this token).
    pub fn request(&self) -> CheckRequest<'_> {
        let mut headers: Vec<(&str, &str)> = self
            .upgrade
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        headers.push(("authorization", self.authorization.as_str()));
        CheckRequest {
            upgrade: &self.upgrade,
            headers,
        }
    }
}

/// The borrowed parts of a [`TokenCheck`]'s request; [`CheckRequest::get`] is the gate's view.
pub struct CheckRequest<'a> {
    upgrade: &'a Upgrade,
    headers: Vec<(&'a str, &'a str)>,
}

impl CheckRequest<'_> {
    /// The request as the gate takes it.
    pub fn get(&self) -> Request<'_> {
        Request {
            method: &self.upgrade.method,
            path: &self.upgrade.path,
            query: &self.upgrade.query,
            headers: &self.headers,
        }
    }
}
