-- What the gold refreshes still have to look at, so that each refresh recomputes only the
-- buckets that received rows instead of the whole history.
--
-- The queue holds data instants (collected_at), not buckets: what an instant's bucket is
-- depends on the time zone, which is a parameter of each refresh. Each consumer ("target")
-- has its own entry and takes it when it runs.

CREATE TABLE IF NOT EXISTS mart.refresh_queue (
  target text NOT NULL CHECK (target IN ('hourly', 'daily')),
  collected_at timestamptz NOT NULL,
  -- When the instant was first queued: how far behind the gold tables are.
  queued_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (target, collected_at)
);

-- Once per INSERT statement, not per row: a load of 1,471 stations of one cycle queues one
-- instant per target. Rows that raw's ON CONFLICT DO NOTHING skipped are not in the
-- transition table, so a replayed batch queues nothing.
--
-- ON CONFLICT DO UPDATE, not DO NOTHING, although it changes nothing: it locks the existing
-- entry until this load commits. A cycle can arrive in several loads; with DO NOTHING a
-- refresh could take the entry while a later load of the same cycle is still uncommitted, and
-- that load's rows would never be refreshed. With the lock, the refresh waits for the load.
-- Entries are locked in (target, collected_at) order, the order refreshes lock them in, so
-- loads and refreshes do not deadlock.
CREATE OR REPLACE FUNCTION mart.queue_refreshes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mart.refresh_queue AS q (target, collected_at)
  SELECT t.target, n.collected_at
  FROM (SELECT DISTINCT collected_at FROM new_snapshots) AS n
  CROSS JOIN (VALUES ('daily'), ('hourly')) AS t (target)
  ORDER BY t.target, n.collected_at
  ON CONFLICT (target, collected_at) DO UPDATE SET queued_at = q.queued_at;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER station_snapshots_queue_refreshes
  AFTER INSERT ON raw.station_snapshots
  REFERENCING NEW TABLE AS new_snapshots
  FOR EACH STATEMENT EXECUTE FUNCTION mart.queue_refreshes();

-- Takes every queued instant of one target, for a refresh. In its own statement so that the
-- refresh's next statements see, under READ COMMITTED, the rows of any load it waited for.
-- Locks in key order first (see above), then deletes.
CREATE OR REPLACE FUNCTION mart.take_refresh_queue(queue_target text)
RETURNS timestamptz[]
LANGUAGE plpgsql AS $$
DECLARE
  taken timestamptz[];
BEGIN
  PERFORM FROM mart.refresh_queue WHERE target = queue_target
    ORDER BY collected_at FOR UPDATE;
  WITH deleted AS (
    DELETE FROM mart.refresh_queue WHERE target = queue_target RETURNING collected_at
  )
  SELECT array_agg(collected_at) INTO taken FROM deleted;
  RETURN coalesce(taken, '{}');
END
$$;
