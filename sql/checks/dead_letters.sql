-- Records set aside in the last hour, by any pipeline: each one is data that did not arrive.
SELECT count(*)::float8 AS observed,
  string_agg(DISTINCT left(reason, 80), '; ') AS details
FROM pipeline.dead_letters
WHERE failed_at > now() - interval '1 hour';
