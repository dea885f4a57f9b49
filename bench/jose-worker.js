// Comparison Worker: panva/jose `jwtVerify` with a local JWKS (issuer, audience, ES256), then the same
// proxying as aalgate. Verification only: jose has no notion of "aal2 if enrolled".
import { createLocalJWKSet, jwtVerify } from "jose";

let jwks;
export default {
  async fetch(req, env) {
    jwks ??= createLocalJWKSet(JSON.parse(env.JWKS));
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
