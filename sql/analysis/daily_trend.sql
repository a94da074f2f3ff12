-- Each system's network day by day over the last 30 days of data (the 30 local days up to the
-- latest one in mart.daily_station_stats, whatever the system).
--
-- Per day: stations that reported; bikes, mechanical, electric and docks are the network's
-- average availability over the day (the sum of the stations' daily averages, rounded);
-- stations_empty / stations_saturated had no bike / no free dock at least once that day;
-- avg_occupancy_rate is the mean of the stations' daily occupancy.
WITH latest AS (
  SELECT max(day) AS day FROM mart.daily_station_stats
)
SELECT
  d.system_id,
  d.day,
  count(*)::int AS stations,
  round(sum(d.avg_bikes))::int AS bikes,
  round(sum(d.avg_mechanical))::int AS mechanical,
  round(sum(d.avg_electric))::int AS electric,
  round(sum(d.avg_docks))::int AS docks,
  count(*) FILTER (WHERE d.empty_count > 0)::int AS stations_empty,
  count(*) FILTER (WHERE d.saturated_count > 0)::int AS stations_saturated,
  round(avg(d.avg_occupancy_rate), 4) AS avg_occupancy_rate
FROM mart.daily_station_stats AS d
CROSS JOIN latest
WHERE d.day > latest.day - 30
GROUP BY d.system_id, d.day
ORDER BY d.system_id, d.day;
