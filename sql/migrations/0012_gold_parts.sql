-- The daily refresh and the live ranking in time bounded by a batch, not by a day of raw: on 30
-- days of history each read about a million rows of raw at every batch (bench/gold_scaling.ts:
-- 1.3 s each), where the hourly refresh, reading one hour, takes about 55 ms.
--
-- Each keeps exact partial aggregates per station and hour, recomputes from raw only the hours
-- that received rows, and combines the hours into its rows. The rows are those of 0011 to the
-- digit: what is kept and combined is sums and counts, never rounded averages, and an average
-- is computed from them as avg() computes it. avg() of integers ends in int8_avg, and avg() of
-- numerics in numeric_avg (src/backend/utils/adt/numeric.c): both return numeric_div(sum,
-- count), the sum as an exact numeric (integers to scale 0, numeric(10,4) rates to scale 4, the
-- largest scale summed) and the count as an integer numeric. sum() of the same values, summed
-- again over the parts, is the same numeric, so round(sum / count, n) = round(avg(x), n).
--
-- Hours are UTC hours, whatever the time zone: one hour of elapsed time each, a partition of the
-- timeline even in a zone whose offset is not a whole number of hours, or on a DST change night.
-- An instant's is date_bin('1 hour', t, '2000-01-01 00:00+00'): arithmetic on the instant,
-- cheaper over an hour of raw than date_trunc('hour', t, 'UTC'), which goes through a zone.
--
-- A part keeps when its latest snapshot was collected, not that snapshot's values: a name or a
-- state "at the latest" would need a sorted aggregate, which rules out hash aggregation and
-- costs more than the whole part. The latest snapshot of a day or window is one row of raw,
-- read by its key (system_id, station_code, collected_at).
--
-- The daily refresh and the ranking run in parallel with each other and with the hourly
-- refresh (Airflow), so each keeps its own parts and finds out on its own which hours changed.
--
-- What they keep is theirs alone, in a schema of its own: parts are not stats (a ranking part
-- counts a station's last snapshot as lasting max_gap, and the ranking keeps only its window's),
-- so they stay out of mart, where analysts read every table (0007) and take a table for gold.
CREATE SCHEMA mart_state;

-- Daily: what a local day's stats are made of, per station, UTC hour and local day. In a zone
-- such as Asia/Kolkata (UTC+05:30) a UTC hour holds the end of one local day and the start of
-- the next: they are two parts. Kept for every hour of raw, in one time zone at a time.
CREATE TABLE mart_state.daily_station_parts (
  system_id text NOT NULL,
  station_code text NOT NULL,
  hour_start timestamptz NOT NULL,
  day date NOT NULL,
  snapshot_count int NOT NULL,
  sum_bikes bigint NOT NULL,
  sum_mechanical bigint NOT NULL,
  sum_electric bigint NOT NULL,
  sum_docks bigint NOT NULL,
  -- Over the snapshots with an occupancy rate only, as avg() counts them: NULL and 0 when none.
  sum_occupancy_rate numeric NULL,
  occupancy_count int NOT NULL,
  min_bikes int NOT NULL,
  max_bikes int NOT NULL,
  saturated_count int NOT NULL,
  empty_count int NOT NULL,
  out_of_service_count int NOT NULL,
  -- When the part's latest snapshot was collected: the day's latest is its latest part's.
  last_collected_at timestamptz NOT NULL,
  PRIMARY KEY (hour_start, system_id, station_code, day)
);

CREATE INDEX daily_station_parts_day_idx ON mart_state.daily_station_parts (day);

-- The time zone of the parts' days: one row.
CREATE TABLE mart_state.daily_station_parts_zone (
  one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row),
  parts_time_zone text NOT NULL
);

