/**
 * The `postgres` sink and step plugins: their names, config schemas, examples and factories.
 *
 * @module
 */
import { definePlugin, type Plugin } from "../../mod.ts";
import { configSchema, example, stepConfigSchema, stepExample } from "./config.ts";
import { PostgresSink } from "./sink.ts";
import { PostgresStep } from "./step.ts";

/**
 * Writes records to PostgreSQL tables, with their dead letters and source positions, in one
 * transaction per batch. `DATABASE_URL` overrides `url`.
 *
 * @example
 * ```ts
 * import { postgresSink } from "./plugin.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = postgresSink({
 *   url: "postgres://pipeline@127.0.0.1:5432/velib",
 *   writes: [{ table: "raw.station_snapshots", mode: "insert", key: ["station_code", "collected_at"] }],
 * });
 * assert.deepEqual(sink.validate({}), []);
 * ```
 */
export const postgresSink: Plugin<"sink", typeof configSchema, PostgresSink> = definePlugin({
  kind: "sink",
  name: "postgres",
  description: "Writes records to PostgreSQL tables, with their dead letters and source " +
    "positions, in one transaction per batch.",
  config: configSchema,
  example,
  env: { url: "DATABASE_URL" },
  create: (config) => new PostgresSink(config),
});

/**
 * Calls a SQL function after a load, such as a gold-layer refresh, and reports the rows it
 * touched. `DATABASE_URL` overrides `url`.
 *
 * @example
 * ```ts
 * import { postgresStep } from "./plugin.ts";
 * import assert from "node:assert/strict";
 *
 * const step = postgresStep({
 *   url: "pglite:.data/warehouse",
 *   call: "mart.refresh_daily_stats",
 *   args: { time_zone: "Europe/Paris" },
 * });
 * assert.deepEqual(step.validate({}), []);
 * ```
 */
export const postgresStep: Plugin<"step", typeof stepConfigSchema, PostgresStep> = definePlugin({
  kind: "step",
  name: "postgres",
  description: "Calls a SQL function, such as a gold-layer refresh, and reports the rows it " +
    "touched.",
  config: stepConfigSchema,
  example: stepExample,
  env: { url: "DATABASE_URL" },
  create: (config) => new PostgresStep(config),
});
