// Whole-request throughput and added latency in workerd, side by side in one run: the Rust Worker
// (build/), a JavaScript Worker using the portable module (examples/js-worker), a ten-line jose gate
// (bench/jose-worker.js) and a pass-through Worker (bench/passthrough-worker.js), each in its own
// workerd (Miniflare) in front of the same Node upstream on loopback, loaded by autocannon with
// 32 connections. Three token mixes: one reused token, 200 users round-robin, a new token for every
// request. Many short interleaved rounds (gate, pass-through, jose, …) and the median of the per-round
// ratios, because the load generator shares this machine's cores with the Workers. Prints figures;
// asserts nothing. Run after `make worker module`:
//   node bench/throughput.mjs [seconds-per-round] [rounds] [connections]
import { root, pub, jsWorker } from "./lib.mjs";
import autocannon from "autocannon";
import { startUpstream } from "../tests/runtime/upstream.mjs";
import { startWorker, startJsWorker } from "../tests/runtime/front-doors.mjs";
import { fixtures, signEs256 } from "../tests/runtime/conformance-lib.mjs";

const SECONDS = Number(process.argv[2] ?? 4);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONNECTIONS = Number(process.argv[4] ?? 32);
const upstream = await startUpstream();
const issuer = `${upstream.url}/auth/v1`;
const jwks = { keys: [pub(fixtures.keys.issuer)] };

const config = JSON.stringify({ supabase_url: upstream.url, require_aal2_for_enrolled: true, keys: { jwks } });
const doors = {
  pass: await jsWorker("bench/passthrough-worker.js", { UPSTREAM: upstream.url }),
  rust: await startWorker({ AALGATE_CONFIG: config }),
  module: await startJsWorker({ AALGATE_CONFIG: config }),
  jose: await jsWorker("bench/jose-worker.js", { JWKS: JSON.stringify(jwks), ISSUER: issuer, UPSTREAM: upstream.url }),
};
// Decision logs go to workerd's stdout, which the harness collects: the same in every round.

const now = Math.floor(Date.now() / 1000);
let serial = 0;
const mint = (user) => signEs256({ alg: "ES256", typ: "JWT", kid: fixtures.keys.issuer.kid },
  { iss: issuer, sub: `6f1c1b8e-0000-4000-8000-${String(user).padStart(12, "0")}`, aud: "authenticated", exp: now + 3600, iat: now,
    role: "authenticated", aal: "aal2", mfa_enrolled: true, n: serial++, amr: [{ method: "totp", timestamp: now }] }, fixtures.keys.issuer);

// New tokens: each gate draws from its own pool, so no token is ever seen twice by the same gate.
const POOL = Number(process.env.POOL ?? 40000);
process.stderr.write(`minting ${POOL * 2} tokens… `);
const pools = { rust: [], module: [], jose: [], pass: [] };
for (const name of ["rust", "module"]) for (let i = 0; i < POOL; i++) pools[name].push(await mint(i % 5000));
pools.jose = pools.rust; // jose has no cache: reuse costs it nothing
pools.pass = pools.rust;
const cursor = { rust: 0, module: 0, jose: 0, pass: 0 };
const one = await mint(0);
const users = await Promise.all(Array.from({ length: 200 }, (_, i) => mint(i)));
process.stderr.write("done\n");

const mixes = {
  "one token": () => () => one,
  "200 users": () => { let i = 0; return () => users[i++ % users.length]; },
  "new token": (name) => () => {
    const p = pools[name];
    // jose and the pass-through keep nothing: they may go round the pool again.
    if (name === "jose" || name === "pass") return p[cursor[name]++ % p.length];
    if (cursor[name] >= p.length) throw new Error(`token pool exhausted for ${name}: raise POOL`);
    return p[cursor[name]++];
  },
};

function run(url, next) {
  return new Promise((resolve, reject) => {
    autocannon({
      url: `${url}/rest/v1/todos`,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${next()}` } }) }],
    }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const results = {};
for (const mix of Object.keys(mixes)) {
  results[mix] = { pass: [], rust: [], module: [], jose: [] };
  // Warm-up: keys imported, code compiled.
  for (const name of Object.keys(doors)) await run(doors[name].url, mixes["one token"](name)).catch(() => {});
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of ["rust", "pass", "module", "pass", "jose", "pass"]) {
      const res = await run(doors[name].url, mixes[mix](name));
      const bad = res.errors + res.timeouts + (res.non2xx ?? 0);
      results[mix][name].push({ rps: res.requests.average, p50: res.latency.p50, p99: res.latency.p99, bad });
      process.stderr.write(`${mix} round ${r + 1} ${name}: ${Math.round(res.requests.average)} req/s p50 ${res.latency.p50} ms p99 ${res.latency.p99} ms${bad ? ` (${bad} errors/non-2xx)` : ""}\n`);
    }
  }
}

console.log(`\nthroughput, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS} s per Worker and mix (median of per-round ratios)`);
console.log("| mix | pass-through req/s | Rust Worker ÷ pass | JS Worker (module) ÷ pass | jose gate ÷ pass | Rust ÷ jose | module ÷ jose | added p50 / p99 ms (Rust) |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const [mix, r] of Object.entries(results)) {
  // Each gate round is compared with the pass-through round right after it.
  const passFor = (name) => r[name].map((_, i) => r.pass[["rust", "module", "jose"].indexOf(name) + 3 * i]);
  const ratio = (name) => median(r[name].map((x, i) => x.rps / passFor(name)[i].rps));
  const vsJose = (name) => median(r[name].map((x, i) => x.rps / r.jose[i].rps));
  const added = (k) => median(r.rust.map((x, i) => x[k] - passFor("rust")[i][k]));
  const bad = Object.values(r).flat().reduce((n, x) => n + x.bad, 0);
  console.log(`| ${mix} | ${Math.round(median(r.pass.map((x) => x.rps)))} | ${ratio("rust").toFixed(2)}× | ${ratio("module").toFixed(2)}× | ${ratio("jose").toFixed(2)}× | ${vsJose("rust").toFixed(2)}× | ${vsJose("module").toFixed(2)}× | ${added("p50")} / ${added("p99")} |${bad ? ` ${bad} errors` : ""}`);
}

for (const d of Object.values(doors)) await d.close();
await upstream.close();
