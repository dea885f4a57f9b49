// The fault matrix: what a client gets when the JWKS endpoint, Supabase Auth, the project itself or the
// client misbehaves, run against each proxying front door (the Rust Worker in workerd, the module in
// Node and in Deno) by `runFaultMatrix({ start, upstream, tokens })`. Each row starts a fresh front door
// (`start(config)` → { url, close }), injects its fault into the stand-in upstream (upstream.mjs),
// sends a request (or, for the Realtime rows, opens a socket: only where the front door relays
// WebSockets, `WebSocketImpl` given), and records: the status and code the client got, how many requests reached the
// project (a request the gate could not judge must not), and whether the gate recovers by itself once
// the fault ends. Rows name what they expect; `problems` lists every difference. README's fault matrix
// is this table.
//
// Time is not injected here (real runtimes): recovery is waited for by polling until it shows, with a
// bound that only turns a gate that never recovers into a named failure. Timeouts and cooldowns are
// configured short (1 s each; the slow faults take 2.5 s) so the waits stay small, yet long enough
// that a loaded machine does not turn a healthy answer into a timeout.
import http from "node:http";
import net from "node:net";
import { Buffer } from "node:buffer";
import { fixtures, signEs256 } from "./conformance-lib.mjs";
import { send } from "./send.mjs";
import { request, unlessHung } from "./bodies-lib.mjs";
import { client } from "./frames-lib.mjs";

const pub = (k) => Object.fromEntries(Object.entries(k).filter(([n]) => n !== "d"));
const jwksOf = (...keys) => JSON.stringify({ keys });
const PROJECT_KEY = pub(fixtures.keys.issuer);
const ROTATED_KEY = { ...pub(fixtures.keys.other_project), kid: "rotated-key" };
const MIB = 1024 * 1024;

function codeOf(res) {
  try { return JSON.parse(res.body.toString()).code ?? ""; } catch { return ""; }
}

/** Requests that reached the project (not the JWKS endpoint, not the gate's own Auth lookups). */
function projectHits(upstream) {
  return upstream.received.filter((r) => !r.url.startsWith("/auth/v1/.well-known") && r.url !== "/auth/v1/user" && !r.aborted).length;
}

/** GET /rest/v1/todos through `door` with `token` (and `extra` headers). */
const todos = (door, token, extra = []) => request(door.url, { path: "/rest/v1/todos", headers: [...extra, ["authorization", `Bearer ${token}`]] });

/** Runs `fn(door)` with a front door started for `config`, closed afterwards. */
async function withDoor(start, config, fn) {
  const door = await start(config);
  try {
    return await fn(door);
  } finally {
    await door.close();
  }
}

/** Polls `probe` until it returns true; false if it never does within the bound. */
async function recovers(probe) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 150));
  }
  return false;
}

/** A loopback port nothing listens on (and a way to start a server there later). */
async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
function serveOn(port, handler) {
  const s = http.createServer(handler);
  return new Promise((r) => s.listen(port, "127.0.0.1", () => r({ close: () => new Promise((c) => { s.closeAllConnections?.(); s.close(c); }) })));
}

function resetUpstream(upstream) {
  Object.assign(upstream.jwks, { status: 200, body: jwksOf(PROJECT_KEY), cacheControl: "public, max-age=600", delayMs: 0, redirect: null, chunked: false, reset: false, flap: false, hits: 0, answered: 0 });
  Object.assign(upstream.auth, { delayMs: 0, fault: null });
  upstream.realtime.faults.refuse = null;
}

const remoteKeys = (upstream, keys = {}) => ({
  supabase_url: upstream.url,
  require_aal2_for_enrolled: true,
  keys: { jwks_url: `${upstream.url}/auth/v1/.well-known/jwks.json`, jwks_timeout_ms: 1000, jwks_refetch_cooldown: 1, ...keys },
});
const localKeys = (supabaseUrl, extra = {}) => ({ supabase_url: supabaseUrl, require_aal2_for_enrolled: true, keys: { jwks: { keys: [PROJECT_KEY] } }, ...extra });

