-- Network overview: each system's whole network now, one row per system, the default system
-- (velib) first.
--
-- From mart.station_latest, each station's latest snapshot (as_of is the system's newest).
-- Bikes and docks are summed over every station. Empty and saturated stations, and the
-- average occupancy, count stations in service only: a closed station with no bike is closed,
-- not empty. The average occupancy leaves out stations without a capacity.
-- Its columns are read by the CLI's summary, from the first row: keep them stable.
SELECT
  system_id,
  max(collected_at) AS as_of,
  count(*)::int AS stations,
  count(*) FILTER (WHERE station_status = 'en_service')::int AS in_service,
  count(*) FILTER (WHERE station_status = 'fermée')::int AS closed,
  count(*) FILTER (WHERE station_status = 'hors_service')::int AS out_of_service,
  coalesce(sum(bikes_available), 0)::int AS bikes,
  coalesce(sum(mechanical_bikes), 0)::int AS mechanical,
  coalesce(sum(electric_bikes), 0)::int AS electric,
  coalesce(sum(docks_available), 0)::int AS docks,
  count(*) FILTER (
    WHERE station_status = 'en_service' AND bikes_available = 0)::int AS empty_stations,
  count(*) FILTER (
    WHERE station_status = 'en_service' AND docks_available = 0)::int AS saturated_stations,
  round(avg(occupancy_rate) FILTER (WHERE station_status = 'en_service'), 4)
    AS avg_occupancy_rate
FROM mart.station_latest
GROUP BY system_id
ORDER BY system_id <> 'velib', system_id;
