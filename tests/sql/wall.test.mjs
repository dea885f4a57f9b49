// The origin wall (sql/20261202000000_aalgate_wall.sql) in a real PostgreSQL 15, on fixtures of
// Supabase's auth, storage and realtime schemas and roles. Each service's per-request SQL is replayed as
// its source writes it:
// - PostgREST (src/PostgREST/Query.hs `setPgLocals` + `runPreReq`, v12; MainTx.hs in v14): connected as
//   authenticator, one `select set_config('search_path', …, true), set_config('role', …, true),
//   set_config('request.jwt.claims', …, true), set_config('request.method', …), set_config('request.path',
//   …), set_config('request.headers', …), set_config('request.cookies', …)`, then
//   `select "aalgate"."check_request"()` (the function named by pgrst.db_pre_request), then the query, in
//   one transaction. A `PGRST` error becomes the response as Error.hs `parseRaisePGRST` reads it.
// - Storage (src/internal/database/postgres/scope.ts `buildScopeStatement`): connected as
//   supabase_storage_admin, set_config of role, request.jwt.claim.role, request.jwt, request.jwt.claim.sub,
//   request.jwt.claims, request.headers, request.method, request.path, storage.operation; then queries on
//   storage.objects under RLS.
// - Realtime postgres_changes (realtime.apply_rls): set_config('role') and request.jwt.claims, then
//   `select exists(select 1 from <table> where <pk> = …)` under RLS.
// - Realtime private channels (lib/realtime/tenants/authorization.ex `set_conn_config`): probe rows in
//   realtime.messages, read back under RLS with realtime.topic set, then rolled back; writes as an insert.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startCluster } from "./cluster.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const bin = path.join(root, "target/debug/aalgate");
const WALL = fs.readFileSync(path.join(root, "sql/20261202000000_aalgate_wall.sql"), "utf8");
let pg;

const USERS = {
  enrolled: "00000000-0000-4000-8000-0000000000a1",
  unverified: "00000000-0000-4000-8000-0000000000a2",
  none: "00000000-0000-4000-8000-0000000000a3",
  later: "00000000-0000-4000-8000-0000000000a4",
};

function claims(user, aal = "aal1", extra = {}) {
  return { iss: "https://ref.supabase.co/auth/v1", sub: user, aud: "authenticated", role: "authenticated", aal, exp: 4102444800, iat: 1793491200, session_id: "8a6b2b1c-0000-4000-8000-000000000001", is_anonymous: false, ...extra };
}
const lit = (v) => `$q$${typeof v === "string" ? v : JSON.stringify(v)}$q$`;

/** Runs SQL; returns { ok, out } or { ok: false, sqlstate, message, detail }. */
function run(sql) {
  try {
    return { ok: true, out: pg.psql(`\\set VERBOSITY verbose\n${sql}`) };
  } catch (e) {
    const text = e.stderr ?? e.message;
    const m = text.match(/ERROR:\s+([0-9A-Z]{5}): (.*)/);
    const d = text.match(/DETAIL:\s+(.*)/);
    return { ok: false, sqlstate: m?.[1], message: m?.[2], detail: d?.[1], text };
  }
}

/** The pre-request function PostgREST would call, read from the in-database config as PostgREST does. */
function preRequestFunction() {
  const row = pg.psql(`select array_to_string(s.setconfig, ',') from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = 'authenticator' and s.setdatabase = 0`);
  const m = row.match(/pgrst\.db_pre_request=([^,]+)/);
  return m?.[1];
}

/** One PostgREST request: role from the claims (anon without a token), pre-request, then `query`. */
function postgrest(c, query, { method = "GET", path = "/todos", headers = {} } = {}) {
  const role = c?.role ?? "anon";
  const pre = preRequestFunction();
  const call = pre ? `select ${pre.split(".").map((p) => `"${p}"`).join(".")}();` : "";
  return run(`begin;
set local role authenticator;
select set_config('search_path', '"public", "extensions"', true), set_config('role', ${lit(role)}, true),
  set_config('request.jwt.claims', ${lit(c ?? {})}, true), set_config('request.method', ${lit(method)}, true),
  set_config('request.path', ${lit(path)}, true), set_config('request.headers', ${lit(headers)}, true),
  set_config('request.cookies', '{}', true);
${call}
${query};
commit;`);
}

