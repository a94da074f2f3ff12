-- (system_id, station_code, collected_at) triples stored more than once in the last hour of
-- data: the load must be idempotent, whatever the constraint on the table says. The same code
-- in two systems is two stations, not a duplicate.
SELECT count(*)::float8 AS observed,
  string_agg(system_id || '/' || station_code || ' at ' || collected_at::text, ', ') AS details
FROM (
  SELECT s.system_id, s.station_code, s.collected_at
  FROM raw.station_snapshots AS s
  WHERE s.collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - interval '1 hour'
  GROUP BY s.system_id, s.station_code, s.collected_at
  HAVING count(*) > 1
) AS twice;