-- The parts of the rows of raw collected in [range_start, range_end), a range within two local
-- days of time_zone. A row's day is 0011's: the one whose local midnights it falls between.
CREATE FUNCTION mart_state.daily_station_parts_of(
  time_zone text,
  range_start timestamptz,
  range_end timestamptz
)
RETURNS SETOF mart_state.daily_station_parts
LANGUAGE sql STABLE AS $$
  -- Once per range, not per row.
  WITH d AS MATERIALIZED (
    SELECT f.day, ((f.day + 1)::timestamp) AT TIME ZONE time_zone AS next_day_start
    FROM (SELECT (range_start AT TIME ZONE time_zone)::date AS day) AS f
  )
  SELECT
    s.system_id,
    s.station_code,
    date_bin('1 hour', s.collected_at, timestamptz '2000-01-01 00:00:00+00'),
    CASE WHEN s.collected_at < d.next_day_start THEN d.day ELSE d.day + 1 END,
    count(*)::int,
    sum(s.bikes_available),
    sum(s.mechanical_bikes),
    sum(s.electric_bikes),
    sum(s.docks_available),
    sum(s.occupancy_rate),
    count(s.occupancy_rate)::int,
    min(s.bikes_available),
    max(s.bikes_available),
    (count(*) FILTER (WHERE s.docks_available = 0))::int,
    (count(*) FILTER (WHERE s.bikes_available = 0))::int,
    (count(*) FILTER (WHERE s.station_status <> 'en_service'))::int,
    max(s.collected_at)
  FROM d CROSS JOIN raw.station_snapshots AS s
  WHERE s.collected_at >= range_start AND s.collected_at < range_end
  GROUP BY 1, 2, 3, 4
$$;

