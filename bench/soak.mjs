// Soak (issue 17, item 2): the Rust Worker (build/) in local workerd in front of the stand-in project,
// loaded for a configurable time at moderate concurrency, one-minute rounds cycling through three token
// mixes (one reused token, 200 users round-robin, a new token per request), each with a share of
// requests that must be refused (aal1 of an enrolled user: 401 aal2_required). The JWKS rotates during
// the run the way Supabase rotates: a standby key is published, tokens are signed with it a while
// later, the old key is withdrawn after that. Every response is checked against the status its
// request should get; anything else (and every socket error or timeout) is an error (goal: 0). Each
// minute prints requests, errors, p50/p99 latency and workerd's resident memory (goal: flat within the
// caches' bounds). Prints figures; asserts nothing. Run after `make worker`:
//   node bench/soak.mjs [minutes=10] [connections=16] [rotate-every-seconds=120] [refused-share=0.1]
import crypto from "node:crypto";
import fs from "node:fs";
import autocannon from "autocannon";
import { startUpstream } from "../tests/runtime/upstream.mjs";
import { startWorker } from "../tests/runtime/front-doors.mjs";

const MINUTES = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 16);
const ROTATE_S = Number(process.argv[4] ?? 120);
const REFUSED_SHARE = Number(process.argv[5] ?? 0.1);
const ROUND_S = Number(process.env.ROUND_S ?? 60);

const upstream = await startUpstream();
const issuer = `${upstream.url}/auth/v1`;

// Keys: `signing` signs new tokens; the JWKS publishes `published`.
const newKey = (n) => {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: `soak-${n}`, alg: "ES256", use: "sig" };
  return { privateKey, kid: jwk.kid, public: Object.fromEntries(Object.entries(jwk).filter(([k]) => k !== "d")) };
};
let generation = 0;
let signing = newKey(generation);
let published = [signing];
const publish = () => {
  upstream.jwks.body = JSON.stringify({ keys: published.map((k) => k.public) });
  // Short max-age so the Worker sees the rotation steps within the run.
  upstream.jwks.cacheControl = "public, max-age=60";
};
publish();

const now = () => Math.floor(Date.now() / 1000);
let serial = 0;
function mint(user, { enrolled = true, aal = "aal2" } = {}) {
  const t = now();
  const header = Buffer.from(JSON.stringify({ alg: "ES256", typ: "JWT", kid: signing.kid })).toString("base64url");
  const claims = { iss: issuer, sub: `6f1c1b8e-0000-4000-8000-${String(user).padStart(12, "0")}`, aud: "authenticated", exp: t + 3600, iat: t,
    role: "authenticated", aal, mfa_enrolled: enrolled, n: serial++, amr: [{ method: aal === "aal2" ? "totp" : "password", timestamp: t }] };
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${input}.${crypto.sign("sha256", Buffer.from(input), { key: signing.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
}

// Tokens of the reused mixes, re-minted when signing switches keys (old tokens would die with their key).
let reused;
const remint = () => {
  reused = {
    one: mint(0),
    users: Array.from({ length: 200 }, (_, i) => mint(i)),
    refused: Array.from({ length: 20 }, (_, i) => mint(10_000 + i, { aal: "aal1" })),
  };
};
remint();

// The rotation: standby published → (ROTATE_S / 2) signing switches → (ROTATE_S / 2) old withdrawn.
// The switch must come later than the gate's refetch cooldown (30 s) after the standby appears: a gate
// that fetched just before it would otherwise refuse the new kid until its cooldown ends (by design:
// unknown kids refetch at most once per cooldown). Supabase's own rotation waits far longer.
if (ROTATE_S / 2 <= 30) console.warn(`rotate-every ${ROTATE_S} s: the switch comes within the 30 s refetch cooldown; expect key_unknown refusals right after it`);
const rotations = [];
const rotation = setInterval(() => {
  const standby = newKey(++generation);
  published = [...published, standby];
  publish();
  rotations.push(`${new Date().toISOString()} published ${standby.kid}`);
  setTimeout(() => {
    const old = signing;
    signing = standby;
    remint();
    rotations.push(`${new Date().toISOString()} signing with ${standby.kid}`);
    setTimeout(() => {
      published = published.filter((k) => k !== old);
      publish();
      rotations.push(`${new Date().toISOString()} withdrew ${old.kid}`);
    }, (ROTATE_S / 2) * 1000);
  }, (ROTATE_S / 2) * 1000);
}, ROTATE_S * 1000);

const worker = await startWorker({ AALGATE_CONFIG: JSON.stringify({ supabase_url: upstream.url, require_aal2_for_enrolled: true }) });

/** Resident memory (KiB) of the workerd processes below this one. */
function workerdRssKiB() {
  const procs = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      return { pid: Number(pid), ppid, name: /Name:\s+(\S+)/.exec(status)?.[1], rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) };
    } catch {
      return null;
    }
  }).filter(Boolean);
  const below = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) if (!below.has(p.pid) && below.has(p.ppid)) { below.add(p.pid); grew = true; }
  }
  return procs.filter((p) => below.has(p.pid) && p.name?.startsWith("workerd")).reduce((sum, p) => sum + p.rss, 0);
}

