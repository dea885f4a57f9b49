-- aalgate origin wall: the project's own database refuses aal1 tokens of users who have a verified MFA
-- factor, so going around the gate (the project URL is public) gains nothing.
--
-- One rule, `aalgate.aal_ok()`, for every path that reaches data:
--   Data API (PostgREST, /graphql/v1)  aalgate.check_request() as PostgREST's db_pre_request: answers
--                                      401 aal2_required with the RFC 9470 challenge, like the gate
--   Storage (storage.objects)          a restrictive RLS policy
--   Realtime private channels          a restrictive RLS policy on realtime.messages
--   tables (Realtime postgres_changes, a restrictive RLS policy on every table of the schemas you protect
--   security definer functions that    (aalgate.protect_schema('public')), and an event trigger that adds
--   read them as the caller, …)        it to tables created later
--
-- The rule: a request whose JWT claims (`request.jwt.claims`, set by PostgREST, Storage and Realtime)
-- say role `authenticated` and an `aal` other than aal2/aal3, from a user (`sub`) who has a VERIFIED
-- factor in auth.mfa_factors, is refused. The factor is looked up at request time (security definer,
-- so no grant on auth.mfa_factors is needed, and a factor verified after the token was issued counts at
-- once). Anonymous, service_role and other roles pass unchanged.
--
-- Optional gate-only mode: with a row in aalgate.proof_secrets, Data API requests must carry the
-- gate's `x-aalgate-proof` header (see aalgate.require_proof()).
--
-- Idempotent: running it twice changes nothing. Remove with `aalgate sql wall --uninstall`.
-- Needs what Supabase grants `postgres` (supautils): `alter role authenticator set pgrst.*`, policies on
-- storage.objects and realtime.messages, and event triggers (which supautils runs for DDL of
-- non-reserved roles; tables created by supabase_admin are not seen: run protect_schema again).

create schema if not exists aalgate;
comment on schema aalgate is 'aalgate: MFA enrollment claims and the origin wall';

-- Which schemas protect_schema() covers (the event trigger protects new tables there), and whether it
-- also turns on row level security for tables that have none.
create table if not exists aalgate.protected_schemas (
  schema_name name primary key,
  enable_rls boolean not null default false
);

-- Gate-only mode: the HMAC secrets the gate signs x-aalgate-proof with (two during a rotation).
create table if not exists aalgate.proof_secrets (
  id text primary key,
  secret text not null check (length(secret) >= 32),
  created_at timestamptz not null default now()
);
revoke all on table aalgate.protected_schemas, aalgate.proof_secrets from public;
do $$ begin
  execute 'revoke all on table aalgate.protected_schemas, aalgate.proof_secrets from anon, authenticated, service_role';
exception when undefined_object then null;
end $$;

-- The request's JWT claims as every Supabase service sets them.
create or replace function aalgate.request_claims()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

-- The rule. Never raises (Realtime and Storage treat an error in a policy as a failure, not a refusal).
create or replace function aalgate.aal_ok()
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  claims jsonb;
  sub uuid;
begin
  begin
    claims := aalgate.request_claims();
  exception when others then
    return false; -- unreadable claims: fail closed
  end;
  if jsonb_typeof(claims) <> 'object' then
    return true;
  end if;
  -- A user's token: role authenticated, or any other role on a Supabase Auth session (a Custom Access
  -- Token hook may set a custom role; service tokens never carry session_id).
  if claims ->> 'role' is distinct from 'authenticated'
     and (claims ->> 'role' = 'service_role' or not (claims ? 'session_id')) then
    return true;
  end if;
  if claims ->> 'aal' in ('aal2', 'aal3') then
    return true;
  end if;
  begin
    sub := (claims ->> 'sub')::uuid;
  exception when others then
    return true; -- not a Supabase Auth user id: such a user has no factors in auth.mfa_factors
  end;
  return not exists (
    select 1 from auth.mfa_factors f where f.user_id = sub and f.status = 'verified'
  );
end;
$$;
comment on function aalgate.aal_ok() is
  'aalgate: false for an aal1 token of a user with a verified MFA factor (the origin wall rule)';

-- The Data API refusal, in PostgREST's custom-error form: the same status, body and challenge as the gate.
create or replace function aalgate.require_aal2_if_enrolled()
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if not aalgate.aal_ok() then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'aal2_required',
        'message', 'Multi-factor authentication is required for this request.',
        'details', 'the user has a verified MFA factor and the token is aal1',
        'hint', 'Complete an MFA challenge (supabase.auth.mfa.challengeAndVerify), then retry with the refreshed session.'
      )::text,
      detail = json_build_object(
        'status', 401,
        'headers', json_build_object(
          'WWW-Authenticate', 'Bearer error="insufficient_user_authentication", error_description="Multi-factor authentication is required for this request.", acr_values="aal2"',
          'Access-Control-Expose-Headers', 'WWW-Authenticate'
        )
      )::text;
  end if;
