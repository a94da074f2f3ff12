-- Occupancy by ISO weekday (1 = Monday) and local hour of the day, over the last 4 weeks of
-- data (the 672 hours up to the latest one in mart.hourly_station_stats, whatever the system):
-- one cell per (system_id, isodow, hour_of_day) present, for a heatmap per system.
--
-- avg_occupancy_rate is the mean of the stations' hourly occupancy in that cell; hours says
-- how many hours of data the cell averages over. Both 02:00 hours of the fall-back night fall
-- in the 02:00 cell.
WITH latest AS (
  SELECT max(bucket_start) AS bucket_start FROM mart.hourly_station_stats
)
SELECT
  h.system_id,
  extract(isodow FROM h.bucket_local)::int AS isodow,
  extract(hour FROM h.bucket_local)::int AS hour_of_day,
  count(DISTINCT h.bucket_start)::int AS hours,
  round(avg(h.avg_occupancy_rate), 4) AS avg_occupancy_rate
FROM mart.hourly_station_stats AS h
CROSS JOIN latest
WHERE h.bucket_start > latest.bucket_start - interval '672 hours'
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
