// The published npm package, as users get it: `npm pack` (its prepack only checks that `make module` has
// built pkg/), the tarball's contents, then fresh temporary projects that install the tarball offline
// and use it by name — Node (`import from "aalgate"`), Deno (`npm:aalgate` with a local node_modules),
// a JavaScript Worker bundled by `wrangler deploy --dry-run` and run in workerd, and the Supabase Edge
// Function example (`npm:aalgate` in its deno.json, no copied files). Nothing here resolves "aalgate"
// from this repository: every import goes through the installed tarball.
// Run by `make test-package` (after `make module`); `node --test tests/package/`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixtures, mintTokens } from "../runtime/conformance-lib.mjs";
import { runInWorkerd } from "../runtime/front-doors.mjs";
import { startUpstream } from "../runtime/upstream.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const DENO = process.env.DENO ?? (fs.existsSync(path.join(root, "node_modules/@deno/linux-x64-glibc/deno"))
  ? path.join(root, "node_modules/@deno/linux-x64-glibc/deno")
  : "deno");
const WRANGLER = path.join(root, "node_modules/.bin/wrangler");
const exec = promisify(execFile);

// What the tarball must hold, exactly: the shim, its types, the three wasm-bindgen glues with their wasm
// and types, README and package.json (npm adds those two itself), and the two license texts.
const EXPECTED_FILES = [
  "README.md",
  "package.json",
  "LICENSE-APACHE", "LICENSE-MIT",
  "js/deno-send.js", "js/deno.js", "js/gate.js", "js/index.d.ts", "js/node.js", "js/web.d.ts", "js/web.js", "js/workers.js",
  ...["deno", "node", "web"].flatMap((t) => ["aalgate.d.ts", "aalgate.js", "aalgate_bg.wasm"].map((f) => `pkg/${t}/${f}`)),
].sort();
const FORBIDDEN = /^(tests|src|examples|bench|fuzz|scripts|target|sql|build|build-selftest|node_modules|\.deno|\.wrangler|\.ci)\/|^(Cargo\.(toml|lock)|Makefile|wrangler\.toml|package-lock\.json)$|\.rs$/;

let tmp;
let tarball;
let packed; // file list, "package/" stripped
let extracted;
let tokens;
const SUB = fixtures.tokens.aal2_enrolled.claims.sub;
// The fixture project (inline JWKS, enrollment from the hook claim): decisions need no network.
const { supabase_url: SUPABASE_URL, routes: _routes, ...CONFIG } = fixtures.configs.main;

