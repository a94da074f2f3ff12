/**
 * The statements the checks send besides their own queries: what keeps their results, in each
 * warehouse language they speak.
 *
 * @module
 */

/** What a check sends to keep its results in a warehouse of one language. */
export interface ResultStatements {
  /**
   * One row: `present`, whether the results table exists, so that a warehouse that has it is not
   * sent the DDL. Left out where `create` is idempotent and cheap: then it is always sent.
   */
  present?: string;
  /** Creates the results table, in one idempotent statement. */
  create: string;
  /**
   * Records one result. `$1` run id, `$2` pipeline, `$3` check, `$4` severity, `$5` observed,
   * `$6` threshold, `$7` passed, `$8` message.
   */
  insert: string;
}

/**
 * The results table, `pipeline.check_results`, by warehouse language (`QueryRunner.dialect`).
 * The plugin owns it: it creates it through the warehouse it runs on, after that warehouse is
 * connected (and so migrated), and only when it is not there, so that a warehouse that has it
 * already is not even sent the DDL.
 *
 * @example
 * ```ts
 * import { RESULT_STATEMENTS } from "./statements.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(RESULT_STATEMENTS.postgres.create, /CREATE TABLE IF NOT EXISTS pipeline.check_results/);
 * ```
 */
export const RESULT_STATEMENTS: Readonly<Record<string, ResultStatements>> = {
  postgres: {
    present: "SELECT to_regclass('pipeline.check_results') IS NOT NULL AS present",
    create:
      `-- The checks' own table: every result, for trends and for the analysts, with the run it
-- belongs to. It used to be the Vélib' project's (sql/migrations/0008_check_results.sql, released
-- and so never edited, which creates it without IF NOT EXISTS). The order that keeps both right:
-- the runner connects the pipeline's warehouse before any check, and connecting the postgres
-- sink applies its own migrations, then the project's; a check creates the table only after
-- that, and only if it is missing. So on a fresh database (a server or PGlite) 0008 creates it
-- first and this is never sent; on an existing one it is there already; on a warehouse whose
-- project never had 0008, this creates it, with the same columns. Do not add a project
-- migration creating it: this plugin owns it now. Grants are the project's (default privileges
-- cover a table created here by the role that migrates). A change goes here as one more
-- idempotent statement (ADD COLUMN IF NOT EXISTS ...), so that every database converges.
DO $$
BEGIN
  -- Instances starting together create it once.
  PERFORM pg_advisory_xact_lock(hashtext('pipeline.check_results'));
  CREATE SCHEMA IF NOT EXISTS pipeline;
  CREATE TABLE IF NOT EXISTS pipeline.check_results (
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
  CREATE INDEX IF NOT EXISTS check_results_checked_at ON pipeline.check_results (checked_at);
END
$$`,
    insert: `INSERT INTO pipeline.check_results
    (run_id, pipeline, check_name, severity, observed, threshold, passed, message)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  },
  clickhouse: {
    // No `present`: its create is idempotent and cheap, and a warehouse may keep its databases
    // under a prefix, which a name in a string (system.tables) would miss.
    // Append-only, a row per check and run, as in PostgreSQL; ordered for "the latest results
    // of a check". Two instances creating it at once both succeed (IF NOT EXISTS).
    create: `CREATE TABLE IF NOT EXISTS pipeline.check_results (
  run_id String,
  pipeline String,
  check_name String,
  severity Enum8('info' = 1, 'warn' = 2, 'error' = 3),
  observed Nullable(Float64),
  threshold Float64,
  passed UInt8,
  message String,
  checked_at DateTime('UTC') DEFAULT now()
) ENGINE = MergeTree ORDER BY (check_name, checked_at)`,
    insert: `INSERT INTO pipeline.check_results
    (run_id, pipeline, check_name, severity, observed, threshold, passed, message)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  },
};
