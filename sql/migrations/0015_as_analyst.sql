-- Runs one read-only query with the rights of velib_analyst: what the HTML report reads the
-- warehouse through, so that it sees what an analyst sees and changes nothing, over the pool of
-- the pipeline's own sink. The role and read-only mode are set for the rest of the call's
-- transaction (its own, as a statement sent alone), and the query's permissions are checked as
-- velib_analyst when EXECUTE plans it. They are set inside the call, not on the function, so
-- that any role may run this migration: only the caller needs the right to SET ROLE
-- velib_analyst (a superuser, a member, the role that created it). Each row comes back as one
-- jsonb object keyed by column, whatever the query's columns. The query goes on lines of its
-- own, so that a comment on its last line cannot swallow the closing parenthesis.
CREATE FUNCTION pipeline.as_analyst(query text)
RETURNS SETOF jsonb
LANGUAGE plpgsql
AS $$
BEGIN
  SET LOCAL ROLE velib_analyst;
  SET LOCAL transaction_read_only = on;
  RETURN QUERY EXECUTE format(E'SELECT to_jsonb(r) FROM (\n%s\n) AS r', query);
END
$$;
