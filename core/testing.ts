/**
 * The test kit for plugin authors: the shared suites every source, transform and sink must pass
 * (each as `Deno.test` cases, or as cases to run one by one), and helpers for tests of plugins
 * that talk to real services.
 *
 * @module
 */
export { canonical, caseById, registerCases } from "./testing/case.ts";
export type { SuiteCase } from "./testing/case.ts";
export { requiredEnv, testContext, uniqueName } from "./testing/context.ts";
export { letterAsReject, sinkCases, sinkSuite } from "./testing/sink_suite.ts";
export type { SinkHarness, SinkSuiteOptions } from "./testing/sink_suite.ts";
export { sourceCases, sourceSuite } from "./testing/source_suite.ts";
export type { SourceHarness, SourceSuiteOptions } from "./testing/source_suite.ts";
export { transformCases, transformSuite } from "./testing/transform_suite.ts";
export type { TransformSuiteOptions } from "./testing/transform_suite.ts";
