-- Stations of the newest cycle with more bikes than docks. Real captures have one to six in
-- every snapshot (bikes parked beside full stations): a warning that lists them.
SELECT count(*)::float8 AS observed,
  string_agg(format('%s (%s bikes, capacity %s)', station_code, bikes_available, capacity),
    ', ' ORDER BY station_code) AS details
FROM raw.station_snapshots
WHERE collected_at = (SELECT max(collected_at) FROM raw.station_snapshots)
  AND bikes_available > capacity;