-- Replaces every part with those of raw in time_zone, a local day of raw at a time.
CREATE FUNCTION mart_state.rebuild_daily_station_parts(time_zone text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  first_day date;
  last_day date;
BEGIN
  SELECT (min(collected_at) AT TIME ZONE time_zone)::date,
    (max(collected_at) AT TIME ZONE time_zone)::date
  INTO first_day, last_day
  FROM raw.station_snapshots;
  DELETE FROM mart_state.daily_station_parts;
  INSERT INTO mart_state.daily_station_parts
  SELECT p.*
  FROM generate_series(0, last_day - first_day) AS n
  CROSS JOIN LATERAL mart_state.daily_station_parts_of(time_zone,
    ((first_day + n)::timestamp) AT TIME ZONE time_zone,
    ((first_day + n + 1)::timestamp) AT TIME ZONE time_zone) AS p;
  DELETE FROM mart_state.daily_station_parts_zone;
  INSERT INTO mart_state.daily_station_parts_zone (parts_time_zone) VALUES (time_zone);
END
$$;

-- The parts of every row stored so far, in the zone the pipeline passes (the default).
SELECT mart_state.rebuild_daily_station_parts('Europe/Paris');

-- The daily refresh of 0011, with the same signature, arguments and rows, from the parts.
--
-- Without a window: the UTC hours of the queued instants are recomputed from raw into parts,
-- then the queued instants' days are rolled up from their parts. An hour is recomputed whenever
-- one of its rows was loaded, since every load queues its instants: the parts of the hours not
-- queued are those raw still gives. The cost is an hour of raw and a day of parts (up to 24 per
-- station), whatever the history.
--
-- With a window, the window's days are recomputed from raw into parts as a whole (a day
-- without rows left with none), then rolled up: a rerun repairs the parts too.
--
-- The lock, the queue, DELETE + INSERT in the caller's transaction and jit = off are as in
-- 0011. Parts of another time zone than the one asked for have other days: they are rebuilt
-- from all of raw first, once, so that a refresh in any zone gives that zone's days.
--
-- work_mem: the planner takes a day's parts for tens of thousands of stations (1,471 on 30
-- days of history) and, expecting a hash table past the default 4 MB, sorts them instead, which
-- costs twice as much; the rows a refresh aggregates take a few MB at most.
CREATE OR REPLACE FUNCTION mart.refresh_daily_stats(
  time_zone text DEFAULT 'Europe/Paris',
  window_start timestamptz DEFAULT NULL,
  window_end timestamptz DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql
SET jit = off
SET work_mem = '32MB'
AS $$
DECLARE
  windowed boolean := mart.window_given(window_start, window_end);
  first_day date;
  touched date[];
  hours timestamptz[];
  written integer;
BEGIN
  PERFORM now() AT TIME ZONE time_zone; -- an unknown zone fails even when nothing is queued
  PERFORM pg_advisory_xact_lock(hashtext('mart.refresh_daily_stats'));
  IF (SELECT z.parts_time_zone FROM mart_state.daily_station_parts_zone AS z) <> time_zone THEN
    PERFORM mart_state.rebuild_daily_station_parts(time_zone);
  END IF;

  IF windowed THEN
    first_day := (window_start AT TIME ZONE time_zone)::date;
    SELECT array_agg(first_day + n) INTO touched
    FROM generate_series(0,
      ((window_end - interval '1 microsecond') AT TIME ZONE time_zone)::date - first_day) AS n;
    DELETE FROM mart_state.daily_station_parts WHERE day = ANY (touched);
    INSERT INTO mart_state.daily_station_parts
    SELECT p.*
    FROM unnest(touched) AS t (day)
    CROSS JOIN LATERAL mart_state.daily_station_parts_of(time_zone,
      (t.day::timestamp) AT TIME ZONE time_zone,
      ((t.day + 1)::timestamp) AT TIME ZONE time_zone) AS p;
  ELSE
    SELECT array_agg(DISTINCT (c AT TIME ZONE time_zone)::date),
      array_agg(DISTINCT date_bin('1 hour', c, timestamptz '2000-01-01 00:00:00+00'))
    INTO touched, hours
    FROM unnest(mart.take_refresh_queue('daily')) AS c;
    IF touched IS NULL THEN
      RETURN 0;
    END IF;
    DELETE FROM mart_state.daily_station_parts WHERE hour_start = ANY (hours);
    INSERT INTO mart_state.daily_station_parts
    SELECT p.*
    FROM unnest(hours) AS h (hour_start)
    CROSS JOIN LATERAL mart_state.daily_station_parts_of(time_zone,
      h.hour_start, h.hour_start + interval '1 hour') AS p;
  END IF;

  DELETE FROM mart.daily_station_stats WHERE day = ANY (touched);

  INSERT INTO mart.daily_station_stats (
    system_id, station_code, day, day_start, station_name, avg_bikes, avg_mechanical,
    avg_electric, avg_docks, avg_occupancy_rate, min_bikes, max_bikes, snapshot_count,
    saturated_count, empty_count, out_of_service_count, capacity, refreshed_at)
  SELECT
    d.system_id,
    d.station_code,
    d.day,
    (d.day::timestamp) AT TIME ZONE time_zone,
    l.station_name,
    d.avg_bikes,
    d.avg_mechanical,
    d.avg_electric,
    d.avg_docks,
    d.avg_occupancy_rate,
    d.min_bikes,
    d.max_bikes,
    d.snapshot_count,
    d.saturated_count,
    d.empty_count,
    d.out_of_service_count,
    l.capacity,
    now()
  FROM (
    SELECT p.system_id, p.station_code, p.day,
      -- sum(bigint) is an integer numeric, sum(int) a bigint: numeric_div(sum, count), as avg().
      round(sum(p.sum_bikes) / sum(p.snapshot_count), 2) AS avg_bikes,
      round(sum(p.sum_mechanical) / sum(p.snapshot_count), 2) AS avg_mechanical,
      round(sum(p.sum_electric) / sum(p.snapshot_count), 2) AS avg_electric,
      round(sum(p.sum_docks) / sum(p.snapshot_count), 2) AS avg_docks,
      round(sum(p.sum_occupancy_rate) / nullif(sum(p.occupancy_count), 0), 4)
        AS avg_occupancy_rate,
      min(p.min_bikes) AS min_bikes,
      max(p.max_bikes) AS max_bikes,
      sum(p.snapshot_count) AS snapshot_count,
      sum(p.saturated_count) AS saturated_count,
      sum(p.empty_count) AS empty_count,
      sum(p.out_of_service_count) AS out_of_service_count,
      max(p.last_collected_at) AS last_collected_at
    FROM mart_state.daily_station_parts AS p
    WHERE p.day = ANY (touched)
    GROUP BY p.system_id, p.station_code, p.day
  ) AS d
  -- The day's latest snapshot, for its name and capacity: looked up by its key, station by
  -- station. (A LATERAL subquery with LIMIT is not flattened into a join, which the planner,
  -- misled by its estimate of the stations, would make with a scan of all of raw.)
  CROSS JOIN LATERAL (
    SELECT s.station_name, s.capacity
    FROM raw.station_snapshots AS s
    WHERE s.system_id = d.system_id AND s.station_code = d.station_code
      AND s.collected_at = d.last_collected_at
    LIMIT 1
  ) AS l;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;

-- Ranking: what the live ranking's window is made of, per station and UTC hour, for the hours
-- of the latest live window only (older ones are deleted as the window slides on).
--
-- A snapshot lasts until the station's next one, capped at max_gap (0006), which only the rows
-- up to max_gap later decide. A part counts each of its snapshots as lasting least(time to the
-- station's next snapshot, max_gap), and max_gap when no next one is within max_gap, without
-- looking further: so a part depends on its hour of raw and on max_gap beyond it, and changes
-- when rows arrive there. The one snapshot that counts otherwise in a window is
-- each station's last (lasts least(0, max_gap)): the live window ends at the newest row of
-- raw, so that snapshot is the station's newest, and the ranking corrects it.
CREATE TABLE mart_state.station_ranking_parts (
  system_id text NOT NULL,
  station_code text NOT NULL,
  hour_start timestamptz NOT NULL,
  snapshot_count int NOT NULL,
  sum_bikes bigint NOT NULL,
  sum_occupancy_rate numeric NULL,
  occupancy_count int NOT NULL,
  -- How long the snapshots with no free dock / no bike lasted, summed as intervals: what
  -- sum(lasted) adds up in 0011, field by field.
  time_saturated interval NOT NULL,
  time_empty interval NOT NULL,
  -- When the part's latest snapshot was collected.
  last_collected_at timestamptz NOT NULL,
  PRIMARY KEY (hour_start, system_id, station_code)
);

-- Which rows the ranking's parts are of: their max_gap, their first hour (every hour from there
-- on has its parts), and the window end of the live computation that last updated them: rows
-- collected after it are new to the parts. One row, or none before the first live computation.
CREATE TABLE mart_state.station_ranking_parts_scope (
  one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row),
  max_gap interval NOT NULL,
  first_hour timestamptz NOT NULL,
  seen_until timestamptz NOT NULL
);

