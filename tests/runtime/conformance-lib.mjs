// Runtime-neutral conformance machinery shared by the workerd, Deno and Node runners: reads
// tests/conformance/{fixtures,cases}.json, mints the fixture tokens relative to the real clock (the
// runtimes read their own clock), and checks one observed response against a case's expectations.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { Buffer } from "node:buffer";
import { send } from "./send.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
export const fixtures = JSON.parse(fs.readFileSync(path.join(here, "../conformance/fixtures.json"), "utf8"));
export const cases = JSON.parse(fs.readFileSync(path.join(here, "../conformance/cases.json"), "utf8")).cases;

const b64u = (buf) => Buffer.from(buf).toString("base64url");

function resolveTimes(v, now) {
  if (typeof v === "string") {
    if (v === "now") return now;
    const m = v.match(/^now([+-])(\d+)$/);
    if (m) return m[1] === "+" ? now + Number(m[2]) : now - Number(m[2]);
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => resolveTimes(x, now));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveTimes(x, now)]));
  return v;
}

/**
 * Mints every fixture token. `issuerBase` replaces the fixtures' project URL inside `iss`, for front
 * doors whose upstream (and so issuer) is a local stand-in.
 */
export async function mintTokens(now = Math.floor(Date.now() / 1000), { issuerBase } = {}) {
  const out = {};
  const project = fixtures.configs.main.supabase_url;
  for (const [name, spec] of Object.entries(fixtures.tokens)) {
    const claims = resolveTimes(spec.claims, now);
    if (issuerBase && typeof claims.iss === "string" && claims.iss.startsWith(project)) {
      claims.iss = issuerBase + claims.iss.slice(project.length);
    }
    const key = spec.key ?? "";
    const rsa = fixtures.keys[key]?.kty === "RSA";
    const header = spec.header ?? (key === "hs256" ? { alg: "HS256", typ: "JWT" } : { alg: rsa ? "RS256" : "ES256", kid: fixtures.keys[key].kid, typ: "JWT" });
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
    let sig = Buffer.alloc(0);
    if (spec.unsigned) {
      // alg none: empty signature
    } else if (key === "hs256") {
      sig = crypto.createHmac("sha256", fixtures.hs256_secret).update(input).digest();
    } else if (rsa) {
      const { kty, n, e, d, p, q, dp, dq, qi } = fixtures.keys[key];
      const k = await crypto.subtle.importKey("jwk", { kty, n, e, d, p, q, dp, dq, qi }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
      sig = Buffer.from(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", k, Buffer.from(input)));
    } else {
      const jwk = { ...fixtures.keys[key] };
      delete jwk.kid; delete jwk.alg; delete jwk.use;
      const k = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
      sig = Buffer.from(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, k, Buffer.from(input)));
    }
    out[name] = `${input}.${b64u(sig)}`;
  }
  return out;
}

/** Signs one ES256 token with a private JWK (no `kid`/`alg` members needed). */
export async function signEs256(header, claims, privateJwk) {
  const jwk = { kty: privateJwk.kty, crv: privateJwk.crv, x: privateJwk.x, y: privateJwk.y, d: privateJwk.d };
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, Buffer.from(input));
  return `${input}.${b64u(sig)}`;
}

export function substitute(text, tokens) {
  return text.replace(/\{(token|api_key):([^}]+)\}/g, (_, kind, name) => {
    const v = kind === "token" ? tokens[name] : fixtures.api_keys[name];
    if (v === undefined) throw new Error(`no fixture ${kind} ${name}`);
    return v;
  });
}

/** Header list of a case, placeholders filled in. Repeated names stay separate entries. */
export function caseHeaders(c, tokens) {
  return c.headers.map(([n, v]) => [n, substitute(v, tokens)]);
}

/**
 * Compares what a front door did with what the case expects. `observed` =
 * { forwarded: bool, status, code, wwwAuthenticate, upstreamHeaders, wouldReject? }.
 * Returns a list of mismatch descriptions (empty when the case passes).
 */
export function check(c, observed) {
  const e = c.expect;
  const problems = [];
  if ("lookups" in e && observed.lookups !== e.lookups) {
    problems.push(`Auth lookups expected ${e.lookups}, got ${observed.lookups}`);
  }
  if (e.decision === "forward") {
    if (!observed.forwarded) problems.push(`expected forward, got ${observed.status} ${observed.code}`);
    for (const h of e.adds_headers ?? []) {
      if (observed.upstreamHeaders && !(h.toLowerCase() in observed.upstreamHeaders)) problems.push(`header ${h} did not reach the upstream`);
    }
    for (const h of e.stripped ?? []) {
      if (observed.upstreamHeaders && h.toLowerCase() in observed.upstreamHeaders) problems.push(`header ${h} reached the upstream`);
    }
    if ("would_reject" in e && observed.wouldReject !== undefined && observed.wouldReject !== e.would_reject) {
      problems.push(`would_reject expected ${e.would_reject}, got ${observed.wouldReject}`);
    }
  } else {
    // "reject" (a refusal) and "answer" (the gate's own endpoint) both stay at the gate.
    if (observed.forwarded) problems.push(`expected ${e.decision} ${e.status} ${e.code ?? ""}, but the upstream received the request`);
    if (observed.status !== e.status) problems.push(`status expected ${e.status}, got ${observed.status}`);
    if ("code" in e && observed.code !== e.code) problems.push(`code expected ${e.code}, got ${observed.code}`);
    if ("access_token" in e && Boolean(observed.accessToken) !== e.access_token) problems.push(`access_token expected ${e.access_token}`);
    for (const frag of e.www_authenticate_contains ?? []) {
      if (!(observed.wwwAuthenticate ?? "").includes(frag)) problems.push(`www-authenticate lacks ${frag}: ${observed.wwwAuthenticate}`);
    }
  }
  return problems;
}

