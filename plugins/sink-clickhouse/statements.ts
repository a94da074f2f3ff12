/**
 * The SQL the sink sends of its own: tagged constants, each with `$n` placeholders that the
 * binder (`bind.ts`) fills in.
 *
 * @module
 */

/** Creates what records migrations, before any migration runs. */
export const BOOTSTRAP: readonly string[] = [
  "CREATE DATABASE IF NOT EXISTS pipeline",
  `CREATE TABLE IF NOT EXISTS pipeline.schema_migrations (
    scope String,
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC') DEFAULT now()
  ) ENGINE = ReplacingMergeTree ORDER BY (scope, version)`,
];

/** The checksum a migration was applied with: `$1` scope, `$2` version. */
export const SELECT_MIGRATION =
  "SELECT checksum FROM pipeline.schema_migrations FINAL WHERE scope = $1 AND version = $2";

/**
 * The insertable columns of a table, in the table's order (18.16's system.columns has no
 * `position` to sort by, and lists them in order): `$1` database, `$2` table.
 */
export const SELECT_COLUMNS = `SELECT name, type FROM system.columns
  WHERE database = $1 AND table = $2 AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')`;

/** The furthest position of each partition a pipeline stored: `$1` its positions name. */
export const SELECT_POSITIONS = `SELECT stream, partition, toString(max(next_offset)) AS offset
  FROM pipeline.source_positions WHERE pipeline = $1
  GROUP BY stream, partition ORDER BY stream, partition`;

/**
 * A pipeline's dead letters, oldest first: `$1` pipeline, `$2` since (epoch s), `$3` reason.
 * Aliases differ from the columns, since ClickHouse reads an alias in WHERE as the column.
 * The time is `%T` (hh:mm:ss in every version): since 23.4 `%M` is the month's name, not the
 * minute, and 18.16 has no `%i`.
 */
export const SELECT_DEAD_LETTERS = `SELECT id, stage, reason, payload, source_stream,
    source_partition, toString(source_offset) AS offset_text,
    formatDateTime(failed_at, '%Y-%m-%dT%TZ', 'UTC') AS failed_text
  FROM pipeline.dead_letters FINAL
  WHERE pipeline = $1 AND failed_at >= toDateTime($2, 'UTC')
    AND positionCaseInsensitiveUTF8(reason, $3) > 0
  ORDER BY failed_at, id`;

/** The server's version, e.g. `18.16.1`. */
export const SELECT_VERSION = "SELECT version() AS version";

/** When a step's script last started a run that succeeded (epoch s): `$1` pipeline, `$2` script. */
export const SELECT_STEP_RUN = `SELECT toUInt32(max(started_at)) AS started_at
  FROM pipeline.step_runs WHERE pipeline = $1 AND script = $2`;