-- Instants loaded since the last live ranking: those at or before its window end are late
-- rows, whose hours must be recomputed. A queue of the ranking's own rather than a target of
-- mart.refresh_queue, whose entries are the refreshes' (two per instant).
CREATE TABLE mart_state.ranking_queue (
  collected_at timestamptz PRIMARY KEY,
  queued_at timestamptz NOT NULL DEFAULT now()
);

-- The trigger function of 0003, queueing for the ranking too. The ranking's entries are locked
-- until the load commits, as the refreshes' are (see 0003), and after them: every load locks
-- entries in one order, refresh_queue by (target, collected_at) then ranking_queue by
-- collected_at, and a refresh or the ranking locks those of one queue, in its key order.
CREATE OR REPLACE FUNCTION mart.queue_refreshes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mart.refresh_queue AS q (target, collected_at)
  SELECT t.target, n.collected_at
  FROM (SELECT DISTINCT collected_at FROM new_snapshots) AS n
  CROSS JOIN (VALUES ('daily'), ('hourly')) AS t (target)
  ORDER BY t.target, n.collected_at
  ON CONFLICT (target, collected_at) DO UPDATE SET queued_at = q.queued_at;
  INSERT INTO mart_state.ranking_queue AS q (collected_at)
  SELECT DISTINCT collected_at FROM new_snapshots
  ORDER BY collected_at
  ON CONFLICT (collected_at) DO UPDATE SET queued_at = q.queued_at;
  RETURN NULL;
