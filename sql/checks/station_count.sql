-- How many percent fewer stations the newest cycle of a system has than the median cycle of the
-- hour of data before it, for the system where the drop is largest (0 when every system has as
-- many or more, or no earlier cycle). Each system is measured against its own cycles: systems
-- of different sizes loaded side by side are not a drop. An hour of data keeps the cost
-- bounded whatever the history; a system with nothing in that hour is not measured.
WITH newest AS (
  SELECT max(collected_at) AS at FROM raw.station_snapshots
), cycles AS (
  SELECT s.system_id, s.collected_at, count(*) AS stations
  FROM raw.station_snapshots AS s, newest
  WHERE s.collected_at > newest.at - interval '1 hour'
  GROUP BY s.system_id, s.collected_at
), latest AS (
  SELECT DISTINCT ON (system_id) system_id, collected_at, stations
  FROM cycles
  ORDER BY system_id, collected_at DESC
), usual AS (
  SELECT c.system_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY c.stations) AS median
  FROM cycles AS c
  JOIN latest AS l ON l.system_id = c.system_id AND c.collected_at < l.collected_at
  GROUP BY c.system_id
), drops AS (
  SELECT l.system_id, l.stations, t.median,
    coalesce(greatest(0, round(((t.median - l.stations) / t.median * 100)::numeric, 2)), 0)
      AS percent
  FROM latest AS l
  LEFT JOIN usual AS t ON t.system_id = l.system_id AND t.median > 0
)
SELECT
  coalesce(max(percent), 0)::float8 AS observed,
  string_agg(
    format('%s: %s stations in the newest cycle; trailing median %s', system_id, stations, median),
    ', ' ORDER BY percent DESC, system_id) AS details
FROM drops;