/** The HTTP response PostgREST makes of a PGRST error (Error.hs: status and headers from DETAIL, body from MESSAGE). */
function pgrstResponse(r) {
  assert.equal(r.sqlstate, "PGRST", r.text);
  const m = JSON.parse(r.message);
  const d = JSON.parse(r.detail);
  return { status: d.status, headers: d.headers, body: { code: m.code, message: m.message, details: m.details ?? null, hint: m.hint ?? null } };
}

function storage(c, query) {
  const role = c?.role ?? "anon";
  return run(`begin;
set local role supabase_storage_admin;
select set_config('role', ${lit(role)}, true), set_config('request.jwt.claim.role', ${lit(role)}, true),
  set_config('request.jwt', 'header.payload.signature', true), set_config('request.jwt.claim.sub', ${lit(c?.sub ?? "")}, true),
  set_config('request.jwt.claims', ${lit(c ?? {})}, true), set_config('request.headers', '{}', true),
  set_config('request.method', 'GET', true), set_config('request.path', '/object/private/a.png', true),
  set_config('storage.operation', 'object.get', true);
${query};
commit;`);
}

/** Realtime postgres_changes: may this subscriber see the row? (apply_rls: role + claims, exists under RLS) */
function sees(c, table, id) {
  const r = run(`begin;
select set_config('role', ${lit(c.role)}, true), set_config('request.jwt.claims', ${lit(c)}, true);
select exists (select 1 from ${table} where id = ${id});
commit;`);
  assert.ok(r.ok, r.text);
  return r.out.trim().split("\n").pop() === "t";
}

/** Realtime private channel: { read, write } for `topic` (authorization.ex). */
function channel(c, topic) {
  const conn = `select set_config('role', ${lit(c.role)}, true), set_config('realtime.topic', ${lit(topic)}, true),
  set_config('request.jwt.claims', ${lit(c)}, true), set_config('request.jwt.claim.sub', ${lit(c.sub)}, true),
  set_config('request.jwt.claim.role', ${lit(c.role)}, true), set_config('request.headers', '{}', true);`;
  const read = run(`begin;
insert into realtime.messages (topic, extension, private) values (${lit(topic)}, 'broadcast', true), (${lit(topic)}, 'presence', true);
${conn}
select count(*) from realtime.messages where topic = ${lit(topic)};
rollback;`);
  assert.ok(read.ok, read.text);
  const write = run(`begin;
${conn}
insert into realtime.messages (topic, extension, private, event) values (${lit(topic)}, 'broadcast', true, 'probe');
rollback;`);
  assert.ok(write.ok || write.sqlstate === "42501", write.text);
  return { read: Number(read.out.trim().split("\n").pop()) > 0, write: write.ok };
}

/** A picture of every catalog object the wall could touch, to compare installs and uninstalls. */
const catalog = () => pg.psql(catalogQuery());

const install = () => pg.psql(WALL);
const uninstall = () => pg.psql(execFileSync(bin, ["sql", "wall", "--uninstall"], { encoding: "utf8" }));

before(async () => {
  pg = await startCluster();
  pg.psql(fs.readFileSync(path.join(root, "tests/sql/supabase_auth_fixture.sql"), "utf8"));
  pg.psql(fs.readFileSync(path.join(root, "tests/sql/supabase_services_fixture.sql"), "utf8"));
  // The hook migration first, as a project that has it would (file-name order).
  pg.psql(fs.readFileSync(path.join(root, "sql/20261122000000_aalgate_mfa_claims.sql"), "utf8"));
  const users = Object.values(USERS).map((id) => `('${id}', 'authenticated', 'authenticated', now(), now())`).join(",");
  pg.psql(`insert into auth.users (id, aud, role, created_at, updated_at) values ${users};
insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at) values
  ('10000000-0000-4000-8000-0000000000a1', '${USERS.enrolled}', 'totp', 'verified', now(), now()),
  ('10000000-0000-4000-8000-0000000000a2', '${USERS.unverified}', 'totp', 'unverified', now(), now());
create table public.todos (id int primary key, title text);
alter table public.todos enable row level security;
create policy "todos are readable" on public.todos for select using (true);
insert into public.todos values (1, 'a');
create table public.notes (id int primary key, body text);
insert into public.notes values (1, 'no rls here');
create view public.todo_titles as select title from public.todos;
create function public.all_todos() returns setof public.todos language sql security definer set search_path = '' as 'select * from public.todos';
create schema api;
create table api.items (id int primary key);
alter table api.items enable row level security;
create policy "items are readable" on api.items for select using (true);
insert into api.items values (1);
grant usage on schema api to anon, authenticated, service_role;
grant select on public.todos, public.notes, public.todo_titles, api.items to anon, authenticated, service_role;
insert into storage.buckets (id, name) values ('private', 'private');
insert into storage.objects (id, bucket_id, name, owner) values
  ('30000000-0000-4000-8000-0000000000a1', 'private', 'a.png', '${USERS.enrolled}'),
  ('30000000-0000-4000-8000-0000000000a3', 'private', 'c.png', '${USERS.none}');`);
  const roleSql = execFileSync(bin, ["sql", "role", "weather_sync", "--grant", "select on public.todos"], { encoding: "utf8" });
  pg.psql(roleSql);
});

