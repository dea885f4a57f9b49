// aalgate for Node >= 20 (wasm-bindgen --target experimental-nodejs-module).
import { Gate } from "../pkg/node/aalgate.js";
import { bind } from "./gate.js";

export const { createGate, createGateFromEnv } = bind({
  Gate,
  decodesBodies: true,
  // Node's fetch refuses `Upgrade` and a fetch handler never sees the socket: upgrades are answered
  // 501 here (README "Realtime": put the Worker or the Deno proxy in front of Realtime).
  websockets: "",
  // A fetch handler in Node does not see the socket; @hono/node-server passes { incoming }.
  clientIp: (_request, info) => info?.incoming?.socket?.remoteAddress,
});
