-- Every data-quality check result, for trends and for the analysts: what was measured, against
-- which limit, and whether it passed. run_id ties the results of one run together (Airflow's
-- DAG run id when Airflow runs the check).
CREATE TABLE pipeline.check_results (
  id bigserial PRIMARY KEY,
  run_id text NOT NULL,
  pipeline text NOT NULL,
  check_name text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('info', 'warn', 'error')),
  observed double precision,
  threshold double precision NOT NULL,
  passed boolean NOT NULL,
  message text NOT NULL,
  checked_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX check_results_checked_at ON pipeline.check_results (checked_at);

-- Readable by analysts like the rest of the schema; default privileges cover tables created
-- by the migrating role, and this grant covers a server where another role created it.
GRANT SELECT ON pipeline.check_results TO velib_analyst;
