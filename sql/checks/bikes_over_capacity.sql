-- Stations of the newest cycle of each system with more bikes than docks. Real captures have
-- one to six in every Vélib' snapshot (bikes parked beside full stations): a warning that lists
-- them. Systems are those loaded in the last hour of data, each at its own newest collected_at.
WITH newest AS (
  SELECT system_id, max(collected_at) AS at
  FROM raw.station_snapshots
  WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - interval '1 hour'
  GROUP BY system_id
)
SELECT count(*)::float8 AS observed,
  string_agg(format('%s/%s (%s bikes, capacity %s)', s.system_id, s.station_code,
    s.bikes_available, s.capacity), ', ' ORDER BY s.system_id, s.station_code) AS details
FROM raw.station_snapshots AS s
JOIN newest AS n ON n.system_id = s.system_id AND s.collected_at = n.at
WHERE s.bikes_available > s.capacity;