// One JWKS fault on a cold gate: no keys → 503 jwks_unavailable, nothing forwarded; then healed.
// `inject`/`heal` change the stand-in's JWKS endpoint; "refused" points the gate at a port nothing
// listens on, and heals by starting a JWKS server there.
const jwksFault = (fault, inject, heal) => ({
  area: "JWKS", fault, expect: "503 jwks_unavailable, 0 forwarded, recovers",
  async run({ start, upstream, tokens }) {
    const refused = inject === "refused" ? await closedPort() : null;
    if (!refused) inject(upstream);
    const door = await start(remoteKeys(upstream, refused ? { jwks_url: `http://127.0.0.1:${refused}/jwks.json` } : {}));
    let server;
    try {
      const ask = () => todos(door, tokens.aal2_enrolled);
      const before = projectHits(upstream);
      const res = await unlessHung(ask(), fault);
      const forwarded = projectHits(upstream) - before;
      if (refused) server = await serveOn(refused, (_q, r) => { r.writeHead(200, { "content-type": "application/json" }); r.end(jwksOf(PROJECT_KEY)); });
      else heal(upstream);
      const recovered = await recovers(async () => (await ask()).status === 200);
      return { got: `${res.status} ${codeOf(res)}`, forwarded, recovered, ok: res.status === 503 && codeOf(res) === "jwks_unavailable" && forwarded === 0 && recovered };
    } finally {
      await server?.close();
      await door.close();
    }
  },
});

// One Auth fault for a user whose enrollment only Auth can tell: 503 enrollment_unavailable, nothing
// forwarded (the failure is held 5 s for that token, then the gate asks again and recovers).
const authFault = (fault, inject) => ({
  area: "Auth /user", fault, expect: "503 enrollment_unavailable, 0 forwarded, recovers",
  async run({ start, upstream, tokens }) {
    inject(upstream);
    return withDoor(start, localKeys(upstream.url, { enrollment: { api_timeout_ms: 1000 } }), async (door) => {
      const ask = () => todos(door, tokens.lk_missing_not, [["apikey", fixtures.api_keys.publishable]]);
      const before = projectHits(upstream);
      const res = await unlessHung(ask(), fault);
      const forwarded = projectHits(upstream) - before;
      resetUpstream(upstream);
      const recovered = await recovers(async () => (await ask()).status === 200);
      return { got: `${res.status} ${codeOf(res)}`, forwarded, recovered, ok: res.status === 503 && codeOf(res) === "enrollment_unavailable" && forwarded === 0 && recovered };
    });
  },
});

/** Sends one allowed request to /functions/v1/__fault/<kind> (or `path`); the outcome as text. */
async function faultRequest(door, tokens, kind, { method = "GET", body } = {}) {
  const headers = [["authorization", `Bearer ${tokens.aal2_enrolled}`]];
  if (body) headers.push(["content-type", "application/octet-stream"], ["content-length", String(body.length)]);
  try {
    const res = await unlessHung(request(door.url, { method, path: `/functions/v1/__fault/${kind}`, headers, write: body && (async (req) => req.end(body)) }), kind);
    return { status: res.status, code: codeOf(res), bytes: res.body.length };
  } catch (e) {
    return e.status ? { status: e.status, cut: true, bytes: e.received } : { dropped: true };
  }
}

// What the client gets once the project was reached: the request is forwarded once, and the
// front door recovers (the next request passes).
const projectFault = (fault, expect, kind, check, options) => ({
  area: "project", fault, expect,
  async run({ start, upstream, tokens }) {
    return withDoor(start, localKeys(upstream.url), async (door) => {
      const before = upstream.received.filter((r) => r.fault).length;
      const out = await faultRequest(door, tokens, kind, options);
      const forwarded = upstream.received.filter((r) => r.fault).length - before;
      const recovered = await recovers(async () => (await todos(door, tokens.aal2_enrolled)).status === 200);
      const got = out.dropped ? "connection dropped" : out.cut ? `${out.status}, body cut at ${out.bytes} B` : `${out.status} ${out.code}`.trim();
      return { got, forwarded, recovered, ok: check(out) && forwarded === 1 && recovered };
    });
  },
});


/** A 2.0.0 Realtime socket through `door` (publishable key, no user yet), open. */
async function openSocket(WebSocketImpl, door) {
  const sock = client(WebSocketImpl, `${door.url.replace(/^http/, "ws")}/realtime/v1/websocket?apikey=${fixtures.api_keys.publishable}&vsn=2.0.0`);
  await sock.opened;
  return sock;
}

