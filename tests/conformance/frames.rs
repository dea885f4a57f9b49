//! Native runner of the Realtime frame table (tests/conformance/frames.json): the core's
//! [`Session`] with the same blocking driver as the request table, in front of a stand-in Realtime
//! that behaves as the runtimes' (tests/runtime/realtime.mjs) does.

use super::{gate_for, load, mint_tokens, substitute, StandInIo};

use aalgate::drive::drive;
use aalgate::gate::{Decision, Request};
use aalgate::realtime::frame::{self, Frame, Payload, Vsn};
use aalgate::realtime::{FrameStep, Session};
use aalgate::Gate;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// One frame as a runner sends it: text or bytes.
enum Sent {
    Text(String),
    Binary(Vec<u8>),
}

impl Sent {
    fn frame(&self) -> Frame<'_> {
        match self {
            Sent::Text(t) => Frame::Text(t),
            Sent::Binary(b) => Frame::Binary(b),
        }
    }
}

/// Writes a case's message in the socket's format, placeholders filled in.
fn encode(vsn: Vsn, msg: &Value, fill: &dyn Fn(&str) -> String) -> String {
    let payload: Value = serde_json::from_str(&fill(&msg["payload"].to_string())).unwrap();
    frame::write_client(
        vsn,
        msg["join_ref"].as_str(),
        msg["ref"].as_str(),
        msg["topic"].as_str().unwrap(),
        msg["event"].as_str().unwrap(),
        payload,
    )
}

/// A v2 binary frame: kind 0 (push) or 3 (user broadcast push, empty metadata, JSON encoding).
fn binary(spec: &Value, fill: &dyn Fn(&str) -> String) -> Vec<u8> {
    let kind = spec["kind"].as_u64().unwrap() as u8;
    let fields: Vec<String> = ["join_ref", "ref", "topic", "event"]
        .iter()
        .map(|k| spec[*k].as_str().unwrap().to_owned())
        .collect();
    let mut out = vec![kind];
    out.extend(fields.iter().map(|f| f.len() as u8));
    if kind == 3 {
        out.extend([0u8, 1u8]); // metadata size, payload encoding (JSON)
    }
    for f in &fields {
        out.extend(f.as_bytes());
    }
    out.extend(fill(spec["payload_text"].as_str().unwrap()).as_bytes());
    out
}

/// The stand-in Realtime: what it answers to one frame it received (see frames.json `about`), with
/// the socket's joined topics.
fn stand_in(vsn: Vsn, sent: &Sent, joined: &mut HashSet<String>) -> Vec<String> {
    let Sent::Text(text) = sent else {
        return Vec::new();
    };
    let Ok(m) = frame::read_text(vsn, text) else {
        return Vec::new();
    };
    let reply = |status: &str| {
        frame::write(
            vsn,
            m.join_ref.as_deref(),
            m.msg_ref.as_deref(),
            &m.topic,
            "phx_reply",
            json!({"status": status, "response": {}}),
        )
    };
    if m.event == "heartbeat" && m.topic == "phoenix" {
        return vec![reply("ok")];
    }
    if m.event == "phx_join" {
        joined.insert(m.topic.to_string());
        return vec![reply("ok")];
    }
    if !joined.contains(m.topic.as_ref()) {
        return vec![frame::write(
            vsn,
            None,
            m.msg_ref.as_deref(),
            &m.topic,
            "phx_reply",
            json!({"status": "error", "response": {"reason": "unmatched topic"}}),
        )];
    }
    match m.event.as_ref() {
        "phx_leave" => {
            joined.remove(m.topic.as_ref());
            vec![
                reply("ok"),
                frame::write(
                    vsn,
                    m.join_ref.as_deref(),
                    m.join_ref.as_deref(),
                    &m.topic,
                    "phx_close",
                    json!({}),
                ),
            ]
        }
        "broadcast" => {
            let Payload::Json(raw) = m.payload else {
                return Vec::new();
            };
            let payload: Value = serde_json::from_str(raw.get()).unwrap();
            vec![frame::write(
                vsn,
                None,
                None,
                &m.topic,
                "broadcast",
                payload,
            )]
        }
        _ => Vec::new(),
    }
}

