// Raw HTTP requests for the conformance runners (node:http, also under Deno's Node compatibility), so
// paths and repeated headers arrive exactly as written.
import http from "node:http";
import { Buffer } from "node:buffer";

/** One raw HTTP request. `headers` is a list of [name, value] pairs; repeated names are sent as repeated lines. */
export function send(base, { method = "GET", path: p, query, headers = [], body }) {
  const target = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method,
        agent: false,
        path: query ? `${p}?${query}` : p,
        // The array form sends repeated names as repeated lines, and adds no defaults: Host goes in by hand.
        headers: [["host", target.host], ...headers].flat(),
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    if (body) req.end(body); else req.end();
  });
}
