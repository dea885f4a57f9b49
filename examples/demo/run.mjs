// `make demo`: the built Worker in local workerd (real workerd from npm, through Miniflare).
//
// Without SUPABASE_URL: in front of a built-in demo upstream that also plays the project's Auth JWKS
// endpoint, with a demo issuer key made at start. It shows an aal1 request of a user who has a verified
// factor refused with the RFC 9470 step-up challenge, the same user's aal2 request passing, and prints
// curl commands to try more. With SUPABASE_URL (and optionally AALGATE_CONFIG, SUPABASE_JWT_SECRET): the
// same gate in front of that project. Runs until Ctrl-C (DEMO_EXIT=1 exits after the demonstration).
import crypto from "node:crypto";
import { startUpstream } from "../../tests/runtime/upstream.mjs";
import { startWorker, send } from "../../tests/runtime/front-doors.mjs";
import { signEs256 } from "../../tests/runtime/conformance-lib.mjs";

const port = Number(process.env.AALGATE_PORT ?? 8787);
const stay = process.env.DEMO_EXIT !== "1";
const cleanup = [];
const shutdown = async () => { for (const f of cleanup.reverse()) await f(); process.exit(0); };
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

if (process.env.SUPABASE_URL) {
  const bindings = { SUPABASE_URL: process.env.SUPABASE_URL };
  for (const name of ["AALGATE_CONFIG", "SUPABASE_JWT_SECRET"]) if (process.env[name]) bindings[name] = process.env[name];
  const worker = await startWorker(bindings, { port });
  cleanup.push(worker.close);
  console.log(`aalgate (workerd) in front of ${process.env.SUPABASE_URL} at ${worker.url}`);
  console.log(`Point supabase-js at it:  createClient("${worker.url}", "<your publishable key>")`);
  console.log("Decisions are logged below as JSON lines. Ctrl-C stops.");
  setInterval(() => { while (worker.logs.length) console.log(worker.logs.shift()); }, 500);
} else {
  const upstream = await startUpstream();
  cleanup.push(upstream.close);
  const { privateKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const kid = `demo-${crypto.randomUUID()}`;
  upstream.jwks.body = JSON.stringify({ keys: [{ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, kid, alg: "ES256", use: "sig", key_ops: ["verify"] }] });

  const worker = await startWorker({ SUPABASE_URL: upstream.url, AALGATE_CONFIG: JSON.stringify({ require_aal2_for_enrolled: true }) }, { port });
  cleanup.push(worker.close);

  const now = Math.floor(Date.now() / 1000);
  const user = { iss: `${upstream.url}/auth/v1`, sub: "d3m0d3m0-0000-4000-8000-000000000001", aud: "authenticated", exp: now + 3600, iat: now,
    email: "demo@example.com", phone: "", role: "authenticated", session_id: "d3m0d3m0-0000-4000-8000-0000000000aa", is_anonymous: false, mfa_enrolled: true };
  const aal1 = await signEs256({ alg: "ES256", typ: "JWT", kid }, { ...user, aal: "aal1", amr: [{ method: "password", timestamp: now }] }, jwk);
  const aal2 = await signEs256({ alg: "ES256", typ: "JWT", kid }, { ...user, aal: "aal2", amr: [{ method: "totp", timestamp: now }, { method: "password", timestamp: now }] }, jwk);

  console.log(`aalgate demo — the Worker in local workerd at ${worker.url}, in front of a demo Supabase upstream at ${upstream.url}`);
  console.log("Config: require_aal2_for_enrolled = true. The demo user HAS a verified TOTP factor (mfa_enrolled: true).\n");
  for (const [label, token] of [["aal1 (password only — e.g. a stolen password)", aal1], ["aal2 (password + TOTP)", aal2]]) {
    const res = await send(worker.url, { path: "/rest/v1/todos", headers: [["apikey", "sb_publishable_demo"], ["authorization", `Bearer ${token}`]] });
    console.log(`GET /rest/v1/todos with ${label}`);
    console.log(`  → HTTP ${res.status}${res.status === 200 ? " (forwarded; the upstream answered)" : ""}`);
    if (res.headers["www-authenticate"]) console.log(`    WWW-Authenticate: ${res.headers["www-authenticate"]}`);
    console.log(`    ${res.body.toString()}\n`);
  }
  const aal1Auth = await send(worker.url, { method: "POST", path: "/auth/v1/factors/00000000-0000-4000-8000-000000000001/challenge", headers: [["authorization", `Bearer ${aal1}`]] });
  console.log(`POST /auth/v1/factors/…/challenge with the aal1 token → HTTP ${aal1Auth.status} (MFA itself stays reachable at aal1)\n`);
  console.log("Try it yourself:");
  console.log(`  curl -i ${worker.url}/rest/v1/todos -H 'apikey: sb_publishable_demo' -H 'Authorization: Bearer ${aal1}'`);
  console.log(`  curl -i ${worker.url}/rest/v1/todos -H 'apikey: sb_publishable_demo' -H 'Authorization: Bearer ${aal2}'`);
  console.log(`  curl -i ${worker.url}/rest/v1/todos -H 'apikey: sb_publishable_demo'            # no user: passes, RLS decides`);
  console.log(`  curl -i ${worker.url}/rest/v1/todos -H 'apikey: sb_secret_demo'                 # secret key: refused`);
  if (stay) {
    console.log("\nDecision logs follow. Ctrl-C stops.");
    setInterval(() => { while (worker.logs.length) console.log(worker.logs.shift()); }, 500);
  } else {
    await shutdown();
  }
}
