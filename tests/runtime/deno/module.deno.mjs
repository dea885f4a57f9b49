// The portable module in Deno (the --target deno build, which Supabase Edge Functions run), imported
// by name through package.json "exports" (condition "deno"): the conformance table through
// gate.proxy() served by Deno.serve over real HTTP, and protect as an Edge Function uses it.
// Run by `make test-deno` (deno test); shares the stand-in upstream and the table with the Node runners.
// The Edge Function example (examples/edge-function, `npm:aalgate` in its deno.json) runs against the
// packed tarball in tests/package/package.test.mjs (`make test-package`).
// Named *.deno.mjs so that `node --test tests/runtime/` does not pick it up; `make test-deno` runs it.
import { createGate } from "aalgate";
import { startUpstream } from "../upstream.mjs";
import { cases, fixtures, mintTokens, runTable, localConfigs } from "../conformance-lib.mjs";
import { runFrameTable, client } from "../frames-lib.mjs";
import { supabaseJsChecks } from "../supabase-js.mjs";
import { bodyChecks } from "../bodies-lib.mjs";
import { runFaultMatrix, faultTable } from "../faults-lib.mjs";
import { send } from "../../../js/deno-send.js";
import { send as rawSend } from "../send.mjs";

function assertEquals(actual, expected, message) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message ?? "values differ"}\nexpected: ${e}\nactual:   ${a}`);
}

async function withUpstream(fn) {
  const upstream = await startUpstream({ authUsers: fixtures.auth_users, apiKeys: [fixtures.api_keys.publishable] });
  try {
    const tokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
    await fn(upstream, tokens, localConfigs(upstream.url));
  } finally {
    await upstream.close();
  }
}

Deno.test("conformance table in Deno (gate.proxy behind Deno.serve)", async () => {
  await withUpstream(async (upstream, tokens, configs) => {
    const servers = {};
    try {
      for (const [name, cfg] of Object.entries(configs)) {
        const gate = createGate(cfg, { env: fixtures.secret_env, log: false });
        servers[name] = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gate.proxy());
      }
      const urlFor = (n) => `http://127.0.0.1:${servers[n].addr.port}`;
      const failures = await runTable({ urlFor, upstream, tokens });
      assertEquals(failures, [], `${failures.length} of ${cases.length} cases differ in Deno:\n${failures.join("\n")}`);
    } finally {
      for (const s of Object.values(servers)) await s.shutdown();
    }
  });
});

Deno.test("Realtime frame table in Deno (gate.proxy relays the socket: Deno.upgradeWebSocket + WebSocket)", async () => {
  await withUpstream(async (upstream, tokens, configs) => {
    const servers = {};
    try {
      for (const [name, cfg] of Object.entries(configs)) {
        const gate = createGate(cfg, { env: fixtures.secret_env, log: false });
        servers[name] = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gate.proxy());
      }
      const { failures, runs } = await runFrameTable({
        wsBaseFor: (n) => `ws://127.0.0.1:${servers[n].addr.port}`,
        realtime: upstream.realtime,
        tokens,
        WebSocketImpl: WebSocket,
      });
      assertEquals(failures, [], `${failures.length} of ${runs} frame runs differ in Deno:\n${failures.join("\n")}`);
      const problems = await supabaseJsChecks(`http://127.0.0.1:${servers.main.addr.port}`, tokens, upstream.realtime);
      assertEquals(problems, [], "supabase-js through the Deno proxy");
    } finally {
      for (const s of Object.values(servers)) await s.shutdown();
    }
  });
});

