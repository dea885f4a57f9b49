-- A fixture of the parts of Supabase's Storage and Realtime schemas the origin wall touches, as the
-- services create them (loaded after supabase_auth_fixture.sql by tests/sql/wall.test.mjs):
-- - Storage (supabase/storage migrations tenant/0002-storage-schema.sql, 0046/0049 grants):
--   supabase_storage_admin owns storage.buckets and storage.objects, row level security is on, the API
--   roles have table grants, and policies decide (here: users see their own objects).
-- - Realtime (supabase/realtime priv/repo/migrations, realtime.messages and realtime.topic()):
--   private channels are authorized by RLS on realtime.messages with the topic in `realtime.topic`.
-- Superuser-only details (supautils, the replication slot behind postgres_changes) are left out.

create role supabase_storage_admin noinherit createrole login noreplication;
grant authenticator to supabase_storage_admin;

create schema storage authorization supabase_storage_admin;
grant usage on schema storage to anon, authenticated, service_role;
create table storage.buckets (
  id text primary key,
  name text not null unique,
  owner uuid,
  public boolean default false,
  created_at timestamptz default now()
);
create table storage.objects (
  id uuid primary key,
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  metadata jsonb,
  created_at timestamptz default now()
);
alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;
alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant all on storage.buckets, storage.objects to postgres with grant option;
create policy "buckets are listed" on storage.buckets for select to authenticated using (true);
create policy "own objects" on storage.objects for all to authenticated
  using (owner = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid)
  with check (owner = (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid);

create schema realtime;
grant usage on schema realtime to anon, authenticated, service_role;
create table realtime.messages (
  id bigserial primary key,
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default true,
  inserted_at timestamptz not null default now()
);
alter table realtime.messages enable row level security;
grant select, insert on realtime.messages to anon, authenticated, service_role;
grant usage on sequence realtime.messages_id_seq to anon, authenticated, service_role;
create function realtime.topic() returns text language sql stable
  as $$ select nullif(current_setting('realtime.topic', true), '')::text $$;
grant execute on function realtime.topic() to anon, authenticated, service_role;
create policy "room members read" on realtime.messages for select to authenticated
  using (realtime.topic() = 'room:1');
create policy "room members write" on realtime.messages for insert to authenticated
  with check (realtime.topic() = 'room:1');