const env = (extra = {}) => ({
  ...process.env,
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  XDG_CONFIG_HOME: path.join(tmp, "xdg"),
  DENO_DIR: path.join(tmp, "deno-dir"),
  NO_COLOR: "1",
  ...extra,
});

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aalgate-package-"));
  // prepack runs (it only checks pkg/ is built); its banner goes to stderr under --json.
  const { stdout } = await exec("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: root, env: env(), timeout: 60_000 });
  const [info] = JSON.parse(stdout);
  tarball = path.join(tmp, info.filename);
  packed = (await exec("tar", ["-tzf", tarball])).stdout.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, "")).sort();
  extracted = path.join(tmp, "extracted");
  fs.mkdirSync(extracted);
  await exec("tar", ["-xzf", tarball, "-C", extracted, "--strip-components=1"]);
  tokens = await mintTokens(Math.floor(Date.now() / 1000));
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fresh project in tmp/<name> with the tarball installed from the local npm cache only. */
async function project(name, dir = name) {
  const p = path.join(tmp, dir);
  fs.mkdirSync(p, { recursive: true });
  fs.writeFileSync(path.join(p, "package.json"), JSON.stringify({ name: `consumer-${name}`, private: true, type: "module" }));
  await exec("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: p, env: env(), timeout: 60_000 });
  const installed = fs.readdirSync(path.join(p, "node_modules")).filter((n) => !n.startsWith("."));
  assert.deepEqual(installed, ["aalgate"], "installing aalgate brings nothing else along");
  return p;
}

// One probe, the same in Node and Deno: decisions on /rest/v1/todos for a few fixture tokens, and a
// configuration error. Its input comes in AALGATE_PROBE (JSON), its result is one JSON line.
const probeSource = (specifier) => `import { createGate } from ${JSON.stringify(specifier)};
const input = JSON.parse(globalThis.Deno ? Deno.env.get("AALGATE_PROBE") : process.env.AALGATE_PROBE);
const gate = createGate(input.config, { env: input.env, log: false });
const out = { entry: import.meta.resolve(${JSON.stringify(specifier)}), results: {} };
for (const [name, token] of Object.entries(input.tokens)) {
  const headers = { apikey: input.apikey };
  if (token) headers.authorization = "Bearer " + token;
  const d = await gate.check(new Request("https://project.example/rest/v1/todos", { headers }));
  out.results[name] = { allowed: d.allowed, status: d.status, code: d.code, sub: d.claims?.sub ?? null,
    challenge: d.response?.headers.get("www-authenticate") ?? null };
}
try {
  createGate({ supabase_url: "https://x.supabase.co", keys: { jwks_url: 7 } }, { log: false });
  out.configError = null;
} catch (e) {
  out.configError = e instanceof Error ? e.message : String(e);
}
console.log(JSON.stringify(out));
`;

const probeInput = () => JSON.stringify({
  config: { ...CONFIG, supabase_url: SUPABASE_URL },
  env: fixtures.secret_env,
  apikey: fixtures.api_keys.publishable,
  tokens: { aal1_enrolled: tokens.aal1_enrolled, aal2_enrolled: tokens.aal2_enrolled, forged: tokens.forged, expired: tokens.expired, none: null },
});

function assertProbe(out, entry) {
  assert.equal(out.entry, entry, "aalgate resolved to the installed package's entry for this runtime");
  const r = out.results;
  assert.deepEqual([r.aal1_enrolled.allowed, r.aal1_enrolled.status, r.aal1_enrolled.code], [false, 401, "aal2_required"]);
  assert.match(r.aal1_enrolled.challenge, /error="insufficient_user_authentication".*acr_values="aal2"/);
  assert.deepEqual(r.aal2_enrolled, { allowed: true, status: 200, code: null, sub: SUB, challenge: null });
  assert.deepEqual([r.forged.status, r.forged.code], [401, "signature_invalid"]);
  assert.deepEqual([r.expired.status, r.expired.code], [401, "token_expired"]);
  assert.deepEqual([r.none.allowed, r.none.code], [true, null], "no token: anonymous, left to the route");
  assert.match(out.configError, /field `keys\.jwks_url`/);
}

/** Names a JS entry exports (export const {…} / export const x / export [async] function x). */
function jsExports(file) {
  const src = fs.readFileSync(file, "utf8");
  const names = new Set();
  for (const m of src.matchAll(/^export\s+const\s+\{([^}]+)\}/gm)) for (const n of m[1].split(",")) names.add(n.trim().split(":").pop().trim());
  for (const m of src.matchAll(/^export\s+(?:const|let|var)\s+(\w+)/gm)) names.add(m[1]);
  for (const m of src.matchAll(/^export\s+(?:async\s+)?function\s*\*?\s*(\w+)/gm)) names.add(m[1]);
  return [...names].filter(Boolean).sort();
}

/** Value names a .d.ts declares (functions, consts, classes), following `export * from "./x.js"`. */
function dtsValues(file) {
  const src = fs.readFileSync(file, "utf8");
  const names = new Set();
  for (const m of src.matchAll(/^export\s+(?:declare\s+)?(?:function|const|let|class)\s+(\w+)/gm)) names.add(m[1]);
  for (const m of src.matchAll(/^export\s+\*\s+from\s+"(\.[^"]+)\.js"/gm)) for (const n of dtsValues(path.join(path.dirname(file), `${m[1]}.d.ts`))) names.add(n);
  return [...names].sort();
}

