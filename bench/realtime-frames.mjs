// Per-frame cost of the Realtime frame judge in workerd, side by side in one run: the Rust Worker
// (build/index.js) and a plain relay Worker that reads no frame (bench/relay-worker.js), both in front
// of the same stand-in Realtime (tests/runtime/realtime.mjs). Two kinds of frames, each a sequential
// round trip on one socket: passed-through frames (a broadcast the stand-in echoes) and judged frames
// (a phx_join with a user token, the same cached token each time, which the stand-in answers). Rounds
// are interleaved (gate, relay, gate, …) and the median kept, since the load generator shares the
// machine. Prints µs per frame and the added cost; asserts nothing.
//   node bench/realtime-frames.mjs [frames-per-round] [rounds]
import { root, pub, jsWorker } from "./lib.mjs";
import WebSocket from "ws";
import { startUpstream } from "../tests/runtime/upstream.mjs";
import { startWorker } from "../tests/runtime/front-doors.mjs";
import { fixtures, signEs256 } from "../tests/runtime/conformance-lib.mjs";
import { client } from "../tests/runtime/frames-lib.mjs";

const N = Number(process.argv[2] ?? 500);
const ROUNDS = Number(process.argv[3] ?? 7);
const upstream = await startUpstream();
const issuer = `${upstream.url}/auth/v1`;

const gate = await startWorker({ AALGATE_CONFIG: JSON.stringify({ supabase_url: upstream.url, require_aal2_for_enrolled: true, keys: { jwks: { keys: [pub(fixtures.keys.issuer)] } } }) });
const relay = await jsWorker("bench/relay-worker.js", { UPSTREAM: upstream.url });
const now = Math.floor(Date.now() / 1000);
const token = await signEs256({ alg: "ES256", typ: "JWT", kid: fixtures.keys.issuer.kid },
  { iss: issuer, sub: "6f1c1b8e-0000-4000-8000-000000000001", aud: "authenticated", exp: now + 3600, iat: now, role: "authenticated", aal: "aal2", mfa_enrolled: true, session_id: "s",
    amr: [{ method: "totp", timestamp: now }] }, fixtures.keys.issuer);

async function open(base) {
  const sock = client(WebSocket, `${base.replace(/^http/, "ws")}/realtime/v1/websocket?apikey=${fixtures.api_keys.publishable}&vsn=2.0.0`);
  await sock.opened;
  return sock;
}

let ref = 0;
/** µs per sequential round trip of `n` frames made by `make(ref)`, answered with a frame matching `ref`. */
async function roundTrips(sock, n, make) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = String(++ref);
    const seen = sock.inbox.length;
    sock.ws.send(make(r));
    await sock.until(() => sock.inbox.length > seen, "an answer");
    sock.inbox.length = 0;
  }
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}
const passed = (r) => JSON.stringify(["1", r, "realtime:bench", "broadcast", { type: "broadcast", event: "tick", payload: { n: r } }]);
const judged = (r) => JSON.stringify([r, r, "realtime:bench", "phx_join", { config: { broadcast: { self: true } }, access_token: token }]);
// The same join without a token (read, no decision) and with the publishable key (an anonymous decision).
const tokenless = (r) => JSON.stringify([r, r, "realtime:bench", "phx_join", { config: { broadcast: { self: true } } }]);
const anonymous = (r) => JSON.stringify([r, r, "realtime:bench", "phx_join", { config: { broadcast: { self: true } }, access_token: fixtures.api_keys.publishable }]);
const KINDS = { passed, tokenless, anonymous, judged };
const LABELS = { passed: "passed through (broadcast)", tokenless: "phx_join without a token (read, not decided)", anonymous: "phx_join with the publishable key (decided: anonymous)", judged: "judged (phx_join, cached user token)" };

const doors = { gate: await open(gate.url), relay: await open(relay.url) };
for (const s of Object.values(doors)) {
  await roundTrips(s, 100, judged); // warm-up: keys imported, token cached, JIT warm
  await roundTrips(s, 100, passed);
}
const samples = { gate: {}, relay: {} };
for (const name of ["gate", "relay"]) for (const k of Object.keys(KINDS)) samples[name][k] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const name of ["gate", "relay"]) {
    for (const [k, make] of Object.entries(KINDS)) samples[name][k].push(await roundTrips(doors[name], N, make));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`Realtime frames in workerd: ${ROUNDS} interleaved rounds of ${N} sequential round trips per kind, median µs per frame`);
console.log("| frame | plain relay | aalgate Worker | added per frame | ratio |");
console.log("|---|---:|---:|---:|---:|");
for (const kind of Object.keys(KINDS)) {
  const r = median(samples.relay[kind]);
  const g = median(samples.gate[kind]);
  console.log(`| ${LABELS[kind]} | ${r.toFixed(0)} | ${g.toFixed(0)} | ${(g - r).toFixed(0)} | ${(g / r).toFixed(2)}× |`);
}
for (const s of Object.values(doors)) s.ws.close();
await gate.close();
await relay.close();
await upstream.close();
