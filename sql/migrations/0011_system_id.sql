-- Several bike-share systems in one warehouse: every table of stations gets the system a
-- station belongs to, and a station is known by its system and its code, since two systems may
-- use the same codes. Version 2 of the station snapshot carries system_id; version 1, and every
-- row stored before this migration, is Vélib' Métropole's: the default 'velib'.
--
-- raw stays append-only: adding a column with a constant default changes the catalog only (no
-- row is rewritten, and the stored rows read as 'velib'); the new keys are new indexes built
-- from the rows as they are. Column names are the record's field names, as in 0001.

ALTER TABLE raw.station_snapshots ADD COLUMN system_id text NOT NULL DEFAULT 'velib';
ALTER TABLE raw.station_snapshots
  ADD CONSTRAINT station_snapshots_system_id_station_code_collected_at_key
    UNIQUE (system_id, station_code, collected_at),
  DROP CONSTRAINT station_snapshots_station_code_collected_at_key;

-- The sink upserts by (system_id, station_code), still only when collected_at is newer.
ALTER TABLE mart.station_latest ADD COLUMN system_id text NOT NULL DEFAULT 'velib';
ALTER TABLE mart.station_latest
  DROP CONSTRAINT station_latest_pkey,
  ADD PRIMARY KEY (system_id, station_code);

ALTER TABLE mart.hourly_station_stats ADD COLUMN system_id text NOT NULL DEFAULT 'velib';
ALTER TABLE mart.hourly_station_stats
  DROP CONSTRAINT hourly_station_stats_pkey,
  ADD PRIMARY KEY (system_id, station_code, bucket_start);

ALTER TABLE mart.daily_station_stats ADD COLUMN system_id text NOT NULL DEFAULT 'velib';
ALTER TABLE mart.daily_station_stats
  DROP CONSTRAINT daily_station_stats_pkey,
  ADD PRIMARY KEY (system_id, station_code, day);

ALTER TABLE mart.station_ranking ADD COLUMN system_id text NOT NULL DEFAULT 'velib';
ALTER TABLE mart.station_ranking
  DROP CONSTRAINT station_ranking_pkey,
  ADD PRIMARY KEY (computed_at, system_id, station_code);

