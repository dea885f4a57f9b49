// The origin wall's cost per Data API request: PostgREST's per-request transaction (role switch,
// request.jwt.claims and the other settings, the pre-request function, a one-row select) replayed by
// pgbench in a throw-away PostgreSQL 15, with and without `select "aalgate"."check_request"()`.
// Rounds interleave (without, with, …) and the medians are compared, because this machine is shared.
//   node bench/wall-prerequest.mjs [transactions per round, default 5000] [rounds, default 5]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startCluster } from "../tests/sql/cluster.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const transactions = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 5);

const pg = await startCluster();
try {
  pg.psql(fs.readFileSync(path.join(root, "tests/sql/supabase_auth_fixture.sql"), "utf8"));
  pg.psql(fs.readFileSync(path.join(root, "tests/sql/supabase_services_fixture.sql"), "utf8"));
  pg.psql(fs.readFileSync(path.join(root, "sql/20261202000000_aalgate_wall.sql"), "utf8"));
  // 10,000 users, a third with a verified factor; the request's user has none (the full lookup runs).
  pg.psql(`insert into auth.users (id, aud, role, created_at, updated_at)
  select ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'authenticated', 'authenticated', now(), now() from generate_series(1, 10000) i;
insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at)
  select gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'totp', 'verified', now(), now() from generate_series(1, 10000, 3) i;
create table public.todos (id int primary key, title text);
alter table public.todos enable row level security;
create policy "todos are readable" on public.todos for select using (true);
grant select on public.todos to authenticated;
insert into public.todos select i, 'todo ' || i from generate_series(1, 1000) i;
select aalgate.protect_schema('public');
analyze;`);
  const claims = (aal) => JSON.stringify({ sub: "00000000-0000-4000-8000-000000000002", role: "authenticated", aal, aud: "authenticated", exp: 4102444800 });
  const script = (pre, aal) => `begin;
set local role authenticator;
select set_config('search_path', '"public", "extensions"', true), set_config('role', 'authenticated', true), set_config('request.jwt.claims', '${claims(aal)}', true), set_config('request.method', 'GET', true), set_config('request.path', '/todos', true), set_config('request.headers', '{"accept":"application/json"}', true), set_config('request.cookies', '{}', true);
${pre ? 'select "aalgate"."check_request"();' : ""}
select * from public.todos where id = 1;
commit;
`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aalgate-bench-"));
  const variants = { without: script(false, "aal1"), "with (aal1, looked up)": script(true, "aal1"), "with (aal2, no lookup)": script(true, "aal2") };
  const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, sql] of Object.entries(variants)) {
      const file = path.join(dir, "s.sql");
      fs.writeFileSync(file, sql);
      const out = execFileSync(path.join(PG_BIN, "pgbench"), ["-n", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-f", file, "-t", String(transactions), "postgres"], { encoding: "utf8" });
      results[name].push(Number(out.match(/latency average = ([0-9.]+) ms/)[1]) * 1000);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  // The function alone, without the round trip: 100,000 calls in one statement.
  const perCall = (aal) => {
    const ms = pg.psql(`begin; select set_config('request.jwt.claims', '${claims(aal)}', true);
\\timing on
select count(*) from generate_series(1, 100000) where aalgate.aal_ok();
commit;`).match(/Time: ([0-9.]+) ms/)?.[1];
    return (Number(ms) * 1000) / 100000;
  };
  const call1 = perCall("aal1");
  const call2 = perCall("aal2");
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const base = median(results.without);
  console.log(`PostgREST-shaped transaction, ${transactions} per round, ${rounds} interleaved rounds (median µs per transaction):`);
  for (const [name, a] of Object.entries(results)) {
    const m = median(a);
    console.log(`  ${name.padEnd(26)} ${m.toFixed(1).padStart(7)} µs  (+${(m - base).toFixed(1)} µs, ${(m / base).toFixed(3)}×)`);
  }
  console.log(`aalgate.aal_ok() alone: ${call1.toFixed(2)} µs per call with the factor lookup (aal1), ${call2.toFixed(2)} µs at aal2`);
} finally {
  pg.stop();
}
