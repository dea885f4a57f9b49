// Stand-in for Supabase Realtime's socket (small, from supabase/realtime lib/realtime_web/channels/
// realtime_channel.ex and Phoenix's socket and serializers): it reads Phoenix messages in the socket's
// vsn (1.0.0 objects, 2.0.0 arrays; binary frames are recorded, never answered), answers phx_join and
// heartbeats with `phx_reply` ok, phx_leave with `phx_reply` ok then `phx_close` (Phoenix.Channel.Server
// on a left channel), echoes a broadcast back to the same topic as the server's broadcast (a channel
// with `self: true`), answers a push to a topic it has not joined with Phoenix's "unmatched topic"
// error, and is silent otherwise. It records every frame it receives, so tests can assert
// that a refused frame never arrived. The native runner (tests/conformance/frames.rs) follows the
// same rules.
import { WebSocketServer } from "ws";
import { Buffer } from "node:buffer";

/** Phoenix's server-side encoding: vsn 1.0.0 leaves `join_ref` out (V1JSONSerializer). */
function write(vsn, joinRef, ref, topic, event, payload) {
  return vsn === "1" ? JSON.stringify({ ref, topic, event, payload }) : JSON.stringify([joinRef, ref, topic, event, payload]);
}

function read(vsn, text) {
  try {
    const m = JSON.parse(text);
    if (vsn === "1") return m && !Array.isArray(m) && typeof m === "object" ? m : null;
    if (!Array.isArray(m) || m.length !== 5) return null;
    const [join_ref, ref, topic, event, payload] = m;
    return { join_ref, ref, topic, event, payload };
  } catch {
    return null;
  }
}

/**
 * What the stand-in answers to one text frame on a socket of `vsn` ("1" or "2"); `joined` is the
 * socket's set of joined topics (a push to a topic that is not joined gets Phoenix's "unmatched topic").
 */
export function answers(vsn, text, joined) {
  const m = read(vsn, text);
  if (!m) return [];
  const reply = (status, response = {}) => write(vsn, m.join_ref, m.ref, m.topic, "phx_reply", { status, response });
  if (m.event === "heartbeat" && m.topic === "phoenix") return [reply("ok")];
  if (m.event === "phx_join") {
    joined.add(m.topic);
    return [reply("ok")];
  }
  if (!joined.has(m.topic)) return [write(vsn, null, m.ref, m.topic, "phx_reply", { status: "error", response: { reason: "unmatched topic" } })];
  switch (m.event) {
    case "phx_leave":
      joined.delete(m.topic);
      return [reply("ok"), write(vsn, m.join_ref, m.join_ref, m.topic, "phx_close", {})];
    case "broadcast":
      return [write(vsn, null, null, m.topic, "broadcast", m.payload)];
    default:
      return [];
  }
}

/**
 * Serves Realtime's socket on an http.Server's upgrades under /realtime/. Returns the record:
 * `frames` (every frame received, in order: strings, or Buffers for binary frames), `sockets`
 * (url and headers of each upgrade), `closes` (code and reason of each close the stand-in received),
 * and `close()`.
 */
export function attachRealtime() {
  const wss = new WebSocketServer({ noServer: true });
  const record = { frames: [], sockets: [], closes: [], open: new Set() };
  // Faults for tests/runtime/faults-lib.mjs: `refuse` (a status) answers upgrades with it and no socket;
  // `hang` keeps the connection and never answers (the sockets are ended by `close()`).
  record.faults = { refuse: null, hang: false };
  const hung = new Set();
  record.handle = (req, socket, head) => {
    const vsn = new URL(req.url, "http://x").searchParams.get("vsn")?.startsWith("2.") ? "2" : "1";
    record.sockets.push({ url: req.url, headers: req.headers });
    if (record.faults.hang) {
      hung.add(socket);
      socket.on("close", () => hung.delete(socket));
      return;
    }
    if (record.faults.refuse) {
      socket.end(`HTTP/1.1 ${record.faults.refuse} Realtime Down\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      record.open.add(ws);
      const joined = new Set();
      ws.on("message", (data, isBinary) => {
        if (isBinary) return record.frames.push(Buffer.from(data));
        const text = data.toString();
        record.frames.push(text);
        // A test can ask the stand-in to end the socket itself.
        if (text.includes('"__standin_close__"')) return ws.close(4001, "stand-in closes");
        // …or drop its connection without a close frame (Realtime's node going away).
        if (text.includes('"__standin_reset__"')) return ws.terminate();
        for (const a of answers(vsn, text, joined)) ws.send(a);
      });
      ws.on("close", (code, reason) => { record.open.delete(ws); record.closes.push({ code, reason: reason.toString() }); });
      ws.on("error", () => {});
    });
  };
  record.close = () => { for (const ws of record.open) ws.terminate(); for (const s of hung) s.destroy(); wss.close(); };
  return record;
}
