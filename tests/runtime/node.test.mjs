// The portable module in Node (the experimental-nodejs-module build, imported by name through
// package.json "exports"): the conformance table through gate.proxy() served over real HTTP, protect,
// check in a Hono app, and configuration errors as JS errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import http from "node:http";
import { createGate } from "aalgate";
import { startUpstream } from "./upstream.mjs";
import { serveInNode, send } from "./front-doors.mjs";
import { cases, fixtures, mintTokens, runTable, localConfigs, concurrentLookups, jwksStorm } from "./conformance-lib.mjs";
import { bodyChecks } from "./bodies-lib.mjs";
import { app as honoApp } from "../../examples/hono/app.js";

let upstream;
let tokens;
let configs;
const servers = {};
const logs = [];

before(async () => {
  upstream = await startUpstream({ authUsers: fixtures.auth_users, apiKeys: [fixtures.api_keys.publishable] });
  tokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
  configs = localConfigs(upstream.url);
  for (const [name, cfg] of Object.entries(configs)) {
    const gate = createGate(cfg, { env: fixtures.secret_env, log: (l) => logs.push(l) });
    servers[name] = await serveInNode(gate.proxy());
  }
});

after(async () => {
  for (const s of Object.values(servers)) await s.close();
  await upstream?.close();
});

const bearer = (name) => ({ authorization: `Bearer ${tokens[name]}` });
const quiet = { env: fixtures.secret_env, log: false };

