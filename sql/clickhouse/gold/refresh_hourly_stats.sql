-- Recomputes the local hours ({time_zone}) that received rows: those loaded since
-- {loaded_since} and collected in [{window_start}, {window_end}). The clickhouse step fills
-- them in: a rerun's window, or every time and the rows loaded since the last refresh.
-- The same definition as PostgreSQL's mart.refresh_hourly_stats: averages rounded as there,
-- the latest name and capacity of the hour, counts of saturated, empty and closed snapshots.
-- A bucket is inserted again whole; the newest refresh wins on read (FINAL).
INSERT INTO mart.hourly_station_stats (
  system_id, station_code, bucket_start, bucket_local, station_name, avg_bikes,
  avg_mechanical, avg_electric, avg_docks, avg_occupancy_rate, min_bikes, max_bikes,
  snapshot_count, saturated_count, empty_count, out_of_service_count, capacity, refreshed_at)
SELECT
  system_id,
  station_code,
  toStartOfHour(collected_at, {time_zone}) AS bucket_start,
  toDateTime(toString(bucket_start, {time_zone}), 'UTC') AS bucket_local,
  argMax(station_name, collected_at) AS station_name,
  round(avg(bikes_available), 2) AS avg_bikes,
  round(avg(mechanical_bikes), 2) AS avg_mechanical,
  round(avg(electric_bikes), 2) AS avg_electric,
  round(avg(docks_available), 2) AS avg_docks,
  round(avg(occupancy_rate), 4) AS avg_occupancy_rate,
  min(bikes_available) AS min_bikes,
  max(bikes_available) AS max_bikes,
  toUInt32(count()) AS snapshot_count,
  toUInt32(countIf(docks_available = 0)) AS saturated_count,
  toUInt32(countIf(bikes_available = 0)) AS empty_count,
  toUInt32(countIf(station_status != 'en_service')) AS out_of_service_count,
  argMax(capacity, collected_at) AS capacity,
  now() AS refreshed_at
FROM raw.station_snapshots FINAL
WHERE toStartOfHour(collected_at, {time_zone}) IN (
  SELECT DISTINCT toStartOfHour(collected_at, {time_zone})
  FROM raw.station_snapshots
  WHERE inserted_at >= {loaded_since}
    AND collected_at >= {window_start} AND collected_at < {window_end}
)
GROUP BY system_id, station_code, bucket_start;

-- The rows this refresh wrote: one per station and hour it recomputed.
SELECT count() AS rows
FROM (
  SELECT DISTINCT system_id, station_code, toStartOfHour(collected_at, {time_zone})
  FROM raw.station_snapshots
  WHERE toStartOfHour(collected_at, {time_zone}) IN (
    SELECT DISTINCT toStartOfHour(collected_at, {time_zone})
    FROM raw.station_snapshots
    WHERE inserted_at >= {loaded_since}
      AND collected_at >= {window_start} AND collected_at < {window_end}
  )
);
