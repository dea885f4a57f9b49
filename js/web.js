// aalgate for other module loaders (the `web` build): call `await init()` (or `init(moduleOrUrl)`) once
// before createGate.
import wasmInit, { Gate } from "../pkg/web/aalgate.js";
import { bind } from "./gate.js";

export async function init(moduleOrPath) {
  await wasmInit(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath });
}

export const { createGate, createGateFromEnv } = bind({ Gate, decodesBodies: false, websockets: "", clientIp: () => undefined });
