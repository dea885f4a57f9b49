// What only the real Worker in workerd can show: streaming bodies, WebSocket passthrough, header
// rewriting, configuration errors, the JWKS fetch layer against a server the test controls, and the
// WebCrypto provider against the public vectors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { bodyChecks } from "./bodies-lib.mjs";
import { startUpstream } from "./upstream.mjs";
import { startWorker, startSelftestWorker, send } from "./front-doors.mjs";
import { fixtures, mintTokens, signEs256, concurrentLookups, localConfigs, jwksStorm } from "./conformance-lib.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const pub = (k) => Object.fromEntries(Object.entries(k).filter(([n]) => n !== "d"));
let upstream;
let tokens;

before(async () => {
  upstream = await startUpstream({ authUsers: fixtures.auth_users, apiKeys: [fixtures.api_keys.publishable] });
  tokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
});
after(async () => upstream?.close());

function inlineConfig(extra = {}) {
  return { AALGATE_CONFIG: JSON.stringify({ supabase_url: upstream.url, require_aal2_for_enrolled: true, keys: { jwks: { keys: [pub(fixtures.keys.issuer)] } }, ...extra }) };
}

test("bodies pass byte-exact and streamed: Content-Length kept, chunked kept, 5 MiB both ways (Rust Worker)", async () => {
  const w = await startWorker(inlineConfig());
  try {
    assert.deepEqual(await bodyChecks(w.url, upstream, tokens.aal2_enrolled), []);
  } finally {
    await w.close();
  }
});

test("Host is rewritten, X-Forwarded-* set, identity headers stripped and (when configured) added", async () => {
  const w = await startWorker(inlineConfig({ forward: { identity_headers: true } }));
  try {
    const res = await send(w.url, {
      path: "/rest/v1/todos",
      query: "select=*&id=eq.1",
      headers: [["authorization", `Bearer ${tokens.aal2_enrolled}`], ["x-aalgate-user-id", "spoofed"], ["X-AalGate-Role", "service_role"], ["connection", "keep-alive"]],
    });
    assert.equal(res.status, 200);
    const seen = upstream.received.at(-1);
    assert.equal(seen.url, "/rest/v1/todos?select=*&id=eq.1");
    assert.equal(seen.headers.host, new URL(upstream.url).host);
    assert.equal(seen.headers["x-forwarded-proto"], "http");
    assert.equal(seen.headers["x-forwarded-host"], new URL(w.url).host);
    assert.equal(seen.headers["x-aalgate-user-id"], fixtures.tokens.aal2_enrolled.claims.sub);
    assert.equal(seen.headers["x-aalgate-role"], "authenticated");
    assert.equal(seen.headers["x-aalgate-aal"], "aal2");
    assert.equal(res.headers["x-upstream"], "supabase-standin", "upstream response headers pass back");
  } finally {
    await w.close();
  }
});

test("the gate decides on exactly the headers the upstream receives", async () => {
  const w = await startWorker(inlineConfig());
  try {
    const sigv4 = "AWS4-HMAC-SHA256 Credential=k/20261101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc";
    // `Connection` cannot make a credential hop-by-hop: the user token is judged, and forwarded.
    const res = await send(w.url, { path: "/storage/v1/s3/avatars", headers: [["authorization", sigv4], ["x-amz-security-token", tokens.aal1_enrolled], ["connection", "x-amz-security-token"]] });
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).code, "aal2_required");
    const before = upstream.received.length;
    const res2 = await send(w.url, { path: "/functions/v1/private-thing", headers: [["authorization", `Bearer ${tokens.aal2_enrolled}`], ["connection", "authorization, x-custom"], ["x-custom", "1"]] });
    assert.equal(res2.status, 200);
    const seen = upstream.received.at(-1);
    assert.equal(upstream.received.length, before + 1);
    assert.equal(seen.headers.authorization, `Bearer ${tokens.aal2_enrolled}`, "the judged credential arrives");
    assert.equal(seen.headers["x-custom"], undefined, "other headers named in Connection are dropped");
  } finally {
    await w.close();
  }
});

