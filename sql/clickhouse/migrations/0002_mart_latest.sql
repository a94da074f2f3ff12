-- The newest snapshot of each station, the ClickHouse copy of PostgreSQL's mart.station_latest.
-- Every snapshot is inserted; ReplacingMergeTree keeps, per station, the one with the latest
-- collected_at, so a late or replayed snapshot never takes a station back. Read with FINAL.

CREATE DATABASE IF NOT EXISTS mart;

CREATE TABLE IF NOT EXISTS mart.station_latest (
  schema_version UInt8,
  system_id String,
  station_code String,
  station_name String,
  bikes_available Int32,
  mechanical_bikes Int32,
  electric_bikes Int32,
  docks_available Int32,
  capacity Int32,
  is_installed UInt8,
  is_renting UInt8,
  is_returning UInt8,
  latitude Float64,
  longitude Float64,
  last_reported Nullable(DateTime('UTC')),
  commune Nullable(String),
  code_insee Nullable(String),
  collected_at DateTime('UTC'),
  occupancy_rate Nullable(Float64),
  station_status String,
  updated_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree(collected_at)
ORDER BY (system_id, station_code);