test("conformance table in Node (gate.proxy behind @hono/node-server)", async () => {
  const failures = await runTable({ urlFor: (n) => servers[n].url, upstream, tokens });
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ in Node:\n${failures.join("\n")}`);
  assert.ok(logs.length >= cases.length, "every decision was logged");
  assert.ok(logs.every((l) => !l.includes(tokens.aal2_enrolled)), "no token content in logs");
});

test("bodies pass byte-exact and streamed: Content-Length kept, chunked kept, 5 MiB both ways (Node proxy)", async () => {
  assert.deepEqual(await bodyChecks(servers.main.url, upstream, tokens.aal2_enrolled), []);
});

test("protect: the handler is not called on refusal", async () => {
  const gate = createGate(configs.main, quiet);
  let calls = 0;
  const handler = gate.protect(() => { calls++; return new Response("secret"); });
  const res = await handler(new Request("http://fn.local/functions/v1/hello", { headers: bearer("aal1_enrolled") }));
  assert.equal(res.status, 401);
  assert.equal((await res.json()).code, "aal2_required");
  assert.match(res.headers.get("www-authenticate"), /insufficient_user_authentication/);
  const expired = await handler(new Request("http://fn.local/functions/v1/hello", { headers: bearer("expired") }));
  assert.equal(expired.status, 401);
  assert.equal(calls, 0);
});

test("protect: claims are delivered on allow, identity headers cannot be forged into the handler", async () => {
  const gate = createGate({ ...configs.main, forward: { identity_headers: true } }, quiet);
  let seen;
  const handler = gate.protect(async (req, ctx) => {
    seen = { ctx, userHeader: req.headers.get("x-aalgate-user-id"), body: await req.text() };
    return new Response("ok");
  });
  const res = await handler(new Request("http://fn.local/functions/v1/hello", {
    method: "POST",
    headers: { ...bearer("aal2_enrolled"), "x-aalgate-user-id": "spoofed", "x-aalgate_role": "service_role" },
    body: "payload intact",
  }));
  assert.equal(res.status, 200);
  assert.equal(seen.ctx.identity, "user");
  assert.equal(seen.ctx.claims.sub, fixtures.tokens.aal2_enrolled.claims.sub);
  assert.equal(seen.ctx.claims.aal, "aal2");
  assert.equal(seen.userHeader, fixtures.tokens.aal2_enrolled.claims.sub);
  assert.equal(seen.body, "payload intact");
  assert.equal(seen.ctx.decision.forwardHeaders.filter(([n]) => n.toLowerCase().startsWith("x-aalgate")).length, 4);
});

test("protect with pathPrefix: an Edge Function's own path is routed as /functions/v1/<name>", async () => {
  const gate = createGate({ ...configs.main, routes: [{ name: "reports", path: "/functions/v1/reports", aal: "aal2" }] }, { ...quiet, pathPrefix: "/functions/v1" });
  const handler = gate.protect(() => new Response("ok"));
  // Inside an Edge Function the URL path is /<function-name>/...
  const refused = await handler(new Request("http://fn.local/reports/summary", { headers: bearer("aal1_not_enrolled") }));
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).code, "aal2_required");
  const ok = await handler(new Request("http://fn.local/reports/summary", { headers: bearer("aal2_enrolled") }));
  assert.equal(ok.status, 200);
});

test("check in a Hono app (examples/hono)", async () => {
  const app = honoApp(createGate(configs.main, quiet));
  const refused = await app.request("/rest/v1/me", { headers: bearer("aal1_enrolled") });
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).code, "aal2_required");
  const ok = await app.request("/rest/v1/me", { headers: bearer("aal2_enrolled") });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { sub: fixtures.tokens.aal2_enrolled.claims.sub });
});

test("proxy and protect hand their work to a Workers ctx.waitUntil when given (request, env, ctx)", async () => {
  const gate = createGate(configs.main, quiet);
  const kept = [];
  const ctx = { waitUntil: (p) => kept.push(p) };
  const req = () => new Request(`${upstream.url}/rest/v1/todos`, { headers: bearer("aal2_enrolled") });
  const proxied = await gate.proxy()(req(), {}, ctx);
  assert.equal(proxied.status, 200);
  const handled = await gate.protect(() => new Response("mine"))(req(), {}, ctx);
  assert.equal(await handled.text(), "mine");
  assert.equal(kept.length, 2);
  for (const p of kept) assert.ok(p instanceof Promise);
  // Refusals too (the decision may have fetched), and a rejected work never rejects what is kept.
  const refused = await gate.proxy()(new Request(`${upstream.url}/rest/v1/todos`, { headers: { authorization: "Bearer x.y.z" } }), {}, ctx);
  assert.equal(refused.status, 401);
  assert.equal(kept.length, 3);
  await Promise.all(kept);
  // Without a ctx (Node, Deno), nothing is asked of the arguments.
  assert.equal((await gate.proxy()(req())).status, 200);
  // A ctx whose waitUntil throws costs the keep-alive, not the answer.
  const broken = { waitUntil: () => { throw new Error("waitUntil after the request ended"); } };
  assert.equal((await gate.proxy()(req(), {}, broken)).status, 200);
  assert.equal(await (await gate.protect(() => new Response("mine"))(req(), {}, broken)).text(), "mine");
});

test("configuration errors are JS Errors naming the field", () => {
  const cases = [
    [{ supabase_url: "https://x.supabase.co", bogus: 1 }, /field `bogus`/],
    [{ supabase_url: "https://x.supabase.co", keys: { jwks_timeout_ms: "soon" } }, /field `keys\.jwks_timeout_ms`/],
    [{ require_aal2_for_enrolled: true }, /field `supabase_url`: is required/],
    [{ supabase_url: "https://x.supabase.co", keys: { jwks_file: "/etc/jwks.json" } }, /field `keys\.jwks_file`/],
    [{ supabase_url: "https://x.supabase.co", keys: { hs256_secret_env: "MY_SECRET" } }, /field `keys\.hs256_secret_env`.*MY_SECRET/],
    ["{not json", /field `config`: is not valid JSON/],
    [[1, 2], /field `config`: must be a JSON object/],
  ];
  for (const [config, message] of cases) {
    // Positions are useful in JSON text, misleading for an object (the text was ours).
    const positionOk = (m) => typeof config === "string" || !/ at line /.test(m);
    assert.throws(() => createGate(config, { log: false }), (e) => e instanceof Error && message.test(e.message) && positionOk(e.message), `config ${JSON.stringify(config)}`);
  }
  assert.throws(() => createGate({ supabase_url: "https://a.supabase.co" }, { env: { SUPABASE_URL: "https://b.supabase.co" } }), /different projects/);
  assert.throws(() => createGate({ supabase_url: "https://a.supabase.co" }, { log: true }), /option `log`: must be false .* or a function/);
});

test("proxy: a compressed upstream response arrives decodable (Node's fetch decodes bodies)", async () => {
  const body = JSON.stringify({ rows: Array.from({ length: 200 }, (_, i) => ({ i })) });
  const gz = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
    res.end(zlib.gzipSync(body));
  });
  await new Promise((r) => gz.listen(0, "127.0.0.1", r));
  const gate = createGate(configs.main, quiet);
  const server = await serveInNode(gate.proxy(`http://127.0.0.1:${gz.address().port}`));
  try {
    const res = await send(server.url, { path: "/rest/v1/rows", headers: [["authorization", `Bearer ${tokens.aal2_enrolled}`]] });
    assert.equal(res.status, 200);
    const text = res.headers["content-encoding"] === "gzip" ? zlib.gunzipSync(res.body).toString() : res.body.toString();
    assert.equal(text, body);
  } finally {
    await server.close();
    gz.closeAllConnections?.();
    await new Promise((r) => gz.close(r));
  }
});