Deno.test("a relayed socket's frame decisions are handed to a Workers ctx.waitUntil when given (request, info, ctx)", async () => {
  await withUpstream(async (upstream, tokens, configs) => {
    const gate = createGate(configs.main, { env: fixtures.secret_env, log: false });
    const kept = [];
    const ctx = { waitUntil: (p) => kept.push(p) };
    const handler = gate.proxy();
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => handler(req, info, ctx));
    try {
      const sock = client(WebSocket, `ws://127.0.0.1:${server.addr.port}/realtime/v1/websocket?apikey=${fixtures.api_keys.publishable}&vsn=2.0.0`);
      await sock.opened;
      // The upgrade's own decision: one task.
      assertEquals(kept.length, 1, "the upgrade's decision is kept alive");
      const config = { broadcast: { ack: false, self: true }, presence: { enabled: false }, postgres_changes: [], private: false };
      sock.ws.send(JSON.stringify(["1", "1", "realtime:room-1", "phx_join", { config, access_token: tokens.aal2_enrolled }]));
      await sock.until(() => sock.inbox.some((m) => JSON.parse(m)[3] === "phx_reply"), "the join's reply");
      // The join was judged in a task of its own, handed to waitUntil like a request's decision.
      assertEquals(kept.length >= 2, true, `frame tasks kept alive (${kept.length - 1})`);
      for (const p of kept) assertEquals(p instanceof Promise, true, "waitUntil gets promises");
      sock.ws.close();
      await Promise.all(kept);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("Deno relay: a project that never answers the upgrade is a 502 after the handshake timeout, its socket closed", async () => {
  await withUpstream(async (upstream, tokens, configs) => {
    const gate = createGate(configs.main, { env: fixtures.secret_env, log: false });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gate.proxy());
    try {
      upstream.realtime.faults.hang = true;
      const before = upstream.realtime.sockets.length;
      const res = await rawSend(`http://127.0.0.1:${server.addr.port}`, {
        path: "/realtime/v1/websocket", query: `apikey=${fixtures.api_keys.publishable}&vsn=2.0.0`,
        headers: [["upgrade", "websocket"], ["connection", "Upgrade"], ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="], ["sec-websocket-version", "13"]],
      });
      assertEquals([res.status, JSON.parse(res.body.toString()).code], [502, "upstream_unreachable"], "hung project upgrade");
      assertEquals(upstream.realtime.sockets.length - before, 1, "one socket was tried");
      upstream.realtime.faults.hang = false;
      // The front door goes on relaying.
      const sock = client(WebSocket, `ws://127.0.0.1:${server.addr.port}/realtime/v1/websocket?apikey=${fixtures.api_keys.publishable}&vsn=2.0.0`);
      await sock.opened;
      sock.ws.close();
    } finally {
      upstream.realtime.faults.hang = false;
      await server.shutdown();
    }
  });
});

Deno.test("bodies pass byte-exact and streamed: Content-Length kept, chunked kept, 5 MiB both ways (Deno proxy)", async () => {
  await withUpstream(async (upstream, tokens, configs) => {
    const gate = createGate(configs.main, { env: fixtures.secret_env, log: false });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gate.proxy());
    try {
      assertEquals(await bodyChecks(`http://127.0.0.1:${server.addr.port}`, upstream, tokens.aal2_enrolled), [], "bodies through the Deno proxy");
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("request smuggling: Deno's forwarder refuses a body that does not match its Content-Length", async () => {
  await withUpstream(async (upstream) => {
    const smuggled = "hello" + "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n";
    for (const [declared, body] of [["5", smuggled], ["64", "short"]]) {
      const request = new Request(`${upstream.url}/functions/v1/__echo`, {
        method: "POST",
        headers: { "content-length": declared },
        body: new Blob([body]).stream(),
        duplex: "half",
      });
      let refused = false;
      try {
        const res = await send(request);
        await res.body?.cancel();
      } catch {
        refused = true;
      }
      assertEquals(refused, true, `a ${body.length}-byte body sent as Content-Length ${declared} was not refused`);
    }
    assertEquals(upstream.received.filter((r) => r.url === "/admin"), [], "the smuggled request reached the upstream");
  });
});

Deno.test("Deno's forwarder: answers fetch would refuse are failures (502), a cut compressed body ends in an error, never a hang or a crash", async () => {
  const net = await import("node:net");
  const zlib = await import("node:zlib");
  const gz = zlib.gzipSync(new Uint8Array(200_000));
  const answers = {
    "/999": "HTTP/1.1 999 Weird\r\ncontent-length: 2\r\n\r\nok",
    "/101": "HTTP/1.1 101 Switching Protocols\r\nupgrade: foo\r\nconnection: upgrade\r\n\r\n",
    "/cut-gzip": `HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.length}\r\n\r\n`,
  };
  const server = net.createServer((socket) => {
    let head = "";
    socket.on("data", (d) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\nhello")) return;
      const path = head.split(" ")[1];
      socket.write(answers[path]);
      if (path === "/cut-gzip") socket.write(gz.subarray(0, 50), () => socket.destroy());
    });
    socket.on("error", () => {});
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const post = (path) => send(new Request(`http://127.0.0.1:${server.address().port}${path}`, {
    method: "POST", headers: { "content-length": "5" }, body: new Blob(["hello"]).stream(), duplex: "half",
  }));
  const outcome = (p) => p.then(() => "answered", (e) => `failed: ${e.message}`);
  try {
    for (const path of ["/999", "/101"]) {
      const got = await outcome(post(path));
      if (!got.startsWith("failed")) throw new Error(`${path}: ${got}`);
    }
    const cut = await post("/cut-gzip");
    const read = await Promise.race([
      outcome(cut.arrayBuffer()),
      new Promise((r) => setTimeout(() => r("hung"), 10_000)),
    ]);
    if (!read.startsWith("failed")) throw new Error(`cut gzip body: ${read}`);
  } finally {
    server.close();
  }
});

Deno.test("fault matrix in Deno (gate.proxy behind Deno.serve)", async () => {
  await withUpstream(async (upstream, tokens) => {
    const start = (cfg) => {
      const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, createGate(cfg, { log: false }).proxy());
      return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
    };
    const { rows, problems } = await runFaultMatrix({ start, upstream, tokens, WebSocketImpl: WebSocket });
    console.log(`\nfault matrix:\n${faultTable({ "module (Deno)": rows })}\n`);
    assertEquals(problems, [], "fault matrix in Deno");
  });
});

Deno.test("protect in an Edge Function: refusals never reach the handler, claims reach it on allow", async () => {
  await withUpstream(async (_upstream, tokens, configs) => {
    const gate = createGate(configs.main, { env: fixtures.secret_env, log: false, pathPrefix: "/functions/v1" });
    const calls = [];
    const handler = gate.protect((_req, { claims }) => {
      calls.push(claims.sub);
      return new Response("ok");
    });
    // An Edge Function named "hello" sees /hello/...; the prefix routes it as /functions/v1/hello.
    const req = (token) => new Request("http://edge.local/hello/x", { headers: { authorization: `Bearer ${tokens[token]}` } });
    const refused = await handler(req("aal1_enrolled"));
    assertEquals([refused.status, (await refused.json()).code], [401, "aal2_required"]);
    const forged = await handler(req("forged"));
    assertEquals(forged.status, 401);
    await forged.body?.cancel();
    assertEquals(calls, []);
    const ok = await handler(req("aal2_enrolled"));
    assertEquals([ok.status, await ok.text()], [200, "ok"]);
    assertEquals(calls, [fixtures.tokens.aal2_enrolled.claims.sub]);
  });
});

Deno.test("configuration errors are JS Errors naming the field", () => {
  let message = "";
  try {
    createGate({ supabase_url: "https://x.supabase.co", keys: { jwks_url: 7 } }, { log: false });
  } catch (e) {
    message = e instanceof Error ? e.message : "";
  }
  if (!message.includes("field `keys.jwks_url`")) throw new Error(`unexpected: ${message}`);
});

/** Runs a Deno program as a user would, waits for its "listening" line, and returns its base URL. */
async function spawnDeno(args, env) {
  const child = new Deno.Command(Deno.execPath(), { args, env, stdout: "piped", stderr: "piped" }).spawn();
  // Deno.serve's own "Listening on" line goes to stderr, the examples' to stdout: watch both.
  let seen = "";
  let listening;
  const ready = new Promise((resolve) => (listening = resolve));
  const watch = async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      seen += chunk;
      const m = seen.match(/listening on (http:\/\/[\d.:]+)/i);
      if (m) listening(m[1]);
    }
  };
  const streams = Promise.all([watch(child.stdout), watch(child.stderr)]);
  const url = await Promise.race([ready, child.status.then(() => { throw new Error(`exited before listening: ${seen}`); })]);
  return { url, close: async () => { child.kill(); await child.status; await streams; } };
}

const permissions = ["--no-check", "--allow-net=127.0.0.1", "--allow-env", "--allow-read=."];

Deno.test("examples/deno-proxy runs as written (SUPABASE_URL and AALGATE_CONFIG from the environment)", async () => {
  await withUpstream(async (upstream, tokens, configs) => {
    const proxy = await spawnDeno(["run", ...permissions, "examples/deno-proxy/main.js"], {
      SUPABASE_URL: upstream.url, AALGATE_CONFIG: JSON.stringify(configs.main), ...fixtures.secret_env, PORT: "0",
    });
    try {
      const get = (token) => fetch(`${proxy.url}/rest/v1/todos`, { headers: { authorization: `Bearer ${tokens[token]}` } });
      const refused = await get("aal1_enrolled");
      assertEquals([refused.status, (await refused.json()).code], [401, "aal2_required"]);
      const ok = await get("aal2_enrolled");
      assertEquals([ok.status, ok.headers.get("x-upstream")], [200, "supabase-standin"]);
      await ok.body?.cancel();
      assertEquals(upstream.received.map((r) => r.url), ["/rest/v1/todos"]);
    } finally {
      await proxy.close();
    }
  });
});
