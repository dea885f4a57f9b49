-- A fixture of the parts of a Supabase database the aalgate hook touches, as Supabase creates them
-- (roles from supabase/postgres's init scripts; auth.users and auth.mfa_factors with the columns,
-- enums, ownership and index Supabase Auth's migrations create). Loaded into a throw-away cluster by
-- tests/sql/hook.test.mjs before the files under sql/.

create role supabase_auth_admin noinherit createrole login noreplication;
create role authenticator noinherit login noreplication;
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
grant anon, authenticated, service_role to authenticator;

-- Supabase's default privileges in `public`: what migrations create there is granted to the API roles
-- unless revoked (the hook's revokes are tested against this).
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;

create schema auth authorization supabase_auth_admin;
grant usage on schema auth to anon, authenticated, service_role;

create type auth.factor_type as enum ('totp', 'webauthn', 'phone');
create type auth.factor_status as enum ('unverified', 'verified');
alter type auth.factor_type owner to supabase_auth_admin;
alter type auth.factor_status owner to supabase_auth_admin;

create table auth.users (
  instance_id uuid null,
  id uuid not null primary key,
  aud varchar(255) null,
  role varchar(255) null,
  email varchar(255) null,
  encrypted_password varchar(255) null,
  email_confirmed_at timestamptz null,
  phone text null unique default null,
  phone_confirmed_at timestamptz null,
  last_sign_in_at timestamptz null,
  raw_app_meta_data jsonb null,
  raw_user_meta_data jsonb null,
  is_super_admin bool null,
  created_at timestamptz null,
  updated_at timestamptz null,
  banned_until timestamptz null,
  deleted_at timestamptz null,
  is_sso_user boolean not null default false,
  is_anonymous boolean not null default false
);
alter table auth.users owner to supabase_auth_admin;

create table auth.mfa_factors (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text null,
  factor_type auth.factor_type not null,
  status auth.factor_status not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  secret text null,
  phone text null,
  last_challenged_at timestamptz null unique,
  web_authn_credential jsonb null,
  web_authn_aaguid uuid null
);
create index factor_id_created_at_idx on auth.mfa_factors (user_id, created_at);
alter table auth.mfa_factors owner to supabase_auth_admin;
