-- Gold: per station and local day; the same measures and rounding as the hourly stats.

CREATE TABLE IF NOT EXISTS mart.daily_station_stats (
  station_code text NOT NULL,
  -- The local date.
  day date NOT NULL,
  -- The instant the local day starts; the day lasts 23 or 25 hours on DST change days.
  day_start timestamptz NOT NULL,
  station_name text NOT NULL,
  avg_bikes numeric(10,2) NOT NULL,
  avg_mechanical numeric(10,2) NOT NULL,
  avg_electric numeric(10,2) NOT NULL,
  avg_docks numeric(10,2) NOT NULL,
  avg_occupancy_rate numeric(10,4) NULL,
  min_bikes int NOT NULL,
  max_bikes int NOT NULL,
  snapshot_count int NOT NULL,
  saturated_count int NOT NULL,
  empty_count int NOT NULL,
  out_of_service_count int NOT NULL,
  capacity int NOT NULL,
  refreshed_at timestamptz NOT NULL,
  PRIMARY KEY (station_code, day)
);

CREATE INDEX IF NOT EXISTS daily_station_stats_day_idx ON mart.daily_station_stats (day);

-- Recomputes the local days that received rows since the last run, from raw; see
-- mart.refresh_hourly_stats for why it is safe alongside loads, readers and itself.
--
-- A day's bounds are its local midnights, (day::timestamp) AT TIME ZONE time_zone and the
-- next one: date arithmetic stays on the date type and the zone is always explicit, so the
-- session's TimeZone plays no part.
CREATE OR REPLACE FUNCTION mart.refresh_daily_stats(time_zone text DEFAULT 'Europe/Paris')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  touched date[];
  written integer;
BEGIN
  PERFORM now() AT TIME ZONE time_zone; -- an unknown zone fails even when nothing is queued
  PERFORM pg_advisory_xact_lock(hashtext('mart.refresh_daily_stats'));
  SELECT array_agg(DISTINCT (c AT TIME ZONE time_zone)::date) INTO touched
  FROM unnest(mart.take_refresh_queue('daily')) AS c;
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
