// The conformance table against the built Worker (Rust, workers-rs) in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startTableDoors } from "./front-doors.mjs";
import { cases, fixtures, runTable } from "./conformance-lib.mjs";
import { frameTableOn } from "./frames-lib.mjs";
import WebSocket from "ws";
import { supabaseJsChecks } from "./supabase-js.mjs";

let env;
before(async () => {
  env = await startTableDoors((cfg) => startWorker({ AALGATE_CONFIG: JSON.stringify(cfg), ...fixtures.secret_env }));
});
after(() => env?.close());

test("conformance table in workerd (Rust Worker)", async () => {
  const failures = await runTable(env.table);
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ in workerd:\n${failures.join("\n")}`);
});

test("Realtime frame table in workerd (Rust Worker)", async () => {
  const [failures, message] = await frameTableOn(env, WebSocket);
  assert.deepEqual(failures, [], message);
});

test("supabase-js through the gate: an enrolled user's aal1 join is CHANNEL_ERROR aal2_required and never reaches Realtime", async () => {
  const problems = await supabaseJsChecks(env.doors.main.url, env.tokens, env.upstream.realtime, WebSocket);
  assert.deepEqual(problems, []);
});
