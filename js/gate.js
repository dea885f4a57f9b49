// The runtime-neutral part of the JS shim: turns the wasm `Gate` class into createGate / protect /
// proxy / check. Each runtime entry (deno.js, node.js, workers.js, web.js) passes its wasm build and
// what it knows about its runtime; nothing here decides anything: every verdict comes from the wasm core.

const ENV_NAMES = ["SUPABASE_URL", "AALGATE_CONFIG", "SUPABASE_JWT_SECRET"];

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

/**
 * `runtime`: { Gate, decodesBodies, clientIp(request, info) }.
 * `decodesBodies`: the runtime's fetch decompresses response bodies but keeps Content-Encoding (Node,
 * Deno), so a proxied response must lose that header and the then wrong Content-Length.
 */
export function bind(runtime) {
  class AalGate {
    #inner;
    #pathPrefix;
    #log;
    #clientIp;

    constructor(inner, options) {
      this.#inner = inner;
      this.#pathPrefix = options.pathPrefix;
      this.#log = options.log === false ? () => {} : (options.log ?? ((line) => console.log(line)));
      this.#clientIp = options.clientIp ?? runtime.clientIp;
      for (const w of inner.warnings) console.warn(`aalgate: ${w}`);
    }

    /** The project URL the gate guards. */
    get upstream() {
      return this.#inner.upstream;
    }

    /** Decides a request without forwarding it (see index.d.ts for the decision object). */
    check(request, { pathPrefix } = {}) {
      return this.#inner.check(request, pathPrefix ?? this.#pathPrefix);
    }

    /**
     * Wraps a `(request, context) => Response` handler: refusals are answered without calling it; on
     * allow it receives a request whose headers are what the gate judged (inbound x-aalgate-* removed,
     * identity headers added when configured) and `{ claims, identity, decision }`.
     */
    protect(handler) {
      return async (request, ...rest) => {
        const decision = await this.check(request);
        this.#log(decision.log);
        if (!decision.allowed) return decision.response;
        const gated = new Request(request, { headers: new Headers(decision.forwardHeaders) });
        return handler(gated, { claims: decision.claims, identity: decision.identity, decision }, ...rest);
      };
    }

    /**
     * A fetch handler `(request, info?) => Promise<Response>` that forwards allowed requests to
     * `upstreamUrl` (default: the configured project) with the Worker's streaming and header rules.
     */
    proxy(upstreamUrl) {
      return async (request, info) => {
        const [response, log] = await this.#inner.proxy(request, this.#clientIp(request, info), upstreamUrl);
        this.#log(log);
        return runtime.decodesBodies ? withoutStaleEncoding(response) : response;
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

function withoutStaleEncoding(response) {
  if (!response.headers.has("content-encoding")) return response;
  const headers = new Headers(response.headers);
  headers.delete("content-encoding");
  headers.delete("content-length");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
