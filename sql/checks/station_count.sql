-- How many percent fewer stations the newest cycle has than the median cycle of the hour of
-- data before it (0 when it has as many or more, or when there is no earlier cycle). An hour
-- keeps the cost bounded whatever the history.
WITH newest AS (
  SELECT max(collected_at) AS at FROM raw.station_snapshots
), cycles AS (
  SELECT s.collected_at, count(*) AS stations
  FROM raw.station_snapshots AS s, newest
  WHERE s.collected_at > newest.at - interval '1 hour'
  GROUP BY s.collected_at
), latest AS (
  SELECT stations FROM cycles ORDER BY collected_at DESC LIMIT 1
), usual AS (
  SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY stations) AS median
  FROM cycles
  WHERE collected_at < (SELECT at FROM newest)
)
SELECT
  coalesce(greatest(0, round(((t.median - l.stations) / t.median * 100)::numeric, 2)), 0)::float8
    AS observed,
  format('%s stations in the newest cycle; trailing median %s', l.stations, t.median) AS details
FROM (SELECT 1) AS one
LEFT JOIN latest AS l ON true
LEFT JOIN usual AS t ON t.median > 0;
