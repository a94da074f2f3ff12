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

-- The 24 h ranking of stations by minutes without a dock and without a bike, one computation
-- per run (computed_at), the ClickHouse copy of PostgreSQL's mart.station_ranking. Readers take
-- the latest computed_at (of computed_for NULL: the live ranking; else the one asked for).
-- Computations are not pruned: drop old partitions (one per day) to bound it.
CREATE TABLE IF NOT EXISTS mart.station_ranking (
  computed_at DateTime('UTC'),
  -- The instant it was asked for (a rerun's --at); NULL: as of the newest snapshot.
  computed_for Nullable(DateTime('UTC')),
  window_start DateTime('UTC'),
  window_end DateTime('UTC'),
  system_id String,
  station_code String,
  -- The latest name in the window.
  station_name String,
  snapshot_count UInt32,
  avg_occupancy_rate Nullable(Float64),
  avg_bikes Float64,
  -- Minutes with no free dock / no bike, rounded to 2 decimals; ranks use the rounded values.
  minutes_saturated Float64,
  minutes_empty Float64,
  -- As rank(): stations with the same minutes share a rank, 1 = most minutes, per system.
  rank_saturation UInt32,
  rank_empty UInt32
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(computed_at)
ORDER BY (computed_at, system_id, station_code);
