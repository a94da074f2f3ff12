-- Gold: which stations were saturated or empty longest over a recent window.
--
-- The window ends at the latest collected_at in raw, not at now(): it is data time, so a
-- replay of old data, or a load that stalled, still ranks the last window_length of data
-- rather than an empty one.
--
-- Minutes come from the spacing of snapshots, not from a count of rows: a snapshot lasts
-- until the station's next snapshot in the window, capped at max_gap so that an outage of
-- the feed does not count as hours in one state. The station's last snapshot in the window
-- lasts 0: how long its state lasts is not known yet. Averages are over snapshots.

CREATE TABLE IF NOT EXISTS mart.station_ranking (
  computed_at timestamptz NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL,
  station_code text NOT NULL,
  -- The latest name in the window.
  station_name text NOT NULL,
  snapshot_count int NOT NULL,
  avg_occupancy_rate numeric(10,4) NULL,
  avg_bikes numeric(10,2) NOT NULL,
  -- Minutes with no free dock / no bike, rounded to 2 decimals; ranks use the rounded values.
  minutes_saturated numeric(10,2) NOT NULL,
  minutes_empty numeric(10,2) NOT NULL,
  -- rank(): stations with the same minutes share a rank, 1 = most minutes.
  rank_saturation int NOT NULL,
  rank_empty int NOT NULL,
  PRIMARY KEY (computed_at, station_code)
);

-- Computes the ranking over [latest collected_at - window_length, latest collected_at], both
-- ends included, window_length being elapsed time; then keeps only the `keep` latest
-- computations, so the table does not grow. Returns the number of rows written (0 when raw
-- is empty). Readers take the latest computed_at; a computation
-- becomes visible as a whole when the caller's transaction commits.
CREATE OR REPLACE FUNCTION mart.compute_station_ranking(
  window_length interval DEFAULT '24 hours',
  max_gap interval DEFAULT '15 minutes',
  keep integer DEFAULT 1
)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  -- clock_timestamp(), not now(): two computations in one transaction stay distinct.
  computed timestamptz := clock_timestamp();
  last_collected timestamptz;
  first_collected timestamptz;
  written integer;
BEGIN
  IF keep IS NULL OR keep < 1 THEN
    RAISE EXCEPTION 'keep must be at least 1, got %', keep;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('mart.compute_station_ranking'));
  SELECT max(collected_at) INTO last_collected FROM raw.station_snapshots;
  IF last_collected IS NULL THEN
    RETURN 0;
  END IF;
  -- Elapsed time ('1 day' = 24 hours): subtracting a day-interval from a timestamptz would
  -- follow the session's TimeZone across a DST change.
  first_collected := last_collected - extract(epoch FROM window_length) * interval '1 second';

  INSERT INTO mart.station_ranking (
    computed_at, window_start, window_end, station_code, station_name, snapshot_count,
    avg_occupancy_rate, avg_bikes, minutes_saturated, minutes_empty, rank_saturation,
    rank_empty)
  WITH spaced AS (
    SELECT s.*,
      -- lead() is NULL for the last snapshot in the window, which lasts 0. (The coalesce must
      -- come first: least() ignores NULLs and would give max_gap.)
      least(
        coalesce(
          lead(s.collected_at) OVER (PARTITION BY s.station_code ORDER BY s.collected_at)
            - s.collected_at,
          interval '0'),
        max_gap) AS lasted
    FROM raw.station_snapshots AS s
    WHERE s.collected_at >= first_collected AND s.collected_at <= last_collected
  ), per_station AS (
    SELECT station_code,
      (array_agg(station_name ORDER BY collected_at DESC))[1] AS station_name,
      count(*) AS snapshot_count,
      round(avg(occupancy_rate), 4) AS avg_occupancy_rate,
      round(avg(bikes_available), 2) AS avg_bikes,
      round(extract(epoch FROM coalesce(sum(lasted) FILTER (WHERE docks_available = 0),
        interval '0')) / 60, 2) AS minutes_saturated,
      round(extract(epoch FROM coalesce(sum(lasted) FILTER (WHERE bikes_available = 0),
        interval '0')) / 60, 2) AS minutes_empty
    FROM spaced
    GROUP BY station_code
  )
  SELECT computed, first_collected, last_collected, p.station_code,
    p.station_name, p.snapshot_count, p.avg_occupancy_rate, p.avg_bikes, p.minutes_saturated,
    p.minutes_empty,
    rank() OVER (ORDER BY p.minutes_saturated DESC),
    rank() OVER (ORDER BY p.minutes_empty DESC)
  FROM per_station AS p;
  GET DIAGNOSTICS written = ROW_COUNT;

  DELETE FROM mart.station_ranking
  WHERE computed_at < (
    SELECT min(k.computed_at) FROM (
      SELECT DISTINCT r.computed_at FROM mart.station_ranking AS r
      ORDER BY r.computed_at DESC LIMIT keep
    ) AS k
  );
  RETURN written;
END
$$;
