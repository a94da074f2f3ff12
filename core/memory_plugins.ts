/**
 * The in-memory components as plugins, for a `pipeline.config.ts`: a pipeline of them runs with
 * no service at all, e.g. to try a transform or to test a CLI.
 *
 * @module
 */
import { z } from "zod";
import { memorySink, memorySource } from "./memory.ts";
import { definePlugin } from "./plugin.ts";

/** The config of {@linkcode memorySourcePlugin}. */
export const memorySourceConfigSchema = z.strictObject({
  /** The batches to yield, in order; each is an array of JSON values, one per record. */
  batches: z.array(z.array(z.json())),
});

/**
 * The `memory` source plugin: yields the JSON values of its config, one batch per array, then
 * ends a `batch` run (see `memorySource`).
 *
 * @example
 * ```ts
 * import { memorySourcePlugin } from "./memory_plugins.ts";
 * import assert from "node:assert/strict";
 *
 * const source = memorySourcePlugin({ batches: [[{ n: 1 }, { n: 2 }], [{ n: 3 }]] });
 * assert.deepEqual(source.validate({}), []);
 * const batch = await source.build({}).read(new AbortController().signal);
 * assert.notEqual(batch, undefined);
 * ```
 */
export const memorySourcePlugin = definePlugin({
  kind: "source",
  name: "memory",
  description: "Yields the JSON values of its config, one batch per array, then ends.",
  config: memorySourceConfigSchema,
  example: { batches: [[{ n: 1 }, { n: 2 }], [{ n: 3 }]] },
  create: ({ batches }) =>
    memorySource(batches.map((values) => values.map((value) => ({ value })))),
});

/** The config of {@linkcode memorySinkPlugin}. */
export const memorySinkConfigSchema = z.strictObject({
  /** What the sink is for, for whoever reads the config; it changes nothing. */
  label: z.string().min(1).optional(),
});

/**
 * The `memory` sink plugin: keeps what it is given, records and rejects, in memory (see
 * `memorySink`), so it can be a pipeline's dead-letter sink too.
 *
 * @example
 * ```ts
 * import { memorySinkPlugin } from "./memory_plugins.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = memorySinkPlugin({ label: "out" }).build({});
 * await sink.write({ messages: [{ value: 1 }], rejects: [], cursors: [] }, new AbortController().signal);
 * assert.equal(sink.written.length, 1);
 * ```
 */
export const memorySinkPlugin = definePlugin({
  kind: "sink",
  name: "memory",
  description: "Keeps the records and rejects it is given in memory.",
  config: memorySinkConfigSchema,
  example: { label: "out" },
  create: () => memorySink(),
});
