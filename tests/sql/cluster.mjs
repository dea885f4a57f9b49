// A throw-away PostgreSQL cluster for the SQL tests: initdb in a temp dir, postgres on a free loopback
// port, psql for queries, everything removed afterwards. PostgreSQL refuses to run as root, so as root
// the cluster belongs to the `postgres` system user (created by Debian's package).
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export async function startCluster() {
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aalgate-pg-"));
  const data = path.join(dir, "data");
  if (asRoot) {
    fs.chmodSync(dir, 0o755);
    execFileSync("chown", ["postgres:", dir]);
  }
  // As root: run as `postgres` with runuser (util-linux), keeping our argv exactly.
  const run = (bin, args, opts = {}) => {
    const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", path.join(PG_BIN, bin), ...args]] : [path.join(PG_BIN, bin), args];
    return execFileSync(cmd, argv, { stdio: ["pipe", "pipe", "pipe"], ...opts });
  };
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
  const port = await freePort();
  run("pg_ctl", ["-D", data, "-w", "-l", path.join(dir, "log"), "-o", `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off`, "start"]);

  /** Runs SQL through psql as `postgres`; returns stdout (unaligned, tuples only), throws with stderr. */
  function psql(sql, { database = "postgres" } = {}) {
    const r = spawnSync(path.join(PG_BIN, "psql"), ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database, "-f", "-"], { input: sql, encoding: "utf8" });
    if (r.status !== 0) {
      const err = new Error(r.stderr.trim() || `psql exited ${r.status}`);
      err.stderr = r.stderr;
      throw err;
    }
    return r.stdout.trim();
  }

  function stop() {
    try { run("pg_ctl", ["-D", data, "-m", "immediate", "stop"]); } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { port, psql, stop };
}
