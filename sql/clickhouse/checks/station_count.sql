-- How many percent fewer stations the newest cycle of a system has than the median cycle of the
-- hour of data before it, for the system where the drop is largest (0 when every system has as
-- many or more, or no earlier cycle). Each system is measured against its own cycles: systems
-- of different sizes loaded side by side are not a drop. An hour of data keeps the cost
-- bounded whatever the history; a system with nothing in that hour is not measured. (Subqueries
-- are written out, not named: ClickHouse 18 has no common table expressions. Joined ones are
-- named, as current ClickHouse requires: joined_subquery_requires_alias.)
SELECT toFloat64(if(count() = 0, 0, max(percent))) AS observed,
  arrayStringConcat(groupArray(concat(system_id, ': ', toString(stations),
    ' stations in the newest cycle; trailing median ', toString(median))), ', ') AS details
FROM (
  SELECT system_id, stations, median,
    if(median = 0, 0, greatest(0, round((median - stations) / median * 100, 2))) AS percent
  FROM (
    SELECT system_id, argMax(stations, collected_at) AS stations
    FROM (
      SELECT system_id, collected_at, count() AS stations
      FROM raw.station_snapshots FINAL
      WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - 3600
      GROUP BY system_id, collected_at
    )
    GROUP BY system_id
  ) AS newest
  -- No earlier cycle: no row here, and the median reads 0.
  ANY LEFT JOIN (
    SELECT system_id, quantileExact(0.5)(stations) AS median
    FROM (
      SELECT system_id, collected_at, count() AS stations
      FROM raw.station_snapshots FINAL
      WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - 3600
      GROUP BY system_id, collected_at
    ) AS cycles
    ALL INNER JOIN (
      SELECT system_id, max(collected_at) AS newest_at
      FROM raw.station_snapshots
      WHERE collected_at > (SELECT max(collected_at) FROM raw.station_snapshots) - 3600
      GROUP BY system_id
    ) AS newest_cycle USING system_id
    WHERE collected_at < newest_at
    GROUP BY system_id
  ) AS trailing USING system_id
  ORDER BY percent DESC, system_id
)
