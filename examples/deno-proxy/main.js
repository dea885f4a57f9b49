// aalgate as a reverse proxy in Deno, in front of the project in SUPABASE_URL (AALGATE_CONFIG and
// SUPABASE_JWT_SECRET optional). From the repository root, after `make module`:
//   SUPABASE_URL=https://<ref>.supabase.co deno run --allow-net --allow-env --allow-read=. examples/deno-proxy/main.js
// In your own project import from "npm:aalgate", or map "aalgate" to "npm:aalgate@0.1.0" in deno.json.
import { createGateFromEnv } from "aalgate";

const gate = createGateFromEnv();
Deno.serve({
  hostname: Deno.env.get("HOST") ?? "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 8787),
  onListen: ({ hostname, port }) => console.log(`aalgate listening on http://${hostname}:${port} -> ${gate.upstream}`),
}, gate.proxy());
