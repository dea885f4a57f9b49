-- Removes everything sql/20261202000000_aalgate_wall.sql made (`aalgate sql wall --uninstall`).
-- Leaves the MFA-claims hook (sql/20261122000000_aalgate_mfa_claims.sql) and its schema alone.

-- The Data API pre-request, only if it is still ours.
do $$ begin
  if exists (
    select 1 from pg_catalog.pg_db_role_setting s
    join pg_catalog.pg_roles r on r.oid = s.setrole
    where r.rolname = 'authenticator' and s.setdatabase = 0
      and 'pgrst.db_pre_request=aalgate.check_request' = any (s.setconfig)) then
    alter role authenticator reset pgrst.db_pre_request;
  end if;
end $$;
notify pgrst, 'reload config';

drop event trigger if exists aalgate_protect_new_tables;

-- Every policy the wall added; where it turned row level security on, it goes off again.
do $$
declare
  p record;
begin
  for p in select schemaname, tablename, policyname from pg_catalog.pg_policies
           where policyname in ('aalgate_aal2_if_enrolled', 'aalgate_keep_access')
  loop
    execute format('drop policy %I on %I.%I', p.policyname, p.schemaname, p.tablename);
    if p.policyname = 'aalgate_keep_access' then
      -- Off again only where nothing else relies on it: other policies mean someone uses RLS here now.
      if not exists (select 1 from pg_catalog.pg_policies o where o.schemaname = p.schemaname and o.tablename = p.tablename
                     and o.policyname not in ('aalgate_aal2_if_enrolled', 'aalgate_keep_access')) then
        execute format('alter table %I.%I disable row level security', p.schemaname, p.tablename);
      else
        raise warning 'aalgate: %.% keeps row level security on (it has policies of its own)', p.schemaname, p.tablename;
      end if;
    end if;
  end loop;
end $$;

drop function if exists aalgate.check_request();
drop function if exists aalgate.require_proof();
drop function if exists aalgate.require_aal2_if_enrolled();
drop function if exists aalgate.aal_ok();
drop function if exists aalgate.request_claims();
drop function if exists aalgate.hmac_sha256(bytea, bytea);
drop function if exists aalgate.unprotected_tables();
drop function if exists aalgate.protect_schema(name, boolean);
drop function if exists aalgate.protect_table(regclass, boolean);
drop function if exists aalgate.on_ddl_end();
drop function if exists aalgate.schema_protection(name);
drop table if exists aalgate.protected_schemas;
drop table if exists aalgate.proof_secrets;

-- The schema goes when nothing else lives there; otherwise the API roles lose the usage the wall gave.
do $$ begin
  if not exists (select 1 from pg_catalog.pg_depend d join pg_catalog.pg_namespace n on n.oid = d.refobjid
                 where n.nspname = 'aalgate' and d.refclassid = 'pg_catalog.pg_namespace'::regclass
                   and d.deptype = 'n') then
    drop schema if exists aalgate;
  else
    revoke usage on schema aalgate from public;
  end if;
end $$;
