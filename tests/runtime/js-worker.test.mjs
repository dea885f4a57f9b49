// The conformance table against the portable module (the `web` build) inside a JavaScript Worker in
// workerd: examples/js-worker bundled as wrangler would.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUpstream } from "./upstream.mjs";
import { startJsWorker, send } from "./front-doors.mjs";
import { cases, fixtures, mintTokens, runTable, localConfigs } from "./conformance-lib.mjs";

let upstream;
const workers = {};
let tokens;

before(async () => {
  upstream = await startUpstream({ authUsers: fixtures.auth_users });
  tokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
  for (const [name, cfg] of Object.entries(localConfigs(upstream.url))) {
    workers[name] = await startJsWorker({ AALGATE_CONFIG: JSON.stringify(cfg), ...fixtures.secret_env });
  }
});

after(async () => {
  for (const w of Object.values(workers)) await w.close();
  await upstream?.close();
});

test("conformance table in workerd (portable module in a JS Worker)", async () => {
  const failures = await runTable({ urlFor: (n) => workers[n].url, upstream, tokens, logsFor: (n) => workers[n].logs });
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ:\n${failures.join("\n")}`);
});

test("the Worker's own route runs only for allowed requests and sees the claims", async () => {
  const w = workers.main;
  const before = upstream.received.length;
  const refused = await send(w.url, { path: "/whoami", headers: [["authorization", `Bearer ${tokens.aal1_enrolled}`]] });
  assert.equal(refused.status, 401);
  assert.equal(JSON.parse(refused.body).code, "aal2_required");
  const ok = await send(w.url, { path: "/whoami", headers: [["authorization", `Bearer ${tokens.aal2_enrolled}`]] });
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { sub: fixtures.tokens.aal2_enrolled.claims.sub, aal: "aal2" });
  assert.equal(upstream.received.length, before, "the Worker's own route never reaches the upstream");
});