-- The gold functions of 0010, with the same signatures and behaviour, grouping by system as
-- well: a bucket still holds every system's stations, each a row of its own. The refresh queue
-- holds instants, not stations, so it is shared by all systems unchanged. CREATE OR REPLACE
-- replaces a function's settings too, so each one says SET jit = off again (see 0009).
CREATE OR REPLACE FUNCTION mart.refresh_hourly_stats(
  time_zone text DEFAULT 'Europe/Paris',
  window_start timestamptz DEFAULT NULL,
  window_end timestamptz DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql
SET jit = off
AS $$
DECLARE
  windowed boolean := mart.window_given(window_start, window_end);
  touched timestamptz[];
  written integer;
BEGIN
  PERFORM now() AT TIME ZONE time_zone; -- an unknown zone fails even when nothing is queued
  PERFORM pg_advisory_xact_lock(hashtext('mart.refresh_hourly_stats'));
  IF windowed THEN
    SELECT array_agg(b) INTO touched
    FROM generate_series(
      date_trunc('hour', window_start, time_zone),
      date_trunc('hour', window_end - interval '1 microsecond', time_zone),
      interval '1 hour') AS b;
  ELSE
    SELECT array_agg(DISTINCT date_trunc('hour', c, time_zone)) INTO touched
    FROM unnest(mart.take_refresh_queue('hourly')) AS c;
  END IF;
  IF touched IS NULL THEN
    RETURN 0;
  END IF;

  DELETE FROM mart.hourly_station_stats WHERE bucket_start = ANY (touched);

  INSERT INTO mart.hourly_station_stats (
    system_id, station_code, bucket_start, bucket_local, station_name, avg_bikes,
    avg_mechanical, avg_electric, avg_docks, avg_occupancy_rate, min_bikes, max_bikes,
    snapshot_count, saturated_count, empty_count, out_of_service_count, capacity, refreshed_at)
  SELECT
    s.system_id,
    s.station_code,
    b.bucket_start,
    b.bucket_start AT TIME ZONE time_zone,
    (array_agg(s.station_name ORDER BY s.collected_at DESC))[1],
    round(avg(s.bikes_available), 2),
    round(avg(s.mechanical_bikes), 2),
    round(avg(s.electric_bikes), 2),
    round(avg(s.docks_available), 2),
    round(avg(s.occupancy_rate), 4),
    min(s.bikes_available),
    max(s.bikes_available),
    count(*),
    count(*) FILTER (WHERE s.docks_available = 0),
    count(*) FILTER (WHERE s.bikes_available = 0),
    count(*) FILTER (WHERE s.station_status <> 'en_service'),
    (array_agg(s.capacity ORDER BY s.collected_at DESC))[1],
    now()
  FROM unnest(touched) AS b (bucket_start)
  -- A range on collected_at alone, so each bucket is read through the collected_at index.
  JOIN raw.station_snapshots AS s
    ON s.collected_at >= b.bucket_start AND s.collected_at < b.bucket_start + interval '1 hour'
  GROUP BY s.system_id, s.station_code, b.bucket_start;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;

CREATE OR REPLACE FUNCTION mart.refresh_daily_stats(
  time_zone text DEFAULT 'Europe/Paris',
  window_start timestamptz DEFAULT NULL,
  window_end timestamptz DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql
SET jit = off
AS $$
DECLARE
  windowed boolean := mart.window_given(window_start, window_end);
  first_day date;
  touched date[];
  written integer;
BEGIN
  PERFORM now() AT TIME ZONE time_zone; -- an unknown zone fails even when nothing is queued
  PERFORM pg_advisory_xact_lock(hashtext('mart.refresh_daily_stats'));
  IF windowed THEN
    first_day := (window_start AT TIME ZONE time_zone)::date;
    SELECT array_agg(first_day + n) INTO touched
    FROM generate_series(0,
      ((window_end - interval '1 microsecond') AT TIME ZONE time_zone)::date - first_day) AS n;
  ELSE
    SELECT array_agg(DISTINCT (c AT TIME ZONE time_zone)::date) INTO touched
    FROM unnest(mart.take_refresh_queue('daily')) AS c;
  END IF;
  IF touched IS NULL THEN
    RETURN 0;
  END IF;

  DELETE FROM mart.daily_station_stats WHERE day = ANY (touched);

  INSERT INTO mart.daily_station_stats (
    system_id, station_code, day, day_start, station_name, avg_bikes, avg_mechanical,
    avg_electric, avg_docks, avg_occupancy_rate, min_bikes, max_bikes, snapshot_count,
    saturated_count, empty_count, out_of_service_count, capacity, refreshed_at)
  SELECT
    s.system_id,
    s.station_code,
    d.day,
    d.day_start,
    (array_agg(s.station_name ORDER BY s.collected_at DESC))[1],
    round(avg(s.bikes_available), 2),
    round(avg(s.mechanical_bikes), 2),
    round(avg(s.electric_bikes), 2),
    round(avg(s.docks_available), 2),
    round(avg(s.occupancy_rate), 4),
    min(s.bikes_available),
    max(s.bikes_available),
    count(*),
    count(*) FILTER (WHERE s.docks_available = 0),
    count(*) FILTER (WHERE s.bikes_available = 0),
    count(*) FILTER (WHERE s.station_status <> 'en_service'),
    (array_agg(s.capacity ORDER BY s.collected_at DESC))[1],
    now()
  FROM (
    SELECT t.day,
      (t.day::timestamp) AT TIME ZONE time_zone AS day_start,
      ((t.day + 1)::timestamp) AT TIME ZONE time_zone AS day_end
    FROM unnest(touched) AS t (day)
  ) AS d
  JOIN raw.station_snapshots AS s
    ON s.collected_at >= d.day_start AND s.collected_at < d.day_end
  GROUP BY s.system_id, s.station_code, d.day, d.day_start;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;

-- The ranking of 0010, ranked within each system: rank 1 is the station of its system with the
-- most minutes, and each system has its own. The window is the same for every system, as
-- before: it ends at the latest collected_at in raw, whatever the system (or at `at`), so a
-- system whose feed has stopped for longer than window_length is not in the live ranking,
-- rather than ranked on data older than the others'. Keeping and pruning computations is as
-- in 0010: one computation holds every system.
CREATE OR REPLACE FUNCTION mart.compute_station_ranking(
  window_length interval DEFAULT '24 hours',
  max_gap interval DEFAULT '15 minutes',
  keep integer DEFAULT 1,
  at timestamptz DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  -- clock_timestamp(), not now(): two computations in one transaction stay distinct.
  computed timestamptz := clock_timestamp();
  asked_for timestamptz := compute_station_ranking.at;
  ends_at timestamptz;
  starts_at timestamptz;
  written integer;
BEGIN
  IF keep IS NULL OR keep < 1 THEN
    RAISE EXCEPTION 'keep must be at least 1, got %', keep;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('mart.compute_station_ranking'));
  IF asked_for IS NULL THEN
    SELECT max(collected_at) INTO ends_at FROM raw.station_snapshots;
    IF ends_at IS NULL THEN
      RETURN 0;
    END IF;
  ELSE
    ends_at := asked_for;
    DELETE FROM mart.station_ranking WHERE computed_for = asked_for;
  END IF;
  -- Elapsed time ('1 day' = 24 hours): subtracting a day-interval from a timestamptz would
  -- follow the session's TimeZone across a DST change.
  starts_at := ends_at - extract(epoch FROM window_length) * interval '1 second';

  INSERT INTO mart.station_ranking (
    computed_at, computed_for, window_start, window_end, system_id, station_code, station_name,
    snapshot_count, avg_occupancy_rate, avg_bikes, minutes_saturated, minutes_empty,
    rank_saturation, rank_empty)
  WITH spaced AS (
    SELECT s.*,
      -- lead() is NULL for the last snapshot in the window, which lasts 0. (The coalesce must
      -- come first: least() ignores NULLs and would give max_gap.)
      least(
        coalesce(
          lead(s.collected_at)
            OVER (PARTITION BY s.system_id, s.station_code ORDER BY s.collected_at)
            - s.collected_at,
          interval '0'),
        max_gap) AS lasted
    FROM raw.station_snapshots AS s
    WHERE s.collected_at >= starts_at AND s.collected_at <= ends_at
  ), per_station AS (
    SELECT system_id, station_code,
      (array_agg(station_name ORDER BY collected_at DESC))[1] AS station_name,
      count(*) AS snapshot_count,
      round(avg(occupancy_rate), 4) AS avg_occupancy_rate,
      round(avg(bikes_available), 2) AS avg_bikes,
      round(extract(epoch FROM coalesce(sum(lasted) FILTER (WHERE docks_available = 0),
        interval '0')) / 60, 2) AS minutes_saturated,
      round(extract(epoch FROM coalesce(sum(lasted) FILTER (WHERE bikes_available = 0),
        interval '0')) / 60, 2) AS minutes_empty
    FROM spaced
    GROUP BY system_id, station_code
  )
  SELECT computed, asked_for, starts_at, ends_at, p.system_id, p.station_code,
    p.station_name, p.snapshot_count, p.avg_occupancy_rate, p.avg_bikes, p.minutes_saturated,
    p.minutes_empty,
    rank() OVER (PARTITION BY p.system_id ORDER BY p.minutes_saturated DESC),
    rank() OVER (PARTITION BY p.system_id ORDER BY p.minutes_empty DESC)
  FROM per_station AS p;
  GET DIAGNOSTICS written = ROW_COUNT;

  IF asked_for IS NULL THEN
    DELETE FROM mart.station_ranking
    WHERE computed_for IS NULL AND computed_at < (
      SELECT min(k.computed_at) FROM (
        SELECT DISTINCT r.computed_at FROM mart.station_ranking AS r
        WHERE r.computed_for IS NULL
        ORDER BY r.computed_at DESC LIMIT keep
      ) AS k
    );
  END IF;
  RETURN written;
END
$$;