after(() => pg?.stop());

test("install: idempotent (twice changes nothing), and PostgREST's pre-request is set on authenticator", () => {
  const before = catalog();
  install();
  const once = catalog();
  assert.notEqual(once, before);
  install();
  assert.equal(catalog(), once, "a second install changes nothing");
  assert.equal(preRequestFunction(), "aalgate.check_request");
  assert.equal(pg.psql("select aalgate.protect_schema('public')"), "2");
  assert.equal(pg.psql("select aalgate.protect_schema('api')"), "1");
  const protectedOnce = catalog();
  pg.psql("select aalgate.protect_schema('public'); select aalgate.protect_schema('api');");
  assert.equal(catalog(), protectedOnce, "protect_schema twice changes nothing");
});

test("data API: an enrolled user's aal1 token is refused on a table, a view, an rpc to a security definer function and a second schema", () => {
  const c = claims(USERS.enrolled);
  for (const [query, p] of [
    ["select * from public.todos", "/todos"],
    ["select * from public.todo_titles", "/todo_titles"],
    ["select * from public.all_todos()", "/rpc/all_todos"],
    ["select * from api.items", "/items"],
    ["select * from public.notes", "/notes"],
  ]) {
    const r = postgrest(c, query, { path: p });
    assert.equal(r.ok, false, `${query} must be refused`);
    const res = pgrstResponse(r);
    assert.equal(res.status, 401);
    assert.equal(res.body.code, "aal2_required");
  }
});

test("data API: the refusal is what the gate sends (status 401, PostgREST-shaped body, RFC 9470 challenge)", () => {
  const res = pgrstResponse(postgrest(claims(USERS.enrolled), "select 1"));
  assert.deepEqual(res, {
    status: 401,
    headers: {
      "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", error_description="Multi-factor authentication is required for this request.", acr_values="aal2"',
      "Access-Control-Expose-Headers": "WWW-Authenticate",
    },
    body: {
      code: "aal2_required",
      message: "Multi-factor authentication is required for this request.",
      details: "the user has a verified MFA factor and the token is aal1",
      hint: "Complete an MFA challenge (supabase.auth.mfa.challengeAndVerify), then retry with the refreshed session.",
    },
  });
});

test("data API: aal2 and aal3 pass; unverified-only, no factor, anonymous, service_role and a service role of `aalgate sql role` are unaffected", () => {
  for (const c of [
    claims(USERS.enrolled, "aal2"),
    claims(USERS.enrolled, "aal3"),
    claims(USERS.unverified),
    claims(USERS.none),
    claims(USERS.none, undefined, { aal: undefined }),
    null,
    { role: "service_role", iss: "supabase", ref: "ref" },
    { role: "weather_sync", sub: USERS.enrolled, aal: "aal1" },
    { role: "authenticated", sub: "user_2abcNotAUuid", aal: "aal1" },
  ]) {
    const r = postgrest(c, "select count(*) from public.todos");
    assert.ok(r.ok, `${JSON.stringify(c)}: ${r.text}`);
  }
});

test("data API: a factor verified after the token was issued is refused at once (no stale-claim window)", () => {
  const c = claims(USERS.later, "aal1", { mfa_enrolled: false });
  assert.ok(postgrest(c, "select 1").ok);
  pg.psql(`insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at) values ('10000000-0000-4000-8000-0000000000a4', '${USERS.later}', 'totp', 'verified', now(), now())`);
  try {
    assert.equal(pgrstResponse(postgrest(c, "select 1")).body.code, "aal2_required");
  } finally {
    pg.psql(`delete from auth.mfa_factors where user_id = '${USERS.later}'`);
  }
});

