// The Custom Access Token hook and its helper (sql/*.sql) in a real PostgreSQL 15, on a fixture of
// Supabase's auth schema (tests/sql/supabase_auth_fixture.sql), called the way Supabase Auth calls a
// hook: as supabase_auth_admin, inside a transaction, with statement_timeout 2 s.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startCluster } from "./cluster.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
let pg;

const USERS = {
  none: "00000000-0000-4000-8000-000000000001",
  unverified: "00000000-0000-4000-8000-000000000002",
  totp: "00000000-0000-4000-8000-000000000003",
  phone: "00000000-0000-4000-8000-000000000004",
  webauthn: "00000000-0000-4000-8000-000000000005",
  several: "00000000-0000-4000-8000-000000000006",
  several_unverified: "00000000-0000-4000-8000-000000000007",
  admin: "00000000-0000-4000-8000-000000000008",
};
const FACTORS = [
  ["unverified", "totp", "unverified"],
  ["totp", "totp", "verified"],
  ["phone", "phone", "verified"],
  ["webauthn", "webauthn", "verified"],
  ["several", "totp", "unverified"],
  ["several", "phone", "verified"],
  ["several", "webauthn", "unverified"],
  ["several_unverified", "totp", "unverified"],
  ["several_unverified", "phone", "unverified"],
  ["admin", "totp", "verified"],
];

/** The claims Auth puts in the event: every claim it requires in the hook's output, and some more. */
function authClaims(user) {
  return {
    aud: "authenticated", exp: 1793494800, iat: 1793491200, iss: "https://ref.supabase.co/auth/v1", sub: user,
    email: "user@example.com", phone: "", app_metadata: { provider: "email", providers: ["email"] }, user_metadata: {},
    role: "authenticated", aal: "aal1", amr: [{ method: "password", timestamp: 1793491200 }], session_id: "8a6b2b1c-0000-4000-8000-000000000001",
    is_anonymous: false,
  };
}
const REQUIRED = ["aud", "exp", "iat", "sub", "email", "phone", "role", "aal", "session_id", "is_anonymous"];

const q = (json) => `$aalgate$${JSON.stringify(json)}$aalgate$::jsonb`;

/** Calls a hook as Auth does and returns its output. */
function callAsAuth(fn, event) {
  const out = pg.psql(`begin;
set local role supabase_auth_admin;
set local statement_timeout = '2s';
select ${fn}(${q(event)});
commit;`);
  return JSON.parse(out);
}

function event(user) {
  return { user_id: user, claims: authClaims(user), authentication_method: "password" };
}

before(async () => {
  pg = await startCluster();
  pg.psql(fs.readFileSync(path.join(root, "tests/sql/supabase_auth_fixture.sql"), "utf8"));
  // Applied in file-name order, as `supabase db push` / `supabase migration up` would.
  for (const f of fs.readdirSync(path.join(root, "sql")).filter((f) => f.endsWith(".sql")).sort()) {
    pg.psql(fs.readFileSync(path.join(root, "sql", f), "utf8"));
  }
  const users = Object.values(USERS).map((id) => `('${id}', 'authenticated', 'authenticated', now(), now())`).join(",");
  const factors = FACTORS.map(([u, type, status], i) => `('10000000-0000-4000-8000-${String(i).padStart(12, "0")}', '${USERS[u]}', '${type}', '${status}', now(), now())`).join(",");
  pg.psql(`insert into auth.users (id, aud, role, created_at, updated_at) values ${users};
insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at) values ${factors};`);
});

after(() => pg?.stop());

const expected = { none: false, unverified: false, totp: true, phone: true, webauthn: true, several: true, several_unverified: false };

for (const [name, enrolled] of Object.entries(expected)) {
  test(`hook: user with ${name.replace("_", " ")} factor(s) → mfa_enrolled ${enrolled}, every claim Auth made kept`, () => {
    const e = event(USERS[name]);
    const out = callAsAuth("public.aalgate_access_token_hook", e);
    assert.deepEqual(Object.keys(out).sort(), Object.keys(e).sort(), "the event comes back, with no error member");
    assert.equal(out.claims.mfa_enrolled, enrolled);
    assert.deepEqual(out.claims, { ...e.claims, mfa_enrolled: enrolled });
    for (const c of REQUIRED) assert.ok(c in out.claims, `required claim ${c} survives`);
  });
}

