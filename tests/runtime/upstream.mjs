// Stand-in for a Supabase project (PostgREST, Storage, Functions, Realtime, the Auth JWKS endpoint and
// GET /auth/v1/user), small and local: it records every request it receives so tests can assert that
// refused requests never arrived, echoes bodies for integrity checks, speaks just enough WebSocket to
// echo frames, serves a JWKS document whose behaviour the test controls (rotation, errors, slowness,
// garbage, redirects, resets), answers user lookups from a fixture (`auth.lookups` records them) and
// injects faults on request (`auth.fault`, and the /__fault/* paths below) for tests/runtime/faults-lib.mjs.
import http from "node:http";
import crypto from "node:crypto";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import { attachRealtime } from "./realtime.mjs";

/**
 * `authUsers`: what the stand-in Auth answers to GET /auth/v1/user, per user id (fixtures.json
 * `auth_users`): `{ factors: [...] }` or `{ status, code }` for a failing Auth or a revoked session.
 * `apiKeys`: the keys the API gateway accepts (any non-empty key when not given).
 */
export async function startUpstream({ authUsers = {}, apiKeys } = {}) {
  const received = [];
  // `auth.fault`: "reset" (connection dropped, no answer), "garbage" (200, not JSON), or a status.
  const auth = { users: authUsers, apiKeys, lookups: [], delayMs: 0, fault: null };
  // Streaming probes: `streams.uploadStarted` resolves when the first bytes of a /__stream-upload body
  // arrive (before the client has sent the rest); /__drip sends its first chunk and the rest only after
  // `streams.release()` (which the client calls once it has seen the first chunk).
  const streams = newStreams();
  const jwks = { status: 200, body: JSON.stringify({ keys: [] }), cacheControl: "public, max-age=600", delayMs: 0, redirect: null, hits: 0 };

  // Header limits as large as the front doors': a huge header the gate passes on must reach the project
  // (whose own limit is not what a fault row tests), not be refused by Node's 16 KiB default here.
  const server = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    const chunks = [];
    const hash = crypto.createHash("sha256");
    let length = 0;
    req.on("data", (c) => {
      hash.update(c);
      length += c.length;
      if (req.url.includes("/__echo")) chunks.push(c);
      if (req.url.includes("/__stream-upload")) streams.started();
    });
    // A request the client gave up on before its body was complete is recorded as aborted.
    req.on("close", () => {
      if (!req.complete) received.push({ method: req.method, url: req.url, headers: req.headers, aborted: true, bodyLength: length });
    });
    if (req.url.startsWith("/functions/v1/__fault/")) {
      received.push({ method: req.method, url: req.url, headers: req.headers, fault: true });
      if (faultStarted(req, res)) return;
    }
    if (req.url.includes("/__drip")) {
      received.push({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.write(deterministicBytes(64 * 1024));
      streams.released.then(() => res.end(deterministicBytes(64 * 1024)));
      return;
    }
    req.on("end", () => {
      const record = { method: req.method, url: req.url, headers: req.headers, bodySha256: hash.digest("hex"), bodyLength: length };
      if (req.url.startsWith("/auth/v1/.well-known/jwks.json")) {
        jwks.hits++;
        received.push(record);
        const send = () => {
          jwks.answered = (jwks.answered ?? 0) + 1;
          if (jwks.redirect) { res.writeHead(302, { location: jwks.redirect }); return res.end(); }
          if (jwks.reset) return res.socket.destroy();
          // `flap`: the endpoint fails every other time it is asked.
          const status = jwks.flap ? (jwks.hits % 2 ? 500 : 200) : jwks.status;
          res.writeHead(status, { "content-type": "application/json", "cache-control": jwks.cacheControl });
          if (jwks.chunked) {
            // No Content-Length: the body arrives in pieces (Transfer-Encoding: chunked).
            const half = Math.floor(jwks.body.length / 2);
            res.write(jwks.body.slice(0, half));
            return setTimeout(() => res.end(jwks.body.slice(half)), 10);
          }
          res.end(jwks.body);
        };
        return jwks.delayMs ? setTimeout(send, jwks.delayMs) : send();
      }
      if (req.url === "/auth/v1/user") {
        // Both the gate's own lookups and clients' forwarded calls land here.
        auth.lookups.push(record);
        received.push(record);
        const send = () => {
          if (auth.fault === "reset") return res.socket.destroy();
          if (auth.fault === "garbage") { res.writeHead(200, { "content-type": "application/json" }); return res.end("<html>"); }
          if (typeof auth.fault === "number") { res.writeHead(auth.fault, { "content-type": "application/json" }); return res.end("{}"); }
          answerUser(auth, req.headers, res);
        };
        return auth.delayMs ? setTimeout(send, auth.delayMs) : send();
      }
      received.push(record);
      if (req.url.includes("/__echo")) {
        const body = Buffer.concat(chunks);
        if (req.url.includes("/__echo-gzip") && /\bgzip\b/.test(req.headers["accept-encoding"] ?? "")) {
          res.writeHead(200, { "content-type": "application/octet-stream", "content-encoding": "gzip", "x-upstream": "echo" });
          return res.end(zlib.gzipSync(body));
        }
        res.writeHead(200, { "content-type": "application/octet-stream", "x-upstream": "echo" });
        return res.end(body);
      }
      const big = req.url.match(/\/__bytes\/(\d+)/);
      if (big) {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        return res.end(deterministicBytes(Number(big[1])));
      }
      res.writeHead(200, { "content-type": "application/json", "x-upstream": "supabase-standin" });
      res.end(JSON.stringify({ ok: true, method: req.method, url: req.url }));
    });
  });

  // Realtime's socket (tests/runtime/realtime.mjs); any other upgrade gets a minimal RFC 6455 server
  // that echoes text frames back (an application's own socket, which the gate passes through).
  const realtime = attachRealtime();
  server.on("upgrade", (req, socket, head) => {
    received.push({ method: req.method, url: req.url, headers: req.headers, upgrade: true });
    if (req.url.startsWith("/realtime/")) return realtime.handle(req, socket, head);
    const accept = crypto.createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on("data", (buf) => {
      const opcode = buf[0] & 0x0f;
      if (opcode === 8) return socket.end();
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) { len = buf.readUInt16BE(2); off = 4; }
      const mask = buf.subarray(off, off + 4); off += 4;
      const payload = Buffer.from(buf.subarray(off, off + len).map((b, i) => b ^ mask[i % 4]));
      const reply = Buffer.from(`echo:${payload.toString()}`);
      socket.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
    });
    socket.on("error", () => {});
  });

  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    jwks,
    auth,
    realtime,
    streams,
    close: () => new Promise((r) => { realtime.close(); server.closeAllConnections?.(); server.close(r); }),
  };
}

