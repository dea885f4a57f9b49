// aalgate as a reverse proxy in Node >= 20, served by @hono/node-server (any server that takes a fetch
// handler works). From the repository root, after `make module`:
//   SUPABASE_URL=https://<ref>.supabase.co node examples/node-proxy/main.js
// In your own project: npm install aalgate @hono/node-server.
import { serve } from "@hono/node-server";
import { createGateFromEnv } from "aalgate";

const gate = createGateFromEnv();
serve({
  fetch: gate.proxy(),
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 8787),
}, ({ address, port }) => console.log(`aalgate listening on http://${address}:${port} -> ${gate.upstream}`));
