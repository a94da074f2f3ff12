/**
 * The test kit for plugin authors, `@velib/pipeline/testing`: the shared suites every source,
 * transform and sink must pass, the in-memory components, and helpers for tests that need real
 * services.
 *
 * @example A sink's test file
 * ```ts ignore
 * import { sinkSuite } from "@velib/pipeline/testing";
 *
 * sinkSuite({
 *   name: "clickhouse sink",
 *   make: async () => ({ sink, stored, storedRejects, [Symbol.asyncDispose]: dropAll }),
 *   record: (n) => ({ id: n, label: `synthetic ${n}` }),
 *   poison: (n) => ({ id: n, label: null }),
 *   idempotent: true,
 * });
 * ```
 *
 * @example Running one case, to prove that a broken component fails it
 * ```ts
 * import { caseById, memorySink, sinkCases } from "./testing.ts";
 * import assert from "node:assert/strict";
 *
 * const cases = sinkCases({
 *   name: "memory sink said to be idempotent",
 *   make: () => {
 *     const sink = memorySink<number>();
 *     return Promise.resolve({
 *       sink,
 *       stored: () => Promise.resolve(sink.written.map((message) => message.value)),
 *       storedRejects: () => Promise.resolve([...sink.rejects]),
 *       [Symbol.asyncDispose]: () => Promise.resolve(),
 *     });
 *   },
 *   record: (n) => n,
 *   idempotent: true,
 * });
 * await assert.rejects(caseById(cases, "replay-once").run(), /stored twice/);
 * ```
 *
 * @module
 */
export {
  canonical,
  caseById,
  letterAsReject,
  registerCases,
  requiredEnv,
  sinkCases,
  sinkSuite,
  sourceCases,
  sourceSuite,
  testContext,
  transformCases,
  transformSuite,
  uniqueName,
} from "./core/testing.ts";
export type {
  SinkHarness,
  SinkSuiteOptions,
  SourceHarness,
  SourceSuiteOptions,
  SuiteCase,
  TransformSuiteOptions,
} from "./core/testing.ts";
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
