// An existing JavaScript Worker that adds aalgate in front of its own routes and proxies the rest to
// Supabase. `import ... from "aalgate"` resolves to the Workers build through the "workerd" condition.
import { createGateFromEnv } from "aalgate";

let gate; // built once per isolate: keys and verified tokens are cached inside

export default {
  async fetch(request, env, ctx) {
    gate ??= createGateFromEnv({ env });
    const url = new URL(request.url);
    if (url.pathname === "/whoami") {
      // Your own route, judged by the same rules as the project's paths (here: the fallback rule).
      return gate.protect((_req, { claims }) => Response.json({ sub: claims?.sub ?? null, aal: claims?.aal ?? null }))(request, env, ctx);
    }
    // env and ctx: the gate keeps its JWKS and Auth fetches alive under ctx.waitUntil.
    return gate.proxy()(request, env, ctx);
  },
};
