// Starting the built front doors for tests: the Worker in real workerd (through Miniflare's API, which
// runs the workerd binary from npm) and raw HTTP requests to it (node:http, so paths and repeated
// headers arrive exactly as written).
import http from "node:http";
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

/** One raw HTTP request. `headers` is a list of [name, value] pairs; repeated names are sent as repeated lines. */
export function send(base, { method = "GET", path: p, query, headers = [], body }) {
  const target = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method,
        agent: false,
        path: query ? `${p}?${query}` : p,
        // The array form sends repeated names as repeated lines, and adds no defaults: Host goes in by hand.
        headers: [["host", target.host], ...headers].flat(),
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    if (body) req.end(body); else req.end();
  });
}
