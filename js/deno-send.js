// How the Deno front door forwards a request whose body has a length. Deno's fetch sends every
// ReadableStream body chunked and drops the Content-Length it came with (denoland/deno#24197; so in
// Deno 2.9), and upstreams that need a length (S3-style uploads to Storage) refuse that. node:http
// streams a body under a given Content-Length, so such requests go through it; everything else
// (no body, or no length: chunked stays chunked) through fetch. The answer keeps fetch's contract in
// Deno (body decoded, Content-Encoding kept, redirects not followed), so the shim handles both alike.

// Codings Deno's fetch decodes; node:http does not, so they are decoded here (what fetch would do).
const DECODERS = { gzip: "createGunzip", "x-gzip": "createGunzip", deflate: "createInflate", br: "createBrotliDecompress" };
const NO_BODY = new Set([101, 204, 205, 304]);

let node; // node:http, node:https, node:stream, node:zlib; null where they cannot be loaded.
async function nodeModules() {
  if (node === undefined) {
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
    const client = (url.protocol === "https:" ? m.https : m.http).request(url, { method: request.method, headers }, (res) => {
      const out = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
      let body = null;
      if (!NO_BODY.has(res.statusCode) && request.method !== "HEAD") {
        const decoder = DECODERS[(res.headers["content-encoding"] ?? "").trim().toLowerCase()];
        const source = decoder ? res.pipe(m.zlib[decoder]()) : res;
        body = m.stream.Readable.toWeb(source);
      } else {
        res.resume();
      }
      resolve(new Response(body, { status: res.statusCode, statusText: res.statusMessage, headers: out }));
    });
    client.on("error", reject);
    const upload = m.stream.Readable.fromWeb(request.body.pipeThrough(exactly(Number(length))));
    // A client that stops sending mid-upload ends the upstream request too (no half request upstream).
    upload.on("error", (e) => client.destroy(e));
    upload.pipe(client);
  });
}
