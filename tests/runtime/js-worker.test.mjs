// The conformance table against the portable module (the `web` build) inside a JavaScript Worker in
// workerd: examples/js-worker bundled as wrangler would.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startJsWorker, startTableDoors, send } from "./front-doors.mjs";
import { cases, fixtures, runTable } from "./conformance-lib.mjs";
import { frameTableOn } from "./frames-lib.mjs";
import WebSocket from "ws";
import { supabaseJsChecks } from "./supabase-js.mjs";
import { bodyChecks } from "./bodies-lib.mjs";

let env;
before(async () => {
  env = await startTableDoors((cfg) => startJsWorker({ AALGATE_CONFIG: JSON.stringify(cfg), ...fixtures.secret_env }));
});
after(() => env?.close());

test("conformance table in workerd (portable module in a JS Worker)", async () => {
  const failures = await runTable(env.table);
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ:\n${failures.join("\n")}`);
});

test("the Worker's own route runs only for allowed requests and sees the claims", async () => {
  const { doors, upstream, tokens } = env;
  const w = doors.main;
  const before = upstream.received.length;
  const refused = await send(w.url, { path: "/whoami", headers: [["authorization", `Bearer ${tokens.aal1_enrolled}`]] });
  assert.equal(refused.status, 401);
  assert.equal(JSON.parse(refused.body).code, "aal2_required");
  const ok = await send(w.url, { path: "/whoami", headers: [["authorization", `Bearer ${tokens.aal2_enrolled}`]] });
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { sub: fixtures.tokens.aal2_enrolled.claims.sub, aal: "aal2" });
  assert.equal(upstream.received.length, before, "the Worker's own route never reaches the upstream");
});

test("Realtime frame table in workerd (portable module in a JS Worker)", async () => {
  const [failures, message] = await frameTableOn(env, WebSocket);
  assert.deepEqual(failures, [], message);
});

test("supabase-js through the gate: an enrolled user's aal1 join is CHANNEL_ERROR aal2_required and never reaches Realtime", async () => {
  const problems = await supabaseJsChecks(env.doors.main.url, env.tokens, env.upstream.realtime, WebSocket);
  assert.deepEqual(problems, []);
});

test("bodies pass byte-exact and streamed: Content-Length kept, chunked kept, 5 MiB both ways (JS Worker)", async () => {
  assert.deepEqual(await bodyChecks(env.doors.main.url, env.upstream, env.tokens.aal2_enrolled), []);
});