test("storage: an enrolled user's aal1 token sees and writes no objects; at aal2 the user's own policies decide", () => {
  const aal1 = claims(USERS.enrolled);
  const read = storage(aal1, "select count(*) from storage.objects");
  assert.ok(read.ok, read.text);
  assert.equal(read.out.split("\n").pop(), "0", "no object is visible at aal1");
  const write = storage(aal1, `insert into storage.objects (id, bucket_id, name, owner) values ('30000000-0000-4000-8000-0000000000f1', 'private', 'x.png', '${USERS.enrolled}')`);
  assert.equal(write.sqlstate, "42501", "the upload is refused with an RLS violation (a clean 403 in Storage), never a 500");
  const aal2 = storage(claims(USERS.enrolled, "aal2"), "select count(*) from storage.objects");
  assert.equal(aal2.out.split("\n").pop(), "1");
  const other = storage(claims(USERS.none), "select count(*) from storage.objects");
  assert.equal(other.out.split("\n").pop(), "1", "a user without factors is unaffected");
});

test("realtime postgres_changes: rows of protected tables (and of a table created after installation) are not delivered at aal1", () => {
  pg.psql(`create table public.late (id int primary key, v text);
alter table public.late enable row level security;
create policy "late rows are readable" on public.late for select using (true);
grant select on public.late to authenticated;
insert into public.late values (1, 'x');`);
  for (const table of ["public.todos", "public.late", "api.items"]) {
    assert.equal(sees(claims(USERS.enrolled), table, 1), false, `${table} at aal1`);
    assert.equal(sees(claims(USERS.enrolled, "aal2"), table, 1), true, `${table} at aal2`);
    assert.equal(sees(claims(USERS.none), table, 1), true, `${table}, no factor`);
  }
});

test("realtime private channel: an enrolled user at aal1 can neither read nor write; at aal2 the channel's policies decide", () => {
  assert.deepEqual(channel(claims(USERS.enrolled), "room:1"), { read: false, write: false });
  assert.deepEqual(channel(claims(USERS.enrolled, "aal2"), "room:1"), { read: true, write: true });
  assert.deepEqual(channel(claims(USERS.none), "room:1"), { read: true, write: true });
  assert.deepEqual(channel(claims(USERS.none), "room:2"), { read: false, write: false });
});

test("--check lists protected tables without row level security; enable_rls turns it on and keeps today's access", () => {
  const listed = pg.psql("select schema_name || '.' || table_name from aalgate.unprotected_tables()");
  assert.equal(listed, "public.notes");
  const check = execFileSync(bin, ["sql", "wall", "--check"], { encoding: "utf8" });
  assert.match(check, /aalgate\.unprotected_tables\(\)/);
  pg.psql("select aalgate.protect_schema('public', enable_rls => true)");
  assert.equal(pg.psql("select count(*) from aalgate.unprotected_tables()"), "0");
  assert.equal(sees(claims(USERS.none), "public.notes", 1), true, "today's access is kept");
  assert.equal(sees(claims(USERS.enrolled), "public.notes", 1), false, "the wall now holds there too");
});

// Gate-only mode: the proof the gate signs (src/gate/proof.rs), verified here with the same format.
function proof(secret, method, p, ts) {
  const mac = crypto.createHmac("sha256", secret).update(`v1\n${ts}\n${method}\n${p}`).digest("hex");
  return `v1.${ts}.${mac}`;
}

