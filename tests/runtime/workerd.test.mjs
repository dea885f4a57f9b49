// The conformance table, and what only a real proxy can show, against the built Worker in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUpstream } from "./upstream.mjs";
import { startWorker, send } from "./front-doors.mjs";
import { fixtures, cases, mintTokens, caseHeaders, check } from "./conformance-lib.mjs";

let upstream;
const workers = {};
let tokens;

before(async () => {
  upstream = await startUpstream();
  tokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
  for (const [name, config] of Object.entries(fixtures.configs)) {
    const cfg = { ...config, supabase_url: upstream.url };
    workers[name] = await startWorker({ AALGATE_CONFIG: JSON.stringify(cfg), ...fixtures.secret_env });
  }
});

after(async () => {
  for (const w of Object.values(workers)) await w.close();
  await upstream?.close();
});

test("conformance table in workerd", async () => {
  const failures = [];
  for (const [i, c] of cases.entries()) {
    const worker = workers[c.config ?? "main"];
    const headers = [...caseHeaders(c, tokens), ["x-conformance-case", String(i)]];
    let res;
    try {
      res = await send(worker.url, { method: c.method.toUpperCase(), path: c.path, query: c.query, headers });
    } catch (err) {
      failures.push(`${c.name}: request failed (${err.message}); worker log tail: ${worker.logs.slice(-3).join(" | ")}`);
      continue;
    }
    const arrived = upstream.received.find((r) => r.headers["x-conformance-case"] === String(i));
    let code = null;
    try { code = JSON.parse(res.body.toString()).code ?? null; } catch {}
    const observed = {
      forwarded: Boolean(arrived),
      status: res.status,
      code: arrived ? null : code,
      wwwAuthenticate: res.headers["www-authenticate"],
      upstreamHeaders: arrived?.headers,
    };
    const problems = check(c, observed);
    if (problems.length) failures.push(`${c.name}: ${problems.join("; ")}`);
  }
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ in workerd:\n${failures.join("\n")}`);
});
