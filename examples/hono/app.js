// aalgate as Hono middleware: `gate.check` decides, Hono routes. Runs wherever Hono runs (Deno, Node,
// Workers); this file is imported by tests/runtime/node.test.mjs.
import { Hono } from "hono";

/**
 * Refuses what the gate refuses; otherwise exposes the verified claims as c.get("claims") and hands on
 * the request as the gate judged it (inbound x-aalgate-* headers removed, identity headers added).
 */
export function aalgate(gate) {
  return async (c, next) => {
    const decision = await gate.check(c.req.raw);
    if (!decision.allowed) return decision.response;
    c.req.raw = decision.request;
    c.set("claims", decision.claims);
    await next();
  };
}

export function app(gate) {
  const app = new Hono();
  app.use("/rest/v1/*", aalgate(gate));
  app.get("/rest/v1/me", (c) => c.json({ sub: c.get("claims")?.sub ?? null }));
  return app;
}