let joins = 0;
/** Sends a join of a new topic on `sock` with `token`; its ref. */
function sendJoin(sock, token) {
  const ref = `fault-${++joins}`;
  const config = { broadcast: { ack: false, self: true }, presence: { enabled: false }, postgres_changes: [], private: false };
  sock.ws.send(JSON.stringify([ref, ref, `realtime:${ref}`, "phx_join", { config, access_token: token }]));
  return ref;
}

/** Joins a new topic on `sock` with `token`: { ref, status, reason } of its phx_reply, or { ref, closed }. */
async function join(sock, token) {
  const seen = sock.inbox.length;
  const ref = sendJoin(sock, token);
  const reply = (m) => { try { const f = JSON.parse(m); return f[1] === ref && f[3] === "phx_reply" ? f[4] : null; } catch { return null; } };
  const got = await sock.until(() => sock.inbox.slice(seen).map(reply).find(Boolean) ?? (sock.closed && { closed: sock.closed }), `the reply to join ${ref}`);
  return got.closed ? { ref, closed: got.closed } : { ref, status: got.status, reason: got.response?.reason?.split(":")[0] };
}

/** How many of the join frames with `ref` reached the stand-in Realtime. */
const joinsForwarded = (upstream, ref) => upstream.realtime.frames.filter((f) => typeof f === "string" && f.includes(`"${ref}"`) && f.includes("phx_join")).length;

/** Whether a new socket through `door` opens and a join on it passes. */
async function socketWorks(WebSocketImpl, door, token) {
  const sock = await openSocket(WebSocketImpl, door);
  try {
    return (await join(sock, token)).status === "ok";
  } finally {
    sock.ws.close();
  }
}

const describeJoin = (j) => (j.closed ? `socket closed ${j.closed.code}` : `join ${j.status} ${j.reason ?? ""}`.trim());

/** GET /rest/v1/todos through `door` with exactly `headers` (the outcome as text, or { dropped }). */
async function sendHeaders(door, headers, what) {
  try {
    const res = await unlessHung(request(door.url, { path: "/rest/v1/todos", headers }), what);
    return { status: res.status, code: codeOf(res) };
  } catch {
    return { dropped: true };
  }
}

// A client's oversized request headers: judged or refused by the runtime's own limit, never forwarded
// unjudged, and the front door goes on serving.
const hugeHeaders = (fault, expect, headersFor, check) => ({
  area: "client", fault, expect,
  async run({ start, upstream, tokens }) {
    return withDoor(start, localKeys(upstream.url), async (door) => {
      const before = projectHits(upstream);
      const out = await sendHeaders(door, headersFor(tokens), fault);
      const forwarded = projectHits(upstream) - before;
      const recovered = await recovers(async () => (await todos(door, tokens.aal2_enrolled)).status === 200);
      const got = out.dropped ? "connection dropped" : `${out.status} ${out.code}`.trim();
      return { got, forwarded, recovered, ok: check(out, forwarded) && recovered };
    });
  },
});

// A client that leaves while the JWKS refetch its new-kid token triggered runs (the fetch is delayed
// 500 ms; `leave(door, token, WebSocketImpl)` sends and goes away): the refetch must still land, so
// `next(door, token, WebSocketImpl)` → { ok, text } passes after exactly one refetch.
const leavesDuringRefetch = (area, fault, socket, expect, leave, next) => ({
  area, fault, socket, expect,
  async run({ start, upstream, tokens, WebSocketImpl }) {
    return withDoor(start, remoteKeys(upstream, { jwks_refetch_cooldown: 3 }), async (door) => {
      const first = await todos(door, tokens.aal2_enrolled);
      const hits = upstream.jwks.hits;
      // Past the cooldown of that first fetch, so the new kid may be refetched.
      await new Promise((r) => setTimeout(r, 3100));
      Object.assign(upstream.jwks, { body: jwksOf(PROJECT_KEY, ROTATED_KEY), delayMs: 500, answered: 0 });
      const rotated = await rotatedToken(upstream);
      await leave(door, rotated, WebSocketImpl);
      const answered = await recovers(async () => upstream.jwks.answered > 0);
      upstream.jwks.delayMs = 0;
      const after = await next(door, rotated, WebSocketImpl);
      const refetches = upstream.jwks.hits - hits;
      const got = `${after.text}, ${refetches} refetch${refetches === 1 ? "" : "es"}`;
      return { got, forwarded: "-", recovered: after.ok, ok: first.status === 200 && answered && after.ok && refetches === 1 };
    });
  },
});

