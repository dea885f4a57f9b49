// The sections of a wasm binary, read by hand: the format is a magic, a version and then sections of
// (id byte, LEB128 size, payload), and the two callers (bench/size.mjs, scripts/strip-wasm-names.mjs)
// need only that outer layer, which no npm package we already depend on exposes.
const SECTION_NAMES = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount"];

/** [{ id, name, start, end }] for each section of `buf` (a Buffer); `start`/`end` span the whole
 * section (id byte included); custom sections are named by their own name. */
export function sections(buf) {
  if (buf.length < 8 || buf.readUInt32LE(0) !== 0x6d736100) throw new Error("not a wasm binary");
  const out = [];
  let at = 8;
  const leb = () => {
    let value = 0, shift = 0, byte;
    do {
      if (at >= buf.length) throw new Error("truncated wasm binary");
      byte = buf[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  while (at < buf.length) {
    const start = at;
    const id = buf[at++];
    const size = leb();
    const body = at;
    if (body + size > buf.length) throw new Error("truncated wasm binary");
    let name = SECTION_NAMES[id] ?? `section ${id}`;
    let custom;
    if (id === 0) {
      const len = leb();
      custom = buf.subarray(at, at + len).toString("utf8");
      name = `custom "${custom}"`;
    }
    out.push({ id, name, custom, start, end: body + size, bytes: size });
    at = body + size;
  }
  return out;
}
