/**
 * Every statement the sink sends. Values are always `$n` parameters; the only names spliced in
 * are identifiers from the config, validated and quoted by `identifier`.
 *
 * @module
 */
import type { WriteTarget } from "./config.ts";
import { identifier, list, placeholder, type Sql, sql, typeName } from "./sql.ts";

/** A round trip that proves the connection works. */
export const SELECT_ONE: Sql = sql`SELECT 1`;

/** The server's version string, e.g. `PostgreSQL 15.14 (Debian …) on x86_64…`. */
export const SELECT_VERSION: Sql = sql`SELECT version() AS version`;

/** Opens a transaction. */
export const BEGIN: Sql = sql`BEGIN`;

/** Commits a transaction. */
export const COMMIT: Sql = sql`COMMIT`;

/** Rolls a transaction back. */
export const ROLLBACK: Sql = sql`ROLLBACK`;

/** Marks a point that a COPY refused for a replayed key can roll back to. */
export const SAVEPOINT_COPY: Sql = sql`SAVEPOINT copy`;

/** Keeps what was copied since {@linkcode SAVEPOINT_COPY}. */
export const RELEASE_SAVEPOINT_COPY: Sql = sql`RELEASE SAVEPOINT copy`;

/** Undoes a refused COPY, and leaves the transaction usable. */
export const ROLLBACK_TO_SAVEPOINT_COPY: Sql = sql`ROLLBACK TO SAVEPOINT copy`;

/** Marks a point that a failed probe can roll back to without losing the transaction. */
export const SAVEPOINT: Sql = sql`SAVEPOINT probe`;

/** Keeps what was done since {@linkcode SAVEPOINT}. */
export const RELEASE_SAVEPOINT: Sql = sql`RELEASE SAVEPOINT probe`;

/** Undoes what was done since {@linkcode SAVEPOINT}, and leaves the transaction usable. */
export const ROLLBACK_TO_SAVEPOINT: Sql = sql`ROLLBACK TO SAVEPOINT probe`;

/** Serializes migrators, including other processes: held until the transaction ends. */
export const LOCK_MIGRATIONS: Sql = sql`
  SELECT pg_advisory_xact_lock(hashtext('pipeline.schema_migrations'))`;

/** Whether the migrations table exists yet: the sink's first migration creates it. */
export const MIGRATIONS_TABLE_EXISTS: Sql = sql`
  SELECT to_regclass('pipeline.schema_migrations') IS NOT NULL AS exists`;

/** The checksum of an applied migration. `$1` scope, `$2` version. */
export const SELECT_MIGRATION: Sql = sql`
  SELECT name, checksum FROM pipeline.schema_migrations WHERE scope = $1 AND version = $2`;

/** Sets a custom setting until the transaction ends. `$1` its name, `$2` its value. */
export const SET_LOCAL_SETTING: Sql = sql`SELECT set_config($1, $2, true)`;

/** Records an applied migration. `$1` scope, `$2` version, `$3` name, `$4` checksum. */
export const INSERT_MIGRATION: Sql = sql`
  INSERT INTO pipeline.schema_migrations (scope, version, name, checksum, applied_at)
  VALUES ($1, $2, $3, $4, now())`;

/**
 * The columns a record can fill, in table order: each one's type as declared (`type`), without
 * its modifier (`base`, what a bulk parameter is cast to, since a cast to `varchar(10)` would
 * truncate where an insert refuses), and whether it is an array or JSON. Generated columns and
 * `GENERATED ALWAYS` identity columns are left out: PostgreSQL refuses values for them.
 * `$1` the quoted table name.
 */
export const SELECT_COLUMNS: Sql = sql`
  SELECT a.attname AS name,
    format_type(a.atttypid, a.atttypmod) AS type,
    format_type(a.atttypid, NULL) AS base,
    t.typcategory = 'A' AS is_array,
    t.typname IN ('json', 'jsonb') AS is_json
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attgenerated = '' AND a.attidentity <> 'a'
  ORDER BY a.attnum`;

/**
 * Whether the table has a unique index on exactly the given columns, not partial nor
 * deferrable, as `ON CONFLICT (…)` requires. `$1` the quoted table name, `$2` the column names.
 */
export const HAS_UNIQUE_INDEX: Sql = sql`
  SELECT EXISTS (
    SELECT FROM pg_index i
    WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indimmediate
      AND i.indpred IS NULL AND i.indexprs IS NULL
      AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
           FROM pg_attribute a
           WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey))
        = (SELECT array_agg(k ORDER BY k) FROM unnest($2::text[]) AS k)
  ) AS exists`;

