// `make demo` shows what README promises: an aal1 request of an enrolled user refused with the step-up
// challenge, the aal2 request passing, and MFA endpoints reachable at aal1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

test("make demo's script shows the refusal and the pass", async () => {
  const out = await new Promise((resolve, reject) => {
    execFile("node", ["examples/demo/run.mjs"], { cwd: root, env: { ...process.env, DEMO_EXIT: "1", AALGATE_PORT: "0" }, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout));
  });
  const [aal1, aal2] = out.split("GET /rest/v1/todos with ").slice(1);
  assert.match(aal1, /→ HTTP 401/);
  assert.match(aal1, /insufficient_user_authentication/);
  assert.match(aal1, /"code":"aal2_required"/);
  assert.match(aal2, /→ HTTP 200 \(forwarded/);
  assert.match(out, /challenge with the aal1 token → HTTP 200/);
  assert.match(out, /curl -i http:\/\/127\.0\.0\.1:\d+\/rest\/v1\/todos/);
});
