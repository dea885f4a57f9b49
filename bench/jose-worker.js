// Comparison Worker: panva/jose `jwtVerify` with a local JWKS (issuer, audience, ES256), then the same
// proxying as aalgate. Verification only: jose has no notion of "aal2 if enrolled".
import { createLocalJWKSet, jwtVerify } from "jose";

let jwks;
export default {
  async fetch(req, env) {
    jwks ??= createLocalJWKSet(JSON.parse(env.JWKS));
    if (new URL(req.url).pathname === "/__bench/decide") {
      // Same shape as aalgate's selftest endpoint: many verifications inside one request.
      const { tokens, repeat } = await req.json();
      let ok = 0;
      for (let r = 0; r < repeat; r++) {
        for (const t of tokens) {
          try { await jwtVerify(t, jwks, { issuer: env.ISSUER, audience: "authenticated", algorithms: ["ES256"] }); ok++; } catch {}
        }
      }
      return Response.json({ decisions: repeat * tokens.length, forwarded: ok });
    }
    const auth = req.headers.get("authorization");
    if (auth) {
      try {
        await jwtVerify(auth.slice(7), jwks, { issuer: env.ISSUER, audience: "authenticated", algorithms: ["ES256"] });
      } catch (e) {
        return new Response(JSON.stringify({ code: e.code }), { status: 401 });
      }
    }
    const url = new URL(req.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.body });
  },
};