test("gate-only mode: with a proof secret, Data API requests need a valid x-aalgate-proof (two secrets during rotation)", () => {
  const c = claims(USERS.none);
  const now = Math.floor(Date.now() / 1000);
  const A = "proof-secret-A-at-least-32-bytes-long!!";
  const B = "proof-secret-B-at-least-32-bytes-long!!";
  assert.ok(postgrest(c, "select 1").ok, "off while no secret is configured");
  pg.psql(`insert into aalgate.proof_secrets (id, secret) values ('a', '${A}')`);
  try {
    assert.equal(pgrstResponse(postgrest(c, "select 1")).body.code, "proof_required");
    const ok = (h, opts = {}) => postgrest(c, "select 1", { headers: { "x-aalgate-proof": h }, ...opts });
    assert.ok(ok(proof(A, "GET", "/todos", now)).ok);
    assert.equal(pgrstResponse(ok(proof(B, "GET", "/todos", now))).body.code, "proof_invalid", "unknown secret");
    assert.equal(pgrstResponse(ok(proof(A, "POST", "/todos", now))).body.code, "proof_invalid", "other method");
    assert.equal(pgrstResponse(ok(proof(A, "GET", "/secrets", now))).body.code, "proof_invalid", "other path");
    assert.equal(pgrstResponse(ok(proof(A, "GET", "/todos", now - 120))).body.code, "proof_invalid", "too old");
    assert.equal(pgrstResponse(ok("v1.x.y")).body.code, "proof_invalid");
    pg.psql(`insert into aalgate.proof_secrets (id, secret) values ('b', '${B}')`);
    assert.ok(ok(proof(B, "GET", "/todos", now)).ok, "the new secret during rotation");
    assert.ok(ok(proof(A, "GET", "/todos", now)).ok, "the old one still");
    // A valid proof does not lift the MFA rule.
    const enrolled = postgrest(claims(USERS.enrolled), "select 1", { headers: { "x-aalgate-proof": proof(A, "GET", "/todos", now) } });
    assert.equal(pgrstResponse(enrolled).body.code, "aal2_required");
    // The API roles cannot read the secrets.
    for (const role of ["anon", "authenticated", "service_role"]) {
      const r = run(`begin; set local role ${role}; select * from aalgate.proof_secrets; commit;`);
      assert.equal(r.sqlstate, "42501", role);
    }
  } finally {
    pg.psql("delete from aalgate.proof_secrets");
  }
});

test("the HMAC in SQL equals RFC 4231 test case 2", () => {
  const out = pg.psql(`select encode(aalgate.hmac_sha256(convert_to('Jefe', 'UTF8'), convert_to('what do ya want for nothing?', 'UTF8')), 'hex')`);
  assert.equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const long = "k".repeat(100);
  const want = crypto.createHmac("sha256", long).update("m").digest("hex");
  assert.equal(pg.psql(`select encode(aalgate.hmac_sha256(convert_to('${long}', 'UTF8'), convert_to('m', 'UTF8')), 'hex')`), want, "keys over 64 bytes are hashed first");
});

test("grants: the API roles can evaluate the rule but not manage the wall", () => {
  for (const role of ["anon", "authenticated", "service_role"]) {
    for (const fn of ["aalgate.protect_schema('public')", "aalgate.protect_table('public.todos')"]) {
      const r = run(`begin; set local role ${role}; select ${fn}; commit;`);
      assert.equal(r.sqlstate, "42501", `${role} must not run ${fn}`);
    }
  }
  // The rule's functions run as whatever role a request switched to (PUBLIC); the management ones not.
  const acl = pg.psql(`select p.proname || ':' || array_to_string(p.proacl, ',') from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'aalgate' and p.proname in ('hmac_sha256', 'protect_table', 'protect_schema', 'unprotected_tables', 'on_ddl_end') order by 1`);
  assert.equal(acl.split("\n").length, 5);
  for (const line of acl.split("\n")) assert.doesNotMatch(line, /(^|[:,])=X\/|(anon|authenticated|service_role)=/, `only the owner executes: ${line}`);
  const rule = pg.psql(`select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'aalgate' and p.proname in ('check_request', 'aal_ok') and array_to_string(p.proacl, ',') ~ '(^|,)=X/'`);
  assert.equal(rule, "2", "check_request and aal_ok are executable by every role a request may switch to");
  const defs = pg.psql(`select p.proname || ':' || p.prosecdef || ':' || array_to_string(p.proconfig, ',') from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'aalgate' order by 1`);
  for (const line of defs.split("\n")) assert.match(line, /search_path=""/, `fixed search_path: ${line}`);
  const definers = defs.split("\n").filter((l) => l.split(":")[1] === "true").map((l) => l.split(":")[0]).sort();
  assert.deepEqual(definers, ["aal_ok", "require_proof", "schema_protection"], "security definer only where needed");
});

test("review: a custom role a Custom Access Token hook puts in `role` is held to the rule (Supabase Auth sessions carry session_id)", () => {
  pg.psql(`create role staff nologin noinherit; grant authenticated to staff; grant staff to authenticator;
grant usage on schema public to staff; grant select on public.todos to staff;
create policy "staff read" on public.todos for select to staff using (true);`);
  const c = claims(USERS.enrolled, "aal1", { role: "staff" });
  assert.equal(pgrstResponse(postgrest(c, "select * from public.todos")).body.code, "aal2_required");
  assert.equal(sees(c, "public.todos", 1), false, "postgres_changes at aal1");
  assert.ok(postgrest(claims(USERS.enrolled, "aal2", { role: "staff" }), "select * from public.todos").ok, "aal2 passes");
  assert.ok(postgrest({ role: "weather_sync", sub: USERS.enrolled, aal: "aal1" }, "select 1").ok, "a service token (no session_id) still passes");
});

