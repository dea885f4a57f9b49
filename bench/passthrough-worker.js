// Baseline Worker: proxies without any check (the cost every gate adds is measured against this).
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.body });
  },
};
