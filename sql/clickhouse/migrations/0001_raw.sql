-- Every snapshot as it arrived, the ClickHouse copy of PostgreSQL's raw.station_snapshots: the
-- same columns, in ClickHouse's types. Applied by the clickhouse sink (no transaction: every
-- statement must be safe to run again). Edit nothing here once released: add a new file.
--
-- Times are DateTime, whole seconds (ClickHouse 18.16 has no DateTime64): a collection time's
-- milliseconds are not kept. Cycles are a minute apart, so no two snapshots of a station share
-- a second.

CREATE DATABASE IF NOT EXISTS raw;

-- One row per station and cycle, as read: a batch written again (after a crash, or a server
-- lost in the middle of it) inserts the same rows again, and ReplacingMergeTree collapses them
-- into one per key. Read with FINAL (or GROUP BY the key) to see each snapshot once before the
-- background merge has run.
CREATE TABLE IF NOT EXISTS raw.station_snapshots (
  schema_version UInt8,
  -- A station is its system and its code: two systems may use the same codes.
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
  -- The operator's own report time; unknown for some stations, and may be years old.
  last_reported Nullable(DateTime('UTC')),
  commune Nullable(String),
  code_insee Nullable(String),
  -- When the ingest cycle read the station: the data time every gold table is keyed on.
  collected_at DateTime('UTC'),
  -- Enrichment. NULL when the station reports no capacity.
  occupancy_rate Nullable(Float64),
  station_status String,
  -- When this copy was inserted: what the gold scripts find new rows by.
  inserted_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(collected_at)
ORDER BY (system_id, station_code, collected_at);
