//! The WebSocket relay of both wasm front doors for Realtime sockets: every frame the client sends goes
//! through the core's [`Session`] (and, when it carries a token, through the gate, with the same
//! driver as a request); frames from the project go back unless they belong to a channel the gate
//! closed. Close codes and reasons pass through both ways.
//!
//! Client frames are handled one at a time, in order: while a token is being decided (a JWKS fetch, a
//! signature check, an Auth lookup), later frames wait in a bounded inbox (the WebSocket API offers no
//! way to stop reading); a client that outruns the gate past that bound is disconnected. Frames from
//! the project are not held at all, except while the client's side is still opening (Deno).

use super::driver;
use crate::error::{Code, Error};
use crate::gate::Gate;
use crate::realtime::{Action, Frame, FrameStep, Session};
use crate::wire::reject_with_cors;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// Client frames that may wait while a token is decided.
const INBOX_FRAMES: usize = 1024;
/// Their total size, beyond one frame of the largest allowed size.
const INBOX_BYTES: usize = 16 * 1024 * 1024;
/// The close code for a client that outruns the gate (RFC 6455: "try again later").
const TRY_AGAIN_LATER: u16 = 1013;

/// What holds the gate a relay decides with (the Worker's and the module's per-isolate state).
pub trait GateHost {
    /// The gate.
    fn gate(&self) -> &RefCell<Gate>;
}

/// Where a relay's decision lines go.
pub type LogSink = Rc<dyn Fn(&str)>;

/// Hands a task to the runtime so that it runs to its end even when the client that caused it has
/// left (Workers: `ctx.waitUntil`; see [`super::judged::JudgedRequest::decide_kept`]).
pub type KeepAlive = Rc<dyn Fn(&js_sys::Promise)>;

/// A frame owned (it waits in the inbox, or for the client's side to open).
enum Owned {
    Text(String),
    Binary(Vec<u8>),
}

impl Owned {
    fn frame(&self) -> Frame<'_> {
        match self {
            Owned::Text(t) => Frame::Text(t),
            Owned::Binary(b) => Frame::Binary(b),
        }
    }

    fn from_event(event: &MessageEvent) -> Option<Owned> {
        let data = event.data();
        if let Some(text) = data.as_string() {
            return Some(Owned::Text(text));
        }
        let buffer: js_sys::ArrayBuffer = data.dyn_into().ok()?;
        Some(Owned::Binary(js_sys::Uint8Array::new(&buffer).to_vec()))
    }

    fn send(&self, socket: &WebSocket) {
        let _ = match self {
            Owned::Text(t) => socket.send_with_str(t),
            // A copy the runtime owns: a view into wasm memory may be read after the memory moved on
            // (seen in workerd: the first bytes arrived overwritten).
            Owned::Binary(b) => {
                socket.send_with_array_buffer_view(&js_sys::Uint8Array::from(&b[..]))
            }
        };
    }
}

struct Relay {
    host: Rc<dyn GateHost>,
    session: RefCell<Session>,
    client: WebSocket,
    upstream: WebSocket,
    log: LogSink,
    keep_alive: Option<KeepAlive>,
    inbox: RefCell<VecDeque<Owned>>,
    inbox_bytes: Cell<usize>,
    inbox_limit: usize,
    draining: Cell<bool>,
    /// Frames from the project while the client's side is still opening.
    held: RefCell<Vec<Owned>>,
    done: Cell<bool>,
    /// A close of one side that waits for the other side to finish opening (Deno's project socket),
    /// since closing a socket that is still connecting sends no close frame.
    pending_close: RefCell<Option<(bool, u16, String)>>,
    listeners: RefCell<Vec<Listener>>,
}

/// An event listener the relay added, to remove when the relay ends.
struct Listener {
    socket: WebSocket,
    event: &'static str,
    closure: Closure<dyn FnMut(JsValue)>,
}

