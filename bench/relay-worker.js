// Baseline for the Realtime frame benchmark: a Worker that relays WebSockets both ways without reading
// a frame (the cost the gate's frame judge adds is measured against this).
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const target = env.UPSTREAM + url.pathname + url.search;
    if (req.headers.get("upgrade") !== "websocket") return fetch(target, req);
    const res = await fetch(target, { headers: req.headers });
    const up = res.webSocket;
    if (!up) return res;
    up.accept();
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener("message", (e) => up.send(e.data));
    up.addEventListener("message", (e) => server.send(e.data));
    server.addEventListener("close", (e) => up.close(e.code === 1005 ? 1000 : e.code, e.reason));
    up.addEventListener("close", (e) => server.close(e.code === 1005 ? 1000 : e.code, e.reason));
    return new Response(null, { status: 101, webSocket: client });
  },
};
