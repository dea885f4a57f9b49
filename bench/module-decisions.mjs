// Decision latency of the portable module in the runtime that runs this file (Node or Deno), beside
// panva/jose doing the same check (ES256 signature against a local JWKS, iss, aud, exp) in the same
// process and the same run. Fresh = every token new to the gate; cached = one token decided again and
// again. aalgate's figure is a whole `gate.check(request)`: URL and header parsing, credential
// classification, routing, verification and the MFA policy. Prints ratios; asserts nothing.
//   node bench/module-decisions.mjs [decisions]
//   deno run --allow-read=. --allow-env bench/module-decisions.mjs [decisions]    (after `make module`)
import { createGate } from "aalgate";
import { createLocalJWKSet, jwtVerify } from "jose";
import { fixtures, signEs256 } from "../tests/runtime/conformance-lib.mjs";

const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const N = Number(args[0] ?? 2000);
const runtime = globalThis.Deno ? `Deno ${Deno.version.deno}` : `Node ${process.version}`;
const project = "https://bench.supabase.co";
const issuer = `${project}/auth/v1`;
const pub = (k) => Object.fromEntries(Object.entries(k).filter(([n]) => n !== "d"));
const jwks = { keys: [pub(fixtures.keys.issuer)] };

const gate = createGate({ supabase_url: project, require_aal2_for_enrolled: true, keys: { jwks } }, { log: false });
const joseKeys = createLocalJWKSet(jwks);
const joseOptions = { issuer, audience: "authenticated", algorithms: ["ES256"] };

const now = Math.floor(Date.now() / 1000);
let serial = 0;
const mint = () => signEs256({ alg: "ES256", typ: "JWT", kid: fixtures.keys.issuer.kid },
  { iss: issuer, sub: "6f1c1b8e-0000-4000-8000-000000000001", aud: "authenticated", exp: now + 3600, iat: now, role: "authenticated", aal: "aal2", mfa_enrolled: true, n: serial++,
    email: "user@example.com", phone: "", session_id: "8a6b2b1c-0000-4000-8000-000000000001", is_anonymous: false, amr: [{ method: "totp", timestamp: now }] }, fixtures.keys.issuer);

const request = (token) => new Request(`${project}/rest/v1/todos`, { headers: { authorization: `Bearer ${token}`, apikey: "sb_publishable_bench" } });

async function timeEach(inputs, decide) {
  const t0 = performance.now();
  for (const x of inputs) await decide(x);
  return ((performance.now() - t0) * 1000) / inputs.length;
}

// The Request objects exist before timing starts: a server hands them to the gate ready-made.
const viaGate = async (req) => {
  const d = await gate.check(req);
  if (!d.allowed) throw new Error(`gate refused: ${d.code}`);
};
const viaJose = async (t) => {
  await jwtVerify(t, joseKeys, joseOptions);
};

const rounds = [];
for (let round = 0; round < 3; round++) {
  const freshGate = (await Promise.all(Array.from({ length: N }, mint))).map(request);
  const freshJose = await Promise.all(Array.from({ length: N }, mint));
  const same = await mint();
  const repeated = Array(N).fill(same);
  const repeatedRequest = Array(N).fill(request(same));
  await timeEach(repeatedRequest.slice(0, 50), viaGate); // warm up both
  await timeEach(repeated.slice(0, 50), viaJose);
  rounds.push({
    joseFresh: await timeEach(freshJose, viaJose),
    joseSame: await timeEach(repeated, viaJose),
    gateFresh: await timeEach(freshGate, viaGate),
    gateSame: await timeEach(repeatedRequest, viaGate),
  });
}
const med = (k) => rounds.map((r) => r[k]).sort((a, b) => a - b)[1];
const m = Object.fromEntries(Object.keys(rounds[0]).map((k) => [k, med(k)]));
console.log(`${runtime}, ${N} decisions per measurement, median of 3 rounds (µs per decision)`);
console.log(`  jose jwtVerify, fresh token:   ${m.joseFresh.toFixed(1)}`);
console.log(`  jose jwtVerify, same token:    ${m.joseSame.toFixed(1)}`);
console.log(`  aalgate check, fresh token:    ${m.gateFresh.toFixed(1)}`);
console.log(`  aalgate check, cached token:   ${m.gateSame.toFixed(1)}`);
console.log(`ratios (jose / aalgate): fresh ${(m.joseFresh / m.gateFresh).toFixed(2)}x, cached ${(m.joseSame / m.gateSame).toFixed(2)}x`);
