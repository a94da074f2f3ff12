/**
 * Data-quality checks as plugins: each is a query that measures one thing, a threshold and a
 * severity set in config. It runs on the pipeline's `warehouse`, any component that can answer
 * a query (a `QueryRunner`), and records each result there with the run's id, in the plugin's
 * own table `pipeline.check_results`, which it creates when it is missing. An error-severity
 * failure makes the run exit 3.
 *
 * @example
 * ```ts
 * import { qualityCheck } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(qualityCheck.spec.kind, "check");
 * ```
 *
 * @module
 */
export { qualityCheck } from "./plugin.ts";
export { judge, QualityCheck } from "./check.ts";
export type { QualityCheckConfig } from "./config.ts";