end;
$$;
comment on function aalgate.require_aal2_if_enrolled() is
  'aalgate: raises PostgREST''s 401 aal2_required for an aal1 token of an enrolled user; call it from your own db_pre_request';

-- HMAC-SHA256 with the built-in sha256() (no extension needed, whatever schema pgcrypto lives in).
create or replace function aalgate.hmac_sha256(key bytea, message bytea)
returns bytea
language plpgsql
immutable
strict
set search_path = ''
as $$
declare
  k bytea := key;
  ipad bytea;
  opad bytea;
  i int;
begin
  if length(k) > 64 then
    k := sha256(k);
  end if;
  k := k || decode(repeat('00', 64 - length(k)), 'hex');
  ipad := k;
  opad := k;
  for i in 0..63 loop
    ipad := set_byte(ipad, i, get_byte(k, i) # 54);  -- 0x36
    opad := set_byte(opad, i, get_byte(k, i) # 92);  -- 0x5c
  end loop;
  return sha256(opad || sha256(ipad || message));
end;
$$;

-- Gate-only mode. Off while aalgate.proof_secrets is empty. Otherwise a Data API request must carry
-- `x-aalgate-proof: v1.<unix seconds>.<hex HMAC-SHA256>` made by the gate with one of the secrets over
-- "v1\n<unix seconds>\n<METHOD>\n<request.path as PostgREST sees it>", at most 60 s old (or 5 s
-- ahead). Without a valid one: 401 proof_required / proof_invalid.
create or replace function aalgate.require_proof()
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  proof text;
  parts text[];
  ts bigint;
  message bytea;
  ok boolean := false;
  s record;
  fail text;
begin
  if not exists (select 1 from aalgate.proof_secrets) then
    return;
  end if;
  begin
    proof := nullif(current_setting('request.headers', true), '')::json ->> 'x-aalgate-proof';
  exception when others then
    proof := null;
  end;
  if proof is null then
    fail := 'proof_required';
  else
    parts := string_to_array(proof, '.');
    if array_length(parts, 1) = 3 and parts[1] = 'v1' and parts[2] ~ '^[0-9]{1,12}$'
       and parts[3] ~ '^[0-9a-f]{64}$' then
      ts := parts[2]::bigint;
      if ts between extract(epoch from now())::bigint - 60 and extract(epoch from now())::bigint + 5 then
        message := convert_to(
          'v1' || chr(10) || parts[2] || chr(10) || upper(coalesce(current_setting('request.method', true), ''))
            || chr(10) || coalesce(current_setting('request.path', true), ''),
          'UTF8');
        for s in select secret from aalgate.proof_secrets loop
          if encode(aalgate.hmac_sha256(convert_to(s.secret, 'UTF8'), message), 'hex') = parts[3] then
            ok := true;
          end if;
        end loop;
      end if;
    end if;
    if not ok then
      fail := 'proof_invalid';
    end if;
  end if;
  if fail is not null then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', fail,
        'message', 'This project only accepts Data API requests that came through its aalgate gate.',
        'details', case fail when 'proof_required' then 'the request carries no x-aalgate-proof header'
                             else 'the x-aalgate-proof header is not valid (wrong secret, path or method, or too old)' end,
        'hint', 'Send the request to the gate, not to the project URL.'
      )::text,
      detail = json_build_object('status', 401, 'headers', json_build_object(
        'WWW-Authenticate', 'Bearer error="invalid_request", error_description="This project only accepts requests through its gate."'
      ))::text;
  end if;
end;
$$;

-- PostgREST's pre-request function (Data API and GraphQL).
create or replace function aalgate.check_request()
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  perform aalgate.require_proof();
  perform aalgate.require_aal2_if_enrolled();
end;
$$;
comment on function aalgate.check_request() is
  'aalgate: PostgREST db_pre_request (set on role authenticator): the origin wall for the Data API';

-- The restrictive policy every protected table gets.
create or replace function aalgate.protect_table(tbl regclass, enable_rls boolean default false)
returns void
language plpgsql
set search_path = ''
as $$
declare
  rls boolean;
begin
  select c.relrowsecurity into rls from pg_catalog.pg_class c where c.oid = tbl and c.relkind in ('r', 'p');
  if rls is null then
    return; -- not a table (views run their base tables' policies or as their owner: see README)
  end if;
  if not rls and enable_rls then
    -- Today's access kept for every role that has grants; the restrictive policy then narrows it.
    execute format('alter table %s enable row level security', tbl);
    if not exists (select 1 from pg_catalog.pg_policy p where p.polrelid = tbl and p.polname = 'aalgate_keep_access') then
      execute format('create policy aalgate_keep_access on %s as permissive for all to public using (true) with check (true)', tbl);
    end if;
  end if;
  if not exists (select 1 from pg_catalog.pg_policy p where p.polrelid = tbl and p.polname = 'aalgate_aal2_if_enrolled') then
    execute format(
      'create policy aalgate_aal2_if_enrolled on %s as restrictive for all to public using ((select aalgate.aal_ok())) with check ((select aalgate.aal_ok()))',
      tbl);
  end if;
end;
$$;

-- Protects every table of a schema now, and (through the event trigger) every table created there later.
create or replace function aalgate.protect_schema(schema_name name, enable_rls boolean default false)
returns int
language plpgsql
set search_path = ''
as $$
declare
  t record;
  n int := 0;
begin
  insert into aalgate.protected_schemas as p (schema_name, enable_rls)
  values (protect_schema.schema_name, protect_schema.enable_rls)
  on conflict on constraint protected_schemas_pkey do update set enable_rls = excluded.enable_rls;
  for t in
    select c.oid from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = protect_schema.schema_name and c.relkind in ('r', 'p')
  loop
    perform aalgate.protect_table(t.oid::regclass, protect_schema.enable_rls);
    n := n + 1;
  end loop;
  return n;
end;
$$;

-- Tables of protected schemas without row level security (a restrictive policy does nothing there):
-- what `aalgate sql wall --check` lists.
create or replace function aalgate.unprotected_tables()
returns table (schema_name name, table_name name, reason text)
language sql
stable
set search_path = ''
as $$
  select n.nspname, c.relname,
         case when not c.relrowsecurity then 'row level security is off: the wall policy does nothing here'
              else 'no aalgate_aal2_if_enrolled policy, or one that is not the wall''s' end
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  join aalgate.protected_schemas p on p.schema_name = n.nspname
  where c.relkind in ('r', 'p')
    and (not c.relrowsecurity or not exists (
      select 1 from pg_catalog.pg_policy pol where pol.polrelid = c.oid and pol.polname = 'aalgate_aal2_if_enrolled'
        and not pol.polpermissive and pol.polcmd = '*' and pol.polroles = array[0::oid]
        and pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) = '( SELECT aalgate.aal_ok() AS aal_ok)'
        and pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) = '( SELECT aalgate.aal_ok() AS aal_ok)'))
  order by 1, 2
