-- Stations of the newest cycle of each system reporting a capacity of 0 (about twenty in real
-- Vélib' captures: stations being built or removed), or none. Information only; their occupancy
-- rate is null. Systems are those loaded in the last hour of data, each at its own newest
-- collected_at.
WITH newest AS (
  SELECT system_id, max(collected_at) AS at
  FROM raw.station_snapshots
  WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - interval '1 hour'
  GROUP BY system_id
)
SELECT count(*)::float8 AS observed,
  string_agg(s.system_id || '/' || s.station_code, ', ' ORDER BY s.system_id, s.station_code)
    AS details
FROM raw.station_snapshots AS s
JOIN newest AS n ON n.system_id = s.system_id AND s.collected_at = n.at
WHERE s.capacity = 0;