// Supabase Auth's GET /auth/v1/user, as far as the gate relies on it: the API gateway refuses a request
// without apikey (401); Auth answers the token's user with `factors` (omitted when there are none). The
// token's signature is not checked here: the gate only asks after verifying it.
function answerUser({ users, apiKeys }, headers, res) {
  const json = (status, body) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(body)); };
  if (!headers.apikey) return json(401, { message: "No API key found in request" });
  if (apiKeys && !apiKeys.includes(headers.apikey)) return json(401, { message: "Invalid API key" });
  const m = /^Bearer ([^.]+)\.([^.]+)\./.exec(headers.authorization ?? "");
  if (!m) return json(401, { code: "no_authorization", msg: "This endpoint requires a valid Bearer token" });
  let sub;
  try { sub = JSON.parse(Buffer.from(m[2], "base64url").toString()).sub; } catch { return json(401, { code: "bad_jwt" }); }
  const user = users[sub];
  if (!user) return json(404, { code: "user_not_found", msg: "User from sub claim in JWT does not exist" });
  if (user.status) return json(user.status, { code: user.code ?? "unexpected_failure", msg: "Unexpected failure" });
  const body = { id: sub, aud: "authenticated", role: "authenticated", email: "user@example.com", phone: "", app_metadata: { provider: "email" }, user_metadata: {}, identities: [], is_anonymous: false };
  if (user.factors?.length) body.factors = user.factors;
  json(200, body);
}

/**
 * The project misbehaving at /functions/v1/__fault/<kind> (the request is recorded when it arrives):
 * slow-headers (answers after 500 ms), reset-mid-response (promises 1 MiB, sends 256 KiB, drops the
 * connection), reset-mid-upload (drops the connection at the first body bytes), huge-headers (a 40 KiB
 * response header). Returns whether it handled the request (recorded on arrival, `fault: true`).
 */
function faultStarted(req, res) {
  const kind = req.url.slice("/functions/v1/__fault/".length).split("?")[0];
  switch (kind) {
    case "slow-headers":
      req.resume();
      setTimeout(() => { res.writeHead(200, { "content-type": "text/plain" }); res.end("late"); }, 500);
      return true;
    case "reset-mid-response":
      req.resume();
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(1024 * 1024) });
      res.write(deterministicBytes(256 * 1024), () => setTimeout(() => res.socket.destroy(), 20));
      return true;
    case "reset-mid-upload":
      req.once("data", () => res.socket.destroy());
      return true;
    case "huge-headers":
      req.resume();
      res.writeHead(200, { "content-type": "text/plain", "x-huge": "h".repeat(Number(req.url.split("?")[1] ?? 40) * 1024) });
      res.end("huge");
      return true;
    default:
      return false;
  }
}

function newStreams() {
  const s = {};
  s.reset = () => {
    s.uploadStarted = new Promise((r) => (s.started = r));
    s.released = new Promise((r) => (s.release = r));
  };
  s.reset();
  return s;
}

export function deterministicBytes(n) {
  const out = Buffer.alloc(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
  return out;
}