test("examples/node-proxy runs as written (createGateFromEnv from process.env)", async () => {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["examples/node-proxy/main.js"], {
    env: { ...process.env, SUPABASE_URL: upstream.url, AALGATE_CONFIG: JSON.stringify(configs.main), ...fixtures.secret_env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    const url = await new Promise((resolve, reject) => {
      let seen = "";
      child.stdout.on("data", (d) => { seen += d; const m = seen.match(/listening on (http:\/\/[\d.:]+)/); if (m) resolve(m[1]); });
      child.on("exit", () => reject(new Error(`exited before listening: ${seen}`)));
    });
    const before = upstream.received.length;
    const refused = await send(url, { path: "/rest/v1/todos", headers: [["authorization", `Bearer ${tokens.aal1_enrolled}`]] });
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.body).code, "aal2_required");
    const ok = await send(url, { path: "/rest/v1/todos", headers: [["authorization", `Bearer ${tokens.aal2_enrolled}`]] });
    assert.equal(ok.status, 200);
    assert.equal(upstream.received.length, before + 1);
  } finally {
    child.kill();
  }
});

test("JWKS and lookups work behind @hono/node-server, which replaces the global Response", async () => {
  // Default key source: the project's JWKS URL (the stand-in), fetched by the module through fetch.
  const gate = createGate({ supabase_url: upstream.url, require_aal2_for_enrolled: true }, quiet);
  const server = await serveInNode(gate.proxy());
  try {
    upstream.jwks.body = JSON.stringify({ keys: [Object.fromEntries(Object.entries(fixtures.keys.issuer).filter(([k]) => k !== "d"))] });
    const ok = await send(server.url, { path: "/rest/v1/todos", headers: [["apikey", fixtures.api_keys.publishable], ["authorization", `Bearer ${tokens.aal2_enrolled}`]] });
    assert.equal(ok.status, 200);
    const lookupsBefore = upstream.auth.lookups.length;
    const refused = await send(server.url, { path: "/rest/v1/todos", headers: [["apikey", fixtures.api_keys.publishable], ["authorization", `Bearer ${tokens.lk_missing_enrolled}`]] });
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.body).code, "aal2_required");
    assert.equal(upstream.auth.lookups.length, lookupsBefore + 1);
  } finally {
    await server.close();
  }
});

