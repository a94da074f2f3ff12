/**
 * Data-quality checks as plugins: each is a SQL query that measures one thing, a threshold and
 * a severity set in config. Results are recorded in `pipeline.check_results` with the run's id;
 * an error-severity failure makes the run exit 3.
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