const MIXES = ["one token", "200 users", "new token"];
function round(mix) {
  let i = 0;
  const stats = { unexpected: 0, byStatus: {} };
  const next = () => {
    if (Math.random() < REFUSED_SHARE) return { token: reused.refused[i++ % reused.refused.length], expect: 401 };
    if (mix === "one token") return { token: reused.one, expect: 200 };
    if (mix === "200 users") return { token: reused.users[i++ % reused.users.length], expect: 200 };
    return { token: mint(i++ % 5000), expect: 200 };
  };
  return new Promise((resolve, reject) => {
    autocannon({
      url: `${worker.url}/rest/v1/todos`,
      connections: CONNECTIONS,
      duration: ROUND_S,
      requests: [{
        setupRequest: (req, context) => {
          const { token, expect } = next();
          context.expect = expect;
          return { ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } };
        },
        onResponse: (status, _body, context) => {
          stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
          if (status !== context.expect) stats.unexpected++;
        },
      }],
    }, (err, r) => (err ? reject(err) : resolve({ r, stats })));
  });
}

const started = Date.now();
const rows = [];
console.log(`soak: ${MINUTES} min, ${CONNECTIONS} connections, ${Math.round(REFUSED_SHARE * 100)} % refused, JWKS rotation every ${ROTATE_S} s`);
console.log("| minute | mix | requests | req/s | errors | p50 ms | p99 ms | workerd RSS MiB |");
console.log("|---|---|---|---|---|---|---|---|");
const rounds = Math.max(1, Math.round((MINUTES * 60) / ROUND_S));
for (let m = 0; m < rounds; m++) {
  const mix = MIXES[m % MIXES.length];
  const { r, stats } = await round(mix);
  const errors = stats.unexpected + r.errors + r.timeouts;
  const row = { minute: m + 1, mix, requests: r.requests.total, rps: Math.round(r.requests.average), errors, p50: r.latency.p50, p99: r.latency.p99, rssMiB: Math.round(workerdRssKiB() / 1024), statuses: stats.byStatus };
  rows.push(row);
  console.log(`| ${row.minute} | ${mix} | ${row.requests} | ${row.rps} | ${errors} | ${row.p50} | ${row.p99} | ${row.rssMiB} |`);
}
clearInterval(rotation);
const total = rows.reduce((a, r) => ({ requests: a.requests + r.requests, errors: a.errors + r.errors }), { requests: 0, errors: 0 });
const rss = rows.map((r) => r.rssMiB);
console.log(`\n${total.requests} requests in ${Math.round((Date.now() - started) / 60000)} min, ${total.errors} errors; workerd RSS ${Math.min(...rss)}–${Math.max(...rss)} MiB (first ${rss[0]}, last ${rss.at(-1)}); ${rotations.length} rotation steps, JWKS fetched ${upstream.jwks.hits} times`);
for (const line of rotations) console.log(`  ${line}`);
if (process.env.SOAK_JSON) fs.writeFileSync(process.env.SOAK_JSON, JSON.stringify({ rows, total, rotations }, null, 2));
await worker.close();
await upstream.close();
process.exit(0);