test("JWKS storm: 50 concurrent first requests make one JWKS fetch in Node", async () => {
  const server = await serveInNode(createGate({ supabase_url: upstream.url, require_aal2_for_enrolled: true }, quiet).proxy());
  try {
    const { statuses, hits } = await jwksStorm(server.url, upstream, 50);
    assert.deepEqual(statuses, statuses.map(() => 200));
    assert.equal(hits, 1);
  } finally {
    await server.close();
  }
});

test("enrollment: concurrent requests of one user cause one Auth lookup in Node", async () => {
  const server = await serveInNode(createGate(configs.api, quiet).proxy());
  try {
    const { statuses, lookups } = await concurrentLookups(server.url, upstream, tokens.lk_missing_enrolled);
    assert.deepEqual(statuses, statuses.map(() => 401));
    assert.equal(lookups, 1);
  } finally {
    await server.close();
  }
});

test("protect: a CORS preflight is answered by the gate, never by the handler (unless asked)", async () => {
  let calls = 0;
  const gate = createGate({ ...configs.main, routes: [{ path: "/functions/v1/reports", aal: "aal2" }] }, quiet);
  const handler = () => { calls++; return Response.json({ secret: "report" }); };
  const preflight = () => new Request("http://fn.local/functions/v1/reports", {
    method: "OPTIONS",
    headers: { origin: "https://app.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization, apikey" },
  });
  const res = await gate.protect(handler)(preflight());
  assert.equal(res.status, 204);
  assert.equal(await res.text(), "");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("access-control-allow-headers"), "authorization, apikey");
  assert.equal(calls, 0);
  await gate.protect(handler, { preflight: "handler" })(preflight());
  assert.equal(calls, 1);
});

test("protect and check hand on the judged request: Connection cannot hide a credential", async () => {
  const gate = createGate(configs.main, quiet);
  let calls = 0;
  const res = await gate.protect(() => { calls++; return new Response("ok"); })(new Request("http://fn.local/functions/v1/hello", {
    headers: { ...bearer("aal1_enrolled"), connection: "close, authorization" },
  }));
  assert.equal(res.status, 401, "the token the handler would see is the one judged");
  assert.equal(calls, 0);
  const d = await gate.check(new Request("http://x/rest/v1/todos", { headers: { ...bearer("aal2_enrolled"), "x-aalgate-user-id": "spoofed", "x-custom": "1", connection: "x-custom" } }));
  assert.equal(d.allowed, true);
  assert.equal(d.request.headers.get("authorization"), `Bearer ${tokens.aal2_enrolled}`);
  assert.equal(d.request.headers.get("x-aalgate-user-id"), null);
  assert.equal(d.request.headers.get("x-custom"), null);
});

test("proxy in Node: asks only for codings fetch decodes, passes others intact, drops upstream hop-by-hop headers", async () => {
  const seen = [];
  const zstdBytes = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]);
  const up = http.createServer((req, res) => {
    seen.push(req.headers);
    if (req.url.includes("zstd")) {
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "zstd" });
      return res.end(zstdBytes);
    }
    res.writeHead(200, { connection: "keep-alive, x-upstream-hop", "keep-alive": "timeout=5", "x-upstream-hop": "1", "x-kept": "1" });
    res.end("ok");
  });
  await new Promise((r) => up.listen(0, "127.0.0.1", r));
  const handler = createGate(configs.main, quiet).proxy(`http://127.0.0.1:${up.address().port}`);
  try {
    const z = await handler(new Request("http://gate.local/rest/v1/zstd", { headers: { ...bearer("aal2_enrolled"), "accept-encoding": "zstd, br, gzip" } }));
    assert.equal(seen.at(-1)["accept-encoding"], "gzip, deflate, br");
    assert.equal(z.headers.get("content-encoding"), "zstd", "a coding fetch did not decode is not stripped");
    assert.deepEqual(Buffer.from(await z.arrayBuffer()), zstdBytes);
    const h = await handler(new Request("http://gate.local/rest/v1/x", { headers: bearer("aal2_enrolled") }));
    assert.equal(await h.text(), "ok");
    for (const name of ["connection", "keep-alive", "x-upstream-hop"]) assert.equal(h.headers.get(name), null, name);
    assert.equal(h.headers.get("x-kept"), "1");
  } finally {
    up.closeAllConnections?.();
    await new Promise((r) => up.close(r));
  }
});

