-- Every station of the system now, for the report's map: its latest snapshot, where it is and
-- what it holds, and whether it is stale (none of the last cycles reported it).
SELECT
  l.station_code,
  l.station_name,
  l.latitude,
  l.longitude,
  l.bikes_available,
  l.mechanical_bikes,
  l.electric_bikes,
  l.docks_available,
  l.capacity,
  l.occupancy_rate,
  l.station_status,
  l.last_reported,
  s.station_code IS NOT NULL AS stale
FROM mart.station_latest AS l
LEFT JOIN mart.stale_stations AS s USING (system_id, station_code)
WHERE l.system_id = 'velib'
ORDER BY l.station_code