test("npm pack: the built module and its types, nothing of the repository's tests, sources or tools", () => {
  assert.deepEqual(packed, EXPECTED_FILES);
  assert.deepEqual(packed.filter((f) => FORBIDDEN.test(f)), []);
  for (const t of ["deno", "node", "web"]) {
    assert.ok(fs.readFileSync(path.join(extracted, `pkg/${t}/aalgate_bg.wasm`)).equals(fs.readFileSync(path.join(root, `pkg/${t}/aalgate_bg.wasm`))), `pkg/${t} wasm as built`);
  }
  // Nothing left out: every relative import of a packed module names a packed file.
  for (const f of packed.filter((f) => /\.(js|d\.ts)$/.test(f))) {
    const src = fs.readFileSync(path.join(extracted, f), "utf8");
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      let target = path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1]));
      if (f.endsWith(".d.ts") && target.endsWith(".js")) target = target.replace(/\.js$/, ".d.ts");
      assert.ok(packed.includes(target), `${f} imports ${m[1]}, which is not in the tarball`);
    }
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(extracted, "package.json"), "utf8"));
  assert.equal(manifest.name, "aalgate");
  assert.equal(manifest.private, undefined, "publishable");
  for (const field of ["dependencies", "optionalDependencies", "peerDependencies", "bundleDependencies"]) {
    assert.equal(manifest[field], undefined, `${field}: users install aalgate alone`);
  }
  assert.ok(packed.includes(manifest.types.replace(/^\.\//, "")), "top-level types packed");
});

test("types for every export condition, covering what each entry exports", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(extracted, "package.json"), "utf8"));
  const conditions = manifest.exports["."];
  assert.deepEqual(Object.keys(conditions), ["deno", "workerd", "node", "default"]);
  for (const [condition, target] of Object.entries(conditions)) {
    assert.equal(Object.keys(target)[0], "types", `${condition}: "types" comes first`);
    for (const k of ["types", "default"]) assert.ok(packed.includes(target[k].replace(/^\.\//, "")), `${condition}.${k} packed`);
    const js = jsExports(path.join(extracted, target.default));
    assert.ok(js.length > 0, `${condition}: exports found in ${target.default}`);
    assert.deepEqual(dtsValues(path.join(extracted, target.types)), js, `${condition}: ${target.types} declares exactly what ${target.default} exports`);
  }
});

test("Node: import { createGate } from \"aalgate\" in a fresh project", async () => {
  const p = await project("node");
  fs.writeFileSync(path.join(p, "probe.mjs"), probeSource("aalgate"));
  const { stdout } = await exec(process.execPath, ["probe.mjs"], { cwd: p, env: env({ AALGATE_PROBE: probeInput() }), timeout: 60_000 });
  assertProbe(JSON.parse(stdout), new URL(`file://${path.join(p, "node_modules/aalgate/js/node.js")}`).href);
});

test("Deno: npm:aalgate from a local node_modules (nodeModulesDir manual), run and type-checked", async () => {
  const p = await project("deno");
  fs.writeFileSync(path.join(p, "deno.json"), JSON.stringify({ nodeModulesDir: "manual" }));
  fs.writeFileSync(path.join(p, "probe.mjs"), probeSource("npm:aalgate"));
  const flags = ["--no-remote", "--no-prompt", `--allow-read=${p}`, "--allow-env"];
  const { stdout } = await exec(DENO, ["run", ...flags, "probe.mjs"], { cwd: p, env: env({ AALGATE_PROBE: probeInput() }), timeout: 60_000 });
  assertProbe(JSON.parse(stdout), new URL(`file://${path.join(p, "node_modules/aalgate/js/deno.js")}`).href);
  // The "deno" condition's types are found and used: a wrong call is an error, the right ones are not.
  fs.writeFileSync(path.join(p, "typed.ts"), `import { createGate, createGateFromEnv, type AalGate, type Decision } from "npm:aalgate";
const gate: AalGate = createGate({ supabase_url: "https://x.supabase.co" }, { log: false, pathPrefix: "/functions/v1" });
const d: Decision = await gate.check(new Request("https://x.supabase.co/rest/v1/t"));
const code: string | null = d.code;
const handler: (r: Request) => Promise<Response> = gate.protect((_r, { claims }) => Response.json({ sub: claims?.sub ?? null }));
void [code, handler, createGateFromEnv];
// @ts-expect-error a config is an object or JSON text
createGate(42);
// @ts-expect-error status is a number
const s: string = d.status;
void s;
`);
  await exec(DENO, ["check", "--no-remote", "typed.ts"], { cwd: p, env: env(), timeout: 120_000 });
});

test("Worker: wrangler deploy --dry-run bundles aalgate (workerd condition) with its wasm, and it runs in workerd", async () => {
  const p = await project("worker");
  fs.writeFileSync(path.join(p, "worker.js"), `import { createGateFromEnv } from "aalgate";
let gate;
export default {
  async fetch(request, env) {
    gate ??= createGateFromEnv({ env, log: false });
    if (new URL(request.url).pathname === "/whoami") {
      return gate.protect((_req, { claims }) => Response.json({ sub: claims?.sub ?? null, aal: claims?.aal ?? null }))(request);
    }
    return new Response("not found", { status: 404 });
  },
};
`);
  fs.writeFileSync(path.join(p, "wrangler.toml"), `name = "aalgate-package-test"\nmain = "worker.js"\ncompatibility_date = "2026-04-26"\n`);
  const dist = path.join(p, "dist");
  await exec(WRANGLER, ["deploy", "--dry-run", "--outdir", dist], { cwd: p, env: env(), timeout: 120_000 });
  const emitted = fs.readdirSync(dist);
  const wasm = emitted.filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, `one wasm module emitted: ${emitted.join(", ")}`);
  assert.ok(fs.readFileSync(path.join(dist, wasm[0])).equals(fs.readFileSync(path.join(root, "pkg/web/aalgate_bg.wasm"))), "the web build's wasm");
  const bundle = fs.readFileSync(path.join(dist, "worker.js"), "utf8");
  assert.match(bundle, new RegExp(`from\\s*["']\\./${wasm[0].replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}["']`), "the bundle imports the emitted wasm");
  assert.match(bundle, /cf-connecting-ip/, "the workerd entry (js/workers.js) was bundled");

  const w = await runInWorkerd(path.join(dist, "worker.js"), {
    SUPABASE_URL, AALGATE_CONFIG: JSON.stringify(CONFIG), ...fixtures.secret_env,
  }, { modulesRoot: dist });
  try {
    const get = (token) => fetch(`${w.url}/whoami`, { headers: { authorization: `Bearer ${tokens[token]}` } });
    const refused = await get("aal1_enrolled");
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).code, "aal2_required");
    const ok = await get("aal2_enrolled");
    assert.deepEqual([ok.status, await ok.json()], [200, { sub: SUB, aal: "aal2" }]);
  } finally {
    await w.close();
  }
});