/**
 * Stores a batch's rejects. A reject already stored for the same origin (a replayed batch) is
 * skipped; one without an origin is always stored. `$1` pipeline, `$2` a JSON array of
 * `{ stage, reason, payload, source_stream, source_partition, source_offset }`.
 */
export const INSERT_DEAD_LETTERS: Sql = sql`
  INSERT INTO pipeline.dead_letters
    (pipeline, stage, reason, payload, source_stream, source_partition, source_offset)
  SELECT $1, r.stage, r.reason, r.payload, r.source_stream, r.source_partition, r.source_offset
  FROM jsonb_to_recordset($2::jsonb) AS r(
    stage text, reason text, payload text,
    source_stream text, source_partition int, source_offset bigint)
  ON CONFLICT (pipeline, source_stream, source_partition, source_offset) DO NOTHING`;

/**
 * Moves the pipeline's positions forward, never back: a replayed older batch leaves them be.
 * `$1` pipeline, `$2` a JSON array of `{ stream, partition, next_offset }`.
 */
export const UPSERT_POSITIONS: Sql = sql`
  INSERT INTO pipeline.source_positions AS p (pipeline, stream, partition, next_offset)
  SELECT $1, c.stream, c.partition, max(c.next_offset)
  FROM jsonb_to_recordset($2::jsonb) AS c(stream text, partition int, next_offset bigint)
  GROUP BY c.stream, c.partition
  ON CONFLICT (pipeline, stream, partition) DO UPDATE
  SET next_offset = GREATEST(p.next_offset, EXCLUDED.next_offset), updated_at = now()`;

/** The pipeline's stored positions. `$1` pipeline. */
export const SELECT_POSITIONS: Sql = sql`
  SELECT stream, partition, next_offset::text AS offset
  FROM pipeline.source_positions
  WHERE pipeline = $1
  ORDER BY stream, partition`;

/**
 * A pipeline's dead letters, oldest first, replayed ones included. `$1` pipeline, `$2` only those
 * set aside at or after this instant, `$3` only those whose reason contains this text, ignoring
 * case; NULL for either means no such filter. `strpos`, not `LIKE`: the text is matched as
 * written, so a `%` or `_` in it is no wildcard.
 */
export const SELECT_DEAD_LETTERS: Sql = sql`
  SELECT d.id::text AS id, d.stage, d.reason, d.payload,
    d.source_stream, d.source_partition, d.source_offset::text AS source_offset,
    d.failed_at, d.replayed_at, d.replay_run_id
  FROM pipeline.dead_letters AS d
  WHERE d.pipeline = $1
    AND ($2::timestamptz IS NULL OR d.failed_at >= $2::timestamptz)
    AND ($3::text IS NULL OR strpos(lower(d.reason), lower($3::text)) > 0)
  ORDER BY d.failed_at, d.id`;

/**
 * The newest of a pipeline's letters that wait for a replay: where a replay stops, so that
 * letters set aside while it runs wait for the next one. NULL when none waits. `$1` pipeline.
 */
export const SELECT_LAST_WAITING_DEAD_LETTER: Sql = sql`
  SELECT max(id)::text AS id
  FROM pipeline.dead_letters
  WHERE pipeline = $1 AND replayed_at IS NULL`;

/**
 * A page of a pipeline's letters that wait for a replay, in id order: after id `$2` and up to id
 * `$3`, filtered by `$4` and `$5` as {@linkcode SELECT_DEAD_LETTERS} is, at most `$6` of them.
 * `$1` pipeline. The order is the column's, `d.id`: the bare name would be the text output.
 */
export const SELECT_WAITING_DEAD_LETTERS: Sql = sql`
  SELECT d.id::text AS id, d.payload
  FROM pipeline.dead_letters AS d
  WHERE d.pipeline = $1 AND d.replayed_at IS NULL
    AND d.id > $2::bigint AND d.id <= $3::bigint
    AND ($4::timestamptz IS NULL OR d.failed_at >= $4::timestamptz)
    AND ($5::text IS NULL OR strpos(lower(d.reason), lower($5::text)) > 0)
  ORDER BY d.id
  LIMIT $6`;

/**
 * Marks replayed the letters whose records a batch wrote, in the batch's transaction. A letter a
 * replay running alongside marked first keeps that mark. `$1` pipeline, `$2` the letters' ids,
 * `$3` the run id.
 */
export const MARK_DEAD_LETTERS_REPLAYED: Sql = sql`
  UPDATE pipeline.dead_letters
  SET replayed_at = now(), replay_run_id = $3
  WHERE pipeline = $1 AND id = ANY($2::bigint[]) AND replayed_at IS NULL`;

