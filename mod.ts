/**
 * A plugin-based data pipeline framework: typed sources, transforms, sinks and checks, and one
 * runner for `stream` and `batch` runs that acknowledges a batch only once every sink has
 * durably written it.
 *
 * @example A pipeline config
 * ```ts ignore
 * import { defineConfig } from "./mod.ts";
 * import { kafkaSource } from "./plugins/kafka/mod.ts";
 * import { postgresSink } from "./plugins/sink-postgres/mod.ts";
 *
 * const warehouse = postgresSink({ url: "postgres://localhost/velib", writes: [] });
 * export default defineConfig({
 *   pipelines: {
 *     load: {
 *       description: "Kafka to the warehouse.",
 *       source: kafkaSource({ brokers: "localhost:9092", topic: "velib-stations", groupId: "load" }),
 *       sinks: [warehouse],
 *       deadLetter: warehouse,
 *     },
 *   },
 * });
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
  rerunSchema,
  validateConfig,
} from "./core/config.ts";
export type {
  ConfigDefinition,
  LoadedConfig,
  PipelineDefinition,
  RerunDefinition,
} from "./core/config.ts";
export { parseInstant, planRerun, positionSchema } from "./core/range.ts";
export type { Rerun } from "./core/range.ts";
export { EXIT_CODES, positionsKey, runPipeline } from "./core/runner.ts";
export type { RunOptions, RunParts } from "./core/runner.ts";
export { backoffDelay, retry, sleep } from "./core/retry.ts";
export type { OnRetry, RetryOptions } from "./core/retry.ts";
export { retryPolicySchema, runtimeSchema } from "./core/schema.ts";
export { redact } from "./core/redact.ts";
export { configureLogging, redactingSink } from "./core/log.ts";
export type { LogFormat, LoggingOptions } from "./core/log.ts";
export { memoryPipeline, memorySink, memorySource, rejectingTransform } from "./core/memory.ts";
export type {
  MemoryPipelineParts,
  MemorySink,
  MemorySinkOptions,
  MemorySource,
} from "./core/memory.ts";
export { requiredEnv, testContext, uniqueName } from "./core/testing.ts";
