/**
 * The sink's configuration: the schema is the single source of truth for its type.
 *
 * @module
 */
import { z } from "zod";
import { IDENTIFIER_PATTERN, TABLE_PATTERN } from "./sql.ts";

const isPostgresUrl = (text: string): boolean => {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === "postgres:" || url.protocol === "postgresql:") && url.hostname !== "";
};

/**
 * A `postgres:` or `postgresql:` URL with a host. Its message never echoes the value, which may
 * hold a password.
 *
 * @example
 * ```ts
 * import { postgresUrl } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(postgresUrl.safeParse("postgres://app:pw@db:5432/velib").success, true);
 * assert.equal(postgresUrl.safeParse("mysql://app:pw@db/velib").success, false);
 * ```
 */
export const postgresUrl: z.ZodString = z.string().refine(isPostgresUrl, {
  error: "expected a URL such as postgres://user:password@host:5432/database",
});

/** How long to wait for a connection unless `connectTimeoutMs` says otherwise. */
export const CONNECT_TIMEOUT_MS = 5_000;

const column = z.string().regex(IDENTIFIER_PATTERN, {
  error: "expected a lowercase column name (letters, digits, _)",
});

/** One table the sink writes every record to. */
export const writeSchema = z.strictObject({
  /** The table, as `schema.table`. */
  table: z.string().regex(TABLE_PATTERN, {
    error: "expected schema.table in lowercase letters, digits and _",
  }),
  /** `insert` skips a record whose key exists; `upsert` updates the row instead. */
  mode: z.enum(["insert", "upsert"]),
  /** The columns of a unique constraint of the table: the conflict target. */
  key: z.array(column).min(1),
  /**
   * For `upsert`: a row is only updated when the record's value in this column is greater, so
   * a late or replayed record never takes a row back to an older state.
   */
  newerThan: column.optional(),
}).refine((write) => write.mode === "upsert" || write.newerThan === undefined, {
  error: "newerThan applies to mode upsert only",
  path: ["newerThan"],
});

/** The config of `postgresSink`. */
export const configSchema = z.strictObject({
  /** PostgreSQL connection URL; overridden by `DATABASE_URL`. */
  url: postgresUrl,
  /** The tables each record is written to, in order, in one transaction per batch. */
  writes: z.array(writeSchema).min(1),
  /** A folder of `NNNN_name.sql` files applied at connect, after the sink's own. */
  migrations: z.string().min(1).optional(),
  /**
   * Custom settings (`prefix.name`) the project's migrations can read with
   * `current_setting('prefix.name', true)`, e.g. a role password taken from the environment.
   */
  migrationSettings: z.record(
    z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, {
      error: "expected a custom setting name such as velib.analyst_password",
    }),
    z.string(),
  ).default({}),
  /** Connections in the pool. */
  poolSize: z.int().min(1).max(100).default(4),
  /** Longest a statement may run before PostgreSQL cancels it. */
  statementTimeoutMs: z.int().min(1).default(60_000),
  /** Longest to wait for a connection. */
  connectTimeoutMs: z.int().min(1).default(CONNECT_TIMEOUT_MS),
});

/** A validated config, defaults applied. */
export type PostgresSinkConfig = z.output<typeof configSchema>;

/** One write target of a validated config. */
export type WriteTarget = z.output<typeof writeSchema>;

/**
 * A complete config: raw snapshots appended once each, and the latest snapshot per station.
 *
 * @example
 * ```ts
 * import { configSchema, example } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(configSchema.parse(example).poolSize, 4);
 * ```
 */
export const example: z.input<typeof configSchema> = {
  url: "postgres://pipeline:secret@127.0.0.1:5432/velib",
  writes: [
    { table: "raw.station_snapshots", mode: "insert", key: ["station_code", "collected_at"] },
    {
      table: "mart.station_latest",
      mode: "upsert",
      key: ["station_code"],
      newerThan: "collected_at",
    },
  ],
  migrations: "migrations",
};