test("identity-header look-alikes and client address headers never reach the upstream", async () => {
  const w = await startWorker(inlineConfig());
  try {
    const res = await send(w.url, { path: "/rest/v1/todos", headers: [["x-aalgate_user-id", "spoofed"], ["x-aalgate", "spoofed"], ["x-forwarded-for", "6.6.6.6"], ["sb-forwarded-for", "6.6.6.6"], ["x-real-ip", "6.6.6.6"]] });
    assert.equal(res.status, 200);
    const seen = upstream.received.at(-1).headers;
    for (const h of ["x-aalgate_user-id", "x-aalgate", "x-real-ip"]) assert.equal(seen[h], undefined, h);
    // The address comes from CF-Connecting-IP only (what Cloudflare saw), never from the client.
    for (const h of ["x-forwarded-for", "sb-forwarded-for"]) assert.ok(!(seen[h] ?? "").includes("6.6.6.6"), h);
    assert.equal(seen["sb-forwarded-for"], seen["x-forwarded-for"]);
  } finally {
    await w.close();
  }
});

test("GET with a body is forwarded without it (fetch cannot send one), not a runtime error", async () => {
  const w = await startWorker(inlineConfig());
  try {
    const res = await send(w.url, { method: "GET", path: "/rest/v1/todos", headers: [["content-type", "application/json"]], body: "{\"x\":1}" });
    assert.equal(res.status, 200);
  } finally {
    await w.close();
  }
});

test("AALGATE_CONFIG given as a JSON object (not a string) is used, not ignored", async () => {
  const config = { supabase_url: upstream.url, routes: [{ path: "/functions/v1/members-only", auth: "required" }], keys: { jwks: { keys: [pub(fixtures.keys.issuer)] } } };
  const w = await startWorker({ AALGATE_CONFIG: config });
  try {
    const res = await send(w.url, { path: "/functions/v1/members-only" });
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).code, "token_missing");
  } finally {
    await w.close();
  }
});

test("refusals never reach the upstream and carry CORS headers", async () => {
  const w = await startWorker(inlineConfig());
  try {
    const before = upstream.received.length;
    const res = await send(w.url, { path: "/rest/v1/todos", headers: [["origin", "https://app.example"], ["authorization", `Bearer ${tokens.aal1_enrolled}`]] });
    assert.equal(res.status, 401);
    assert.equal(res.headers["access-control-allow-origin"], "*");
    assert.equal(res.headers["access-control-expose-headers"], "WWW-Authenticate");
    assert.equal(JSON.parse(res.body).code, "aal2_required");
    assert.equal(upstream.received.length, before);
  } finally {
    await w.close();
  }
});