$$;

-- Whether a schema is protected (and with enable_rls): the event trigger runs as whoever ran the DDL,
-- who may not read aalgate.protected_schemas.
create or replace function aalgate.schema_protection(schema_name name)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select p.enable_rls from aalgate.protected_schemas p where p.schema_name = schema_protection.schema_name
$$;

-- Runs as the role that ran the DDL, which owns the new table and so may add its policy.
create or replace function aalgate.on_ddl_end()
returns event_trigger
language plpgsql
set search_path = ''
as $$
declare
  obj record;
  opt boolean;
  rls boolean;
begin
  for obj in select * from pg_catalog.pg_event_trigger_ddl_commands()
             where command_tag in ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE')
               and object_type = 'table' and objid not in (select c.oid from pg_catalog.pg_class c where c.relpersistence = 't')
  loop
    opt := aalgate.schema_protection(obj.schema_name);
    continue when opt is null;
    select c.relrowsecurity into rls from pg_catalog.pg_class c where c.oid = obj.objid and c.relkind in ('r', 'p');
    continue when rls is null;
    if not rls and opt then
      execute format('alter table %s enable row level security', obj.objid::regclass);
      if not exists (select 1 from pg_catalog.pg_policy p where p.polrelid = obj.objid and p.polname = 'aalgate_keep_access') then
        execute format('create policy aalgate_keep_access on %s as permissive for all to public using (true) with check (true)', obj.objid::regclass);
      end if;
    end if;
    if not exists (select 1 from pg_catalog.pg_policy p where p.polrelid = obj.objid and p.polname = 'aalgate_aal2_if_enrolled') then
      execute format(
        'create policy aalgate_aal2_if_enrolled on %s as restrictive for all to public using ((select aalgate.aal_ok())) with check ((select aalgate.aal_ok()))',
        obj.objid::regclass);
    end if;
  end loop;
end;
$$;

