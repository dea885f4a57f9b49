// Drops the `name` custom section (function names for stack traces) from the wasm files given, after
// wasm-bindgen has run: it is about a tenth of the Worker's wasm and nothing at run time reads it
// (issue 15). The module gets the same from wasm-bindgen's `--remove-name-section`; the Worker needs
// this because worker-build runs wasm-bindgen itself and offers no such option. Cargo's `strip = true`
// is not used because it also drops `target_features`, which wasm-bindgen reads.
// Usage: node scripts/strip-wasm-names.mjs <file.wasm>...
import fs from "node:fs";
import { sections } from "./wasm-sections.mjs";

for (const file of process.argv.slice(2)) {
  const buf = fs.readFileSync(file);
  const kept = [buf.subarray(0, 8)];
  let dropped = 0;
  for (const s of sections(buf)) {
    if (s.id === 0 && s.custom === "name") dropped += s.end - s.start;
    else kept.push(buf.subarray(s.start, s.end));
  }
  if (dropped) fs.writeFileSync(file, Buffer.concat(kept));
  console.log(`${file}: ${dropped ? `dropped the name section (${dropped} bytes)` : "no name section"}`);
}
