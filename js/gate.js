// The runtime-neutral part of the JS shim: turns the wasm `Gate` class into createGate / protect /
// proxy / check. Each runtime entry (deno.js, node.js, workers.js, web.js) passes its wasm build and
// what it knows about its runtime; nothing here decides anything: every verdict comes from the wasm core.

const ENV_NAMES = ["SUPABASE_URL", "AALGATE_CONFIG", "SUPABASE_JWT_SECRET"];
// Codings Node's and Deno's fetch decode (and so the only ones the proxy asks the upstream for there).
const DECODED_CODINGS = new Set(["gzip", "x-gzip", "deflate", "br"]);
// Response headers that belong to the upstream connection, not to the client's.
const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "proxy-connection", "proxy-authenticate", "te", "trailer"];

/** Reads a name from Deno.env or process.env (undefined when absent or not permitted). */
function runtimeEnv(name) {
  try {
    if (globalThis.Deno?.env) return globalThis.Deno.env.get(name);
    return globalThis.process?.env?.[name];
  } catch {
    // Deno without --allow-env throws: treat as unset, the gate then names what is missing.
    return undefined;
  }
}

function optionError(option, problem) {
  return new Error(`aalgate option \`${option}\`: ${problem}`);
}

function checkPathPrefix(prefix) {
  if (prefix === undefined) return undefined;
  if (typeof prefix !== "string" || !/^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+\/?$/.test(prefix) || /\/\.\.?(\/|$)/.test(prefix)) {
    throw optionError("pathPrefix", `must be an absolute, normalised path such as "/functions/v1" (got ${JSON.stringify(prefix)})`);
  }
  return prefix.replace(/\/$/, "");
}

function checkUpstream(url) {
  if (url === undefined) return undefined;
  let u;
  try { u = new URL(url); } catch { throw optionError("proxy(upstreamUrl)", `is not a URL: ${JSON.stringify(url)}`); }
  if (!["http:", "https:"].includes(u.protocol) || u.search || u.hash || u.username || u.password) {
    throw optionError("proxy(upstreamUrl)", "must be an http(s) origin (optionally with a path), without query, fragment or credentials");
  }
  return url.replace(/\/+$/, "");
}

function isRequest(r) {
  // Duck-typed: servers such as @hono/node-server replace the global Request with their own class.
  return r && typeof r === "object" && typeof r.url === "string" && typeof r.method === "string" && r.headers && typeof r.headers.get === "function";
}

/**
 * `runtime`: { Gate, decodesBodies, websockets, clientIp(request, info), send? }. `send(request)`
 * replaces `fetch` for forwarding where the runtime's fetch cannot keep a body as it came (Deno). `websockets`: how the
 * runtime relays WebSocket upgrades ("workerd", "deno"), or "" where it cannot (Node: 501).
 * `decodesBodies`: the runtime's fetch decodes compressed response bodies but keeps Content-Encoding
 * (Node, Deno), so the proxy asks only for codings it decodes and drops that header afterwards.
 */