test("review: DDL by roles that cannot read aalgate's tables is not broken (temp tables, other schemas), and their tables in a protected schema are covered", () => {
  pg.psql(`create role prisma login; grant usage, create on schema public to prisma; create schema prisma_own authorization prisma;
create schema limited; create table limited.x (id int); alter table limited.x enable row level security; create policy p on limited.x using (true);`);
  for (const ddl of ["create temp table scratch (x int)", "create table prisma_own.t (id int)", "create table public.prisma_t (id int)", "alter table public.prisma_t add column v text"]) {
    const r = run(`begin; set local role prisma; ${ddl}; commit;`);
    assert.ok(r.ok, `${ddl}: ${r.text}`);
  }
  assert.equal(pg.psql("select count(*) from pg_policy where polrelid = 'public.prisma_t'::regclass and polname = 'aalgate_aal2_if_enrolled'"), "1");
});

test("review: tables created with session_replication_role = replica (restores) are protected too", () => {
  pg.psql(`set session_replication_role = replica; create table public.restored (id int primary key); reset session_replication_role;`);
  assert.equal(pg.psql("select count(*) from pg_policy where polrelid = 'public.restored'::regclass and polname = 'aalgate_aal2_if_enrolled'"), "1");
});

test("review: an enrolled user's aal1 token cannot change buckets (a bucket made public is served without RLS)", () => {
  pg.psql(`insert into storage.buckets (id, name, owner) values ('mine', 'mine', '${USERS.enrolled}');
create policy "owners update buckets" on storage.buckets for update to authenticated
  using (owner = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid);`);
  const r = storage(claims(USERS.enrolled), "update storage.buckets set public = true where id = 'mine' returning id");
  assert.ok(r.ok, r.text);
  assert.equal(pg.psql("select public from storage.buckets where id = 'mine'"), "f");
  const aal2 = storage(claims(USERS.enrolled, "aal2"), "update storage.buckets set public = false where id = 'mine' returning id");
  assert.match(aal2.out, /mine/, "at aal2 the bucket policies decide");
});

test("review: --check does not accept a policy that only has the wall's name", () => {
  pg.psql(`create table public.neutered (id int); alter table public.neutered enable row level security;
alter policy aalgate_aal2_if_enrolled on public.neutered using (true) with check (true);`);
  assert.match(pg.psql("select string_agg(schema_name || '.' || table_name, ',') from aalgate.unprotected_tables()"), /public\.neutered/);
  pg.psql("drop table public.neutered");
});