END
$$;

-- The ranking parts of the rows collected in [range_start, range_end) and at most ends_at,
-- each lasting as described above.
CREATE FUNCTION mart_state.station_ranking_parts_of(
  range_start timestamptz,
  range_end timestamptz,
  ends_at timestamptz,
  max_gap interval
)
RETURNS SETOF mart_state.station_ranking_parts
LANGUAGE sql STABLE AS $$
  WITH spaced AS (
    SELECT s.system_id, s.station_code, s.collected_at, s.bikes_available, s.docks_available,
      s.occupancy_rate,
      least(
        coalesce(
          lead(s.collected_at)
            OVER (PARTITION BY s.system_id, s.station_code ORDER BY s.collected_at)
            - s.collected_at,
          max_gap),
        max_gap) AS lasted
    FROM raw.station_snapshots AS s
    -- The range, and max_gap past it for the next snapshots.
    WHERE s.collected_at >= range_start
      AND s.collected_at < range_end + greatest(max_gap, interval '0')
      AND s.collected_at <= ends_at
  )
  SELECT
    system_id,
    station_code,
    date_bin('1 hour', collected_at, timestamptz '2000-01-01 00:00:00+00'),
    count(*)::int,
    sum(bikes_available),
    sum(occupancy_rate),
    count(occupancy_rate)::int,
    coalesce(sum(lasted) FILTER (WHERE docks_available = 0), interval '0'),
    coalesce(sum(lasted) FILTER (WHERE bikes_available = 0), interval '0'),
    max(collected_at)
  FROM spaced
  WHERE collected_at < range_end
  GROUP BY 1, 2, 3
$$;