/// Whether a message the client got matches an expectation (only the fields the case gives).
fn matches(vsn: Vsn, got: &str, want: &Value) -> bool {
    let Ok(m) = frame::read_text(vsn, got) else {
        return false;
    };
    let payload: Value = match m.payload {
        Payload::Json(raw) => serde_json::from_str(raw.get()).unwrap(),
        Payload::Binary(_) => Value::Null,
    };
    let reason = payload["response"]["reason"]
        .as_str()
        .or(payload["message"].as_str())
        .and_then(|r| r.split(':').next())
        .map(str::to_owned);
    want.as_object()
        .unwrap()
        .iter()
        .all(|(k, w)| match k.as_str() {
            "event" => m.event == w.as_str().unwrap(),
            "topic" => m.topic == w.as_str().unwrap(),
            "ref" => m.msg_ref.as_deref() == w.as_str(),
            "status" => payload["status"] == *w,
            "reason" => reason.as_deref() == w.as_str(),
            other => panic!("unknown matcher {other}"),
        })
}

fn vsn_of(name: &str) -> Vsn {
    Vsn::parse(name).unwrap()
}

#[test]
fn frame_table_native() {
    let fx = load("fixtures.json");
    let table = load("frames.json");
    let now = fx["now"].as_u64().unwrap();
    let tokens = mint_tokens(&fx);
    // Only `{token:…}` / `{api_key:…}`: frames are JSON, full of other braces.
    let fill = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        while let Some(at) = ["{token:", "{api_key:"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min()
        {
            let end = at + rest[at..].find('}').unwrap();
            out.push_str(&rest[..at]);
            out.push_str(&substitute(&rest[at..=end], &fx, &tokens));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    };
    let mut gates: HashMap<String, Gate> = HashMap::new();
    let mut failures = Vec::new();
    let mut runs = 0;
    for case in table["cases"].as_array().unwrap() {
        let config = case["config"].as_str().unwrap_or("main");
        let gate = gates
            .entry(config.to_owned())
            .or_insert_with(|| gate_for(&fx, &fx["configs"][config], false));
        for vsn_name in case["vsn"].as_array().unwrap() {
            runs += 1;
            let vsn_name = vsn_name.as_str().unwrap();
            let name = format!("{} [vsn {vsn_name}]", case["name"].as_str().unwrap());
            let vsn = vsn_of(vsn_name);
            let query = fill(&format!("apikey={{api_key:publishable}}&vsn={vsn_name}"));
            if let Err(e) = run_case(gate, case, vsn, vsn_name, &query, now, &fx, &fill) {
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    for up in table["upgrades"].as_array().unwrap() {
        let query = fill(up["query"].as_str().unwrap());
        let gate = gates.get_mut("main").unwrap();
        // A case may send its own handshake headers (a malformed upgrade).
        let custom: Option<Vec<(String, String)>> = up.get("handshake").map(|h| {
            h.as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_owned(),
                        p[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        });
        let (default_headers, req) = upgrade(&query);
        let headers: Vec<(&str, &str)> = match &custom {
            Some(c) => c.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            None => default_headers,
        };
        let req = Request {
            headers: &headers,
            ..req
        };
        let verdict = drive(
            gate,
            &req,
            now,
            &mut StandInIo {
                fx: &fx,
                lookups: 0,
            },
        )
        .unwrap();
        let got = match &verdict.decision {
            Decision::Forward(_) => match Session::open(&req, &verdict.log.route, 1 << 20) {
                Ok(_) => json!({"status": 101}),
                Err(e) => {
                    let a = aalgate::wire::reject_with_cors(&e, "*");
                    json!({"status": a.status, "code": a.code})
                }
            },
            Decision::Reject(a) | Decision::Answer(a) => {
                json!({"status": a.status, "code": a.code})
            }
        };
        if got != up["expect"] {
            failures.push(format!(
                "{}: expected {}, got {got}",
                up["name"], up["expect"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("frames: {runs} case runs passed");
}

fn upgrade(query: &str) -> (Vec<(&'static str, &'static str)>, Request<'_>) {
    let headers = vec![
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];
    let req = Request {
        method: "GET",
        path: "/realtime/v1/websocket",
        query,
        headers: &[],
    };
    (headers, req)
}

#[allow(clippy::too_many_arguments)]
fn run_case(
    gate: &mut Gate,
    case: &Value,
    vsn: Vsn,
    vsn_name: &str,
    query: &str,
    now: u64,
    fx: &Value,
    fill: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    let (headers, req) = upgrade(query);
    let req = Request {
        headers: &headers,
        ..req
    };
    let verdict =
        drive(gate, &req, now, &mut StandInIo { fx, lookups: 0 }).map_err(|e| e.to_string())?;
    if !matches!(verdict.decision, Decision::Forward(_)) {
        return Err("the upgrade was refused".into());
    }
    let mut joined = HashSet::new();
    let mut session = Session::open(
        &req,
        &verdict.log.route,
        gate.config().realtime_max_frame_bytes(),
    )
    .map_err(|e| e.to_string())?;
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let sent = if let Some(msg) = step.get("send") {
            Sent::Text(encode(vsn, msg, fill))
        } else if let Some(text) = step.get("send_text") {
            Sent::Text(fill(text[vsn_name].as_str().unwrap()))
        } else if let Some(spec) = step.get("send_binary") {
            Sent::Binary(binary(spec, fill))
        } else if let Some(text) = step.get("send_binary_text") {
            Sent::Binary(fill(text.as_str().unwrap()).into_bytes())
        } else {
            panic!("step {i} sends nothing")
        };
        let action = match session.client_frame(sent.frame()) {
            FrameStep::Act(a) => a,
            FrameStep::Judge(check) => {
                let verdict = {
                    let request = check.request();
                    drive(gate, &request.get(), now, &mut StandInIo { fx, lookups: 0 })
                        .map_err(|e| e.to_string())?
                };
                session.judged(check, &verdict)
            }
        };
        let mut client: Vec<String> = action.to_client.clone();
        let mut from_server = Vec::new();
        if action.forward {
            from_server.extend(stand_in(vsn, &sent, &mut joined));
        }
        for extra in &action.to_upstream {
            from_server.extend(stand_in(vsn, &Sent::Text(extra.clone()), &mut joined));
        }
        client.extend(
            from_server
                .into_iter()
                .filter(|f| session.server_frame(Frame::Text(f))),
        );
        let expect = &step["expect"];
        let step_err = |what: String| format!("step {}: {what}", i + 1);
        if let Some(want) = expect.get("forwarded") {
            if action.forward != want.as_bool().unwrap() {
                return Err(step_err(format!(
                    "forwarded expected {want}, got {}",
                    action.forward
                )));
            }
        }
        if let Some(closed) = expect.get("closed") {
            let got = action
                .close
                .as_ref()
                .map(|c| json!({"code": c.code, "reason": c.reason}));
            if got.as_ref() != Some(closed) {
                return Err(step_err(format!("closed expected {closed}, got {got:?}")));
            }
            return Ok(());
        }
        if let Some(c) = &action.close {
            return Err(step_err(format!("unexpected close {c:?}")));
        }
        let want_client = expect
            .get("client")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if client.len() != want_client.len()
            || !client
                .iter()
                .zip(&want_client)
                .all(|(g, w)| matches(vsn, g, w))
        {
            return Err(step_err(format!(
                "client expected {want_client:?}, got {client:?}"
            )));
        }
        let want_up = expect
            .get("upstream")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if action.to_upstream.len() != want_up.len()
            || !action
                .to_upstream
                .iter()
                .zip(&want_up)
                .all(|(g, w)| matches(vsn, g, w))
        {
            return Err(step_err(format!(
                "upstream expected {want_up:?}, got {:?}",
                action.to_upstream
            )));
        }
        if let Some(code) = expect.get("log").and_then(Value::as_str) {
            let line: Value = action
                .log
                .as_deref()
                .map(|l| serde_json::from_str(l).unwrap())
                .unwrap_or(Value::Null);
            if line["code"] != code {
                return Err(step_err(format!("log code expected {code}, got {line}")));
            }
        }
        // No answer to the client ever echoes the token.
        for text in &client {
            for token in fill(&step.to_string())
                .split('"')
                .filter(|p| p.len() > 40 && p.contains('.'))
            {
                if text.contains(token) {
                    return Err(step_err("an answer echoes the token".into()));
                }
            }
        }
    }
    Ok(())
}