do $$ begin
  if not exists (select 1 from pg_catalog.pg_event_trigger where evtname = 'aalgate_protect_new_tables') then
    create event trigger aalgate_protect_new_tables on ddl_command_end
      when tag in ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE')
      execute function aalgate.on_ddl_end();
  end if;
  alter event trigger aalgate_protect_new_tables enable always;
end $$;

-- Storage and Realtime private channels: one restrictive policy each (row level security is on there).
do $$ begin
  if to_regclass('storage.objects') is not null and not exists (
    select 1 from pg_catalog.pg_policies where schemaname = 'storage' and tablename = 'objects'
      and policyname = 'aalgate_aal2_if_enrolled') then
    create policy aalgate_aal2_if_enrolled on storage.objects as restrictive for all to public
      using ((select aalgate.aal_ok())) with check ((select aalgate.aal_ok()));
  end if;
  if to_regclass('storage.buckets') is not null and not exists (
    select 1 from pg_catalog.pg_policies where schemaname = 'storage' and tablename = 'buckets'
      and policyname = 'aalgate_aal2_if_enrolled') then
    create policy aalgate_aal2_if_enrolled on storage.buckets as restrictive for all to public
      using ((select aalgate.aal_ok())) with check ((select aalgate.aal_ok()));
  end if;
  if to_regclass('realtime.messages') is not null and not exists (
    select 1 from pg_catalog.pg_policies where schemaname = 'realtime' and tablename = 'messages'
      and policyname = 'aalgate_aal2_if_enrolled') then
    create policy aalgate_aal2_if_enrolled on realtime.messages as restrictive for all to public
      using ((select aalgate.aal_ok())) with check ((select aalgate.aal_ok()));
  end if;
end $$;

-- Policies an earlier version made `to authenticated`: to every role (custom user roles need not inherit
-- authenticated; the rule itself passes anon, service_role and service tokens).
do $$
declare
  p record;
begin
  for p in select pol.polrelid::regclass as tbl from pg_catalog.pg_policy pol
           where pol.polname = 'aalgate_aal2_if_enrolled' and pol.polroles <> array[0::oid]
  loop
    execute format('alter policy aalgate_aal2_if_enrolled on %s to public', p.tbl);
  end loop;
end $$;

-- Who may call what. The pre-request and the policies run as whatever role the request switched to:
-- anon, authenticated, service_role, and every role a service token may name (`aalgate sql role`), so
-- the rule's functions are executable by PUBLIC (they only answer about the caller's own claims). The
-- management functions are for the migration's owner only.
grant usage on schema aalgate to public;
revoke all on function aalgate.hmac_sha256(bytea, bytea), aalgate.protect_table(regclass, boolean),
  aalgate.protect_schema(name, boolean), aalgate.unprotected_tables(), aalgate.on_ddl_end() from public;
do $$ begin
  execute 'revoke all on function aalgate.hmac_sha256(bytea, bytea), aalgate.protect_table(regclass, boolean), aalgate.protect_schema(name, boolean), aalgate.unprotected_tables() from anon, authenticated, service_role';
exception when undefined_object then null;
end $$;
grant execute on function aalgate.schema_protection(name) to public;
grant execute on function aalgate.request_claims(), aalgate.aal_ok(), aalgate.require_aal2_if_enrolled(),
  aalgate.require_proof(), aalgate.check_request() to public;

-- The Data API: PostgREST calls check_request() before every query (in-database config, reloaded).
-- A pre-request function of your own is kept (PostgREST takes one): call the rule from it with
-- `perform aalgate.require_aal2_if_enrolled();`.
do $$
declare
  current_fn text;
begin
  -- As PostgREST reads it (Config/Database.hs): a setting for this database wins over the role's.
  select substr(c, length('pgrst.db_pre_request=') + 1) into current_fn
  from pg_catalog.pg_db_role_setting s
  join pg_catalog.pg_roles r on r.oid = s.setrole
  cross join lateral unnest(s.setconfig) c
  where r.rolname = 'authenticator' and c like 'pgrst.db_pre_request=%'
    and s.setdatabase in (0, (select d.oid from pg_catalog.pg_database d where d.datname = current_database()))
  order by s.setdatabase desc
  limit 1;
  if current_fn is null or current_fn = 'aalgate.check_request' then
    alter role authenticator set pgrst.db_pre_request = 'aalgate.check_request';
  else
    raise warning 'aalgate: authenticator already has pgrst.db_pre_request = %; it is kept. Add `perform aalgate.require_aal2_if_enrolled();` to it, or the Data API is not covered by the wall', current_fn;
  end if;
end $$;
notify pgrst, 'reload config';
