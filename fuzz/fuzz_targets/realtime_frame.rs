//! Any byte string as a Realtime client frame (text and binary, both vsn) through a session: must never
//! panic, and a frame the session forwards as a join must be one the strict reader takes as a join.
#![no_main]

use aalgate::gate::Request;
use aalgate::realtime::frame::{read_client_binary, read_text, Vsn};
use aalgate::realtime::{Frame, FrameStep, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for vsn in ["1.0.0", "2.0.0"] {
        let query = format!("vsn={vsn}");
        let headers = [("upgrade", "websocket"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-websocket-version", "13")];
        let req = Request { method: "GET", path: "/realtime/v1/websocket", query: &query, headers: &headers };
        let mut session = Session::open(&req, "supabase:realtime", 1 << 20).unwrap();
        let text = std::str::from_utf8(data).ok();
        let frames = [text.map(Frame::Text), Some(Frame::Binary(data))];
        for frame in frames.into_iter().flatten() {
            let _ = session.client_frame(frame);
            let _ = session.server_frame(frame);
        }
        let v = Vsn::parse(vsn).unwrap();
        if let Some(t) = text {
            let _ = read_text(v, t);
        }
        let _ = read_client_binary(data);
        if let (Some(t), FrameStep::Judge(check)) = (text, session.client_frame(Frame::Text(text.unwrap_or("")))) {
            let m = read_text(v, t).expect("a judged frame is a readable message");
            assert!(m.event == "phx_join" || m.event == "access_token");
            let _ = check.request().get();
        }
    }
});
