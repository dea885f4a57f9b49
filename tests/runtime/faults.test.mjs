// The fault matrix (tests/runtime/faults-lib.mjs) against the Rust Worker in workerd and the module's
// proxy in Node (which relays no WebSockets: the Realtime rows are n/a there); module.deno.mjs runs it in
// Deno. Prints the table README shows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createGate } from "aalgate";
import { startUpstream } from "./upstream.mjs";
import { startWorker, serveInNode } from "./front-doors.mjs";
import { fixtures, mintTokens } from "./conformance-lib.mjs";
import { runFaultMatrix, faultTable } from "./faults-lib.mjs";
import WebSocket from "ws";

let upstream;
let tokens;
const results = {};
before(async () => {
  upstream = await startUpstream({ authUsers: fixtures.auth_users, apiKeys: [fixtures.api_keys.publishable] });
  tokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
});
after(async () => {
  if (Object.keys(results).length) console.log(`\nfault matrix:\n${faultTable(results)}\n`);
  await upstream?.close();
});

test("fault matrix: the Rust Worker in workerd", async () => {
  const { rows, problems } = await runFaultMatrix({ upstream, tokens, WebSocketImpl: WebSocket, start: (cfg) => startWorker({ AALGATE_CONFIG: JSON.stringify(cfg) }) });
  results["Rust Worker (workerd)"] = rows;
  assert.deepEqual(problems, []);
});

test("fault matrix: the module's proxy in Node", async () => {
  const start = (cfg) => serveInNode(createGate(cfg, { log: false }).proxy());
  const { rows, problems } = await runFaultMatrix({ upstream, tokens, start });
  results["module (Node)"] = rows;
  assert.deepEqual(problems, []);
});
