/**
 * The `clickhouse` sink and step plugins: their names, config schemas, examples and factories.
 *
 * @module
 */
import { definePlugin, type Plugin } from "../../mod.ts";
import { configSchema, example, stepConfigSchema, stepExample } from "./config.ts";
import { ClickhouseSink } from "./sink.ts";
import { ClickhouseStep } from "./step.ts";

/**
 * Writes records to ClickHouse tables, with their dead letters and source positions; replays
 * collapse on read. `CLICKHOUSE_URL` overrides `url`, `CLICKHOUSE_DATABASE_PREFIX` its
 * `databasePrefix`.
 *
 * @example
 * ```ts
 * import { clickhouseSink } from "./plugin.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = clickhouseSink({
 *   url: "http://pipeline:secret@127.0.0.1:8123",
 *   writes: [{ table: "raw.station_snapshots" }],
 * });
 * assert.deepEqual(sink.validate({}), []);
 * ```
 */
export const clickhouseSink: Plugin<"sink", typeof configSchema, ClickhouseSink> = definePlugin({
  kind: "sink",
  name: "clickhouse",
  description: "Writes records to ClickHouse tables, with their dead letters and source " +
    "positions; a replayed batch collapses on read (FINAL).",
  config: configSchema,
  example,
  env: { url: "CLICKHOUSE_URL", databasePrefix: "CLICKHOUSE_DATABASE_PREFIX" },
  create: (config) => new ClickhouseSink(config),
});

/**
 * Runs a `.sql` script on ClickHouse after a load, such as a gold refresh, and reports the rows
 * it touched. `CLICKHOUSE_URL` overrides `url`, `CLICKHOUSE_DATABASE_PREFIX` its
 * `databasePrefix`.
 *
 * @example
 * ```ts
 * import { clickhouseStep } from "./plugin.ts";
 * import assert from "node:assert/strict";
 *
 * const step = clickhouseStep({
 *   url: "http://pipeline:secret@127.0.0.1:8123",
 *   script: "sql/clickhouse/gold/refresh_hourly_stats.sql",
 * });
 * assert.deepEqual(step.validate({}), []);
 * ```
 */
export const clickhouseStep: Plugin<"step", typeof stepConfigSchema, ClickhouseStep> = definePlugin(
  {
    kind: "step",
    name: "clickhouse",
    description: "Runs a .sql script on ClickHouse, such as a gold refresh, and reports the " +
      "rows it touched.",
    config: stepConfigSchema,
    example: stepExample,
    env: { url: "CLICKHOUSE_URL", databasePrefix: "CLICKHOUSE_DATABASE_PREFIX" },
    create: (config) => new ClickhouseStep(config),
  },
);
