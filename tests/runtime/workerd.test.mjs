// The conformance table against the built Worker (Rust, workers-rs) in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUpstream } from "./upstream.mjs";
import { startWorker } from "./front-doors.mjs";
import { cases, fixtures, mintTokens, runTable, localConfigs } from "./conformance-lib.mjs";

let upstream;
const workers = {};
let tokens;

before(async () => {
  upstream = await startUpstream({ authUsers: fixtures.auth_users });
  tokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
  for (const [name, cfg] of Object.entries(localConfigs(upstream.url))) {
    workers[name] = await startWorker({ AALGATE_CONFIG: JSON.stringify(cfg), ...fixtures.secret_env });
  }
});

after(async () => {
  for (const w of Object.values(workers)) await w.close();
  await upstream?.close();
});

test("conformance table in workerd (Rust Worker)", async () => {
  const failures = await runTable({ urlFor: (n) => workers[n].url, upstream, tokens, logsFor: (n) => workers[n].logs });
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ in workerd:\n${failures.join("\n")}`);
});
