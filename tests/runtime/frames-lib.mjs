// The Realtime frame table (tests/conformance/frames.json) against a front door that relays
// WebSockets: real sockets to the gate, the stand-in Realtime behind it (tests/runtime/realtime.mjs).
// After each step a heartbeat sentinel is sent and its reply awaited: frames are handled in order, so
// by then everything the step caused has arrived (no sleeps). The timeout only turns a message that
// never comes into a failure message.
import fs from "node:fs";
import path from "node:path";
import { Buffer } from "node:buffer";
import { substitute, fixtures } from "./conformance-lib.mjs";
import { send } from "./send.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
export const frameTable = JSON.parse(fs.readFileSync(path.join(here, "../conformance/frames.json"), "utf8"));
const WAIT_MS = 10000;

/** realtime-js's encoding of a client message. */
function encode(vsn, m) {
  return vsn === "1.0.0"
    ? JSON.stringify({ join_ref: m.join_ref, ref: m.ref, topic: m.topic, event: m.event, payload: m.payload })
    : JSON.stringify([m.join_ref, m.ref, m.topic, m.event, m.payload]);
}

function binary(spec, fill) {
  const fields = ["join_ref", "ref", "topic", "event"].map((k) => Buffer.from(spec[k]));
  const head = [spec.kind, ...fields.map((f) => f.length), ...(spec.kind === 3 ? [0, 1] : [])];
  return Buffer.concat([Buffer.from(head), ...fields, Buffer.from(fill(spec.payload_text))]);
}

function decode(vsn, text) {
  try {
    const m = JSON.parse(text);
    if (vsn === "1.0.0") return m;
    const [join_ref, ref, topic, event, payload] = m;
    return { join_ref, ref, topic, event, payload };
  } catch {
    return null;
  }
}

function matches(vsn, got, want) {
  if (typeof got !== "string") return false;
  const m = decode(vsn, got);
  if (!m) return false;
  const reason = (m.payload?.response?.reason ?? m.payload?.message)?.split(":")[0];
  return Object.entries(want).every(([k, w]) => {
    switch (k) {
      case "event": return m.event === w;
      case "topic": return m.topic === w;
      case "ref": return m.ref === w;
      case "status": return m.payload?.status === w;
      case "reason": return reason === w;
      default: throw new Error(`unknown matcher ${k}`);
    }
  });
}

const same = (a, b) => (typeof a === "string" || typeof b === "string" ? a === b : Buffer.compare(a, b) === 0);

/** A WebSocket client that keeps what it receives and can wait for something to arrive. */
export function client(WebSocketImpl, url) {
  const ws = new WebSocketImpl(url);
  ws.binaryType = "arraybuffer";
  const state = { ws, inbox: [], closed: null, waiters: new Set() };
  const flush = () => { for (const w of [...state.waiters]) w(); };
  ws.onmessage = (e) => { state.inbox.push(typeof e.data === "string" ? e.data : Buffer.from(e.data)); flush(); };
  ws.onclose = (e) => { state.closed = { code: e.code, reason: e.reason }; flush(); };
  state.until = (pred, what) => new Promise((resolve, reject) => {
    let timer;
    // Re-checked on every client event, and every few ms for what happens on the stand-in's side.
    const poll = setInterval(() => check(), 5);
    const check = () => {
      const r = pred();
      if (!r) return;
      clearTimeout(timer);
      clearInterval(poll);
      state.waiters.delete(check);
      resolve(r);
    };
    timer = setTimeout(() => { clearInterval(poll); state.waiters.delete(check); reject(new Error(`no ${what} within ${WAIT_MS} ms`)); }, WAIT_MS);
    state.waiters.add(check);
    check();
  });
  state.opened = new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("the socket did not open"));
  });
  return state;
}

