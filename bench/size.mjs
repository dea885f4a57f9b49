// Sizes of the two wasm builds (issue 15, item 2): raw, gzip -9 and brotli bytes of the Worker's wasm
// (build/index_bg.wasm) and the module's (pkg/web/aalgate_bg.wasm; the three glues share one wasm),
// with the largest sections (code, data, and every custom section such as `name`). Prints figures;
// asserts nothing. Run after `make worker module` (`make size` does both).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { root } from "./lib.mjs";

const BUILDS = { "Worker (build/index_bg.wasm)": "build/index_bg.wasm", "module (pkg/web/aalgate_bg.wasm)": "pkg/web/aalgate_bg.wasm" };
const SECTION_NAMES = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount"];

/** The sections of a wasm binary: [{ name, bytes }] (custom sections by their own name). */
function sections(buf) {
  if (buf.readUInt32LE(0) !== 0x6d736100) throw new Error("not a wasm binary");
  const out = [];
  let at = 8;
  const leb = () => {
    let value = 0, shift = 0, byte;
    do { byte = buf[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return value;
  };
  while (at < buf.length) {
    const id = buf[at++];
    const size = leb();
    const start = at;
    let name = SECTION_NAMES[id] ?? `section ${id}`;
    if (id === 0) {
      const len = leb();
      name = `custom "${buf.subarray(at, at + len).toString("utf8")}"`;
    }
    out.push({ name, bytes: size });
    at = start + size;
  }
  return out;
}

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
