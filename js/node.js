// aalgate for Node >= 20 (wasm-bindgen --target experimental-nodejs-module).
import { Gate } from "../pkg/node/aalgate.js";
import { bind } from "./gate.js";

export const { createGate, createGateFromEnv } = bind({
  Gate,
  decodesBodies: true,
  // Node's fetch refuses `Upgrade`: Realtime cannot be proxied from here.
  websockets: false,
  // A fetch handler in Node does not see the socket; @hono/node-server passes { incoming }.
  clientIp: (_request, info) => info?.incoming?.socket?.remoteAddress,
});
