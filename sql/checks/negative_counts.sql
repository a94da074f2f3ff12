-- Snapshots of the last hour of data with a negative count: enrich rejects them, so one here
-- means something wrote around it.
SELECT count(*)::float8 AS observed,
  string_agg(DISTINCT system_id || '/' || station_code, ', ') AS details
FROM raw.station_snapshots
WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - interval '1 hour'
  AND least(bikes_available, mechanical_bikes, electric_bikes, docks_available, capacity) < 0;
