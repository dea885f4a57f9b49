//! The frame reader's edges (the session's behaviour is the frame table, tests/conformance/frames.json).

use super::frame::{read_client_binary, read_server_binary, read_text, write, Payload, Unreadable};
use super::Vsn;

#[test]
fn vsn_values_phoenix_accepts() {
    assert_eq!(Vsn::parse("1.0.0"), Some(Vsn::V1));
    assert_eq!(Vsn::parse("2.0.0"), Some(Vsn::V2));
    assert_eq!(Vsn::parse("2.0.13"), Some(Vsn::V2));
    for bad in [
        "", "2", "2.0", "2.0.", "2.1.0", "3.0.0", "2.0.0-rc", " 2.0.0", "2.0.0 ",
    ] {
        assert_eq!(Vsn::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn text_frames_in_both_formats() {
    let v1 = read_text(
        Vsn::V1,
        r#" {"join_ref":"1","ref":"2","topic":"realtime:a","event":"phx_join","payload":{}} "#,
    )
    .unwrap();
    assert_eq!(
        (v1.join_ref.as_deref(), v1.msg_ref.as_deref()),
        (Some("1"), Some("2"))
    );
    assert_eq!(
        (v1.topic.as_ref(), v1.event.as_ref()),
        ("realtime:a", "phx_join")
    );
    let v2 = read_text(Vsn::V2, r#"[null,"2","phoenix","heartbeat",{}]"#).unwrap();
    assert_eq!((v2.join_ref, v2.event.as_ref()), (None, "heartbeat"));
    // Escapes are read as the server reads them.
    let esc = read_text(Vsn::V2, r#"["1","1","realtime:a","phx\u005fjoin",{}]"#).unwrap();
    assert_eq!(esc.event, "phx_join");
}

#[test]
fn shapes_the_server_would_read_differently_are_refused() {
    let refused = [
        (Vsn::V1, r#"["1","1","realtime:a","phx_join",{}]"#),
        (
            Vsn::V1,
            r#"{"topic":"a","event":"x","event":"phx_join","payload":{}}"#,
        ),
        (
            Vsn::V1,
            r#"{"topic":"a","event":"x","payload":{},"extra":1}"#,
        ),
        (Vsn::V1, r#"{"topic":"a","event":7,"payload":{}}"#),
        (Vsn::V2, r#"{"topic":"a","event":"phx_join","payload":{}}"#),
        (Vsn::V2, r#"["1","1","a","broadcast",{},{}]"#),
        (Vsn::V2, r#"["1","1","a","broadcast"]"#),
        (Vsn::V2, r#"[1,"1","a","broadcast",{}]"#),
        (Vsn::V2, "\u{feff}[\"1\",\"1\",\"a\",\"b\",{}]"),
        (Vsn::V2, r#"["1","1","a","b",{}] x"#),
    ];
    for (vsn, text) in refused {
        assert_eq!(
            read_text(vsn, text).err(),
            Some(Unreadable::Shape),
            "{text}"
        );
    }
}

#[test]
fn binary_pushes_from_the_client() {
    // kind 0: join_ref "1", ref "22", topic "t", event "ev", payload "xyz".
    let push = b"\x00\x01\x02\x01\x02122tevxyz";
    let m = read_client_binary(push).unwrap();
    assert_eq!(
        (m.msg_ref.as_deref(), m.topic.as_ref(), m.event.as_ref()),
        (Some("22"), "t", "ev")
    );
    assert!(matches!(m.payload, Payload::Binary(b"xyz")));
    // kind 3 (user broadcast push) is a broadcast whatever the user event is called.
    let user = b"\x03\x01\x01\x01\x08\x00\x0112tphx_join{}";
    assert_eq!(read_client_binary(user).unwrap().event, "broadcast");
    assert_eq!(
        read_client_binary(b"").err(),
        Some(Unreadable::BinaryLayout)
    );
    assert_eq!(
        read_client_binary(b"\x00\x05\x00\x00\x00ab").err(),
        Some(Unreadable::BinaryLayout)
    );
    assert_eq!(
        read_client_binary(b"\x00\x02\x00\x00\x00\xff\xfe").err(),
        Some(Unreadable::BinaryLayout)
    );
    // Kinds only the server sends, and unknown kinds.
    for kind in [1u8, 2, 4, 9] {
        assert_eq!(
            read_client_binary(&[kind, 0, 0, 0, 0, 0, 0]).err(),
            Some(Unreadable::BinaryKind)
        );
    }
}

#[test]
fn binary_frames_from_the_server_name_their_topic() {
    assert_eq!(
        read_server_binary(b"\x02\x01\x02tevpayload").unwrap().topic,
        "t"
    );
    assert_eq!(
        read_server_binary(b"\x04\x01\x02\x00\x01tev{}")
            .unwrap()
            .topic,
        "t"
    );
    assert_eq!(
        read_server_binary(b"\x01\x01\x01\x01\x02abtok{}")
            .unwrap()
            .topic,
        "t"
    );
}

#[test]
fn the_gates_messages_in_each_format() {
    let v2 = write(
        Vsn::V2,
        Some("1"),
        Some("2"),
        "realtime:a",
        "phx_reply",
        serde_json::json!({}),
    );
    assert_eq!(v2, r#"["1","2","realtime:a","phx_reply",{}]"#);
    // Phoenix's V1 serializer sends no join_ref.
    let v1: serde_json::Value = serde_json::from_str(&write(
        Vsn::V1,
        Some("1"),
        Some("2"),
        "t",
        "phx_close",
        serde_json::json!({}),
    ))
    .unwrap();
    assert_eq!(
        v1,
        serde_json::json!({"ref": "2", "topic": "t", "event": "phx_close", "payload": {}})
    );
}

fn session(vsn: &str) -> super::Session {
    let query = format!("vsn={vsn}");
    let headers = [
        ("upgrade", "websocket"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];
    let req = crate::gate::Request {
        method: "GET",
        path: "/realtime/v1/websocket",
        query: &query,
        headers: &headers,
    };
    super::Session::open(&req, "supabase:realtime", 1 << 20).unwrap()
}

fn act(step: super::FrameStep) -> super::Action {
    match step {
        super::FrameStep::Act(a) => a,
        super::FrameStep::Judge(_) => panic!("no token here"),
    }
}

#[test]
fn the_record_of_a_socket_is_bounded_in_channels_and_topic_bytes() {
    use super::{Frame, MAX_CHANNELS};
    let mut s = session("2.0.0");
    let join = |i: usize| format!(r#"["{i}","{i}","realtime:c{i}","phx_join",{{}}]"#);
    for i in 0..MAX_CHANNELS {
        assert!(
            act(s.client_frame(Frame::Text(&join(i)))).forward,
            "join {i}"
        );
    }
    assert_eq!(s.joined(), MAX_CHANNELS);
    let refused = act(s.client_frame(Frame::Text(&join(MAX_CHANNELS))));
    assert!(!refused.forward);
    let reply: serde_json::Value = serde_json::from_str(&refused.to_client[0]).unwrap();
    assert_eq!(reply[1], "1000", "the refusal answers the join's ref");
    assert!(reply[4]["response"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("too_many_channels:"));
    // A channel joined again is no new entry; a leave frees one.
    assert!(act(s.client_frame(Frame::Text(&join(7)))).forward);
    let leave = r#"["7","x","realtime:c7","phx_leave",{}]"#;
    assert!(act(s.client_frame(Frame::Text(leave))).forward);
    assert!(act(s.client_frame(Frame::Text(&join(MAX_CHANNELS)))).forward);
    // Long topics are not kept.
    let mut s = session("1.0.0");
    let long = format!(
        r#"{{"join_ref":"1","ref":"1","topic":"realtime:{}","event":"phx_join","payload":{{}}}}"#,
        "x".repeat(300)
    );
    let refused = act(s.client_frame(Frame::Text(&long)));
    assert!(!refused.forward && refused.to_client[0].contains("frame_unsupported"));
}

#[test]
fn frames_from_the_server_are_parsed_only_while_a_channel_is_closed() {
    use super::Frame;
    let mut s = session("2.0.0");
    // Nothing closed: even garbage from the server goes on (the server is not who the gate guards against).
    assert!(s.server_frame(Frame::Text("not json")));
    assert!(s.server_frame(Frame::Binary(b"\x09")));
}

#[test]
fn joins_the_server_refuses_or_ends_are_forgotten() {
    // Found in review: without this, 1,000 joins Realtime refused (RLS, its own limits) filled the
    // record and every later join was refused `too_many_channels`.
    use super::{Frame, MAX_CHANNELS};
    for vsn in ["1.0.0", "2.0.0"] {
        let mut s = session(vsn);
        let v = Vsn::parse(vsn).unwrap();
        for i in 0..MAX_CHANNELS + 10 {
            let topic = format!("realtime:private-{i}");
            let join = super::frame::write_client(
                v,
                Some("1"),
                Some(&i.to_string()),
                &topic,
                "phx_join",
                serde_json::json!({}),
            );
            assert!(act(s.client_frame(Frame::Text(&join))).forward, "join {i}");
            let reply = write(
                v,
                Some("1"),
                Some(&i.to_string()),
                &topic,
                "phx_reply",
                serde_json::json!({"status": "error", "response": {"reason": "Unauthorized"}}),
            );
            assert!(
                s.server_frame(Frame::Text(&reply)),
                "the refusal goes on to the client"
            );
        }
        assert_eq!(s.joined(), 0);
        // An ok reply keeps the channel; a phx_close (or phx_error) of that channel ends it, one of an
        // older channel of the topic does not.
        let join = super::frame::write_client(
            v,
            Some("7"),
            Some("7"),
            "realtime:a",
            "phx_join",
            serde_json::json!({}),
        );
        act(s.client_frame(Frame::Text(&join)));
        let ok = write(
            v,
            Some("7"),
            Some("7"),
            "realtime:a",
            "phx_reply",
            serde_json::json!({"status": "ok", "response": {}}),
        );
        assert!(s.server_frame(Frame::Text(&ok)));
        let old_close = write(
            v,
            Some("3"),
            Some("3"),
            "realtime:a",
            "phx_close",
            serde_json::json!({}),
        );
        assert!(s.server_frame(Frame::Text(&old_close)));
        assert_eq!(s.joined(), 1);
        let close = write(
            v,
            Some("7"),
            Some("7"),
            "realtime:a",
            "phx_error",
            serde_json::json!({"reason": "channel_crash"}),
        );
        assert!(s.server_frame(Frame::Text(&close)));
        assert_eq!(s.joined(), 0);
    }
}

#[test]
fn long_join_references_are_not_kept() {
    use super::Frame;
    let mut s = session("2.0.0");
    let long = format!(r#"["{}","1","realtime:a","phx_join",{{}}]"#, "r".repeat(65));
    let refused = act(s.client_frame(Frame::Text(&long)));
    assert!(!refused.forward && refused.to_client[0].contains("frame_unsupported"));
    assert_eq!(s.joined(), 0);
}