test("proxy in Node: Expect is not forwarded, upgrades get 501, client address headers are replaced", async () => {
  const handler = createGate(configs.main, { ...quiet, clientIp: () => "203.0.113.9" }).proxy();
  const body = "x".repeat(1000);
  const post = await handler(new Request("http://gate.local/rest/v1/todos", {
    method: "POST", body, headers: { ...bearer("aal2_enrolled"), expect: "100-continue", "cf-connecting-ip": "1.1.1.1", "true-client-ip": "1.1.1.1", "x-forwarded-for": "1.1.1.1" },
  }));
  assert.equal(post.status, 200);
  await post.body?.cancel();
  const seen = upstream.received.at(-1);
  assert.equal(seen.bodyLength, body.length);
  assert.equal(seen.headers.expect, undefined);
  assert.equal(seen.headers["cf-connecting-ip"], undefined);
  assert.equal(seen.headers["true-client-ip"], undefined);
  assert.equal(seen.headers["x-forwarded-for"], "203.0.113.9");
  assert.equal(seen.headers["sb-forwarded-for"], "203.0.113.9");
  const ws = await handler(new Request("http://gate.local/realtime/v1/websocket?apikey=" + fixtures.api_keys.publishable, { headers: { upgrade: "websocket", connection: "Upgrade" } }));
  assert.equal(ws.status, 501);
  assert.equal((await ws.json()).code, "upgrade_unsupported");
});

test("misuse is an error, not a crash: bad arguments and options name themselves", async () => {
  const gate = createGate(configs.main, quiet);
  await assert.rejects(gate.check("http://x/rest/v1/todos"), /check\(request\) needs a Request/);
  await assert.rejects(gate.check({}), TypeError);
  assert.throws(() => createGate(configs.main, { ...quiet, pathPrefix: "functions/v1" }), /option `pathPrefix`/);
  assert.throws(() => createGate(configs.main, { ...quiet, pathPrefix: "/functions/../v1" }), /option `pathPrefix`/);
  assert.throws(() => gate.proxy("ftp://example.com"), /option `proxy\(upstreamUrl\)`/);
  assert.throws(() => gate.proxy("not a url"), /option `proxy\(upstreamUrl\)`/);
  assert.deepEqual(gate.warnings, []);
});

test("exchange in Node: an IdP token becomes a project token that then passes the gate", async () => {
  const server = await serveInNode(createGate(configs.exchange, quiet).proxy());
  try {
    const res = await send(server.url, { method: "POST", path: "/aalgate/v1/exchange", headers: [["authorization", `Bearer ${tokens.idp_rs_mfa}`]] });
    assert.equal(res.status, 200);
    assert.equal(res.headers["cache-control"], "no-store");
    const body = JSON.parse(res.body);
    assert.equal(body.token_type, "bearer");
    const claims = JSON.parse(Buffer.from(body.access_token.split(".")[1], "base64url"));
    assert.equal(claims.aal, "aal2", "acr mfa maps to aal2 by the fixture's rule");
    assert.equal(claims.iss, `${upstream.url}/auth/v1`);
    assert.equal(claims.app_metadata.plan, "pro");
    assert.equal(claims.tenant_id, "tenant-a");
    const before = upstream.received.length;
    const use = await send(server.url, { path: "/rest/v1/todos", headers: [["apikey", fixtures.api_keys.publishable], ["authorization", `Bearer ${body.access_token}`]] });
    assert.equal(use.status, 200);
    assert.equal(upstream.received.length, before + 1);
    assert.equal(upstream.received.at(-1).headers.authorization, `Bearer ${body.access_token}`);
  } finally {
    await server.close();
  }
});
