-- Top 10 empty stations of each system: those that had no bike for longest over the latest
-- ranking window (mart.station_ranking, latest live computation; by default the last 24 hours
-- of data).
-- Minutes come from the spacing of snapshots (see mart.compute_station_ranking). Stations
-- never empty are left out; tied stations share a rank and are listed by station_code.
-- Ranks are within each system (see mart.compute_station_ranking); the default system
-- (velib) comes first. Its columns are read by the CLI's summary: keep them stable.
SELECT
  r.system_id,
  r.rank_empty AS rank,
  r.station_code,
  r.station_name,
  r.minutes_empty,
  r.snapshot_count,
  r.avg_bikes,
  r.window_start,
  r.window_end
FROM (
  SELECT r.*,
    row_number() OVER (PARTITION BY r.system_id ORDER BY r.rank_empty, r.station_code) AS place
  FROM mart.station_ranking AS r
  -- The live ranking: a computation for a past instant (computed_for set) is not the current
  -- one.
  WHERE r.computed_for IS NULL
    AND r.computed_at = (
      SELECT max(computed_at) FROM mart.station_ranking WHERE computed_for IS NULL)
    AND r.minutes_empty > 0
) AS r
WHERE r.place <= 10
ORDER BY r.system_id <> 'velib', r.system_id, r.rank_empty, r.station_code;
