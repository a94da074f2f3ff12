-- Silver: the latest snapshot of every station, for "right now" questions without scanning raw.

CREATE SCHEMA IF NOT EXISTS mart;

-- The snapshot's columns (as in raw.station_snapshots, minus inserted_at) plus updated_at.
-- The sink upserts by station_code and only when the incoming collected_at is newer.
CREATE TABLE IF NOT EXISTS mart.station_latest (
  schema_version smallint NOT NULL,
  station_code text PRIMARY KEY,
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
  last_reported timestamptz NULL,
  commune text NULL,
  code_insee text NULL,
  collected_at timestamptz NOT NULL,
  occupancy_rate numeric(10,4) NULL,
  station_status text NOT NULL
    CHECK (station_status IN ('en_service', 'fermée', 'hors_service')),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The sink's upsert sets only the record's columns, so the row's write time is kept here
-- rather than trusted to every writer.
CREATE OR REPLACE FUNCTION mart.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER station_latest_touch_updated_at
  BEFORE UPDATE ON mart.station_latest
  FOR EACH ROW EXECUTE FUNCTION mart.touch_updated_at();
