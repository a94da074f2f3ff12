-- Each system's network hour by hour over the last 24 hours of data: the 24 local hours up to
-- the latest one in mart.hourly_station_stats, whatever the system (data time, not now(), so a
-- pause in the feed or a replay still shows a full day).
--
-- Per hour: stations that reported; bikes, mechanical, electric and docks are the network's
-- average availability during the hour (the sum of the stations' hourly averages, rounded);
-- stations_empty / stations_saturated had no bike / no free dock at least once in the hour;
-- avg_occupancy_rate is the mean of the stations' hourly occupancy.
-- Elapsed hours (interval '24 hours'), so the session's TimeZone plays no part.
WITH latest AS (
  SELECT max(bucket_start) AS bucket_start FROM mart.hourly_station_stats
)
SELECT
  h.system_id,
  h.bucket_local AS hour_local,
  h.bucket_start,
  count(*)::int AS stations,
  round(sum(h.avg_bikes))::int AS bikes,
  round(sum(h.avg_mechanical))::int AS mechanical,
  round(sum(h.avg_electric))::int AS electric,
  round(sum(h.avg_docks))::int AS docks,
  count(*) FILTER (WHERE h.empty_count > 0)::int AS stations_empty,
  count(*) FILTER (WHERE h.saturated_count > 0)::int AS stations_saturated,
  round(avg(h.avg_occupancy_rate), 4) AS avg_occupancy_rate
FROM mart.hourly_station_stats AS h
CROSS JOIN latest
WHERE h.bucket_start > latest.bucket_start - interval '24 hours'
GROUP BY h.system_id, h.bucket_start, h.bucket_local
ORDER BY h.system_id, h.bucket_start;
