-- Stale stations: a station of mart.station_latest that none of the last N cycles of its system
-- reported. Its row keeps its last snapshot, which would otherwise pass for the station now.
--
-- A cycle is an instant (collected_at) at which a system's snapshot was loaded. Raw cannot give
-- a system's newest cycles cheaply (its index on collected_at mixes the systems), so they are
-- kept apart, one row per system and cycle, recorded once per INSERT statement into raw, never
-- per row: the load's cost stays that of its rows. Staleness is then worked out when it is read,
-- from the newest cycles and each station's latest collected_at, so the sink's upsert of
-- mart.station_latest does no extra work and a station reported again is at once not stale.
--
-- N is the setting velib.stale_after_cycles (the warehouse's migrationSettings in
-- pipeline.config.ts), 3 when unset, read when this migration applies and kept in
-- mart_state.stale_settings; change it later there.

CREATE TABLE mart_state.system_cycles (
  system_id text NOT NULL,
  collected_at timestamptz NOT NULL,
  PRIMARY KEY (system_id, collected_at)
);

INSERT INTO mart_state.system_cycles (system_id, collected_at)
SELECT DISTINCT system_id, collected_at FROM raw.station_snapshots;

-- Fired after the refresh queue's trigger (triggers fire in name order), so every load takes
-- its locks in one order and concurrent loads of one cycle do not deadlock.
CREATE FUNCTION mart_state.record_cycles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mart_state.system_cycles (system_id, collected_at)
  SELECT DISTINCT system_id, collected_at FROM new_snapshots
  ORDER BY system_id, collected_at
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;

CREATE TRIGGER station_snapshots_record_cycles
  AFTER INSERT ON raw.station_snapshots
  REFERENCING NEW TABLE AS new_snapshots
  FOR EACH STATEMENT EXECUTE FUNCTION mart_state.record_cycles();

-- One row: how many cycles in a row a station may be missing before it is stale.
CREATE TABLE mart_state.stale_settings (
  one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row),
  stale_after_cycles integer NOT NULL CHECK (stale_after_cycles >= 1)
);

INSERT INTO mart_state.stale_settings (stale_after_cycles)
VALUES (coalesce(nullif(current_setting('velib.stale_after_cycles', true), ''), '3')::integer);

-- The stale stations: each one's latest snapshot is older than the Nth newest cycle of its
-- system. A system with fewer than N cycles has none.
CREATE VIEW mart.stale_stations AS
SELECT l.system_id, l.station_code, l.station_name,
  l.collected_at AS last_seen,
  c.collected_at AS stale_before,
  s.stale_after_cycles
FROM mart_state.stale_settings AS s
CROSS JOIN (SELECT DISTINCT system_id FROM mart.station_latest) AS y
CROSS JOIN LATERAL (
  SELECT collected_at FROM mart_state.system_cycles AS sc
  WHERE sc.system_id = y.system_id
  ORDER BY collected_at DESC
  OFFSET s.stale_after_cycles - 1 LIMIT 1
) AS c
JOIN mart.station_latest AS l ON l.system_id = y.system_id AND l.collected_at < c.collected_at;
