-- Seconds since the newest snapshot was collected, of any system. No snapshot at all counts as
-- stale for ever (a billion seconds), so an empty warehouse fails too.
SELECT
  coalesce(extract(epoch FROM now() - max(collected_at)), 1e9)::float8 AS observed,
  CASE WHEN max(collected_at) IS NULL THEN 'no snapshot loaded yet'
    ELSE 'newest snapshot collected at ' || max(collected_at)::text END AS details
FROM raw.station_snapshots;