export const FAULTS = [
  jwksFault("refused (nothing listens)", "refused"),
  jwksFault("connection reset, no answer", (u) => (u.jwks.reset = true), (u) => (u.jwks.reset = false)),
  jwksFault("slower than its timeout", (u) => (u.jwks.delayMs = 2500), (u) => (u.jwks.delayMs = 0)),
  jwksFault("500", (u) => (u.jwks.status = 500), (u) => (u.jwks.status = 200)),
  jwksFault("200, not JSON", (u) => (u.jwks.body = "<html>"), (u) => (u.jwks.body = jwksOf(PROJECT_KEY))),
  jwksFault("oversize (70 KiB)", (u) => (u.jwks.body = JSON.stringify({ keys: [PROJECT_KEY], pad: "x".repeat(70 * 1024) })), (u) => (u.jwks.body = jwksOf(PROJECT_KEY))),
  {
    area: "JWKS", fault: "keys rotated mid-traffic (new kid in, old kid out)", expect: "new kid 200 after one refetch; old kid 401 key_unknown",
    async run({ start, upstream, tokens }) {
      return withDoor(start, remoteKeys(upstream), async (door) => {
        const ask = (t) => todos(door, t);
        const first = await ask(tokens.aal2_enrolled);
        upstream.jwks.body = jwksOf(ROTATED_KEY);
        const rotated = await rotatedToken(upstream);
        // Within the cooldown of the first fetch an unknown kid is refused; after it, one refetch.
        const recovered = await recovers(async () => (await ask(rotated)).status === 200);
        const old = await ask(tokens.aal2_enrolled);
        const got = `new kid ${recovered ? 200 : "never 200"}; old kid ${old.status} ${codeOf(old)}`;
        return { got, forwarded: "-", recovered, ok: first.status === 200 && recovered && old.status === 401 && codeOf(old) === "key_unknown" };
      });
    },
  },
  {
    area: "JWKS", fault: "flapping (500 / 200 by turns) with keys cached", expect: "every request 200 (stale keys within their bound), refetched meanwhile",
    async run({ start, upstream, tokens }) {
      upstream.jwks.cacheControl = "public, max-age=1";
      return withDoor(start, remoteKeys(upstream, { jwks_max_stale: 30 }), async (door) => {
        // A new user each time: a cached token would not need the keys again.
        let i = 0;
        const ask = async () => {
          const t = await signEs256({ alg: "ES256", typ: "JWT", kid: PROJECT_KEY.kid }, { ...projectClaims(upstream.url), sub: `6f1c1b8e-0000-4000-8000-${String(++i).padStart(12, "0")}` }, fixtures.keys.issuer);
          return todos(door, t);
        };
        const statuses = [(await ask()).status];
        // From now on the endpoint fails every other time it is asked.
        upstream.jwks.flap = true;
        const until = Date.now() + 3000;
        while (Date.now() < until) {
          statuses.push((await ask()).status);
          await new Promise((r) => setTimeout(r, 100));
        }
        const failing = statuses.filter((s) => s !== 200).length;
        // max-age 1 s, cooldown 1 s: over 3 s the keys were refetched (some of those fetches failed).
        const hits = upstream.jwks.hits;
        return { got: `${statuses.length - failing} of ${statuses.length} 200, ${hits} JWKS fetches`, forwarded: "-", recovered: true, ok: failing === 0 && hits >= 3 };
      });
    },
  },
  {
    area: "JWKS", fault: "down past the stale bound (max-age 1 s, max_stale 1 s)", expect: "200 while fresh or stale, then 503 jwks_unavailable (0 forwarded), recovers",
    async run({ start, upstream, tokens }) {
      upstream.jwks.cacheControl = "public, max-age=1";
      return withDoor(start, remoteKeys(upstream, { jwks_max_stale: 1 }), async (door) => {
        const ask = () => todos(door, tokens.aal2_enrolled);
        const first = await ask();
        upstream.jwks.status = 500;
        let refusal;
        const bounded = await recovers(async () => { const r = await ask(); if (r.status !== 200) refusal = r; return r.status !== 200; });
        const before = projectHits(upstream);
        const again = await ask();
        const forwarded = projectHits(upstream) - before;
        upstream.jwks.status = 200;
        const recovered = await recovers(async () => (await ask()).status === 200);
        const got = `${first.status}, then ${refusal ? `${refusal.status} ${codeOf(refusal)}` : "never refused"}`;
        return { got, forwarded, recovered, ok: first.status === 200 && bounded && again.status === 503 && codeOf(again) === "jwks_unavailable" && forwarded === 0 && recovered };
      });
    },
  },
  authFault("connection reset, no answer", (u) => (u.auth.fault = "reset")),
  authFault("slower than enrollment.api_timeout_ms", (u) => (u.auth.delayMs = 2500)),
  authFault("200, not JSON", (u) => (u.auth.fault = "garbage")),
  authFault("502", (u) => (u.auth.fault = 502)),
  {
    area: "project", fault: "refused (nothing listens)", expect: "502 upstream_unreachable, recovers",
    async run({ start }) {
      const port = await closedPort();
      const door = await start(localKeys(`http://127.0.0.1:${port}`));
      const tokenFor = await signEs256({ alg: "ES256", typ: "JWT", kid: PROJECT_KEY.kid }, projectClaims(`http://127.0.0.1:${port}`), fixtures.keys.issuer);
      let server;
      try {
        const ask = () => todos(door, tokenFor);
        const res = await unlessHung(ask(), "project refused");
        server = await serveOn(port, (_q, r) => r.end("up"));
        const recovered = await recovers(async () => (await ask()).status === 200);
        return { got: `${res.status} ${codeOf(res)}`, forwarded: 0, recovered, ok: res.status === 502 && codeOf(res) === "upstream_unreachable" && recovered };
      } finally {
        await server?.close();
        await door.close();
      }
    },
  },
  projectFault("headers 500 ms late", "200, forwarded once", "slow-headers", (o) => o.status === 200),
  projectFault("reset mid-response (1 MiB promised, 256 KiB sent)", "200, then the body is cut (never a complete-looking response)", "reset-mid-response", (o) => o.dropped || (o.cut && o.bytes < MIB)),
  projectFault("reset mid-upload", "502 upstream_unreachable or the connection dropped", "reset-mid-upload", (o) => o.dropped || (o.status === 502 && o.code === "upstream_unreachable"), { method: "POST", body: Buffer.alloc(4 * MIB, 7) }),
  projectFault("40 KiB response header", "passed on (200) or 502 upstream_unreachable", "huge-headers", (o) => o.status === 200 || (o.status === 502 && o.code === "upstream_unreachable")),
  // The runtime's own refusal carries no gate code (Node: 431; Deno: 400).
  hugeHeaders("sends a 64 KiB bearer token", "401 token_too_large (or the runtime's own 431 / 400), 0 forwarded, next request 200",
    () => [["authorization", `Bearer eyJhbGciOiJFUzI1NiJ9.${"A".repeat(64 * 1024)}.c2ln`]],
    (o, forwarded) => forwarded === 0 && ((o.status === 401 && o.code === "token_too_large") || ([431, 400].includes(o.status) && !o.code))),
  hugeHeaders("sends a 40 KiB cookie beside a valid token", "passed on (200, forwarded once) or the runtime's own 431 / 400 (0 forwarded)",
    (tokens) => [["cookie", `pad=${"x".repeat(40 * 1024)}`], ["authorization", `Bearer ${tokens.aal2_enrolled}`]],
    (o, forwarded) => (o.status === 200 && forwarded === 1) || ([431, 400].includes(o.status) && !o.code && forwarded === 0)),
  {
    area: "Realtime", fault: "JWKS 500 while a join carries an uncached token", socket: true,
    expect: "join refused jwks_unavailable, 0 joins forwarded, socket stays open; a join after the fault passes",
    async run({ start, upstream, tokens, WebSocketImpl }) {
      upstream.jwks.status = 500;
      return withDoor(start, remoteKeys(upstream), async (door) => {
        const sock = await openSocket(WebSocketImpl, door);
        try {
          const first = await join(sock, tokens.aal2_enrolled);
          const forwarded = joinsForwarded(upstream, first.ref);
          upstream.jwks.status = 200;
          const recovered = await recovers(async () => (await join(sock, tokens.aal2_enrolled)).status === "ok");
          return { got: describeJoin(first), forwarded, recovered, ok: first.status === "error" && first.reason === "jwks_unavailable" && forwarded === 0 && recovered && !sock.closed };
        } finally {
          sock.ws.close();
        }
      });
    },
  },
  {
    area: "Realtime", fault: "drops a joined socket without a close frame", socket: true,
    expect: "the client's socket closes 1011 (an error, not a normal close); a new socket joins",
    async run({ start, upstream, tokens, WebSocketImpl }) {
      return withDoor(start, localKeys(upstream.url), async (door) => {
        const sock = await openSocket(WebSocketImpl, door);
        const joined = await join(sock, tokens.aal2_enrolled);
        sock.ws.send(JSON.stringify([null, "reset", "phoenix", "__standin_reset__", {}]));
        const closed = await sock.until(() => sock.closed, "the client's close").catch(() => null);
        sock.ws.close();
        const recovered = await recovers(() => socketWorks(WebSocketImpl, door, tokens.aal2_enrolled));
        return { got: `${describeJoin(joined)}, then ${closed ? `client socket closed ${closed.code}` : "client socket left open"}`, forwarded: "-", recovered, ok: joined.status === "ok" && closed?.code === 1011 && recovered };
      });
    },
  },
  {
    area: "Realtime", fault: "refuses the upgrade (503)", socket: true,
    expect: "no socket (the refusal passed on, or 502), recovers",
    async run({ start, upstream, tokens, WebSocketImpl }) {
      upstream.realtime.faults.refuse = 503;
      return withDoor(start, localKeys(upstream.url), async (door) => {
        const res = await unlessHung(send(door.url, {
          path: "/realtime/v1/websocket", query: `apikey=${fixtures.api_keys.publishable}&vsn=2.0.0`,
          headers: [["upgrade", "websocket"], ["connection", "Upgrade"], ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="], ["sec-websocket-version", "13"]],
        }), "refused upgrade").catch(() => ({ status: 0, body: Buffer.alloc(0) }));
        upstream.realtime.faults.refuse = null;
        const recovered = await recovers(() => socketWorks(WebSocketImpl, door, tokens.aal2_enrolled));
        return { got: res.status ? `${res.status} ${codeOf(res)}`.trim() : "connection dropped", forwarded: "-", recovered, ok: (res.status === 503 || res.status === 502) && recovered };
      });
    },
  },
  // As the request row below, for a frame: the join's refetch runs in the relay's task, kept alive.
  leavesDuringRefetch("Realtime", "client drops its socket while its join's refetch runs", true,
    "the refetch still lands: a join with the new kid on a new socket passes, one refetch",
    async (door, rotated, WebSocketImpl) => {
      const sock = await openSocket(WebSocketImpl, door);
      sendJoin(sock, rotated);
      await new Promise((r) => setTimeout(r, 100));
      if (sock.ws.terminate) sock.ws.terminate(); else sock.ws.close();
    },
    async (door, rotated, WebSocketImpl) => {
      const ok = await socketWorks(WebSocketImpl, door, rotated);
      return { ok, text: `join with the new kid ${ok ? "ok" : "refused"}` };
    }),
  {
    area: "client", fault: "aborts mid-upload", expect: "the project sees an aborted request, never a complete one; next request 200",
    async run({ start, upstream, tokens }) {
      return withDoor(start, localKeys(upstream.url), async (door) => {
        upstream.streams.reset();
        const path = "/functions/v1/__stream-upload";
        const before = upstream.received.filter((r) => r.url === path).length;
        const target = new URL(door.url);
        await new Promise((resolve) => {
          const req = http.request({ host: target.hostname, port: target.port, method: "POST", path, agent: false,
            headers: { authorization: `Bearer ${tokens.aal2_enrolled}`, "content-type": "application/octet-stream", "content-length": String(MIB) } });
          req.on("error", () => resolve());
          req.write(Buffer.alloc(256 * 1024, 1));
          upstream.streams.uploadStarted.then(() => { req.destroy(); resolve(); });
        });
        const settled = await recovers(async () => upstream.received.filter((r) => r.url === path).length > before);
        const seen = upstream.received.filter((r) => r.url === path).slice(before);
        const complete = seen.filter((r) => !r.aborted).length;
        const recovered = await recovers(async () => (await todos(door, tokens.aal2_enrolled)).status === 200);
        const got = `project saw ${seen.length - complete} aborted, ${complete} complete`;
        return { got, forwarded: seen.length, recovered, ok: settled && complete === 0 && recovered };
      });
    },
  },
  // Workers cancel a request's pending I/O when its client leaves. The refetch this request was
  // handed is marked in flight for all others (timeout + 1 s) and starts the unknown-kid cooldown
  // (3 s here): if it never reported, the new kid would be refused until the cooldown ends.
  leavesDuringRefetch("client", "leaves while the refetch its new-kid token triggered runs", false,
    "the refetch still lands: next request with the new kid 200, one refetch",
    async (door, rotated) => {
      const target = new URL(door.url);
      await new Promise((resolve) => {
        const req = http.request({ host: target.hostname, port: target.port, path: "/rest/v1/todos", agent: false, headers: { authorization: `Bearer ${rotated}` } });
        req.on("error", () => resolve());
        req.end();
        setTimeout(() => { req.destroy(); resolve(); }, 100);
      });
    },
    async (door, rotated) => {
      const next = await unlessHung(todos(door, rotated), "new kid after the client left");
      return { ok: next.status === 200, text: `next request ${[next.status, codeOf(next)].filter(Boolean).join(" ")}` };
    }),
  {
    area: "client", fault: "aborts mid-download", expect: "the front door keeps serving; next request 200",
    async run({ start, upstream, tokens }) {
      return withDoor(start, localKeys(upstream.url), async (door) => {
        upstream.streams.reset();
        const target = new URL(door.url);
        await new Promise((resolve) => {
          const req = http.request({ host: target.hostname, port: target.port, path: "/functions/v1/__drip", agent: false, headers: { authorization: `Bearer ${tokens.aal2_enrolled}` } }, (res) => {
            res.once("data", () => { req.destroy(); upstream.streams.release(); resolve(); });
          });
          req.on("error", () => resolve());
          req.end();
        });
        const recovered = await recovers(async () => (await todos(door, tokens.aal2_enrolled)).status === 200);
        return { got: recovered ? "next request 200" : "front door stuck", forwarded: 1, recovered, ok: recovered };
      });
    },
  },
];

/** A token signed by ROTATED_KEY (the key a rotation brings in). */
const rotatedToken = (upstream) => signEs256({ alg: "ES256", typ: "JWT", kid: ROTATED_KEY.kid },
  { ...projectClaims(upstream.url), sub: "6f1c1b8e-0000-4000-8000-000000000009" }, fixtures.keys.other_project);

function projectClaims(base) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: `${base}/auth/v1`, sub: "6f1c1b8e-0000-4000-8000-000000000010", aud: "authenticated", exp: now + 3600, iat: now, role: "authenticated", aal: "aal1", mfa_enrolled: false };
}

