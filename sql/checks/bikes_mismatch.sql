-- Stations of the newest cycle of each system whose mechanical and electric bikes do not add up
-- to the bikes available. The operator's feed has it now and then: a warning, not an error.
-- Systems are those loaded in the last hour of data, each at its own newest collected_at.
WITH newest AS (
  SELECT system_id, max(collected_at) AS at
  FROM raw.station_snapshots
  WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - interval '1 hour'
  GROUP BY system_id
)
SELECT count(*)::float8 AS observed,
  string_agg(format('%s/%s (%s + %s ≠ %s)', s.system_id, s.station_code, s.mechanical_bikes,
    s.electric_bikes, s.bikes_available), ', ' ORDER BY s.system_id, s.station_code) AS details
FROM raw.station_snapshots AS s
JOIN newest AS n ON n.system_id = s.system_id AND s.collected_at = n.at
WHERE s.mechanical_bikes + s.electric_bikes <> s.bikes_available;
