-- The gold tables, the ClickHouse copies of PostgreSQL's mart.hourly_station_stats,
-- mart.daily_station_stats and mart.station_ranking, filled by the scripts of sql/clickhouse/gold
-- from the same definitions. A refresh inserts its buckets again; ReplacingMergeTree keeps the
-- newest refresh of each (refreshed_at), so read with FINAL.

CREATE TABLE IF NOT EXISTS mart.hourly_station_stats (
  system_id String,
  station_code String,
  -- The instant the local hour starts. The key: on the fall-back night the two 02:00 local
  -- hours are two buckets, told apart by this and not by bucket_local.
  bucket_start DateTime('UTC'),
  -- The local wall-clock hour, for display and heatmaps (a time without a zone, stored as UTC).
  bucket_local DateTime('UTC'),
  station_name String,
  avg_bikes Float64,
  avg_mechanical Float64,
  avg_electric Float64,
  avg_docks Float64,
  -- NULL when no snapshot of the bucket has an occupancy rate (capacity 0).
  avg_occupancy_rate Nullable(Float64),
  min_bikes Int32,
  max_bikes Int32,
  snapshot_count UInt32,
  saturated_count UInt32,
  empty_count UInt32,
  out_of_service_count UInt32,
  capacity Int32,
  refreshed_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (system_id, station_code, bucket_start);

CREATE TABLE IF NOT EXISTS mart.daily_station_stats (
  system_id String,
  station_code String,
  -- The local date.
  day Date,
  -- The instant the local day starts; the day lasts 23 or 25 hours on DST change days.
  day_start DateTime('UTC'),
  station_name String,
  avg_bikes Float64,
  avg_mechanical Float64,
  avg_electric Float64,
  avg_docks Float64,
  avg_occupancy_rate Nullable(Float64),
  min_bikes Int32,
  max_bikes Int32,
  snapshot_count UInt32,
  saturated_count UInt32,
  empty_count UInt32,
  out_of_service_count UInt32,
  capacity Int32,
  refreshed_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (system_id, station_code, day);
