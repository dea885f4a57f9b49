// Decision latency in workerd, side by side in one run: aalgate (fresh token, cached token) against
// panva/jose (jwtVerify, local JWKS) and a pass-through Worker, all proxying to the same local upstream.
// performance.now() in workerd moves in 1 ms steps inside a request, so each figure is a whole loop of
// sequential HTTP requests timed from outside, minus the pass-through loop. Prints ratios; asserts nothing.
//   node bench/workerd.mjs [requests-per-loop]
import { root, pub, jsWorker } from "./lib.mjs";
import http from "node:http";
import path from "node:path";
import fs from "node:fs";
import { execFileSync } from "node:child_process";
import { startUpstream } from "../tests/runtime/upstream.mjs";
import { startWorker } from "../tests/runtime/front-doors.mjs";
import { fixtures, signEs256 } from "../tests/runtime/conformance-lib.mjs";

const N = Number(process.argv[2] ?? 400);
const upstream = await startUpstream();
const issuer = `${upstream.url}/auth/v1`;
const jwks = { keys: [pub(fixtures.keys.issuer)] };

const aalgate = await startWorker({ AALGATE_CONFIG: JSON.stringify({ supabase_url: upstream.url, require_aal2_for_enrolled: true, keys: { jwks } }) });
const jose = await jsWorker("bench/jose-worker.js", { JWKS: JSON.stringify(jwks), ISSUER: issuer, UPSTREAM: upstream.url });
const pass = await jsWorker("bench/passthrough-worker.js", { UPSTREAM: upstream.url });

const now = Math.floor(Date.now() / 1000);
const mint = (n) => signEs256({ alg: "ES256", typ: "JWT", kid: fixtures.keys.issuer.kid },
  { iss: issuer, sub: "6f1c1b8e-0000-4000-8000-000000000001", aud: "authenticated", exp: now + 3600, iat: now, role: "authenticated", aal: "aal2", mfa_enrolled: true, n,
    amr: [{ method: "totp", timestamp: now }] }, fixtures.keys.issuer);
const fresh = await Promise.all(Array.from({ length: 3 * N }, (_, i) => mint(i)));
const same = await mint(-1);

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function get(base, token) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: "/rest/v1/todos", agent, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end();
  });
}
async function loop(base, tokenAt) {
  for (let i = 0; i < 50; i++) await get(base, tokenAt(i)); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await get(base, tokenAt(i));
  return Number(process.hrtime.bigint() - t0) / 1e3 / N; // µs per request
}

let k = 0;
const next = () => fresh[k++];
const rows = [];
for (let round = 0; round < 3; round++) {
  rows.push({
    pass: await loop(pass.url, () => undefined),
    joseFresh: await loop(jose.url, next),
    joseSame: await loop(jose.url, () => same),
    gateFresh: await loop(aalgate.url, next),
    gateSame: await loop(aalgate.url, () => same),
  });
}
const median = (key) => rows.map((r) => r[key]).sort((a, b) => a - b)[1];
const m = Object.fromEntries(Object.keys(rows[0]).map((key) => [key, median(key)]));
const over = (key) => Math.max(m[key] - m.pass, 0.5);
console.log(`workerd ${execFileSync(path.join(root, "node_modules/.bin/workerd"), ["--version"]).toString().trim()}, ${N} sequential requests per loop, median of 3 rounds (µs per request)`);
console.log(`  pass-through Worker:            ${m.pass.toFixed(0)}`);
console.log(`  jose jwtVerify, fresh token:    ${m.joseFresh.toFixed(0)}   (decision ≈ ${over("joseFresh").toFixed(0)})`);
console.log(`  jose jwtVerify, same token:     ${m.joseSame.toFixed(0)}   (decision ≈ ${over("joseSame").toFixed(0)})`);
console.log(`  aalgate, fresh token:           ${m.gateFresh.toFixed(0)}   (decision ≈ ${over("gateFresh").toFixed(0)})`);
console.log(`  aalgate, cached token:          ${m.gateSame.toFixed(0)}   (decision ≈ ${over("gateSame").toFixed(0)})`);
console.log(`ratios (jose decision / aalgate decision): fresh ${(over("joseFresh") / over("gateFresh")).toFixed(2)}x, cached ${(over("joseSame") / over("gateSame")).toFixed(2)}x`);
console.log(`gate overhead vs pass-through (cached token): ${(((m.gateSame - m.pass) / m.pass) * 100).toFixed(1)} %`);
const wasm = fs.readFileSync(path.join(root, "build/index_bg.wasm"));
const { gzipSync } = await import("node:zlib");
console.log(`wasm: ${(wasm.length / 1024).toFixed(0)} KiB, ${(gzipSync(wasm, { level: 9 }).length / 1024).toFixed(0)} KiB gzipped`);
for (const w of [aalgate, jose, pass]) await w.close();
await upstream.close();
agent.destroy();