test("hook: a claim mfa_enrolled already in the event is replaced by the database's answer", () => {
  const e = event(USERS.none);
  e.claims.mfa_enrolled = true;
  assert.equal(callAsAuth("public.aalgate_access_token_hook", e).claims.mfa_enrolled, false);
});

test("hook: an event it cannot read never fails sign-in and never claims 'not enrolled'", () => {
  const bad = { ...event(USERS.totp), user_id: "not-a-uuid" };
  const out = callAsAuth("public.aalgate_access_token_hook", bad);
  assert.deepEqual(out, bad, "returned unchanged, without mfa_enrolled");
  const noClaims = { user_id: USERS.totp };
  assert.deepEqual(callAsAuth("public.aalgate_access_token_hook", noClaims), noClaims);
  const noUser = { claims: authClaims(USERS.totp) };
  assert.deepEqual(callAsAuth("public.aalgate_access_token_hook", noUser), noUser, "no user_id: no claim, never false");
  const nullUser = { user_id: null, claims: authClaims(USERS.totp) };
  assert.deepEqual(callAsAuth("public.aalgate_access_token_hook", nullUser), nullUser);
});

test("grants: only supabase_auth_admin can execute the hook and the helper", () => {
  for (const role of ["authenticated", "anon", "service_role", "authenticator"]) {
    for (const fn of ["public.aalgate_access_token_hook", "aalgate.add_mfa_claims"]) {
      assert.throws(
        () => pg.psql(`begin; set local role ${role}; select ${fn}(${q(event(USERS.totp))}); commit;`),
        /permission denied/,
        `${role} must not execute ${fn}`,
      );
    }
  }
  const acl = pg.psql(`select proname || ':' || array_to_string(proacl, ',') from pg_proc where proname in ('aalgate_access_token_hook', 'add_mfa_claims') order by proname`);
  for (const line of acl.split("\n")) {
    assert.match(line, /supabase_auth_admin=X\//);
    assert.doesNotMatch(line, /(^|[:,])=X\//, `PUBLIC has no EXECUTE: ${line}`);
    assert.doesNotMatch(line, /(authenticated|anon|service_role)=/, line);
  }
});

test("helper composes with an existing RBAC hook (sql/examples/…_rbac_example.sql)", () => {
  const tenant = "20000000-0000-4000-8000-000000000001";
  pg.psql(fs.readFileSync(path.join(root, "sql/examples/20261122000100_rbac_example.sql"), "utf8"));
  pg.psql(`insert into public.user_roles (user_id, role, tenant_id) values ('${USERS.admin}', 'admin', '${tenant}');
insert into public.role_permissions (role, permission) values ('admin', 'reports.read'), ('admin', 'users.delete'), ('member', 'reports.read');`);
  const e = event(USERS.admin);
  const out = callAsAuth("public.custom_access_token_hook", e);
  assert.deepEqual(out.claims, { ...e.claims, user_role: "admin", tenant_id: tenant, permissions: ["reports.read", "users.delete"], mfa_enrolled: true });
  const plain = callAsAuth("public.custom_access_token_hook", event(USERS.none));
  assert.equal(plain.claims.user_role, null);
  assert.deepEqual(plain.claims.permissions, []);
  assert.equal(plain.claims.mfa_enrolled, false);
  for (const c of REQUIRED) assert.ok(c in out.claims, `required claim ${c} survives`);
  for (const role of ["authenticated", "anon", "service_role"]) {
    assert.throws(() => pg.psql(`begin; set local role ${role}; select * from public.user_roles; commit;`), /permission denied/, role);
  }
});

test("helper: a plain call from another hook (the documented one-liner) gives the same claim", () => {
  const out = callAsAuth("aalgate.add_mfa_claims", event(USERS.webauthn));
  assert.equal(out.claims.mfa_enrolled, true);
});
