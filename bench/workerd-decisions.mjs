// Decision cost in workerd without HTTP in the way: one request runs many decisions (aalgate's test-only
// /__aalgate/selftest/decide endpoint, in the Worker `make worker-selftest` builds into build-selftest/;
// a loop of jose jwtVerify in the comparison Worker), timed from outside; each figure is (request time −
// one empty request) / decisions. Fresh = every token new to the gate; cached = one token decided again
// and again. Prints ratios; asserts nothing.
//   node bench/workerd-decisions.mjs [decisions]
import http from "node:http";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { Miniflare, Log, LogLevel } from "miniflare";
import { startUpstream } from "../tests/runtime/upstream.mjs";
import { startSelftestWorker } from "../tests/runtime/front-doors.mjs";
import { fixtures, signEs256 } from "../tests/runtime/conformance-lib.mjs";

const N = Number(process.argv[2] ?? 2000);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const pub = (k) => Object.fromEntries(Object.entries(k).filter(([n]) => n !== "d"));
const upstream = await startUpstream();
const issuer = `${upstream.url}/auth/v1`;
const jwks = { keys: [pub(fixtures.keys.issuer)] };

const out = path.join(root, "build/bench/jose-worker.js");
execFileSync(path.join(root, "node_modules/.bin/esbuild"), [path.join(root, "bench/jose-worker.js"), "--bundle", "--format=esm", "--platform=neutral", `--outfile=${out}`], { stdio: "ignore" });
const mf = new Miniflare({ modules: true, scriptPath: out, compatibilityDate: "2026-04-26", cf: false, bindings: { JWKS: JSON.stringify(jwks), ISSUER: issuer, UPSTREAM: upstream.url }, log: new Log(LogLevel.NONE) });
const jose = (await mf.ready).toString().replace(/\/$/, "");
const gate = await startSelftestWorker({ AALGATE_SELFTEST: "1", AALGATE_CONFIG: JSON.stringify({ supabase_url: upstream.url, require_aal2_for_enrolled: true, keys: { jwks } }) });

const now = Math.floor(Date.now() / 1000);
const mint = (n) => signEs256({ alg: "ES256", typ: "JWT", kid: fixtures.keys.issuer.kid },
  { iss: issuer, sub: "6f1c1b8e-0000-4000-8000-000000000001", aud: "authenticated", exp: now + 3600, iat: now, role: "authenticated", aal: "aal2", mfa_enrolled: true, n,
    email: "user@example.com", phone: "", session_id: "8a6b2b1c-0000-4000-8000-000000000001", is_anonymous: false, amr: [{ method: "totp", timestamp: now }] }, fixtures.keys.issuer);

function post(url, body) {
  const u = new URL(url);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ us: Number(process.hrtime.bigint() - t0) / 1e3, body: JSON.parse(Buffer.concat(chunks)) }));
    });
    req.on("error", reject);
    req.end(data);
  });
}

async function perDecision(url, tokens, repeat) {
  const empty = await post(url, { tokens: [], repeat: 1 });
  const r = await post(url, { tokens, repeat });
  if (r.body.forwarded !== r.body.decisions) throw new Error(`${url}: ${JSON.stringify(r.body)}`);
  return Math.max(r.us - empty.us, 0) / r.body.decisions;
}

const rounds = [];
let serial = 0;
for (let round = 0; round < 3; round++) {
  const freshGate = await Promise.all(Array.from({ length: N }, () => mint(serial++)));
  const freshJose = await Promise.all(Array.from({ length: N }, () => mint(serial++)));
  const same = await mint(serial++);
  await perDecision(`${gate.url}/__aalgate/selftest/decide`, [same], 10); // warm the isolate
  await perDecision(`${jose}/__bench/decide`, [same], 10);
  rounds.push({
    joseFresh: await perDecision(`${jose}/__bench/decide`, freshJose, 1),
    joseSame: await perDecision(`${jose}/__bench/decide`, [same], N),
    gateFresh: await perDecision(`${gate.url}/__aalgate/selftest/decide`, freshGate, 1),
    gateSame: await perDecision(`${gate.url}/__aalgate/selftest/decide`, [same], N),
  });
}
const med = (k) => rounds.map((r) => r[k]).sort((a, b) => a - b)[1];
const m = Object.fromEntries(Object.keys(rounds[0]).map((k) => [k, med(k)]));
console.log(`workerd ${execFileSync(path.join(root, "node_modules/.bin/workerd"), ["--version"]).toString().trim()}, ${N} decisions per request, median of 3 rounds (µs per decision)`);
console.log(`  jose jwtVerify, fresh token:   ${m.joseFresh.toFixed(1)}`);
console.log(`  jose jwtVerify, same token:    ${m.joseSame.toFixed(1)}`);
console.log(`  aalgate decide, fresh token:   ${m.gateFresh.toFixed(1)}`);
console.log(`  aalgate decide, cached token:  ${m.gateSame.toFixed(1)}`);
console.log(`ratios (jose / aalgate): fresh ${(m.joseFresh / m.gateFresh).toFixed(2)}x, cached ${(m.joseSame / m.gateSame).toFixed(2)}x`);
await gate.close();
await mf.dispose();
await upstream.close();