/// Relays between `client` (the side the gate accepted) and `upstream` (the project's socket), either
/// of which may still be opening. Returns at once; the relay lives as long as the sockets do.
pub fn start(
    host: Rc<dyn GateHost>,
    session: Session,
    client: WebSocket,
    upstream: WebSocket,
    log: LogSink,
    keep_alive: Option<KeepAlive>,
    max_frame_bytes: usize,
) {
    for socket in [&client, &upstream] {
        socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
    }
    let relay = Rc::new(Relay {
        host,
        session: RefCell::new(session),
        client,
        upstream,
        log,
        keep_alive,
        inbox: RefCell::new(VecDeque::new()),
        inbox_bytes: Cell::new(0),
        inbox_limit: INBOX_BYTES.saturating_add(max_frame_bytes),
        draining: Cell::new(false),
        held: RefCell::new(Vec::new()),
        done: Cell::new(false),
        pending_close: RefCell::new(None),
        listeners: RefCell::new(Vec::new()),
    });
    let on = |socket: &WebSocket, event: &'static str, f: Box<dyn FnMut(JsValue)>| {
        let closure = Closure::wrap(f);
        let _ = socket.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        relay.listeners.borrow_mut().push(Listener {
            socket: socket.clone(),
            event,
            closure,
        });
    };
    let r = Rc::clone(&relay);
    on(
        &relay.client,
        "message",
        Box::new(move |e| r.on_client_message(e.unchecked_into())),
    );
    let r = Rc::clone(&relay);
    on(
        &relay.upstream,
        "message",
        Box::new(move |e| r.on_upstream_message(e.unchecked_into())),
    );
    let r = Rc::clone(&relay);
    on(
        &relay.upstream,
        "open",
        Box::new(move |_| {
            if !r.close_pending() {
                Relay::kick(&r);
            }
        }),
    );
    let r = Rc::clone(&relay);
    on(
        &relay.client,
        "open",
        Box::new(move |_| {
            if !r.close_pending() {
                r.release_held();
            }
        }),
    );
    for (from_client, socket) in [(true, &relay.client), (false, &relay.upstream)] {
        let r = Rc::clone(&relay);
        on(
            socket,
            "close",
            Box::new(move |e| r.closed(from_client, Some(e.unchecked_into()))),
        );
        let r = Rc::clone(&relay);
        on(
            socket,
            "error",
            Box::new(move |_| r.closed(from_client, None)),
        );
    }
    relay.release_held();
}

fn is_open(socket: &WebSocket) -> bool {
    socket.ready_state() == WebSocket::OPEN
}

/// Closes `socket` with the other side's code and reason where the runtime lets a program send that
/// code (1000 and 3000–4999 everywhere; others only in some runtimes), else with 1000.
fn close(socket: &WebSocket, code: u16, reason: &str) {
    if matches!(socket.ready_state(), WebSocket::CLOSING | WebSocket::CLOSED) {
        return;
    }
    // A close reason is at most 123 bytes.
    let mut reason = reason;
    while reason.len() > 123 {
        let mut end = 123;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason = &reason[..end];
    }
    if socket.close_with_code_and_reason(code, reason).is_err() {
        let _ = socket.close_with_code_and_reason(1000, reason);
    }
}

impl Relay {
    fn on_client_message(self: &Rc<Self>, event: MessageEvent) {
        if self.done.get() {
            return;
        }
        let Some(frame) = Owned::from_event(&event) else {
            return;
        };
        let size = frame.frame().len();
        let queued = self.inbox.borrow().len();
        if queued >= INBOX_FRAMES || self.inbox_bytes.get() + size > self.inbox_limit {
            let error = Error::new(Code::FrameBacklog, "the client outran the gate");
            let code = reject_with_cors(&error, "*").code;
            (self.log)(&self.session.borrow().refusal_log(code));
            self.finish(TRY_AGAIN_LATER, code);
            return;
        }
        self.inbox_bytes.set(self.inbox_bytes.get() + size);
        self.inbox.borrow_mut().push_back(frame);
        Relay::kick(self);
    }

    /// Starts handling the inbox unless that is under way (or the project's side is still opening).
    fn kick(self: &Rc<Self>) {
        if self.draining.get() || self.done.get() || !is_open(&self.upstream) {
            return;
        }
        self.draining.set(true);
        let relay = Rc::clone(self);
        let task = wasm_bindgen_futures::future_to_promise(async move {
            relay.drain().await;
            Ok(JsValue::UNDEFINED)
        });
        // A frame's decision may fetch the JWKS or ask Auth, for other sockets and requests too: that
        // must end even if this client leaves meanwhile (as for requests, `decide_kept`).
        if let Some(keep_alive) = &self.keep_alive {
            keep_alive(&task);
        }
    }

