-- Runs one read-only query with the rights of velib_analyst, from any connection that may take
-- that role (the migrating role, a superuser, the analyst itself): what the HTML report reads
-- the warehouse through, so that it can see what an analyst sees and change nothing, over the
-- pool of the pipeline's own sink. The role applies for the call only (SET on the function),
-- and the query's own permissions are checked as velib_analyst when EXECUTE plans it; being
-- STABLE, it also refuses any statement that writes. Each row comes back as one jsonb object
-- keyed by column, whatever the query's columns. The query goes on lines of its own, so that a
-- comment on its last line cannot swallow the closing parenthesis.
CREATE FUNCTION pipeline.as_analyst(query text)
RETURNS SETOF jsonb
LANGUAGE plpgsql
STABLE
SET role = 'velib_analyst'
AS $$
BEGIN
  RETURN QUERY EXECUTE format(E'SELECT to_jsonb(r) FROM (\n%s\n) AS r', query);
END
$$;
