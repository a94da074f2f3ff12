-- Problem stations of every system over the last 7 days of data (the 7 local days up to the
-- latest one in mart.daily_station_stats, whatever the system).
--
-- The rule: a station is a problem when at least a quarter of its snapshots over those days
-- found it empty (no bike), saturated (no free dock), or not in service (closed or out of
-- service). The shares are rounded to 4 decimals before the comparison, as shown. `problems`
-- names which. Worst first: by the largest of the three shares, then by system and
-- station_code.
-- Change the rule in `params`.
WITH params AS (
  SELECT 7 AS days, 0.25 AS threshold
), latest AS (
  SELECT max(day) AS day FROM mart.daily_station_stats
), per_station AS (
  SELECT d.system_id, d.station_code,
    (array_agg(d.station_name ORDER BY d.day DESC))[1] AS station_name,
    sum(d.snapshot_count)::int AS snapshot_count,
    round(sum(d.empty_count)::numeric / sum(d.snapshot_count), 4) AS empty_share,
    round(sum(d.saturated_count)::numeric / sum(d.snapshot_count), 4) AS saturated_share,
    round(sum(d.out_of_service_count)::numeric / sum(d.snapshot_count), 4)
      AS out_of_service_share
  FROM mart.daily_station_stats AS d
  CROSS JOIN latest
  CROSS JOIN params
  WHERE d.day > latest.day - params.days
  GROUP BY d.system_id, d.station_code
)
SELECT
  s.system_id,
  s.station_code,
  s.station_name,
  s.snapshot_count,
  s.empty_share,
  s.saturated_share,
  s.out_of_service_share,
  concat_ws(', ',
    CASE WHEN s.empty_share >= p.threshold THEN 'empty' END,
    CASE WHEN s.saturated_share >= p.threshold THEN 'saturated' END,
    CASE WHEN s.out_of_service_share >= p.threshold THEN 'not in service' END) AS problems
FROM per_station AS s
CROSS JOIN params AS p
WHERE greatest(s.empty_share, s.saturated_share, s.out_of_service_share) >= p.threshold
ORDER BY greatest(s.empty_share, s.saturated_share, s.out_of_service_share) DESC,
  s.system_id, s.station_code;
