/**
 * A ClickHouse sink and step. ClickHouse has no transaction across tables, so the sink writes
 * each batch's rows first, table by table, then its dead letters, then its source positions;
 * every table is a `ReplacingMergeTree` whose key makes a batch written twice collapse, so a
 * reader that reads with `FINAL` (or `argMax`) sees each record once after any crash. Values go
 * into SQL through the plugin's binder only (ClickHouse 18.16 has no query parameters).
 *
 * @example
 * ```ts
 * import { clickhouseSink } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(clickhouseSink.spec.name, "clickhouse");
 * ```
 *
 * @module
 */
export { clickhouseSink, clickhouseStep } from "./plugin.ts";
export { connectionSchema } from "./config.ts";
export type { ClickhouseSinkConfig, ClickhouseStepConfig, ConnectionConfig } from "./config.ts";
