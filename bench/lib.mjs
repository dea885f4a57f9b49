// What the benchmarks share: the project root, a JWK's public half, and a JavaScript Worker of bench/
// bundled with esbuild and started in its own workerd (Miniflare).
import path from "node:path";
import { execFileSync } from "node:child_process";
import { Miniflare, Log, LogLevel } from "miniflare";

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

/** A JWK without its private member `d`. */
export const pub = (k) => Object.fromEntries(Object.entries(k).filter(([n]) => n !== "d"));

/** Bundles `file` (relative to the root) and starts it with `bindings`: { url, close }. */
export async function jsWorker(file, bindings) {
  // Inside the project: workerd refuses module paths that climb out of the working directory.
  const out = path.join(root, "build/bench", path.basename(file));
  execFileSync(path.join(root, "node_modules/.bin/esbuild"), [path.join(root, file), "--bundle", "--format=esm", "--platform=neutral", `--outfile=${out}`], { stdio: "ignore" });
  const mf = new Miniflare({ modules: true, scriptPath: out, compatibilityDate: "2026-04-26", bindings, cf: false, log: new Log(LogLevel.NONE) });
  return { url: (await mf.ready).toString().replace(/\/$/, ""), close: () => mf.dispose() };
}
