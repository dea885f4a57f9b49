-- aalgate: put MFA enrollment into the access token (Supabase Custom Access Token hook).
--
-- Supabase tokens say how the user signed in (aal, amr) but not whether they HAVE a verified MFA factor,
-- which is what "aal2 only for enrolled users" needs. This migration adds:
--   aalgate.add_mfa_claims(event jsonb) -> jsonb   composable helper: sets the boolean claim
--                                                   `mfa_enrolled` (true iff the user has at least one
--                                                   factor with status 'verified'); call it from your hook
--   public.aalgate_access_token_hook(event jsonb)   a complete hook for projects that have none
--
-- Auth calls the hook as supabase_auth_admin inside the token's transaction with a 2 s timeout, so the
-- functions read one indexed table and never raise: a user with no factors, or an event we cannot read,
-- still signs in (without the claim, the gate falls back to its API lookup or fails closed).
-- Copy this file into supabase/migrations/ and enable the hook (README "Install the hook").

create schema if not exists aalgate;
comment on schema aalgate is 'aalgate: MFA enrollment claims for the Custom Access Token hook';

create or replace function aalgate.add_mfa_claims(event jsonb)
returns jsonb
language plpgsql
stable
-- Runs as the caller (supabase_auth_admin, which owns auth.*); a fixed search_path so a table named
-- like ours in another schema cannot be substituted.
set search_path = ''
as $$
declare
  claims jsonb := event -> 'claims';
  enrolled boolean;
begin
  if claims is null or jsonb_typeof(claims) <> 'object' or event ->> 'user_id' is null then
    return event;
  end if;
  begin
    select exists (
      select 1
      from auth.mfa_factors f
      where f.user_id = (event ->> 'user_id')::uuid
        and f.status = 'verified'
    ) into enrolled;
  exception when others then
    -- Never fail sign-in (e.g. a malformed user_id): leave the claim out, the gate treats an absent
    -- claim as unknown (API lookup or refusal), never as "not enrolled".
    return event;
  end;
  return jsonb_set(event, '{claims}', claims || jsonb_build_object('mfa_enrolled', enrolled));
end;
$$;

comment on function aalgate.add_mfa_claims(jsonb) is
  'Adds the boolean claim mfa_enrolled (a verified MFA factor exists) to a Custom Access Token hook event';

create or replace function public.aalgate_access_token_hook(event jsonb)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return aalgate.add_mfa_claims(event);
end;
$$;

comment on function public.aalgate_access_token_hook(jsonb) is
  'Custom Access Token hook: the claims Auth made, plus mfa_enrolled';

-- Only Auth may call these (Supabase's documented grants for hooks).
grant usage on schema aalgate to supabase_auth_admin;
grant execute on function aalgate.add_mfa_claims(jsonb) to supabase_auth_admin;
grant execute on function public.aalgate_access_token_hook(jsonb) to supabase_auth_admin;
-- Supabase's default privileges give new functions in `public` to anon, authenticated and service_role:
-- take them back.
revoke execute on function aalgate.add_mfa_claims(jsonb) from authenticated, anon, service_role, public;
revoke execute on function public.aalgate_access_token_hook(jsonb) from authenticated, anon, service_role, public;
-- The schema is closed to the API roles, unless the origin wall (…_aalgate_wall.sql) lives there too:
-- its pre-request and policies run as those roles.
do $$ begin
  if to_regprocedure('aalgate.check_request()') is null then
    revoke all on schema aalgate from authenticated, anon, service_role, public;
  end if;
end $$;
-- If your own hook is SECURITY DEFINER and owned by another role, that role needs these too:
--   grant usage on schema aalgate to <owner>; grant execute on function aalgate.add_mfa_claims(jsonb) to <owner>;
