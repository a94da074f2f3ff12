-- Bronze: every station snapshot the load pipeline accepted, as it arrived. Append-only: gold
-- tables are recomputed from here, so nothing in this table is ever updated or deleted.

CREATE SCHEMA IF NOT EXISTS raw;

-- Column names are the record's field names: the sink writes records by column name.
CREATE TABLE IF NOT EXISTS raw.station_snapshots (
  schema_version smallint NOT NULL,
  -- text, not varchar(n): codes such as 11031_relais reach 12 characters and may grow.
  station_code text NOT NULL,
  station_name text NOT NULL,
  bikes_available int NOT NULL,
  mechanical_bikes int NOT NULL,
  electric_bikes int NOT NULL,
  docks_available int NOT NULL,
  capacity int NOT NULL,
  is_installed boolean NOT NULL,
  is_renting boolean NOT NULL,
  is_returning boolean NOT NULL,
  latitude double precision NOT NULL,
  longitude double precision NOT NULL,
  -- The operator's own report time; unknown for some stations, and may be years old.
  last_reported timestamptz NULL,
  commune text NULL,
  code_insee text NULL,
  -- When the ingest cycle read the station: the data time every gold table is keyed on.
  collected_at timestamptz NOT NULL,
  -- Enrichment. NULL when the station reports no capacity.
  occupancy_rate numeric(10,4) NULL,
  station_status text NOT NULL
    CHECK (station_status IN ('en_service', 'fermée', 'hors_service')),
  inserted_at timestamptz NOT NULL DEFAULT now(),
  -- One snapshot per station and cycle: a replayed batch inserts nothing twice.
  CONSTRAINT station_snapshots_station_code_collected_at_key UNIQUE (station_code, collected_at)
);

-- Gold refreshes read raw by time range (one hour, one day, the ranking window).
CREATE INDEX IF NOT EXISTS station_snapshots_collected_at_idx
  ON raw.station_snapshots (collected_at);
