/**
 * The `postgres` sink plugin: its name, config schema, example and factory.
 *
 * @module
 */
import { definePlugin, type Plugin } from "../../core/plugin.ts";
import { configSchema, example } from "./config.ts";
import { PostgresSink } from "./sink.ts";

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
