/**
 * A plugin-based data pipeline framework: typed sources, transforms, sinks and checks, and one
 * runner for `stream` and `batch` runs that acknowledges a batch only once every sink has
 * durably written it. The test kit for plugin authors is `@velib/pipeline/testing`.
 *
 * @example A pipeline config, validated and run
 * ```ts
 * import {
 *   defineConfig,
 *   memorySinkPlugin,
 *   memorySourcePlugin,
 *   runPipeline,
 *   validateConfig,
 * } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * // In pipeline.config.ts, e.g. with kafkaSource({...}) and postgresSink({...}) instead.
 * const out = memorySinkPlugin({ label: "records and rejects" });
 * const config = defineConfig({
 *   pipelines: {
 *     demo: {
 *       description: "Two batches of JSON values into memory.",
 *       source: memorySourcePlugin({ batches: [[{ n: 1 }, { n: 2 }], [{ n: 3 }]] }),
 *       sinks: [out],
 *       deadLetter: out,
 *     },
 *   },
 * });
 *
 * // What `deno task pipeline validate` and `batch demo` do with it.
 * const loaded = validateConfig(config, {}, "pipeline.config.ts");
 * assert.deepEqual(loaded.pipelines.map((p) => p.name), ["demo"]);
 * const result = await runPipeline(loaded.pipeline("demo"), { mode: "batch" });
 * assert.equal(result.exitCode, 0);
 * assert.equal(result.counters.written, 3);
 * ```
 *
 * @module
 */
export * from "./core/types.ts";
export * from "./core/errors.ts";
export { definePlugin, formatPath } from "./core/plugin.ts";
export type { ComponentKinds, Configured, Env, Kind, Plugin, PluginSpec } from "./core/plugin.ts";
export {
  configSchema,
  defineConfig,
  loadConfig,
  pipelineSchema,
  rangeOf,
  REPORT_PLACEHOLDER,
  reportSchema,
  reportSectionSchema,
  rerunSchema,
  runSchema,
  validateConfig,
} from "./core/config.ts";
export type {
  ConfigDefinition,
  LoadedConfig,
  PipelineDefinition,
  ReportDefinition,
  RerunDefinition,
  RunDefinition,
} from "./core/config.ts";
export { eventTimeOf, parseInstant, planRerun, positionSchema } from "./core/range.ts";
export type { Rerun } from "./core/range.ts";
export { EXIT_CODES, positionsKey, runPipeline } from "./core/runner.ts";
export type { RunOptions, RunParts } from "./core/runner.ts";
export { backoffDelay, retry, sleep } from "./core/retry.ts";
export type { OnRetry, RetryOptions } from "./core/retry.ts";
export { metricsSchema, retryPolicySchema, runtimeSchema } from "./core/schema.ts";
export {
  Counter,
  EXPOSITION_CONTENT_TYPE,
  Gauge,
  Histogram,
  Registry,
  RunMetrics,
} from "./core/metrics.ts";
export type {
  BuildInfo,
  HistogramOptions,
  Labels,
  MetricOptions,
  Readiness,
} from "./core/metrics.ts";
export { redact } from "./core/redact.ts";
export { editedMigration, readMigrations } from "./core/migrations.ts";
export type { MigrationFile } from "./core/migrations.ts";
export { CycleError, displayUrl, getJson, retryAfterMs } from "./core/http.ts";
export type { CycleBudget, JsonRequest } from "./core/http.ts";
export { configureLogging, literal, redactingSink } from "./core/log.ts";
export type { LogFormat, LoggingOptions } from "./core/log.ts";
export { memoryPipeline, memorySink, memorySource, rejectingTransform } from "./core/memory.ts";
export type {
  MemoryPipelineParts,
  MemorySink,
  MemorySinkOptions,
  MemorySource,
} from "./core/memory.ts";
export {
  memorySinkConfigSchema,
  memorySinkPlugin,
  memorySourceConfigSchema,
  memorySourcePlugin,
} from "./core/memory_plugins.ts";
export { requiredEnv, testContext, uniqueName } from "./core/testing/context.ts";