/**
 * Runs every row against the front door `start` makes (the Realtime rows only with `WebSocketImpl`,
 * the WebSocket client to use, where the door relays sockets). Returns { rows, problems }: rows are
 * { area, fault, expect, got, forwarded, recovered, ok }.
 */
export async function runFaultMatrix({ start, upstream, tokens, WebSocketImpl }) {
  const rows = [];
  // FAULT_ROW=<part of a row's area and fault> runs only the matching rows (while working on one).
  const only = globalThis.process?.env?.FAULT_ROW;
  for (const row of FAULTS.filter((r) => !only || `${r.area} ${r.fault}`.includes(only))) {
    resetUpstream(upstream);
    let result;
    try {
      result = row.socket && !WebSocketImpl
        ? { got: "n/a (no WebSocket relay here)", forwarded: "-", recovered: true, ok: true }
        : await row.run({ start, upstream, tokens, WebSocketImpl });
    } catch (e) {
      result = { got: `threw: ${e.message}`, forwarded: "?", recovered: false, ok: false };
    }
    rows.push({ area: row.area, fault: row.fault, expect: row.expect, ...result });
  }
  resetUpstream(upstream);
  const problems = rows.filter((r) => !r.ok).map((r) => `${r.area} / ${r.fault}: expected ${r.expect}; got ${r.got}, forwarded ${r.forwarded}, recovered ${r.recovered}`);
  return { rows, problems };
}

/** The rows as a Markdown table (for README), one column of outcomes per front door. */
export function faultTable(byDoor) {
  const doors = Object.keys(byDoor);
  const first = byDoor[doors[0]];
  const lines = [`| area | fault | expected | ${doors.join(" | ")} |`, `|---|---|---|${doors.map(() => "---").join("|")}|`];
  first.forEach((r, i) => lines.push(`| ${r.area} | ${r.fault} | ${r.expect} | ${doors.map((d) => `${byDoor[d][i].got}${byDoor[d][i].ok ? "" : " ✗"}`).join(" | ")} |`));
  return lines.join("\n");
}