/**
 * Gives replayed letters that failed again the stage and reason of this try; payload, origin and
 * `failed_at` stay as they were. A letter marked replayed already (an earlier sink of the
 * pipeline wrote its record, a later one refused it) waits again: it counts as replayed only once
 * every sink took its record.
 * `$1` pipeline, `$2` a JSON array of `{ id, stage, reason }`, one per letter.
 */
export const UPDATE_DEAD_LETTER_REASONS: Sql = sql`
  UPDATE pipeline.dead_letters AS d
  SET stage = r.stage, reason = r.reason, replayed_at = NULL, replay_run_id = NULL
  FROM jsonb_to_recordset($2::jsonb) AS r(id bigint, stage text, reason text)
  WHERE d.pipeline = $1 AND d.id = r.id`;

/**
 * Converts one JSON object to a row of the table, to find which field a record cannot hold.
 * `$1` a one-field JSON object.
 */
export const convertRecord = (table: string): Sql =>
  sql`SELECT FROM jsonb_populate_record(NULL::${identifier(table)}, $1::jsonb)`;

/**
 * What `COPY … FROM` fills: the quoted table and column list.
 *
 * @example
 * ```ts
 * import { copyInto } from "./statements.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(copyInto("raw.t", ["id", "name"]).text, `"raw"."t" ("id", "name")`);
 * ```
 */
export function copyInto(table: string, columns: string[]): Sql {
  return sql`${identifier(table)} (${list(columns.map(identifier))})`;
}

/** A column as a bulk write sends it: its name and its type without modifier. */
export interface BulkColumn {
  /** The column's name. */
  name: string;
  /** Its type without modifier, e.g. `character varying`. */
  base: string;
}

/**
 * Writes records to a table in one statement: `$n` is the array of every record's value for
 * the nth of `columns`, and `unnest` turns the arrays back into rows. A column left out gets
 * its default.
 *
 * - `insert`: a record whose key exists already is skipped, so a replay changes nothing.
 * - `upsert`: the existing row is updated, but only when the record's `newerThan` value is
 *   greater (or the row's is NULL). Several records with one key keep only the newest, the
 *   last in the batch on a tie: one statement may not update a row twice.
 *
 * @example
 * ```ts
 * import { writeRecords } from "./statements.ts";
 * import assert from "node:assert/strict";
 *
 * const target = { table: "raw.t", mode: "insert" as const, key: ["id"] };
 * const statement = writeRecords(target, [{ name: "id", base: "integer" }]);
 * assert.match(statement.text, /unnest\(\$1::integer\[\]\)/);
 * assert.match(statement.text, /ON CONFLICT \("id"\) DO NOTHING/);
 * ```
 */
export function writeRecords(target: WriteTarget, columns: BulkColumn[]): Sql {
  const table = identifier(target.table);
  const names = list(columns.map((column) => identifier(column.name)));
  const key = list(target.key.map(identifier));
  const arrays = list(
    columns.map((column, i) => sql`${placeholder(i + 1)}::${typeName(column.base)}[]`),
  );
  const picked = list(columns.map((column) => sql`record.${identifier(column.name)}`));
  if (target.mode === "insert") {
    return sql`
      INSERT INTO ${table} (${names})
      SELECT ${picked} FROM unnest(${arrays}) AS record(${names})
      ON CONFLICT (${key}) DO NOTHING`;
  }
  const keyOfRecord = list(target.key.map((name) => sql`record.${identifier(name)}`));
  const newest = target.newerThan === undefined
    ? sql``
    : sql`record.${identifier(target.newerThan)} DESC NULLS LAST, `;
  const updated = columns.map((column) => column.name).filter((name) => !target.key.includes(name));
  const onConflict = updated.length === 0
    ? sql`DO NOTHING`
    : sql`DO UPDATE SET ${
      list(updated.map((name) => sql`${identifier(name)} = EXCLUDED.${identifier(name)}`))
    }${
      target.newerThan === undefined ? sql`` : sql`
      WHERE target.${identifier(target.newerThan)} IS NULL
         OR target.${identifier(target.newerThan)} < EXCLUDED.${identifier(target.newerThan)}`
    }`;
  // The position in the batch is the tie-break; its name cannot clash with a column's, since
  // column names are lowercase.
  return sql`
    INSERT INTO ${table} AS target (${names})
    SELECT DISTINCT ON (${keyOfRecord}) ${picked}
    FROM unnest(${arrays}) WITH ORDINALITY AS record(${names}, "Position")
    ORDER BY ${keyOfRecord}, ${newest}record."Position" DESC
    ON CONFLICT (${key}) ${onConflict}`;
}
