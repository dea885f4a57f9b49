// web.js: the index API plus `init`, which must be awaited once before createGate.
export * from "./index.js";
/** Instantiates the wasm (`moduleOrPath`: a WebAssembly.Module, URL, Response or bytes; default: next to the glue). */
export function init(moduleOrPath?: unknown): Promise<void>;
