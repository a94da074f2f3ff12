-- Stations of the newest cycle whose mechanical and electric bikes do not add up to the bikes
-- available. The operator's feed has it now and then: a warning, not an error.
SELECT count(*)::float8 AS observed,
  string_agg(format('%s (%s + %s ≠ %s)', station_code, mechanical_bikes, electric_bikes,
    bikes_available), ', ' ORDER BY station_code) AS details
FROM raw.station_snapshots
WHERE collected_at = (SELECT max(collected_at) FROM raw.station_snapshots)
  AND mechanical_bikes + electric_bikes <> bikes_available;
