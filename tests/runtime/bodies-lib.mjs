// Bodies through a proxying front door, byte for byte (issue: Deno turned a request's Content-Length
// into Transfer-Encoding: chunked, which S3-style uploads refuse). One list of checks, run against the
// Rust Worker and the JS Worker in workerd, the module in Node and in Deno: each returns the problems it
// saw (empty: all held).
//   - 5 MiB uploaded with Content-Length arrives with that Content-Length and no chunking;
//   - 5 MiB uploaded chunked arrives chunked; both byte-identical (SHA-256), and echoed back intact;
//   - 5 MiB downloaded byte-identical; a compressed answer to an upload arrives decodable;
//   - neither direction is buffered whole: the upstream sees the first bytes of an upload before the
//     client sends the rest, and the client sees the first bytes of a download before the upstream
//     sends the rest (a front door that buffered would never get there).
import http from "node:http";
import crypto from "node:crypto";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import { deterministicBytes } from "./upstream.mjs";

const MIB = 1024 * 1024;
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");

// Only turns a front door that buffers (and so never answers) into a named failure instead of a hung
// run; no check depends on how fast anything is.
const HANG_MS = 30_000;
export function unlessHung(promise, what) {
  let timer;
  const hung = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no progress in ${HANG_MS / 1000} s`)), HANG_MS)));
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}

/**
 * A raw request whose body is written by `write(req)`; resolves { status, headers, body }. `onFirstBytes`
 * sees the response start. A response cut short rejects with its `status` and the bytes `received`.
 */
export function request(base, { method = "GET", path, headers = [], write, onFirstBytes }) {
  const target = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      // Headers as large as a runtime passes on (workerd: well past Node's 16 KiB default) stay readable.
      { host: target.hostname, port: target.port, method, agent: false, path, maxHeaderSize: 256 * 1024, headers: [["host", target.host], ...headers].flat() },
      (res) => {
        const chunks = [];
        res.on("data", (c) => {
          if (chunks.length === 0) onFirstBytes?.();
          chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        // A response cut short: the status that had arrived and how many body bytes.
        res.on("error", (e) => reject(Object.assign(e, { status: res.statusCode, received: Buffer.concat(chunks).length })));
      },
    );
    req.on("error", reject);
    if (write) write(req).catch(reject); else req.end();
  });
}

/** Runs the body checks through `baseUrl` (a front door in front of `upstream`), with `token` allowed on /functions/v1. */
export async function bodyChecks(baseUrl, upstream, token) {
  const problems = [];
  const expect = (ok, what) => { if (!ok) problems.push(what); };
  const auth = ["authorization", `Bearer ${token}`];
  const octets = ["content-type", "application/octet-stream"];
  const last = () => upstream.received.at(-1);

  // Upload with Content-Length.
  const fixed = crypto.randomBytes(5 * MIB);
  const a = await unlessHung(request(baseUrl, {
    method: "POST", path: "/functions/v1/__echo", headers: [octets, auth, ["content-length", String(fixed.length)]],
    write: async (req) => req.end(fixed),
  }), "upload with Content-Length");
  expect(a.status === 200, `upload with Content-Length: status ${a.status}`);
  expect(last().headers["content-length"] === String(fixed.length), `upload with Content-Length: upstream saw content-length ${last().headers["content-length"]}`);
  expect(last().headers["transfer-encoding"] === undefined, `upload with Content-Length: upstream saw transfer-encoding ${last().headers["transfer-encoding"]}`);
  expect(last().bodySha256 === sha(fixed), "upload with Content-Length: upstream body differs");
  expect(sha(a.body) === sha(fixed), "upload with Content-Length: echoed body differs");
  expect(last().headers.host === new URL(upstream.url).host, `upload with Content-Length: upstream saw host ${last().headers.host}`);

  // A compressed answer to an upload with Content-Length (Deno forwards those on its own path).
  const small = crypto.randomBytes(64 * 1024);
  const z = await unlessHung(request(baseUrl, {
    method: "POST", path: "/functions/v1/__echo-gzip", headers: [octets, auth, ["accept-encoding", "gzip"], ["content-length", String(small.length)]],
    write: async (req) => req.end(small),
  }), "compressed answer to an upload");
  const unpacked = z.headers["content-encoding"] === "gzip" ? zlib.gunzipSync(z.body) : z.body;
  expect(z.status === 200 && sha(unpacked) === sha(small), `compressed answer to an upload: status ${z.status}, content-encoding ${z.headers["content-encoding"]}, body differs`);

  // Chunked upload.
  const pieces = [crypto.randomBytes(2 * MIB), crypto.randomBytes(MIB), crypto.randomBytes(2 * MIB)];
  const whole = Buffer.concat(pieces);
  const b = await unlessHung(request(baseUrl, {
    method: "POST", path: "/functions/v1/__echo", headers: [octets, auth, ["transfer-encoding", "chunked"]],
    write: async (req) => { for (const p of pieces) req.write(p); req.end(); },
  }), "chunked upload");
  expect(b.status === 200, `chunked upload: status ${b.status}`);
  expect(last().headers["transfer-encoding"] === "chunked", `chunked upload: upstream saw transfer-encoding ${last().headers["transfer-encoding"]}`);
  expect(last().bodySha256 === sha(whole), "chunked upload: upstream body differs");
  expect(sha(b.body) === sha(whole), "chunked upload: echoed body differs");

  // Download.
  const n = 5 * MIB;
  const c = await unlessHung(request(baseUrl, { path: `/functions/v1/__bytes/${n}`, headers: [auth] }), "download");
  expect(c.status === 200, `download: status ${c.status}`);
  expect(sha(c.body) === sha(deterministicBytes(n)), "download: body differs");

  // Upload streamed: the second half is sent only once the upstream has the first.
  upstream.streams.reset();
  const first = crypto.randomBytes(256 * 1024), rest = crypto.randomBytes(256 * 1024);
  const d = await unlessHung(request(baseUrl, {
    method: "POST", path: "/functions/v1/__stream-upload", headers: [octets, auth, ["content-length", String(first.length + rest.length)]],
    write: async (req) => { req.write(first); await upstream.streams.uploadStarted; req.end(rest); },
  }), "streamed upload (the front door waited for the whole body before forwarding)");
  expect(d.status === 200, `streamed upload: status ${d.status}`);
  expect(last().bodySha256 === sha(Buffer.concat([first, rest])), "streamed upload: upstream body differs");

  // Download streamed: the upstream sends the rest only once the client has the first chunk.
  upstream.streams.reset();
  const e = await unlessHung(request(baseUrl, { path: "/functions/v1/__drip", headers: [auth], onFirstBytes: () => upstream.streams.release() }),
    "streamed download (the front door waited for the whole response before answering)");
  expect(e.status === 200 && e.body.length === 128 * 1024, `streamed download: status ${e.status}, ${e.body.length} bytes`);
  return problems;
}
