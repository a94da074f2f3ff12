/**
 * The sink's configuration: the schema is the single source of truth for its type.
 *
 * @module
 */
import { z } from "zod";
import { isEmbedded } from "./database.ts";
import { IDENTIFIER_PATTERN, TABLE_PATTERN } from "./sql.ts";

const isPostgresUrl = (text: string): boolean => {
  if (isEmbedded(text)) return text.length > "pglite:".length;
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === "postgres:" || url.protocol === "postgresql:") && url.hostname !== "";
};

/**
 * A `postgres:` or `postgresql:` URL with a host, or `pglite:<folder>` for the embedded database.
 * Its message never echoes the value, which may hold a password.
 *
 * @example
 * ```ts
 * import { postgresUrl } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(postgresUrl.safeParse("postgres://app:pw@db:5432/velib").success, true);
 * assert.equal(postgresUrl.safeParse("pglite:.data/warehouse").success, true);
 * assert.equal(postgresUrl.safeParse("mysql://app:pw@db/velib").success, false);
 * ```
 */
export const postgresUrl: z.ZodString = z.string().refine(isPostgresUrl, {
  error: "expected a URL such as postgres://user:password@host:5432/database, or " +
    "pglite:<folder> for the embedded database",
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

/** Where the database is and how to prepare it: shared by the sink and the step. */
export const connectionSchema = z.strictObject({
  /**
   * PostgreSQL connection URL, or `pglite:<folder>` for an embedded database kept in that
   * folder; overridden by `DATABASE_URL`.
   */
  url: postgresUrl,
  /** A folder of `NNNN_name.sql` files applied at connect, after the plugin's own. */
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
  /** Longest a statement may run before PostgreSQL cancels it. */
  statementTimeoutMs: z.int().min(1).default(60_000),
  /** Longest to wait for a connection. */
  connectTimeoutMs: z.int().min(1).default(CONNECT_TIMEOUT_MS),
});

/** A validated connection config, defaults applied. */
export type ConnectionConfig = z.output<typeof connectionSchema>;

/** The config of `postgresSink`. */
export const configSchema = connectionSchema.extend({
  /** The tables each record is written to, in order, in one transaction per batch. */
  writes: z.array(writeSchema).min(1),
  /** Connections in the pool. */
  poolSize: z.int().min(1).max(100).default(4),
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

const argument = z.union([z.string(), z.number(), z.boolean()]);

const argumentName = z.string().regex(IDENTIFIER_PATTERN, {
  error: "expected a lowercase argument name",
});

/** The names a call passes its parameters under: its `args`, then its scope's parameters. */
const parameterNames = (step: {
  args: Record<string, unknown>;
  window?: { from: string; to: string };
  at?: string;
}): string[] => [
  ...Object.keys(step.args),
  ...(step.window === undefined ? [] : [step.window.from, step.window.to]),
  ...(step.at === undefined ? [] : [step.at]),
];

/** The config of `postgresStep`: a function to `call`, or a `query` to report. */
export const stepConfigSchema = connectionSchema.extend({
  /** The function to call, as `schema.function`; it returns the number of rows it touched. */
  call: z.string().regex(TABLE_PATTERN, {
    error: "expected schema.function in lowercase letters, digits and _",
  }).optional(),
  /** The function's arguments, passed by name as parameters. */
  args: z.record(argumentName, argument).default({}),
  /**
   * The function's parameters that receive a rerun's window, start included and end excluded,
   * as `timestamptz`; with it, the step accepts a window. Without a window, they are not passed.
   */
  window: z.strictObject({
    /** The parameter that receives the window's first instant. */
    from: argumentName,
    /** The parameter that receives the first instant after the window. */
    to: argumentName,
  }).optional(),
  /**
   * The function's parameter that receives the instant to compute as of, as `timestamptz`;
   * with it, the step accepts an instant. Without one, it is not passed.
   */
  at: argumentName.optional(),
  /**
   * A `.sql` file holding one read-only query, without parameters; its rows are the step's
   * result (`details.rows`), e.g. a report for the run summary.
   */
  query: z.string().endsWith(".sql", { error: "expected the path of a .sql file" }).optional(),
}).refine((step) => (step.call === undefined) !== (step.query === undefined), {
  error: "set either call (a function) or query (a .sql file)",
  path: ["call"],
}).refine((step) => step.query === undefined || Object.keys(step.args).length === 0, {
  error: "args go with call; a query takes no parameters",
  path: ["args"],
}).refine((step) => step.call !== undefined || step.window === undefined, {
  error: "window goes with call: it names parameters of the function",
  path: ["window"],
}).refine((step) => step.call !== undefined || step.at === undefined, {
  error: "at goes with call: it names a parameter of the function",
  path: ["at"],
}).refine((step) => new Set(parameterNames(step)).size === parameterNames(step).length, {
  error: "each parameter is passed once: args, window.from, window.to and at need distinct names",
  path: ["call"],
});

/** A validated `postgresStep` config, defaults applied. */
export type PostgresStepConfig = z.output<typeof stepConfigSchema>;

/**
 * A complete step config: the hourly statistics refreshed for the buckets loaded since, or, in
 * a rerun, for the hours of its window.
 *
 * @example
 * ```ts
 * import { stepConfigSchema, stepExample } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const step = stepConfigSchema.parse(stepExample);
 * assert.equal(step.args.time_zone, "Europe/Paris");
 * assert.deepEqual(step.window, { from: "window_start", to: "window_end" });
 * ```
 */
export const stepExample: z.input<typeof stepConfigSchema> = {
  url: "postgres://pipeline:secret@127.0.0.1:5432/velib",
  migrations: "migrations",
  call: "mart.refresh_hourly_stats",
  args: { time_zone: "Europe/Paris" },
  window: { from: "window_start", to: "window_end" },
};
