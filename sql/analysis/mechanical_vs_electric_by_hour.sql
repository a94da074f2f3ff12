-- Mechanical against electric bikes by local hour of the day, over the last 7 days of data
-- (the 168 hours up to the latest one in mart.hourly_station_stats, whatever the system).
--
-- For each system and hour of the day (0-23): how many hours of data it averages over, the network's
-- average number of available mechanical and electric bikes at that hour (per hour, the sum
-- of the stations' averages; then the mean over the days), and the electric share of the
-- bikes available.
WITH latest AS (
  SELECT max(bucket_start) AS bucket_start FROM mart.hourly_station_stats
), per_hour AS (
  SELECT h.system_id, h.bucket_local,
    sum(h.avg_mechanical) AS mechanical,
    sum(h.avg_electric) AS electric
  FROM mart.hourly_station_stats AS h
  CROSS JOIN latest
  WHERE h.bucket_start > latest.bucket_start - interval '168 hours'
  GROUP BY h.system_id, h.bucket_start, h.bucket_local
)
SELECT
  system_id,
  extract(hour FROM bucket_local)::int AS hour_of_day,
  count(*)::int AS hours,
  round(avg(mechanical), 2) AS avg_mechanical,
  round(avg(electric), 2) AS avg_electric,
  round(sum(electric) / nullif(sum(mechanical) + sum(electric), 0), 4) AS electric_share
FROM per_hour
GROUP BY 1, 2
ORDER BY 1, 2;
