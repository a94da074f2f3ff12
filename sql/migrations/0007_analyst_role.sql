-- A read-only role for analysts: the analysis/ queries, psql, a BI tool. Roles belong to the
-- whole server, and several databases may share one (tests do), hence the guards.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'velib_analyst') THEN
    BEGIN
      CREATE ROLE velib_analyst NOLOGIN;
    EXCEPTION WHEN duplicate_object THEN
      NULL; -- another database's migration created it meanwhile
    END;
  END IF;
END
$$;

-- The password comes from the environment through migrate()'s settings, never from this file.
-- With one, the role may log in; without, it may not, whatever an earlier run allowed: the
-- setting is the one place that decides. The role is server-wide, so this applies to every
-- database on the server. format(%L) quotes the password as a literal.
DO $$
DECLARE
  password text := coalesce(current_setting('velib.analyst_password', true), '');
BEGIN
  IF password <> '' THEN
    EXECUTE format('ALTER ROLE velib_analyst LOGIN PASSWORD %L', password);
  -- Only when it changes anything: databases migrating side by side on one server would
  -- otherwise update the one role row together and fail with "tuple concurrently updated".
  ELSIF (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'velib_analyst') THEN
    ALTER ROLE velib_analyst NOLOGIN;
  END IF;
END
$$;

-- Read, never write: SELECT only, on the tables there are and on those created later by the
-- role that runs the migrations (default privileges apply to the creating role's objects).
GRANT USAGE ON SCHEMA raw, mart, pipeline TO velib_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA raw, mart, pipeline TO velib_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw, mart, pipeline GRANT SELECT ON TABLES TO velib_analyst;
