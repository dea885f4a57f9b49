// Sizes of the two wasm builds (issue 15, item 2): raw, gzip -9 and brotli bytes of the Worker's wasm
// (build/index_bg.wasm) and the module's (pkg/web/aalgate_bg.wasm; the three glues share one wasm),
// with the largest sections (code, data, and every custom section such as `name`). Prints figures;
// asserts nothing. Run after `make worker module` (`make size` does both).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { root } from "./lib.mjs";
import { sections } from "../scripts/wasm-sections.mjs";

const BUILDS = { "Worker (build/index_bg.wasm)": "build/index_bg.wasm", "module (pkg/web/aalgate_bg.wasm)": "pkg/web/aalgate_bg.wasm" };
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
console.log("| build | raw | gzip -9 | brotli | largest sections |");
console.log("|---|---|---|---|---|");
for (const [label, file] of Object.entries(BUILDS)) {
  const p = path.join(root, file);
  if (!fs.existsSync(p)) {
    console.log(`| ${label} | missing: run make worker module | | | |`);
    continue;
  }
  const buf = fs.readFileSync(p);
  const gz = zlib.gzipSync(buf, { level: 9 }).length;
  const br = zlib.brotliCompressSync(buf, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  const top = sections(buf).sort((a, b) => b.bytes - a.bytes).slice(0, 4).map((s) => `${s.name} ${kb(s.bytes)}`).join(", ");
  console.log(`| ${label} | ${kb(buf.length)} | ${kb(gz)} | ${kb(br)} | ${top} |`);
}
console.log("\n(goal: each ≤ 150 KB gzipped)");