async function runCase(c, vsn, { wsBase, realtime, tokens, WebSocketImpl }) {
  const fill = (s) => substitute(s, tokens);
  const url = `${wsBase}/realtime/v1/websocket?apikey=${fixtures.api_keys.publishable}&vsn=${vsn}`;
  const sock = client(WebSocketImpl, url);
  await sock.opened;
  try {
    for (const [i, step] of c.steps.entries()) {
      const fail = (what) => { throw new Error(`step ${i + 1}: ${what}`); };
      let frame;
      if (step.send) frame = encode(vsn, JSON.parse(fill(JSON.stringify(step.send))));
      else if (step.send_text) frame = fill(step.send_text[vsn]);
      else if (step.send_binary) frame = binary(step.send_binary, fill);
      else if (step.send_binary_text) frame = Buffer.from(fill(step.send_binary_text));
      const mark = realtime.frames.length;
      const seen = sock.inbox.length;
      const closesBefore = realtime.closes.length;
      sock.ws.send(frame);
      const e = step.expect;
      if (e.closed) {
        await sock.until(() => sock.closed, "close");
        await sock.until(() => realtime.closes.length > closesBefore || realtime.open.size === 0, "the upstream's close");
        if (sock.closed.code !== e.closed.code || sock.closed.reason !== e.closed.reason) fail(`closed expected ${JSON.stringify(e.closed)}, got ${JSON.stringify(sock.closed)}`);
        if (realtime.frames.slice(mark).some((f) => same(f, frame))) fail("the frame reached the upstream");
        return;
      }
      const ref = `sentinel-${i}`;
      const sentinel = encode(vsn, { join_ref: null, ref, topic: "phoenix", event: "heartbeat", payload: {} });
      sock.ws.send(sentinel);
      await sock.until(() => sock.inbox.slice(seen).some((m) => matches(vsn, m, { ref })), `reply to the sentinel of step ${i + 1}`)
        .catch((err) => fail(`${err.message}${sock.closed ? ` (socket closed ${JSON.stringify(sock.closed)})` : ""}`));
      const got = sock.inbox.slice(seen).filter((m) => !matches(vsn, m, { ref }));
      const arrived = realtime.frames.slice(mark).filter((f) => !same(f, sentinel));
      const forwarded = arrived.some((f) => same(f, frame));
      if ("forwarded" in e && forwarded !== e.forwarded) fail(`forwarded expected ${e.forwarded}, got ${forwarded}`);
      const want = e.client ?? [];
      if (got.length !== want.length || !got.every((g, k) => matches(vsn, g, want[k]))) fail(`client expected ${JSON.stringify(want)}, got ${JSON.stringify(got.map(String))}`);
      const extra = arrived.filter((f) => !same(f, frame));
      const wantUp = e.upstream ?? [];
      if (extra.length !== wantUp.length || !extra.every((g, k) => matches(vsn, g, wantUp[k]))) fail(`upstream expected ${JSON.stringify(wantUp)}, got ${JSON.stringify(extra.map(String))}`);
      for (const m of got) {
        if (typeof m === "string" && Object.values(tokens).some((t) => t.length > 40 && m.includes(t))) fail("an answer echoes a token");
      }
    }
  } finally {
    sock.ws.close();
  }
}

/**
 * Runs the frame table. `wsBaseFor(config)` is the ws:// base of the front door serving that fixture
 * config; `realtime` the stand-in's record. Returns the mismatches.
 */
export async function runFrameTable({ wsBaseFor, realtime, tokens, WebSocketImpl }) {
  const failures = [];
  let runs = 0;
  for (const c of frameTable.cases) {
    for (const vsn of c.vsn) {
      runs++;
      try {
        await runCase(c, vsn, { wsBase: wsBaseFor(c.config ?? "main"), realtime, tokens, WebSocketImpl });
      } catch (err) {
        failures.push(`${c.name} [vsn ${vsn}]: ${err.message}`);
      }
    }
  }
  // Close codes and reasons pass through both ways.
  for (const vsn of ["1.0.0", "2.0.0"]) {
    const base = wsBaseFor("main");
    const url = `${base}/realtime/v1/websocket?apikey=${fixtures.api_keys.publishable}&vsn=${vsn}`;
    try {
      const byClient = client(WebSocketImpl, url);
      await byClient.opened;
      const before = realtime.closes.length;
      byClient.ws.close(4000, "client says bye");
      await byClient.until(() => realtime.closes.length > before && realtime.closes.slice(before).find((c) => c.code === 4000), "the client's close at the stand-in")
        .then((c) => { if (c.reason !== "client says bye") throw new Error(`reason ${c.reason}`); });
      const byServer = client(WebSocketImpl, url);
      await byServer.opened;
      byServer.ws.send(encode(vsn, { join_ref: null, ref: "x", topic: "phoenix", event: "__standin_close__", payload: {} }));
      const closed = await byServer.until(() => byServer.closed, "the stand-in's close at the client");
      if (closed.code !== 4001 || closed.reason !== "stand-in closes") throw new Error(`client saw ${JSON.stringify(closed)}`);
    } catch (err) {
      failures.push(`close pass-through [vsn ${vsn}]: ${err.message}`);
    }
  }
  for (const u of frameTable.upgrades) {
    const base = wsBaseFor("main").replace(/^ws/, "http");
    const res = await send(base, {
      path: "/realtime/v1/websocket",
      query: substitute(u.query, tokens),
      headers: u.handshake ?? [["upgrade", "websocket"], ["connection", "Upgrade"], ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="], ["sec-websocket-version", "13"]],
    }).catch((err) => ({ status: 0, body: Buffer.from(String(err)) }));
    let code = null;
    try { code = JSON.parse(res.body.toString()).code; } catch {}
    if (res.status !== u.expect.status || code !== u.expect.code) failures.push(`${u.name}: expected ${u.expect.status} ${u.expect.code}, got ${res.status} ${code}`);
  }
  return { failures, runs };
}

/**
 * The frame table against the doors of `startTableDoors` (tests/runtime/front-doors.mjs); returns
 * `[failures, message]` for the runner's assertion.
 */
export async function frameTableOn(env, WebSocketImpl) {
  const { failures, runs } = await runFrameTable({
    wsBaseFor: (n) => env.doors[n].url.replace(/^http/, "ws"),
    realtime: env.upstream.realtime,
    tokens: env.tokens,
    WebSocketImpl,
  });
  return [failures, `${failures.length} of ${runs} frame runs differ:\n${failures.join("\n")}`];
}
