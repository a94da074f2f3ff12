-- Stations of the newest cycle reporting a capacity of 0 (about twenty in real captures:
-- stations being built or removed). Information only; their occupancy rate is null.
SELECT count(*)::float8 AS observed,
  string_agg(station_code, ', ' ORDER BY station_code) AS details
FROM raw.station_snapshots
WHERE collected_at = (SELECT max(collected_at) FROM raw.station_snapshots)
  AND capacity = 0;
