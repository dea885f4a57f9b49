// Starting the built front doors for tests: the Worker in real workerd (through Miniflare's API, which
// runs the workerd binary from npm), and the portable module inside a JavaScript Worker or in Node.
import path from "node:path";
import { Miniflare, Log, LogLevel } from "miniflare";
import { startUpstream } from "./upstream.mjs";
import { fixtures, mintTokens, localConfigs } from "./conformance-lib.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/** Runs a Worker script (ES module; `.wasm` imports as compiled modules) in workerd through Miniflare's API with the given bindings; collects its console. */
export async function runInWorkerd(scriptPath, bindings, { port, modulesRoot } = {}) {
  const logs = [];
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    ...(modulesRoot ? { modulesRoot } : {}),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-26",
    // No `Request.cf` download: tests and the demo touch nothing beyond loopback.
    cf: false,
    bindings,
    ...(port ? { host: "127.0.0.1", port } : {}),
    log: new Log(LogLevel.NONE),
    handleRuntimeStdio(stdout, stderr) {
      for (const s of [stdout, stderr]) s.on("data", (d) => logs.push(...d.toString().split("\n").filter(Boolean)));
    },
  });
  const url = await mf.ready;
  return { url: url.toString().replace(/\/$/, ""), logs, close: () => mf.dispose() };
}

/** Starts build/index.js (the Rust Worker) in workerd with the given Worker bindings (vars and secrets). */
export function startWorker(bindings, { port } = {}) {
  return runInWorkerd(path.join(root, "build/index.js"), bindings, { port });
}

/**
 * Starts build-selftest/index.js: the same Worker built with the test-only feature `selftest`
 * (`make worker-selftest`), whose `/__aalgate/selftest/*` endpoints answer while the binding
 * `AALGATE_SELFTEST` is "1". Only for the tests and benchmarks that call those endpoints.
 */
export function startSelftestWorker(bindings, { port } = {}) {
  return runInWorkerd(path.join(root, "build-selftest/index.js"), bindings, { port });
}

export { send } from "./send.mjs";

/**
 * Bundles examples/js-worker (a JavaScript Worker importing the portable module by name) the way
 * wrangler would, and starts it in workerd. The bundle sits in build/ so that the wasm import it keeps
 * ("../pkg/web/aalgate_bg.wasm") names pkg/web/ under the modules root (workerd module names may not
 * contain "..").
 */
export async function startJsWorker(bindings) {
  const { build } = await import("esbuild");
  const outfile = path.join(root, "build/js-worker.js");
  await build({
    entryPoints: [path.join(root, "examples/js-worker/worker.js")],
    bundle: true,
    format: "esm",
    conditions: ["workerd"],
    external: ["*.wasm"],
    outfile,
    logLevel: "warning",
  });
  return runInWorkerd(outfile, bindings, { modulesRoot: root });
}

/**
 * Starts one front door per fixture config in front of a fresh stand-in upstream (what each
 * conformance runner needs): `start(config)` returns { url, logs?, close }.
 */
export async function startTableDoors(start) {
  const upstream = await startUpstream({ authUsers: fixtures.auth_users, apiKeys: [fixtures.api_keys.publishable] });
  const tokens = await mintTokens(Math.floor(Date.now() / 1000), { issuerBase: upstream.url });
  const doors = {};
  for (const [name, cfg] of Object.entries(localConfigs(upstream.url))) doors[name] = await start(cfg);
  return {
    upstream,
    tokens,
    doors,
    table: { urlFor: (n) => doors[n].url, upstream, tokens, logsFor: (n) => doors[n].logs ?? [] },
    close: async () => {
      for (const d of Object.values(doors)) await d.close();
      await upstream.close();
    },
  };
}

/** Serves a fetch handler from Node (the portable module's `proxy`) on a loopback port. */
export async function serveInNode(handler) {
  const { serve } = await import("@hono/node-server");
  return new Promise((resolve) => {
    const server = serve({ fetch: handler, port: 0, hostname: "127.0.0.1" }, (info) => {
      resolve({ url: `http://127.0.0.1:${info.port}`, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) });
    });
  });
}
