// Types of the aalgate module: the same API in every runtime entry (deno.js, node.js, workers.js);
// web.js adds `init` (web.d.ts).

/** The keys of aalgate.toml as an object (see README "Configuration"), or its JSON text. */
export type GateConfig = Record<string, unknown> | string;

export interface GateOptions {
  /**
   * Named settings: SUPABASE_URL, SUPABASE_JWT_SECRET (or the name keys.hs256_secret_env gives),
   * AALGATE_CONFIG for createGateFromEnv. A Worker's `env` fits as it is (non-string values are ignored,
   * except an object-valued AALGATE_CONFIG).
   */
  env?: Record<string, unknown>;
  /** Prepended to the request path before routing. An Edge Function sees `/<name>/…`: pass "/functions/v1". */
  pathPrefix?: string;
  /** Receives each decision's JSON log line (default console.log); `false` turns logging (and load warnings) off. */
  log?: ((line: string) => void) | false;
  /** The client's address for X-Forwarded-For / Sb-Forwarded-For (default: what the runtime reports). */
  clientIp?: (request: Request, info?: unknown) => string | undefined;
}

/** The verdict of `check`. */
export interface Decision {
  allowed: boolean;
  /** 200 when allowed, else the refusal's status. */
  status: number;
  /** The stable refusal code (`aal2_required`, `token_expired`, …), null when allowed. */
  code: string | null;
  identity: "user" | "service" | "anonymous";
  /** A CORS preflight without credentials (allowed unchecked). */
  preflight: boolean;
  /** The verified token's claims (identity "user" only). */
  claims: Record<string, unknown> | null;
  /** The headers the gate judged, to send on: the inbound ones it keeps, then identity headers if configured. */
  forwardHeaders: [string, string][];
  /** report_only mode: the refusal enforcement would have sent. */
  wouldReject: { status: number; code: string } | null;
  /** The decision as one JSON log line (no token contents). */
  log: string;
  /** The refusal to send (when not allowed). */
  response?: Response;
  /** When allowed: the request to hand on (judged headers, original body). Use it instead of the original. */
  readonly request?: Request;
}

export interface ProtectContext {
  claims: Record<string, unknown> | null;
  identity: Decision["identity"];
  decision: Decision;
}

export interface AalGate {
  readonly upstream: string;
  readonly warnings: string[];
  /** Whether `require_aal2_for_enrolled` is on, and the mode, in one line (logged at start). */
  readonly summary: string;
  check(request: Request, options?: { pathPrefix?: string }): Promise<Decision>;
  /** `preflight: "handler"` passes CORS preflights to the handler instead of answering 204. */
  protect<A extends unknown[]>(
    handler: (request: Request, context: ProtectContext, ...rest: A) => Response | Promise<Response>,
    options?: { preflight?: "answer" | "handler" },
  ): (request: Request, ...rest: A) => Promise<Response>;
  /**
   * A fetch handler forwarding allowed requests to the project. Realtime's WebSocket
   * (`/realtime/v1/websocket`) is relayed with every client frame judged in workerd and Deno (each
   * judged frame's decision line goes to the `log` option); in Node upgrades answer 501.
   * In a Worker pass `(request, env, ctx)`: the decision's I/O then runs under `ctx.waitUntil`, so a
   * JWKS fetch other requests wait for still lands when this request's client leaves (also for
   * `protect`'s handler).
   */
  proxy(upstreamUrl?: string): (request: Request, info?: unknown, ctx?: { waitUntil(p: Promise<unknown>): void }) => Promise<Response>;
}

/** Throws an Error naming the configuration field (or option) at fault. */
export function createGate(config?: GateConfig, options?: GateOptions): AalGate;
/** SUPABASE_URL, AALGATE_CONFIG, SUPABASE_JWT_SECRET from options.env, Deno.env or process.env. */
export function createGateFromEnv(options?: GateOptions): AalGate;