export function bind(runtime) {
  class AalGate {
    #inner;
    #pathPrefix;
    #log;
    #clientIp;
    #warnedNoClientIp = false;

    constructor(inner, options) {
      this.#inner = inner;
      this.#pathPrefix = checkPathPrefix(options.pathPrefix);
      if (![undefined, false].includes(options.log) && typeof options.log !== "function") {
        throw optionError("log", `must be false (no logging) or a function receiving each line (got ${typeof options.log})`);
      }
      this.#log = options.log === false ? () => {} : (options.log ?? ((line) => console.log(line)));
      this.#clientIp = options.clientIp ?? runtime.clientIp;
      if (options.log !== false) {
        console.log(`aalgate: ${inner.summary}`);
        for (const w of inner.warnings) console.warn(`aalgate: ${w}`);
      }
    }

    /** Whether `require_aal2_for_enrolled` is on, and the mode, in one line. */
    get summary() {
      return this.#inner.summary;
    }

    /** The project URL the gate guards. */
    get upstream() {
      return this.#inner.upstream;
    }

    /** Warnings from loading the configuration (skipped keys, …). */
    get warnings() {
      return this.#inner.warnings;
    }

    /**
     * Decides a request without forwarding it (see index.d.ts for the decision object). On allow,
     * `decision.request` is the request to hand on: the headers the gate judged (inbound x-aalgate-*
     * removed, identity headers added when configured) and the original body.
     */
    async check(request, { pathPrefix } = {}) {
      if (!isRequest(request)) throw new TypeError("aalgate: check(request) needs a Request");
      const prefix = pathPrefix === undefined ? this.#pathPrefix : checkPathPrefix(pathPrefix);
      const url = new URL(request.url);
      const headers = [];
      for (const [name, value] of request.headers) headers.push(name, value);
      // A string when no I/O was needed (the cached case), else a promise of one.
      const answer = this.#inner.check(request.method, (prefix ?? "") + url.pathname, url.search.slice(1), headers);
      const decision = JSON.parse(typeof answer === "string" ? answer : await answer);
      const refusal = decision.refusal;
      delete decision.refusal;
      if (refusal) {
        const body = decision.status === 204 ? null : refusal.body;
        decision.response = new Response(body, { status: decision.status, headers: refusal.headers });
      }
      if (decision.allowed) {
        let judged;
        Object.defineProperty(decision, "request", {
          enumerable: false,
          get: () => (judged ??= new Request(request, { headers: new Headers(decision.forwardHeaders) })),
        });
      }
      return decision;
    }

    /**
     * Wraps a `(request, context) => Response` handler: refusals are answered without calling it; on
     * allow it receives the judged request and `{ claims, identity, decision }`. CORS preflights are
     * answered here (204) unless `{ preflight: "handler" }`: a handler that ignores the method must not
     * answer a credential-less OPTIONS with data.
     */
    protect(handler, { preflight = "answer" } = {}) {
      return async (request, ...rest) => {
        const decision = await keptAlive(this.check(request), workersCtx(rest));
        this.#log(decision.log);
        if (!decision.allowed) return decision.response;
        if (decision.preflight && preflight !== "handler") return this.#preflightAnswer(request);
        return handler(decision.request, { claims: decision.claims, identity: decision.identity, decision }, ...rest);
      };
    }

    #preflightAnswer(request) {
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": this.#inner.corsAllowOrigin,
          "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
          "access-control-allow-headers": request.headers.get("access-control-request-headers") ?? "authorization, x-client-info, apikey, content-type",
          "access-control-max-age": "86400",
          vary: "Origin, Access-Control-Request-Headers",
        },
      });
    }

    /**
     * A fetch handler `(request, info?) => Promise<Response>` that forwards allowed requests to
     * `upstreamUrl` (default: the configured project) with the Worker's streaming and header rules.
     */
    proxy(upstreamUrl) {
      const upstream = checkUpstream(upstreamUrl);
      return async (request, info, ...rest) => {
        if (!isRequest(request)) throw new TypeError("aalgate: the proxy handler needs a Request");
        const clientIp = this.#clientIp(request, info);
        if (clientIp === undefined && !this.#warnedNoClientIp) {
          this.#warnedNoClientIp = true;
          console.warn("aalgate: the runtime reports no client address; X-Forwarded-For / Sb-Forwarded-For are not sent, so Supabase Auth rate-limits all clients as one (pass clientIp to createGate)");
        }
        const ctx = workersCtx([info, ...rest]);
        // A relayed Realtime socket's frame decisions run later, as tasks of their own: kept alive too.
        const keepAlive = ctx && ((task) => ctx.waitUntil(task));
        const [response, log] = await keptAlive(this.#inner.proxy(request, clientIp, upstream, runtime.decodesBodies, runtime.websockets, this.#log, runtime.send, keepAlive), ctx);
        this.#log(log);
        // A 101 is the runtime's own upgrade answer (Deno.upgradeWebSocket): returned as it is.
        return runtime.decodesBodies && response.status !== 101 ? cleanResponse(response) : response;
      };
    }
  }

  /** A gate from a config object (or its JSON text). `options.env` supplies SUPABASE_URL / secrets. */
  function createGate(config, options = {}) {
    return new AalGate(new runtime.Gate(config, options.env ?? {}), options);
  }

  /**
   * A gate from the environment: SUPABASE_URL, AALGATE_CONFIG (JSON) and SUPABASE_JWT_SECRET, read from
   * `options.env` (a Worker's `env`) or else Deno.env / process.env.
   */
  function createGateFromEnv(options = {}) {
    const env = options.env ?? Object.fromEntries(ENV_NAMES.map((n) => [n, runtimeEnv(n)]));
    // A secret named by keys.hs256_secret_env is read on demand.
    const settings = options.env ?? new Proxy(env, { get: (t, name) => t[name] ?? runtimeEnv(String(name)) });
    const config = env.AALGATE_CONFIG || undefined;
    return new AalGate(new runtime.Gate(config, settings), options);
  }

  return { createGate, createGateFromEnv };
}

/**
 * `work`, handed to the `waitUntil` of a Workers `ctx` (found among a handler's extra arguments,
 * `(request, env, ctx)`, by `workersCtx`): Workers cancel a request's pending I/O when its client leaves, and a JWKS
 * fetch or Auth lookup this request holds in flight for every other request must still land (else
 * the others wait out its mark, and a rotation's new tokens are refused until the refetch cooldown
 * ends). Elsewhere nothing cancels it, and nothing is done.
 */
function keptAlive(work, ctx) {
  // A ctx that throws (one reused after its request ended, or something else with a `waitUntil`)
  // costs the keep-alive, never the answer.
  try {
    ctx?.waitUntil(Promise.resolve(work).catch(() => {}));
  } catch {}
  return work;
}

/** The Workers `ctx` among a handler's extra arguments (the one with a `waitUntil`), if any. */
function workersCtx(args) {
  return args.find((a) => typeof a?.waitUntil === "function");
}

/**
 * What Node's and Deno's fetch hand back needs two repairs before it goes to the client: a body they
 * decoded still carries Content-Encoding (and the encoded Content-Length), and headers of the upstream
 * connection (Connection, Keep-Alive, …) would override the client's own.
 */
function cleanResponse(response) {
  const h = response.headers;
  const coding = (h.get("content-encoding") ?? "").trim().toLowerCase();
  const decoded = coding !== "" && DECODED_CODINGS.has(coding);
  const named = (h.get("connection") ?? "").split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
  const hop = [...HOP_BY_HOP, ...named].filter((n) => h.has(n));
  if (!decoded && hop.length === 0) return response;
  const headers = new Headers(h);
  for (const n of hop) headers.delete(n);
  if (decoded) {
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
