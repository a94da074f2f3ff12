-- Network overview: each system's whole network now, one row per system, the default system
-- (velib) first.
--
-- From mart.station_latest, each station's latest snapshot (as_of is the system's newest).
-- Stale stations (mart.stale_stations: none of the last cycles reported them) are counted
-- apart: their last snapshot is not the station now, so every other count leaves them out,
-- and stations = in_service + closed + out_of_service + stale_stations. Bikes and docks are
-- summed over the other stations. Empty and saturated stations, and the average occupancy,
-- count stations in service only: a closed station with no bike is closed, not empty. The
-- average occupancy leaves out stations without a capacity.
-- Its columns are read by the CLI's summary, from the first row: keep them stable.
WITH latest AS (
  SELECT l.*, s.station_code IS NOT NULL AS stale
  FROM mart.station_latest AS l
  LEFT JOIN mart.stale_stations AS s USING (system_id, station_code)
)
SELECT
  system_id,
  max(collected_at) AS as_of,
  count(*)::int AS stations,
  count(*) FILTER (WHERE NOT stale AND station_status = 'en_service')::int AS in_service,
  count(*) FILTER (WHERE NOT stale AND station_status = 'fermée')::int AS closed,
  count(*) FILTER (WHERE NOT stale AND station_status = 'hors_service')::int AS out_of_service,
  count(*) FILTER (WHERE stale)::int AS stale_stations,
  coalesce(sum(bikes_available) FILTER (WHERE NOT stale), 0)::int AS bikes,
  coalesce(sum(mechanical_bikes) FILTER (WHERE NOT stale), 0)::int AS mechanical,
  coalesce(sum(electric_bikes) FILTER (WHERE NOT stale), 0)::int AS electric,
  coalesce(sum(docks_available) FILTER (WHERE NOT stale), 0)::int AS docks,
  count(*) FILTER (
    WHERE NOT stale AND station_status = 'en_service' AND bikes_available = 0)::int
    AS empty_stations,
  count(*) FILTER (
    WHERE NOT stale AND station_status = 'en_service' AND docks_available = 0)::int
    AS saturated_stations,
  round(avg(occupancy_rate) FILTER (WHERE NOT stale AND station_status = 'en_service'), 4)
    AS avg_occupancy_rate
FROM latest
GROUP BY system_id
ORDER BY system_id <> 'velib', system_id;