/**
 * Runs the whole table against a front door: `urlFor(configName)` gives the base URL serving that
 * fixture config; `upstream` is the stand-in that records what arrived. Returns the mismatches.
 */
export async function runTable({ urlFor, upstream, tokens, logsFor = () => [] }) {
  const failures = [];
  for (const [i, c] of cases.entries()) {
    const config = c.config ?? "main";
    const marker = `${Date.now()}-${i}`;
    const headers = [...caseHeaders(c, tokens), ["x-conformance-case", marker]];
    let res;
    const lookupsBefore = upstream.auth.lookups.length;
    try {
      const query = c.query === undefined ? undefined : substitute(c.query, tokens);
      res = await send(urlFor(config), { method: c.method.toUpperCase(), path: c.path, query, headers });
    } catch (err) {
      failures.push(`${c.name}: request failed (${err.message}); log tail: ${logsFor(config).slice(-3).join(" | ")}`);
      continue;
    }
    const arrived = upstream.received.find((r) => r.headers?.["x-conformance-case"] === marker);
    let code = null;
    let accessToken = null;
    try {
      const body = JSON.parse(res.body.toString());
      code = body.code ?? null;
      accessToken = typeof body.access_token === "string" ? body.access_token : null;
    } catch {}
    const observed = {
      forwarded: Boolean(arrived),
      status: res.status,
      code: arrived ? null : code,
      wwwAuthenticate: res.headers["www-authenticate"],
      upstreamHeaders: arrived?.headers,
      // A client's own forwarded GET /auth/v1/user is not a lookup by the gate.
      lookups: upstream.auth.lookups.length - lookupsBefore - (arrived?.url === "/auth/v1/user" ? 1 : 0),
      accessToken,
    };
    const problems = check(c, observed);
    if (problems.length) failures.push(`${c.name}: ${problems.join("; ")}`);
  }
  return failures;
}

/** The fixture configs pointed at a local stand-in upstream. */
export function localConfigs(upstreamUrl) {
  return Object.fromEntries(Object.entries(fixtures.configs).map(([n, c]) => [n, { ...c, supabase_url: upstreamUrl }]));
}

/**
 * Sends `n` concurrent requests of one user whose enrollment only Auth can tell, while the stand-in
 * Auth answers slowly. Returns { statuses, lookups }: a front door must ask Auth once, not n times.
 */
export async function concurrentLookups(baseUrl, upstream, token, n = 12) {
  const before = upstream.auth.lookups.length;
  upstream.auth.delayMs = 300;
  try {
    const results = await Promise.all(Array.from({ length: n }, () =>
      send(baseUrl, { path: "/rest/v1/todos", headers: [["apikey", fixtures.api_keys.publishable], ["authorization", `Bearer ${token}`]] })));
    return { statuses: results.map((r) => r.status), lookups: upstream.auth.lookups.length - before };
  } finally {
    upstream.auth.delayMs = 0;
  }
}

// JWKS storm: `n` concurrent first requests of `n` different users while the JWKS endpoint is slow.
// The front door must have no keys yet (a fresh gate whose keys come from `upstream`'s JWKS URL).
// Returns each request's status and how many times the JWKS endpoint was hit.
export async function jwksStorm(baseUrl, upstream, n = 50) {
  const pub = Object.fromEntries(Object.entries(fixtures.keys.issuer).filter(([k]) => k !== "d"));
  const now = Math.floor(Date.now() / 1000);
  const tokens = await Promise.all(Array.from({ length: n }, (_, i) => signEs256(
    { alg: "ES256", typ: "JWT", kid: pub.kid },
    { iss: `${upstream.url}/auth/v1`, sub: `6f1c1b8e-0000-4000-8000-${String(i).padStart(12, "0")}`, aud: "authenticated", exp: now + 3600, iat: now, role: "authenticated", aal: "aal1", mfa_enrolled: false },
    fixtures.keys.issuer)));
  Object.assign(upstream.jwks, { status: 200, body: JSON.stringify({ keys: [pub] }), cacheControl: "public, max-age=600", delayMs: 300, redirect: null, chunked: false, hits: 0 });
  try {
    const results = await Promise.all(tokens.map((t) =>
      send(baseUrl, { path: "/rest/v1/todos", headers: [["authorization", `Bearer ${t}`]] })));
    return { statuses: results.map((r) => r.status), hits: upstream.jwks.hits };
  } finally {
    upstream.jwks.delayMs = 0;
  }
}