-- The live ranking of mart.compute_station_ranking, with a max_gap and a window_length, made of
-- parts, under the caller's lock. Writes the computation as `computed` and returns the number
-- of rows written, or NULL when raw is empty.
--
-- 1. It takes the ranking queue as the refreshes take theirs (0003), before it reads the
--    window's end: it waits for a load still writing a queued instant, then sees its rows.
-- 2. It recomputes from raw, whole, the parts of the window's hours it has no parts of yet (the
--    first computation, another max_gap, a longer window) and of those a late row changed: from
--    max_gap before each queued instant collected at or before the last window end, to that
--    instant. To the parts of the other hours it adds what the rows collected since the last
--    window end change (below). It deletes the parts of the hours before the window.
-- 3. The window [end - window_length, end] is its whole hours' parts and, in the hour where it
--    starts, the rows from its start, read from raw: added to the next hours' parts, or
--    subtracted from that hour's part, whichever reads fewer rows.
--
-- A batch of new rows costs the batch and max_gap before it of raw, at most 30 minutes and
-- max_gap more (the window's start) and a window of parts (24 per station), whatever the
-- history; a late batch, an hour of raw more per hour it changed. A part recomputed whole is
-- raw's; one added to is raw's if it was. A load that commits during a computation, which may
-- see some of its rows and not others, queued its instants: the next computation finds them at
-- or before its last window end, and recomputes their hours whole.
--
-- jit = off for the reasons given in 0009: what the live ranking reads is bounded by a batch;
-- work_mem as for the daily refresh, and so that an hour recomputed whole is sorted in memory.
CREATE FUNCTION mart_state.rank_from_parts(
  window_length interval,
  max_gap interval,
  computed timestamptz
)
RETURNS integer
LANGUAGE plpgsql
SET jit = off
SET work_mem = '32MB'
AS $$
DECLARE
  -- How far past a snapshot the next one matters. A part counts a station's last snapshot as
  -- lasting max_gap, this much more than the least(0, max_gap) it lasts.
  reach interval := greatest(max_gap, interval '0');
  taken timestamptz[];
  ends_at timestamptz;
  starts_at timestamptz;
  first_hour timestamptz;
  last_hour timestamptz;
  parts_from timestamptz;
  edge_start timestamptz;
  edge_end timestamptz;
  edge_sign integer;
  scope mart_state.station_ranking_parts_scope;
  touched timestamptz[];
  written integer;
BEGIN
  -- As mart.take_refresh_queue: locked in key order first, then deleted, each in its own
  -- statement, so that the next statements see the rows of any load this one waited for.
  PERFORM FROM mart_state.ranking_queue ORDER BY collected_at FOR UPDATE;
  WITH deleted AS (DELETE FROM mart_state.ranking_queue RETURNING collected_at)
  SELECT array_agg(collected_at) INTO taken FROM deleted;
  SELECT max(collected_at) INTO ends_at FROM raw.station_snapshots;
  IF ends_at IS NULL THEN
    RETURN NULL;
  END IF;
  -- Elapsed time, as in 0011.
  starts_at := ends_at - extract(epoch FROM window_length) * interval '1 second';
  first_hour := date_bin('1 hour', starts_at, timestamptz '2000-01-01 00:00:00+00');
  last_hour := date_bin('1 hour', ends_at, timestamptz '2000-01-01 00:00:00+00');
  SELECT * INTO scope FROM mart_state.station_ranking_parts_scope;
  IF scope.max_gap IS DISTINCT FROM max_gap THEN
    DELETE FROM mart_state.station_ranking_parts;
    SELECT array_agg(h) INTO touched
    FROM generate_series(first_hour, last_hour, interval '1 hour') AS h;
  ELSE
    -- Hours recomputed whole: those without parts yet, and those a late row changed.
    SELECT array_agg(DISTINCT h) INTO touched
    FROM (
      SELECT generate_series(first_hour, scope.first_hour - interval '1 hour',
        interval '1 hour')
      UNION ALL
      SELECT generate_series(
        date_bin('1 hour', c - reach, timestamptz '2000-01-01 00:00:00+00'),
        date_bin('1 hour', c, timestamptz '2000-01-01 00:00:00+00'),
        interval '1 hour')
      FROM unnest(taken) AS c
      WHERE c <= scope.seen_until
    ) AS candidates (h)
    WHERE h >= first_hour AND h <= last_hour;
  END IF;
  DELETE FROM mart_state.station_ranking_parts
  WHERE hour_start < first_hour OR hour_start = ANY (touched);

  -- The other hours' parts are raw's as it was up to seen_until (a row collected by then and
  -- loaded since is late, and its hours are in touched). Rows collected after it add to them:
  -- each such row, and the change they make to how long the rows up to max_gap before
  -- seen_until last. Both come from those rows of raw alone, how long a row lasted before
  -- from its next snapshot up to seen_until.
  IF scope.max_gap = max_gap AND ends_at > scope.seen_until THEN
    INSERT INTO mart_state.station_ranking_parts AS p
    SELECT d.system_id, d.station_code, d.hour_start,
      (count(*) FILTER (WHERE d.added))::int,
      coalesce(sum(d.bikes_available) FILTER (WHERE d.added), 0),
      sum(d.occupancy_rate) FILTER (WHERE d.added),
      (count(d.occupancy_rate) FILTER (WHERE d.added))::int,
      coalesce(sum(d.lasted) FILTER (WHERE d.docks_available = 0), interval '0')
        - coalesce(sum(d.lasted_before) FILTER (WHERE d.docks_available = 0), interval '0'),
      coalesce(sum(d.lasted) FILTER (WHERE d.bikes_available = 0), interval '0')
        - coalesce(sum(d.lasted_before) FILTER (WHERE d.bikes_available = 0), interval '0'),
      max(d.collected_at)
    FROM (
      SELECT n.*,
        date_bin('1 hour', n.collected_at, timestamptz '2000-01-01 00:00:00+00') AS hour_start,
        n.collected_at > scope.seen_until AS added,
        least(coalesce(n.next_at - n.collected_at, max_gap), max_gap) AS lasted,
        CASE WHEN n.collected_at <= scope.seen_until THEN
          least(coalesce(
            CASE WHEN n.next_at <= scope.seen_until THEN n.next_at END - n.collected_at,
            max_gap), max_gap)
        END AS lasted_before
      FROM (
        SELECT s.system_id, s.station_code, s.collected_at, s.bikes_available,
          s.docks_available, s.occupancy_rate,
          lead(s.collected_at)
            OVER (PARTITION BY s.system_id, s.station_code ORDER BY s.collected_at) AS next_at
        FROM raw.station_snapshots AS s
        WHERE s.collected_at > scope.seen_until - reach AND s.collected_at >= first_hour
          AND s.collected_at <= ends_at
      ) AS n
    ) AS d
    WHERE NOT d.hour_start = ANY (coalesce(touched, '{}'))
    GROUP BY d.system_id, d.station_code, d.hour_start
    ON CONFLICT (hour_start, system_id, station_code) DO UPDATE SET
      snapshot_count = p.snapshot_count + excluded.snapshot_count,
      sum_bikes = p.sum_bikes + excluded.sum_bikes,
      sum_occupancy_rate = coalesce(p.sum_occupancy_rate + excluded.sum_occupancy_rate,
        p.sum_occupancy_rate, excluded.sum_occupancy_rate),
      occupancy_count = p.occupancy_count + excluded.occupancy_count,
      time_saturated = p.time_saturated + excluded.time_saturated,
      time_empty = p.time_empty + excluded.time_empty,
      last_collected_at = greatest(p.last_collected_at, excluded.last_collected_at);
  END IF;

  INSERT INTO mart_state.station_ranking_parts
  SELECT p.*
  FROM unnest(touched) AS h (hour_start)
  CROSS JOIN LATERAL mart_state.station_ranking_parts_of(
    h.hour_start, h.hour_start + interval '1 hour', ends_at, max_gap) AS p;
  INSERT INTO mart_state.station_ranking_parts_scope (max_gap, first_hour, seen_until)
  VALUES (max_gap, first_hour, ends_at)
  ON CONFLICT (one_row) DO UPDATE
  SET max_gap = excluded.max_gap, first_hour = excluded.first_hour,
    seen_until = excluded.seen_until;

  IF starts_at - first_hour < first_hour + interval '1 hour' - starts_at THEN
    parts_from := first_hour;
    edge_start := first_hour;
    edge_end := starts_at;
    edge_sign := -1;
  ELSE
    parts_from := first_hour + interval '1 hour';
    edge_start := starts_at;
    edge_end := first_hour + interval '1 hour';
    edge_sign := 1;
  END IF;

  INSERT INTO mart.station_ranking (
    computed_at, computed_for, window_start, window_end, system_id, station_code,
    station_name, snapshot_count, avg_occupancy_rate, avg_bikes, minutes_saturated,
    minutes_empty, rank_saturation, rank_empty)
  WITH pieces AS (
    SELECT p.*, 1 AS sign
    FROM mart_state.station_ranking_parts AS p
    WHERE p.hour_start >= parts_from AND p.hour_start <= last_hour
    UNION ALL
    SELECT e.*, edge_sign
    FROM mart_state.station_ranking_parts_of(edge_start, edge_end, ends_at, max_gap) AS e
  ), per_station AS (
    SELECT system_id, station_code,
      sum(sign * snapshot_count) AS snapshot_count,
      sum(sign * sum_bikes) AS sum_bikes,
      sum(sign * sum_occupancy_rate) AS sum_occupancy_rate,
      sum(sign * occupancy_count) AS occupancy_count,
      sum(CASE WHEN sign > 0 THEN time_saturated ELSE -time_saturated END) AS time_saturated,
      sum(CASE WHEN sign > 0 THEN time_empty ELSE -time_empty END) AS time_empty,
      -- The station's last snapshot in the window is the latest of the pieces added: one
      -- subtracted holds snapshots before the window only.
      max(last_collected_at) FILTER (WHERE sign > 0) AS last_collected_at
    FROM pieces
    GROUP BY system_id, station_code
  ), measured AS (
    SELECT p.system_id, p.station_code, l.station_name, p.snapshot_count,
      -- numeric_div(sum, count), as avg() (see the top of this file).
      round(p.sum_occupancy_rate / nullif(p.occupancy_count, 0), 4) AS avg_occupancy_rate,
      round(p.sum_bikes / p.snapshot_count, 2) AS avg_bikes,
      round(extract(epoch FROM p.time_saturated
        - CASE WHEN l.docks_available = 0 THEN reach ELSE interval '0' END) / 60, 2)
        AS minutes_saturated,
      round(extract(epoch FROM p.time_empty
        - CASE WHEN l.bikes_available = 0 THEN reach ELSE interval '0' END) / 60, 2)
        AS minutes_empty
    FROM per_station AS p
    -- Looked up by its key, as the daily refresh looks up a day's latest snapshot.
    CROSS JOIN LATERAL (
      SELECT s.station_name, s.docks_available, s.bikes_available
      FROM raw.station_snapshots AS s
      WHERE s.system_id = p.system_id AND s.station_code = p.station_code
        AND s.collected_at = p.last_collected_at
      LIMIT 1
    ) AS l
    WHERE p.snapshot_count > 0
  )
  SELECT computed, NULL::timestamptz, starts_at, ends_at, m.system_id, m.station_code,
    m.station_name, m.snapshot_count, m.avg_occupancy_rate, m.avg_bikes,
    m.minutes_saturated, m.minutes_empty,
    rank() OVER (PARTITION BY m.system_id ORDER BY m.minutes_saturated DESC),
    rank() OVER (PARTITION BY m.system_id ORDER BY m.minutes_empty DESC)
  FROM measured AS m;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;

-- The ranking of 0011, with the same signature, arguments, rows and pruning. With `at`, or
-- without a max_gap or a window_length (NULL: no cap, no window), it is 0011's computation from
-- raw, unchanged, settings included (the server's JIT: jit = off is for what a batch bounds).
-- Live, it is mart_state.rank_from_parts, made of parts.
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
  IF asked_for IS NULL AND max_gap IS NOT NULL AND window_length IS NOT NULL THEN
    written := mart_state.rank_from_parts(window_length, max_gap, computed);
    IF written IS NULL THEN
      RETURN 0;
    END IF;
  ELSE
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
      computed_at, computed_for, window_start, window_end, system_id, station_code,
      station_name, snapshot_count, avg_occupancy_rate, avg_bikes, minutes_saturated,
      minutes_empty, rank_saturation, rank_empty)
    WITH spaced AS (
      SELECT s.*,
        -- lead() is NULL for the last snapshot in the window, which lasts 0. (The coalesce
        -- must come first: least() ignores NULLs and would give max_gap.)
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
      p.station_name, p.snapshot_count, p.avg_occupancy_rate, p.avg_bikes,
      p.minutes_saturated, p.minutes_empty,
      rank() OVER (PARTITION BY p.system_id ORDER BY p.minutes_saturated DESC),
      rank() OVER (PARTITION BY p.system_id ORDER BY p.minutes_empty DESC)
    FROM per_station AS p;
    GET DIAGNOSTICS written = ROW_COUNT;
  END IF;

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
