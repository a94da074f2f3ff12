-- The gold layer recomputed for a window of data time, for reruns: the hourly and daily
-- refreshes take an optional window [window_start, window_end), and the ranking an optional
-- instant `at` to rank the window ending there. Without them, each does what it did before.
--
-- The window is always an argument: a rerun says which data it reloaded, nothing here does.
--
-- The old functions are dropped, not overloaded: beside a one-argument refresh_hourly_stats,
-- a call such as refresh_hourly_stats(time_zone => 'Europe/Paris') would match both and fail
-- as ambiguous. DROP and CREATE run in the migration's transaction, so no caller ever finds
-- the function missing.

DROP FUNCTION IF EXISTS mart.refresh_hourly_stats(text);
DROP FUNCTION IF EXISTS mart.refresh_daily_stats(text);
DROP FUNCTION IF EXISTS mart.compute_station_ranking(interval, interval, integer);

-- Whether a refresh was given a window: true for both ends with window_start before
-- window_end, false for neither end; any other pair is a mistake of the caller, not an empty
-- refresh, and raises invalid_parameter_value (22023).
CREATE OR REPLACE FUNCTION mart.window_given(window_start timestamptz, window_end timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF window_start IS NULL AND window_end IS NULL THEN
    RETURN false;
  END IF;
  IF window_start IS NULL OR window_end IS NULL THEN
    RAISE EXCEPTION USING
      ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('The window is half given: window_start is %s and window_end is %s.',
        coalesce(window_start::text, 'NULL'), coalesce(window_end::text, 'NULL')),
      HINT = 'Give both window_start and window_end, or neither to refresh what loads queued.';
  END IF;
  IF window_start >= window_end THEN
    RAISE EXCEPTION USING
      ERRCODE = 'invalid_parameter_value',
      MESSAGE = format('The window is empty: window_start %s is not before window_end %s.',
        window_start, window_end),
      HINT = 'The window includes window_start and excludes window_end: give a later window_end.';
  END IF;
  RETURN true;
END
$$;

-- Recomputes local hours from raw and returns the number of rows written: without a window,
-- the hours that received rows since the last run (taken from mart.refresh_queue), as 0004
-- did; with one, every local hour that overlaps [window_start, window_end), whatever the
-- queue holds. A window leaves the queue alone: what loads queued is refreshed by the next
-- run without a window, once more and to the same values.
--
-- Either way the buckets are then replaced as a whole: an hour of the window whose rows are no
-- longer in raw ends with no rows, as a computation from scratch would leave it.
--
-- Safe alongside loads and itself, as in 0004: runs are serialized by an advisory lock, and
-- buckets are replaced by DELETE + INSERT in the caller's transaction, so readers keep seeing
-- the old rows until it commits. A window does not wait for loads still writing into it (only
-- the queue's entries make a run wait): such a load's rows are refreshed by the next run
-- without a window, from the entry it queued. Always use the same time_zone.
--
-- The window's hours are its first instant's bucket, date_trunc('hour', window_start, zone),
-- and the next ones up to its last instant's: timestamptz counts microseconds, so that is
-- window_end - 1 µs. date_trunc keeps the instant's UTC offset (see 0004), and a bucket lasts
-- 1 hour of elapsed time, so each next bucket starts 1 hour of elapsed time later: on the
-- fall-back night the two 02:00 local hours are two steps, and on the spring-forward night
-- 01:00 is followed by 03:00.
CREATE OR REPLACE FUNCTION mart.refresh_hourly_stats(
  time_zone text DEFAULT 'Europe/Paris',
  window_start timestamptz DEFAULT NULL,
  window_end timestamptz DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql AS $$
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
    station_code, bucket_start, bucket_local, station_name, avg_bikes, avg_mechanical,
    avg_electric, avg_docks, avg_occupancy_rate, min_bikes, max_bikes, snapshot_count,
    saturated_count, empty_count, out_of_service_count, capacity, refreshed_at)
  SELECT
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
  GROUP BY s.station_code, b.bucket_start;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;

-- Recomputes local days from raw: without a window, the days that received rows since the
-- last run, as 0005 did; with one, every local day that overlaps [window_start, window_end).
-- The rest is as in mart.refresh_hourly_stats: the queue left alone by a window, a day
-- without rows left with none, the lock, DELETE + INSERT in the caller's transaction.
--
-- The window's days go from its first instant's local date to its last instant's
-- (window_end - 1 µs), counted as dates plus integers: a series of dates would be made of
-- timestamptz in the session's TimeZone. A day's bounds are its local midnights, as in 0005,
-- so a DST change day lasts 23 or 25 hours here too.
CREATE OR REPLACE FUNCTION mart.refresh_daily_stats(
  time_zone text DEFAULT 'Europe/Paris',
  window_start timestamptz DEFAULT NULL,
  window_end timestamptz DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql AS $$
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
    station_code, day, day_start, station_name, avg_bikes, avg_mechanical, avg_electric,
    avg_docks, avg_occupancy_rate, min_bikes, max_bikes, snapshot_count, saturated_count,
    empty_count, out_of_service_count, capacity, refreshed_at)
  SELECT
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
  GROUP BY s.station_code, d.day, d.day_start;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;

-- The new signatures without JIT compilation, for the reasons given in 0009: ALTER FUNCTION
-- settings belong to one signature, and the dropped ones took theirs with them.
ALTER FUNCTION mart.refresh_hourly_stats(text, timestamptz, timestamptz) SET jit = off;
ALTER FUNCTION mart.refresh_daily_stats(text, timestamptz, timestamptz) SET jit = off;

-- The instant a computation was asked for, to rebuild a past day's ranking; NULL for the live
-- ranking, whose window ends at the newest data. Readers of "the current ranking" take the
-- latest computation whose computed_for is NULL.
ALTER TABLE mart.station_ranking ADD COLUMN IF NOT EXISTS computed_for timestamptz NULL;

-- Computes the ranking, with the rules of 0006, over [end - window_length, end], both ends
-- included, window_length being elapsed time. Returns the number of rows written.
--
-- Live (at NULL): the window ends at the latest collected_at in raw (0 and nothing written
-- when raw is empty), and only the `keep` latest live computations are kept.
--
-- For an instant (at given): the window ends at `at`, so that a past day's ranking can be
-- rebuilt; the rows are stored with computed_for = at and replace every earlier computation
-- for the same `at`, even when the window holds no rows. `keep` counts live computations only:
-- a computation for an `at` never prunes live ones, and live pruning never deletes those for
-- an `at`.
--
-- A computation becomes visible as a whole when the caller's transaction commits.
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
    computed_at, computed_for, window_start, window_end, station_code, station_name,
    snapshot_count, avg_occupancy_rate, avg_bikes, minutes_saturated, minutes_empty,
    rank_saturation, rank_empty)
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
    WHERE s.collected_at >= starts_at AND s.collected_at <= ends_at
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
  SELECT computed, asked_for, starts_at, ends_at, p.station_code,
    p.station_name, p.snapshot_count, p.avg_occupancy_rate, p.avg_bikes, p.minutes_saturated,
    p.minutes_empty,
    rank() OVER (ORDER BY p.minutes_saturated DESC),
    rank() OVER (ORDER BY p.minutes_empty DESC)
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
