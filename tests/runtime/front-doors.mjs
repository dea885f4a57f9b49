// Starting the built front doors for tests: the Worker in real workerd (through Miniflare's API, which
// runs the workerd binary from npm), and the portable module inside a JavaScript Worker or in Node.
import path from "node:path";
import { Miniflare, Log, LogLevel } from "miniflare";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/** Starts build/index.js in workerd with the given Worker bindings (vars and secrets). */
export async function startWorker(bindings, { port } = {}) {
  const logs = [];
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(root, "build/index.js"),
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
    conditions: ["workerd", "worker"],
    external: ["*.wasm"],
    outfile,
    logLevel: "warning",
  });
  const logs = [];
  const mf = new Miniflare({
    modules: true,
    scriptPath: outfile,
    modulesRoot: root,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-26",
    cf: false,
    bindings,
    log: new Log(LogLevel.NONE),
    handleRuntimeStdio(stdout, stderr) {
      for (const s of [stdout, stderr]) s.on("data", (d) => logs.push(...d.toString().split("\n").filter(Boolean)));
    },
  });
  const url = await mf.ready;
  return { url: url.toString().replace(/\/$/, ""), logs, close: () => mf.dispose() };
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
