// How the Deno front door forwards a request whose body has a length. Deno's fetch sends every
// ReadableStream body chunked and drops the Content-Length it came with (denoland/deno#24197; so in
// Deno 2.9), and upstreams that need a length (S3-style uploads to Storage) refuse that. node:http
// streams a body under a given Content-Length, so such requests go through it; everything else
// (no body, or no length: chunked stays chunked) through fetch. The answer keeps fetch's contract in
// Deno (body decoded, Content-Encoding kept, redirects not followed, certificates checked), so the shim
// handles both alike; anything fetch would refuse (an odd status, an upgrade) is a failure here too,
// which the gate answers 502.

// Codings Deno's fetch decodes; node:http does not, so they are decoded here (what fetch would do).
const DECODERS = { gzip: "createGunzip", "x-gzip": "createGunzip", deflate: "createInflate", br: "createBrotliDecompress" };
const NO_BODY = new Set([204, 205, 304]);
// Deno's fetch goes through these proxies; node:http would not, so with any set, fetch it is.
const PROXY_SETTINGS = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

let node; // node:http, node:https, node:stream, node:zlib; null where they cannot be or must not be used.
async function nodeModules() {
  if (node === undefined) {
    if (PROXY_SETTINGS.some(setting)) {
      node = null;
      console.warn("aalgate: an HTTP(S)_PROXY is set, which only fetch honours; request bodies with Content-Length are forwarded chunked");
      return node;
    }
    try {
      const [http, https, stream, zlib] = await Promise.all(["node:http", "node:https", "node:stream", "node:zlib"].map((m) => import(m)));
      node = { http, https, stream, zlib };
    } catch {
      node = null;
      console.warn("aalgate: node:http is not available here; request bodies with Content-Length are forwarded chunked");
    }
  }
  return node;
}

function setting(name) {
  try {
    return Boolean(globalThis.Deno?.env.get(name));
  } catch {
    return false; // no --allow-env for it: fetch could not read it either
  }
}

/**
 * Passes a body through only if it is exactly `length` bytes: more is an error at once, fewer at the
 * end. The front door's HTTP server framed the inbound body, but the upstream connection is reused, so
 * a body longer than the Content-Length it is sent under would be read upstream as a second request.
 */
function exactly(length) {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > length) controller.error(new Error("request body longer than its Content-Length"));
      else controller.enqueue(chunk);
    },
    flush(controller) {
      if (seen !== length) controller.error(new Error("request body shorter than its Content-Length"));
    },
  });
}

/** The web Response for a node:http answer, as Deno's fetch would give it; throws where fetch would fail. */
function toResponse(m, request, res) {
  if (res.statusCode < 200 || res.statusCode > 599) throw new Error(`upstream answered status ${res.statusCode}`);
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  if (NO_BODY.has(res.statusCode) || request.method === "HEAD") {
    res.resume();
    return new Response(null, { status: res.statusCode, headers });
  }
  const decoder = DECODERS[(res.headers["content-encoding"] ?? "").trim().toLowerCase()];
  let source = res;
  if (decoder) {
    // pipeline, not pipe: an upstream that stops early ends the client's body with an error, and a
    // client that goes away stops the download (pipe would leave either side open).
    source = m.zlib[decoder]();
    m.stream.pipeline(res, source, () => {});
  }
  // A status text fetch would not accept is left out (the status is what counts).
  let statusText = res.statusMessage ?? "";
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(statusText)) statusText = "";
  return new Response(m.stream.Readable.toWeb(source), { status: res.statusCode, statusText, headers });
}

/** Forwards `request` (the upstream Request the gate built) and resolves its Response. */
export async function send(request) {
  const length = request.headers.get("content-length");
  if (request.body === null || length === null || !/^\d{1,15}$/.test(length)) return fetch(request);
  const m = await nodeModules();
  if (m === null) return fetch(request);
  const url = new URL(request.url);
  const headers = {};
  for (const [name, value] of request.headers) headers[name] = name === "set-cookie" ? [...(headers[name] ?? []), value] : value;
  return new Promise((resolve, reject) => {
    const options = { method: request.method, headers, ...(url.protocol === "https:" ? { rejectUnauthorized: true } : {}) };
    const client = (url.protocol === "https:" ? m.https : m.http).request(url, options, (res) => {
      try {
        resolve(toResponse(m, request, res));
      } catch (e) {
        res.destroy();
        client.destroy();
        reject(e);
      }
    });
    client.on("error", reject);
    // fetch never hands a 101 to a request with a body; neither does this.
    client.on("upgrade", (_res, socket) => {
      socket.destroy();
      reject(new Error("upstream answered 101 to a request with a body"));
    });
    const upload = m.stream.Readable.fromWeb(request.body.pipeThrough(exactly(Number(length))));
    // A client that stops sending mid-upload ends the upstream request too (no half request upstream).
    upload.on("error", (e) => client.destroy(e));
    upload.pipe(client);
  });
}