test("review: a per-database pre-request (which PostgREST prefers) is kept and reported", () => {
  pg.psql("create database perdb");
  const db = (sql) => pg.psql(sql, { database: "perdb" });
  db(fs.readFileSync(path.join(root, "tests/sql/supabase_services_fixture.sql"), "utf8").replace(/^create role[^;]*;/gm, ""));
  db(fs.readFileSync(path.join(root, "tests/sql/supabase_auth_fixture.sql"), "utf8").replace(/^create role[^;]*;/gm, ""));
  pg.psql("alter role authenticator in database perdb set pgrst.db_pre_request = 'public.mine'");
  try {
    const r = spawnSync(path.join(process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin", "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", "perdb", "-f", "-"], { input: WALL, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /already has pgrst.db_pre_request = public.mine/);
  } finally {
    pg.psql("alter role authenticator in database perdb reset pgrst.db_pre_request");
  }
});

test("review: uninstall leaves row level security on where the table has policies of its own", () => {
  pg.psql("create database keep");
  const db = (sql) => pg.psql(sql, { database: "keep" });
  db(fs.readFileSync(path.join(root, "tests/sql/supabase_services_fixture.sql"), "utf8").replace(/^create role[^;]*;/gm, ""));
  db(fs.readFileSync(path.join(root, "tests/sql/supabase_auth_fixture.sql"), "utf8").replace(/^create role[^;]*;/gm, ""));
  db("create table public.docs (id int primary key, owner uuid); grant select on public.docs to authenticated;");
  db(WALL);
  db(`select aalgate.protect_schema('public', enable_rls => true);
create policy "owner only" on public.docs as restrictive for select to authenticated using (owner = (current_setting('request.jwt.claims', true)::jsonb ->> 'sub')::uuid);`);
  db(execFileSync(bin, ["sql", "wall", "--uninstall"], { encoding: "utf8" }).replace(/^alter role authenticator reset[^;]*;/m, ""));
  assert.equal(db("select relrowsecurity from pg_class where oid = 'public.docs'::regclass"), "t");
});

test("uninstall removes every object the wall made and leaves the hook", () => {
  // A fresh database with the hook only, as the picture to return to.
  pg.psql("create database fresh");
  const fresh = (sql) => pg.psql(sql, { database: "fresh" });
  fresh(fs.readFileSync(path.join(root, "tests/sql/supabase_services_fixture.sql"), "utf8").replace(/^create role[^;]*;/gm, ""));
  fresh(fs.readFileSync(path.join(root, "tests/sql/supabase_auth_fixture.sql"), "utf8").replace(/^create role[^;]*;/gm, ""));
  fresh(fs.readFileSync(path.join(root, "sql/20261122000000_aalgate_mfa_claims.sql"), "utf8"));
  fresh("create table public.t (id int primary key); create table public.n (id int primary key); alter table public.t enable row level security;");
  // Role settings are cluster-wide (the other database's install set one): checked in the next test.
  const snapshot = () => pg.psql(catalogQuery(), { database: "fresh" }).split("\n").filter((l) => !l.startsWith("setting ")).join("\n");
  const before = snapshot();
  fresh(WALL);
  fresh("select aalgate.protect_schema('public', enable_rls => true); create table public.later (id int);");
  assert.notEqual(snapshot(), before);
  fresh(execFileSync(bin, ["sql", "wall", "--uninstall"], { encoding: "utf8" }));
  const after = snapshot().split("\n").filter((l) => !/\blater\b/.test(l));
  assert.deepEqual(after, before.split("\n"));
  assert.equal(fresh("select count(*) from pg_proc where proname = 'add_mfa_claims'"), "1", "the hook stays");
});

function catalogQuery() {
  return `select 'fn ' || p.oid::regprocedure::text || ' ' || coalesce(array_to_string(p.proacl, ','), '') from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname not in ('pg_catalog', 'information_schema')
union all select 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || permissive || ' ' || array_to_string(roles, ',') || ' ' || coalesce(qual, '') from pg_policies
union all select 'rls ' || c.oid::regclass::text || ' ' || c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
union all select 'table ' || c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'aalgate'
union all select 'schema ' || nspname || ' ' || coalesce(array_to_string(nspacl, ','), '') from pg_namespace where nspname = 'aalgate'
union all select 'evt ' || evtname from pg_event_trigger
union all select 'setting ' || array_to_string(setconfig, ',') from pg_db_role_setting
order by 1`;
}

test("install keeps a pre-request function of the user's own (PostgREST takes one) and says how to compose", () => {
  pg.psql("create database own");
  const own = (sql) => pg.psql(sql, { database: "own" });
  own(fs.readFileSync(path.join(root, "tests/sql/supabase_services_fixture.sql"), "utf8").replace(/^create role[^;]*;/gm, ""));
  own(fs.readFileSync(path.join(root, "tests/sql/supabase_auth_fixture.sql"), "utf8").replace(/^create role[^;]*;/gm, ""));
  const saved = preRequestFunction();
  pg.psql("alter role authenticator set pgrst.db_pre_request = 'public.my_pre_request'");
  try {
    const r = spawnSync(path.join(process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin", "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", "own", "-f", "-"], { input: WALL, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /WARNING:  aalgate: authenticator already has pgrst.db_pre_request = public.my_pre_request; it is kept/);
    assert.equal(preRequestFunction(), "public.my_pre_request");
  } finally {
    pg.psql(saved ? `alter role authenticator set pgrst.db_pre_request = '${saved}'` : "alter role authenticator reset pgrst.db_pre_request");
  }
});

test("uninstall on this database too: the pre-request setting goes and the wall stops refusing", () => {
  uninstall();
  assert.equal(preRequestFunction(), undefined);
  assert.ok(postgrest(claims(USERS.enrolled), "select 1").ok);
  assert.equal(pg.psql("select count(*) from pg_policies where policyname like 'aalgate%'"), "0");
});
