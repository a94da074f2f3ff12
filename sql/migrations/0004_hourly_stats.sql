-- Gold: per station and local hour. Averages of counts are rounded to 2 decimals (a bike
-- count to the hundredth is plenty), the average occupancy to 4, the precision of
-- raw.occupancy_rate. Averages are over snapshots, not weighted by time.

CREATE TABLE IF NOT EXISTS mart.hourly_station_stats (
  station_code text NOT NULL,
  -- The instant the local hour starts. The key: on the fall-back night the two 02:00 local
  -- hours are two buckets, told apart by this and not by bucket_local.
  bucket_start timestamptz NOT NULL,
  -- The local wall-clock hour, for display and heatmaps.
  bucket_local timestamp NOT NULL,
  -- The latest name seen in the bucket: names change, so stations are grouped by code only.
  station_name text NOT NULL,
  avg_bikes numeric(10,2) NOT NULL,
  avg_mechanical numeric(10,2) NOT NULL,
  avg_electric numeric(10,2) NOT NULL,
  avg_docks numeric(10,2) NOT NULL,
  -- NULL when no snapshot of the bucket has an occupancy rate (capacity 0).
  avg_occupancy_rate numeric(10,4) NULL,
  min_bikes int NOT NULL,
  max_bikes int NOT NULL,
  snapshot_count int NOT NULL,
  -- Snapshots with no free dock.
  saturated_count int NOT NULL,
  -- Snapshots with no bike.
  empty_count int NOT NULL,
  -- Snapshots whose station_status is not en_service (closed or out of service).
  out_of_service_count int NOT NULL,
  -- The latest capacity in the bucket.
  capacity int NOT NULL,
  refreshed_at timestamptz NOT NULL,
  PRIMARY KEY (station_code, bucket_start)
);

CREATE INDEX IF NOT EXISTS hourly_station_stats_bucket_start_idx
  ON mart.hourly_station_stats (bucket_start);

-- Recomputes the local hours that received rows since the last run, and returns the number of
-- rows written. Its cost depends on those hours, not on the history.
--
-- Safe alongside loads and itself: runs are serialized by an advisory lock, and a bucket is
-- replaced by DELETE + INSERT in the caller's transaction, so readers keep seeing the old rows
-- until it commits (no TRUNCATE, no ACCESS EXCLUSIVE lock). Call it in READ COMMITTED, the
-- default: each statement must see what the previous one waited for. Always use the same
-- time_zone: rows of buckets of another zone are not removed.
--
-- date_trunc('hour', t, zone) keeps t's UTC offset, so on the fall-back night 02:30 CEST and
-- 02:30 CET fall in two buckets; the bucket's end is bucket_start + 1 hour of elapsed time.
CREATE OR REPLACE FUNCTION mart.refresh_hourly_stats(time_zone text DEFAULT 'Europe/Paris')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  touched timestamptz[];
  written integer;
BEGIN
  PERFORM now() AT TIME ZONE time_zone; -- an unknown zone fails even when nothing is queued
  PERFORM pg_advisory_xact_lock(hashtext('mart.refresh_hourly_stats'));
  SELECT array_agg(DISTINCT date_trunc('hour', c, time_zone)) INTO touched
  FROM unnest(mart.take_refresh_queue('hourly')) AS c;
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