test("WebSocket upgrades other than Realtime's (an Edge Function's own socket) pass through untouched", async () => {
  const w = await startWorker(inlineConfig());
  try {
    const { hostname, port } = new URL(w.url);
    const reply = await new Promise((resolve, reject) => {
      const sock = net.connect(Number(port), hostname, () => {
        sock.write(`GET /functions/v1/chat?apikey=${fixtures.api_keys.publishable} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      let buf = Buffer.alloc(0);
      let upgraded = false;
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        if (!upgraded) {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = buf.subarray(0, end).toString();
          if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(head));
          upgraded = true;
          buf = buf.subarray(end + 4);
          const payload = Buffer.from("phx_join");
          const mask = Buffer.from([1, 2, 3, 4]);
          sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))]));
        }
        if (upgraded && buf.length >= 2 && buf.length >= 2 + (buf[1] & 0x7f)) {
          resolve(buf.subarray(2, 2 + (buf[1] & 0x7f)).toString());
          sock.destroy();
        }
      });
      sock.on("error", reject);
    });
    // Not a Phoenix message, and not judged as one: the application's frames are its own.
    assert.equal(reply, "echo:phx_join");
    assert.ok(upstream.received.some((r) => r.upgrade && r.url.startsWith("/functions/v1/chat")));
  } finally {
    await w.close();
  }
});

test("a bad configuration answers 500 naming the field, and never calls the upstream", async () => {
  const before = upstream.received.length;
  const w = await startWorker({ AALGATE_CONFIG: JSON.stringify({ supabase_url: upstream.url, routes: [{ path: "/rest/v1/x", aal: "aal9" }] }) });
  try {
    const res = await send(w.url, { path: "/rest/v1/x" });
    assert.equal(res.status, 500);
    const body = JSON.parse(res.body);
    assert.equal(body.code, "config_invalid");
    assert.match(body.message, /routes\[0\]\.aal/);
    assert.ok(w.logs.some((l) => l.includes("routes[0].aal")), "the problem is logged");
    assert.equal(upstream.received.length, before);
  } finally {
    await w.close();
  }
  const w2 = await startWorker({ AALGATE_CONFIG: "{not json" });
  try {
    const res = await send(w2.url, { path: "/rest/v1/x" });
    assert.equal(res.status, 500);
    assert.match(JSON.parse(res.body).message, /AALGATE_CONFIG/);
  } finally {
    await w2.close();
  }
});

// ---- JWKS fetch layer, with the stand-in's JWKS endpoint under test control ----

function remoteConfig(extra = {}) {
  return { SUPABASE_URL: upstream.url, AALGATE_CONFIG: JSON.stringify({ require_aal2_for_enrolled: true, keys: { jwks_timeout_ms: 300, ...extra } }) };
}

async function withJwks(state, fn) {
  Object.assign(upstream.jwks, { status: 200, body: JSON.stringify({ keys: [pub(fixtures.keys.issuer)] }), cacheControl: "public, max-age=600", delayMs: 0, redirect: null, chunked: false, hits: 0 }, state);
  const w = await startWorker(remoteConfig());
  try {
    await fn(w);
  } finally {
    await w.close();
  }
}

const ask = (w, token) => send(w.url, { path: "/rest/v1/todos", headers: [["authorization", `Bearer ${token}`]] });
const codeOf = (res) => { try { return JSON.parse(res.body).code; } catch { return null; } };

test("JWKS: a chunked response within the size cap is read whole", async () => {
  await withJwks({ chunked: true }, async (w) => {
    assert.equal((await ask(w, tokens.aal2_enrolled)).status, 200);
  });
});

test("JWKS: fetched once, then served from cache (max-age)", async () => {
  await withJwks({}, async (w) => {
    assert.equal((await ask(w, tokens.aal2_enrolled)).status, 200);
    assert.equal((await ask(w, tokens.lk_fresh_false)).status, 200);
    assert.equal(upstream.jwks.hits, 1);
  });
});

test("JWKS: standby key published before use is accepted; an unknown kid within the cooldown causes no fetch storm", async () => {
  const standby = pub(fixtures.keys.other_project);
  await withJwks({ body: JSON.stringify({ keys: [pub(fixtures.keys.issuer), { ...standby, kid: "standby-key" }] }) }, async (w) => {
    assert.equal((await ask(w, tokens.aal2_enrolled)).status, 200);
    // After rotation Auth signs with the standby key; the gate already has it.
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: `${upstream.url}/auth/v1`, sub: "6f1c1b8e-0000-4000-8000-000000000009", aud: "authenticated", exp: now + 3600, iat: now, role: "authenticated", aal: "aal1", mfa_enrolled: false };
    const rotated = await signEs256({ alg: "ES256", typ: "JWT", kid: "standby-key" }, claims, fixtures.keys.other_project);
    assert.equal((await ask(w, rotated)).status, 200);
    for (let i = 0; i < 5; i++) assert.equal(codeOf(await ask(w, tokens.unknown_kid)), "key_unknown");
    assert.equal(upstream.jwks.hits, 1, "unknown kids right after a fetch must not refetch");
  });
});

test("JWKS storm: 50 concurrent first requests in one isolate make one JWKS fetch", async () => {
  // The default fetch timeout (3 s), not remoteConfig's 300 ms: the storm's JWKS answers after 300 ms.
  const w = await startWorker({ SUPABASE_URL: upstream.url, AALGATE_CONFIG: JSON.stringify({ require_aal2_for_enrolled: true }) });
  try {
    const { statuses, hits } = await jwksStorm(w.url, upstream, 50);
    assert.deepEqual(statuses, statuses.map(() => 200));
    assert.equal(hits, 1, "requests that arrive while the first fetch runs must wait for it, not fetch too");
  } finally {
    await w.close();
  }
});

for (const [label, state] of [
  ["500", { status: 500 }],
  ["garbage body", { body: "<html>not json</html>" }],
  ["oversized body", { body: JSON.stringify({ keys: [pub(fixtures.keys.issuer)], pad: "x".repeat(70 * 1024) }) }],
  ["oversized chunked body (no Content-Length)", { chunked: true, body: JSON.stringify({ keys: [pub(fixtures.keys.issuer)], pad: "x".repeat(200 * 1024) }) }],
  ["redirect (not followed)", { redirect: "/auth/v1/elsewhere" }],
  ["timeout", { delayMs: 1500 }],
]) {
  test(`JWKS: ${label} with no cached keys → 503 jwks_unavailable, upstream never called`, async () => {
    await withJwks(state, async (w) => {
      const before = upstream.received.filter((r) => !r.url.startsWith("/auth/v1/.well-known")).length;
      const res = await ask(w, tokens.aal2_enrolled);
      assert.equal(res.status, 503);
      assert.equal(codeOf(res), "jwks_unavailable");
      assert.equal(upstream.received.filter((r) => !r.url.startsWith("/auth/v1/.well-known")).length, before);
      if (state.redirect) assert.ok(!upstream.received.some((r) => r.url === "/auth/v1/elsewhere"));
    });
  });
}

// ---- WebCrypto provider vs the public vectors, inside workerd ----

test("WebCrypto in workerd gives the native verdicts on Wycheproof P1363 and RFC 7515 vectors", async (t) => {
  const wyDir = process.env.AALGATE_WYCHEPROOF_DIR ?? path.join(root, "../shared/vectors/wycheproof");
  const file = path.join(wyDir, "ecdsa_secp256r1_sha256_p1363_test.json");
  if (!fs.existsSync(file)) {
    if (process.env.CI === "true") assert.fail(`WYCHEPROOF VECTORS MISSING: ${file}`);
    t.skip(`*** WYCHEPROOF VECTORS MISSING: ${file}`);
    return;
  }
  const wy = JSON.parse(fs.readFileSync(file, "utf8"));
  const batch = [];
  for (const g of wy.testGroups) {
    const u = Buffer.from(g.publicKey.uncompressed, "hex");
    const jwk = { kty: "EC", crv: "P-256", x: u.subarray(1, 33).toString("base64url"), y: u.subarray(33).toString("base64url") };
    for (const tc of g.tests) batch.push({ jwk, msg: tc.msg, sig: tc.sig, want: tc.result === "valid", id: `wycheproof ${tc.tcId}` });
  }
  const rfc = JSON.parse(fs.readFileSync(path.join(root, "tests/vectors/rfc7515_appendix_a.json"), "utf8"));
  for (const c of rfc.cases.filter((c) => c.alg !== "HS256")) {
    const [h, p, s] = c.token.split(".");
    batch.push({ jwk: c.jwk, msg: Buffer.from(`${h}.${p}`).toString("hex"), sig: Buffer.from(s, "base64url").toString("hex"), want: true, id: c.name });
    const bad = Buffer.from(s, "base64url"); bad[5] ^= 1;
    batch.push({ jwk: c.jwk, msg: Buffer.from(`${h}.${p}`).toString("hex"), sig: bad.toString("hex"), want: false, id: `${c.name} tampered` });
  }
  const w = await startSelftestWorker({ ...inlineConfig(), AALGATE_SELFTEST: "1" });
  try {
    const res = await send(w.url, { method: "POST", path: "/__aalgate/selftest/verify", headers: [["content-type", "application/json"]], body: JSON.stringify(batch.map(({ jwk, msg, sig }) => ({ jwk, msg, sig }))) });
    assert.equal(res.status, 200, res.body.toString());
    const verdicts = JSON.parse(res.body);
    const wrong = batch.filter((b, i) => verdicts[i] !== b.want).map((b) => b.id);
    assert.deepEqual(wrong, [], `verdicts differ for: ${wrong.join(", ")}`);
    assert.ok(batch.length > 260);
  } finally {
    await w.close();
  }
});

// ---- The test-only endpoints (feature `selftest`, build-selftest/) ----

const selftestPaths = ["/__aalgate/selftest/verify", "/__aalgate/selftest/decide"];

/** Asks for each selftest endpoint and checks the Worker handled it as an ordinary request. */
async function assertNoSelftestEndpoints(w) {
  for (const p of selftestPaths) {
    const res = await send(w.url, { method: "POST", path: p, headers: [["content-type", "application/json"]], body: JSON.stringify({ tokens: [], repeat: 1 }) });
    assert.equal(res.headers["x-upstream"], "supabase-standin", `${p} was answered by the Worker, not proxied`);
    assert.equal(upstream.received.at(-1).url, p);
  }
}

test("the production Worker (build/) has no selftest endpoints, even with AALGATE_SELFTEST=1", async () => {
  const prod = fs.readFileSync(path.join(root, "build/index_bg.wasm"));
  const selftest = fs.readFileSync(path.join(root, "build-selftest/index_bg.wasm"));
  for (const needle of ["/__aalgate/selftest/", "AALGATE_SELFTEST"]) {
    assert.ok(selftest.includes(needle), `build-selftest/ should contain ${needle} (is the check still looking for the right thing?)`);
    assert.ok(!prod.includes(needle), `build/index_bg.wasm contains ${needle}: the production Worker was built with the selftest feature`);
  }
  const w = await startWorker({ ...inlineConfig(), AALGATE_SELFTEST: "1" });
  try {
    await assertNoSelftestEndpoints(w);
    assert.ok(!w.logs.some((l) => l.includes("AALGATE_SELFTEST")), "no selftest warning in a production build");
  } finally {
    await w.close();
  }
});

test("the selftest Worker answers its endpoints only while AALGATE_SELFTEST=1 (second fence), and warns", async () => {
  const off = await startSelftestWorker(inlineConfig());
  try {
    await assertNoSelftestEndpoints(off);
  } finally {
    await off.close();
  }
  const on = await startSelftestWorker({ ...inlineConfig(), AALGATE_SELFTEST: "1" });
  try {
    const before = upstream.received.length;
    const res = await send(on.url, { method: "POST", path: "/__aalgate/selftest/decide", headers: [["content-type", "application/json"]], body: JSON.stringify({ tokens: [tokens.aal2_enrolled], repeat: 3 }) });
    assert.equal(res.status, 200, res.body.toString());
    assert.deepEqual(JSON.parse(res.body), { decisions: 3, forwarded: 3 });
    assert.equal(upstream.received.length, before, "a selftest endpoint never calls the upstream");
    assert.ok(on.logs.some((l) => l.includes("AALGATE_SELFTEST=1 exposes test endpoints")), on.logs.join("\n"));
  } finally {
    await on.close();
  }
});

test("enrollment: concurrent requests of one user cause one Auth lookup; the others wait for its answer", async () => {
  const w = await startWorker({ AALGATE_CONFIG: JSON.stringify(localConfigs(upstream.url).api) });
  try {
    const { statuses, lookups } = await concurrentLookups(w.url, upstream, tokens.lk_missing_enrolled);
    assert.deepEqual(statuses, statuses.map(() => 401), "every request gets the step-up");
    assert.equal(lookups, 1);
  } finally {
    await w.close();
  }
});

test("enrollment: Auth slower than enrollment.api_timeout_ms fails closed with 503, upstream never called", async () => {
  const cfg = { ...localConfigs(upstream.url).api, enrollment: { api_timeout_ms: 100 } };
  const w = await startWorker({ AALGATE_CONFIG: JSON.stringify(cfg) });
  const seen = upstream.received.length;
  upstream.auth.delayMs = 1000;
  try {
    const res = await send(w.url, { path: "/rest/v1/todos", headers: [["apikey", fixtures.api_keys.publishable], ["authorization", `Bearer ${tokens.lk_missing_not}`]] });
    assert.equal(res.status, 503);
    assert.equal(JSON.parse(res.body).code, "enrollment_unavailable");
    assert.ok(upstream.received.slice(seen).every((r) => r.url === "/auth/v1/user"), "only the lookup reached the project");
  } finally {
    upstream.auth.delayMs = 0;
    await w.close();
  }
});