/** Runs a Deno program, waits for its "listening on" line, returns its base URL and a close(). */
function spawnDeno(args, { cwd, extraEnv }) {
  const child = spawn(DENO, args, { cwd, env: env(extraEnv), stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  const url = new Promise((resolve, reject) => {
    const watch = (chunk) => {
      seen += chunk;
      const m = seen.match(/listening on (http:\/\/[\d.:]+)/i);
      if (m) resolve(m[1]);
    };
    child.stdout.setEncoding("utf8").on("data", watch);
    child.stderr.setEncoding("utf8").on("data", watch);
    child.on("exit", (code) => reject(new Error(`deno exited (${code}) before listening:\n${seen}`)));
  });
  const close = () => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on("exit", resolve);
    child.kill();
  });
  return { url, close };
}

test("Edge Function example: npm:aalgate from its deno.json, no copied files, run as written", async () => {
  // The example as a user's Supabase project: supabase/ copied as it is, aalgate npm-installed at the root.
  const p = path.join(tmp, "edge");
  fs.cpSync(path.join(root, "examples/edge-function"), p, { recursive: true });
  const fnDir = path.join(p, "supabase/functions/reports");
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(fnDir, "deno.json"), "utf8")).imports, { aalgate: "npm:aalgate@0.1.0" });
  assert.doesNotMatch(fs.readFileSync(path.join(p, "supabase/config.toml"), "utf8"), /^\s*static_files/m, "no static_files needed");
  const copied = fs.readdirSync(p, { recursive: true }).filter((f) => /\.wasm$|aalgate\.js$|deno\.js$/.test(f));
  assert.deepEqual(copied, [], "the example carries no copy of the module");
  await project("edge", "edge");

  // The project as a local stand-in (issuer and Auth): a protected function must never call it.
  const upstream = await startUpstream({ authUsers: fixtures.auth_users, apiKeys: [fixtures.api_keys.publishable] });
  const edgeTokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
  const config = ["--config", "supabase/functions/reports/deno.json"];
  const fn = spawnDeno(
    ["run", "--no-check", "--no-remote", "--no-prompt", "--node-modules-dir=manual", ...config,
      "--allow-net=127.0.0.1", "--allow-env", `--allow-read=${p}`, "supabase/functions/reports/index.ts"],
    { cwd: p, extraEnv: { SUPABASE_URL: upstream.url, AALGATE_CONFIG: JSON.stringify(CONFIG), ...fixtures.secret_env, DENO_SERVE_ADDRESS: "tcp:127.0.0.1:0" } },
  );
  try {
    const base = await fn.url;
    const get = (token) => fetch(`${base}/reports`, { headers: { authorization: `Bearer ${edgeTokens[token]}` } });
    const refused = await get("aal1_enrolled");
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate"), /insufficient_user_authentication/);
    assert.equal((await refused.json()).code, "aal2_required");
    const ok = await get("aal2_enrolled");
    assert.deepEqual([ok.status, await ok.json()], [200, { report: "quarterly", for: SUB, aal: "aal2" }]);
    assert.deepEqual([upstream.received.length, upstream.auth.lookups.length], [0, 0], "a protected function never calls the project");
  } finally {
    await fn.close();
    await upstream.close();
  }
  // The function's TypeScript (index.ts, handler.ts) checks against the package's types.
  await exec(DENO, ["check", "--no-remote", "--node-modules-dir=manual", ...config, "supabase/functions/reports/index.ts"], { cwd: p, env: env(), timeout: 120_000 });
});
