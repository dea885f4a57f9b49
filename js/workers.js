// aalgate for Cloudflare Workers (workerd, wrangler): the `web` build, its wasm imported as a compiled
// module the way Workers load wasm, and initialised synchronously. Only the "workerd" export condition
// maps here: `CF-Connecting-IP` is trusted, which only Cloudflare's edge makes safe.
import { Gate, initSync } from "../pkg/web/aalgate.js";
import wasmModule from "../pkg/web/aalgate_bg.wasm";
import { bind } from "./gate.js";

initSync({ module: wasmModule });

export const { createGate, createGateFromEnv } = bind({
  Gate,
  decodesBodies: false,
  websockets: "workerd",
  // Set by Cloudflare's edge; a client cannot choose it there.
  clientIp: (request) => request.headers.get("cf-connecting-ip") ?? undefined,
});
