/**
 * The `quality` check plugin: its name, config schema, example and factory.
 *
 * @module
 */
import { definePlugin, type Plugin } from "../../mod.ts";
import { QualityCheck } from "./check.ts";
import { configSchema, example } from "./config.ts";

/**
 * A data-quality check: a query on the pipeline's `warehouse` measures, a threshold judges, a
 * severity says what a failure means. It records each result in its own table there.
 *
 * @example
 * ```ts
 * import { qualityCheck } from "./plugin.ts";
 * import assert from "node:assert/strict";
 *
 * const check = qualityCheck({
 *   name: "capacity_zero",
 *   severity: "info",
 *   query: "sql/checks/capacity_zero.sql",
 *   threshold: 0,
 *   description: "Stations reporting a capacity of 0.",
 * });
 * assert.deepEqual(check.validate({}), []);
 * ```
 */
export const qualityCheck: Plugin<"check", typeof configSchema, QualityCheck> = definePlugin({
  kind: "check",
  name: "quality",
  description: "A data-quality check: a query on the pipeline's warehouse measures, a " +
    "threshold judges.",
  config: configSchema,
  example,
  create: (config) => new QualityCheck(config),
});