    async fn drain(self: Rc<Self>) {
        loop {
            if self.done.get() || !is_open(&self.upstream) {
                break;
            }
            let Some(frame) = self.inbox.borrow_mut().pop_front() else {
                break;
            };
            self.inbox_bytes
                .set(self.inbox_bytes.get().saturating_sub(frame.frame().len()));
            let step = self.session.borrow_mut().client_frame(frame.frame());
            let action = match step {
                FrameStep::Act(action) => action,
                FrameStep::Judge(check) => {
                    let verdict = {
                        let request = check.request();
                        driver::decide(self.host.gate(), &request.get()).await
                    };
                    self.session.borrow_mut().judged(check, &verdict)
                }
            };
            self.apply(action, &frame);
        }
        self.draining.set(false);
    }

    fn apply(&self, action: Action, frame: &Owned) {
        if let Some(line) = &action.log {
            (self.log)(line);
        }
        if self.done.get() {
            return;
        }
        for text in &action.to_client {
            self.to_client(Owned::Text(text.clone()));
        }
        if action.forward {
            frame.send(&self.upstream);
        }
        for text in &action.to_upstream {
            let _ = self.upstream.send_with_str(text);
        }
        if let Some(c) = action.close {
            self.finish(c.code, c.reason);
        }
    }

    fn on_upstream_message(&self, event: MessageEvent) {
        if self.done.get() {
            return;
        }
        let Some(frame) = Owned::from_event(&event) else {
            return;
        };
        if self.session.borrow_mut().server_frame(frame.frame()) {
            self.to_client(frame);
        }
    }

    fn to_client(&self, frame: Owned) {
        if self.client.ready_state() == WebSocket::CONNECTING {
            let held: usize = self.held.borrow().iter().map(|f| f.frame().len()).sum();
            if self.held.borrow().len() >= INBOX_FRAMES
                || held + frame.frame().len() > self.inbox_limit
            {
                // The project outran a client that is still opening: bounded like the inbox.
                self.finish(TRY_AGAIN_LATER, "frame_backlog");
                return;
            }
            self.held.borrow_mut().push(frame);
        } else if is_open(&self.client) {
            frame.send(&self.client);
        }
    }

    fn release_held(&self) {
        if is_open(&self.client) {
            for frame in self.held.borrow_mut().drain(..) {
                frame.send(&self.client);
            }
        }
    }

    /// One side closed (or failed): the other side is closed with its code and reason.
    fn closed(&self, from_client: bool, event: Option<CloseEvent>) {
        let (code, reason) = match &event {
            // 1005 (no code) and 1006 (no close frame) describe the connection, not a code to send:
            // a close frame without a code is a normal close (1000); a connection that dropped
            // without one is an error (1011), as a runtime that reports it as `error` first says.
            Some(e) if !matches!(e.code(), 1005 | 1006) => (e.code(), e.reason()),
            Some(e) if e.code() == 1005 => (1000, String::new()),
            _ => (1011, String::new()),
        };
        let other = if from_client {
            &self.upstream
        } else {
            &self.client
        };
        if event.is_some() && other.ready_state() == WebSocket::CONNECTING {
            *self.pending_close.borrow_mut() = Some((from_client, code, reason));
            return;
        }
        close(other, code, &reason);
        self.end();
    }

    /// Carries out a close that waited for this side to open; whether there was one.
    fn close_pending(&self) -> bool {
        let Some((from_client, code, reason)) = self.pending_close.borrow_mut().take() else {
            return false;
        };
        let other = if from_client {
            &self.upstream
        } else {
            &self.client
        };
        close(other, code, &reason);
        self.end();
        true
    }

    /// The gate ends the socket: both sides closed with `code` and the refusal's code as reason.
    fn finish(&self, code: u16, reason: &str) {
        close(&self.client, code, reason);
        close(&self.upstream, 1000, reason);
        self.end();
    }

    fn end(&self) {
        if self.done.replace(true) {
            return;
        }
        self.inbox.borrow_mut().clear();
        self.held.borrow_mut().clear();
        // The listeners hold the relay: removed now (no event reaches them again), dropped after the
        // event being handled has returned.
        let listeners = std::mem::take(&mut *self.listeners.borrow_mut());
        for l in &listeners {
            let _ = l
                .socket
                .remove_event_listener_with_callback(l.event, l.closure.as_ref().unchecked_ref());
        }
        wasm_bindgen_futures::spawn_local(async move { drop(listeners) });
    }
}
