// aalgate for Deno and Supabase Edge Functions (wasm-bindgen --target deno).
import { Gate } from "../pkg/deno/aalgate.js";
import { bind } from "./gate.js";
import { send } from "./deno-send.js";

export const { createGate, createGateFromEnv } = bind({
  Gate,
  decodesBodies: true,
  // Realtime sockets are relayed with Deno.upgradeWebSocket and a WebSocket client, every frame judged.
  websockets: "deno",
  // Deno's fetch would send a body's Content-Length as chunked (see deno-send.js).
  send,
  // Deno.serve passes the peer address as the handler's second argument.
  clientIp: (_request, info) => info?.remoteAddr?.hostname,
});
