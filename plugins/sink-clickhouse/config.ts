/**
 * The sink's and the step's configuration: the schemas are the single source of truth for their
 * types.
 *
 * @module
 */
import { z } from "zod";
import { TABLE_PATTERN } from "./sql.ts";

const isClickhouseUrl = (text: string): boolean => {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "" &&
    (url.pathname === "/" || url.pathname === "");
};

/**
 * An `http:` or `https:` URL of a ClickHouse server's HTTP interface, with the user and password
 * in it when the server wants them. Its message never echoes the value, which may hold a
 * password.
 *
 * @example
 * ```ts
 * import { clickhouseUrl } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(clickhouseUrl.safeParse("http://pipeline:pw@127.0.0.1:8123").success, true);
 * assert.equal(clickhouseUrl.safeParse("postgres://app:pw@db/velib").success, false);
 * ```
 */
export const clickhouseUrl: z.ZodString = z.string().refine(isClickhouseUrl, {
  error: "expected a URL such as http://user:password@host:8123 (no path: tables name their " +
    "database)",
});

const table = z.string().regex(TABLE_PATTERN, {
  error: "expected database.table in lowercase letters, digits and _",
});

/** Where the server is and how to prepare it: shared by the sink and the step. */
export const connectionSchema = z.strictObject({
  /** The server's HTTP URL, with its credentials; overridden by `CLICKHOUSE_URL`. */
  url: clickhouseUrl,
  /** A folder of `NNNN_name.sql` files applied at connect, after the plugin's own. */
  migrations: z.string().min(1).optional(),
  /**
   * Put before the name of every database the migrations create (and `pipeline`), wherever the
   * plugin's SQL names one: several warehouses on one server, e.g. `staging_` or a test's own;
   * overridden by `CLICKHOUSE_DATABASE_PREFIX`. Empty: the names as written.
   */
  databasePrefix: z.string().regex(/^([a-z][a-z0-9_]{0,30}_)?$/, {
    error: "expected lowercase letters, digits and _, ending in _ (e.g. staging_), or empty",
  }).default(""),
  /** Longest a request (a query, an insert) may take before it is given up as transient. */
  requestTimeoutMs: z.int().min(1).default(60_000),
});

/** A validated connection config, defaults applied. */
export type ConnectionConfig = z.output<typeof connectionSchema>;

/** The config of `clickhouseSink`. */
export const configSchema = connectionSchema.extend({
  /**
   * The tables each record is written to, in order, as `database.table`: a record's fields go to
   * the columns of the same name. Make them `ReplacingMergeTree`s ordered by the record's key,
   * so that a replayed batch collapses into the rows it wrote (read with `FINAL`).
   */
  writes: z.array(z.strictObject({ table })).min(1),
});

/** A validated sink config, defaults applied. */
export type ClickhouseSinkConfig = z.output<typeof configSchema>;

/**
 * A complete sink config: every snapshot in `raw`, the newest per station in `mart`.
 *
 * @example
 * ```ts
 * import { configSchema, example } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(configSchema.parse(example).requestTimeoutMs, 60_000);
 * ```
 */
export const example: z.input<typeof configSchema> = {
  url: "http://pipeline:secret@127.0.0.1:8123",
  writes: [{ table: "raw.station_snapshots" }, { table: "mart.station_latest" }],
  migrations: "sql/clickhouse/migrations",
};

/** The names a step passes its scope under, for a script's `{name}` placeholders. */
const scopeName = z.string().regex(/^[a-z_][a-z0-9_]*$/, {
  error: "expected a lowercase placeholder name",
});

/** The config of `clickhouseStep`: a `.sql` script of statements, run in order. */
export const stepConfigSchema = connectionSchema.extend({
  /**
   * A `.sql` file of statements separated by `;`, run in order. Its `{name}` placeholders take
   * `args`, the window and the instant; a statement that returns rows ends the script, and its
   * rows are the step's result (`details.rows`).
   */
  script: z.string().endsWith(".sql", { error: "expected the path of a .sql file" }),
  /** Values for the script's `{name}` placeholders. */
  args: z.record(scopeName, z.union([z.string(), z.number(), z.boolean()])).default({}),
  /**
   * The placeholders that receive a rerun's window, start included and end excluded; with it,
   * the step accepts a window. Without one they span every time, and `{loaded_since}`, the
   * start of the script's previous successful run less a minute, picks what is new.
   */
  window: z.strictObject({ from: scopeName, to: scopeName }).optional(),
  /**
   * The placeholder that receives the instant to compute as of (NULL when none is asked for);
   * with it, the step accepts one.
   */
  at: scopeName.optional(),
});

/** A validated step config, defaults applied. */
export type ClickhouseStepConfig = z.output<typeof stepConfigSchema>;

/**
 * A complete step config: the hourly statistics in Paris time.
 *
 * @example
 * ```ts
 * import { stepConfigSchema, stepExample } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(stepConfigSchema.parse(stepExample).args.time_zone, "Europe/Paris");
 * ```
 */
export const stepExample: z.input<typeof stepConfigSchema> = {
  url: "http://pipeline:secret@127.0.0.1:8123",
  script: "sql/clickhouse/gold/refresh_hourly_stats.sql",
  args: { time_zone: "Europe/Paris" },
  window: { from: "window_start", to: "window_end" },
};
