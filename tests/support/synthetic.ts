/**
 * A source of synthetic records, for plumbing and volume tests. Nothing here pretends to be
 * Vélib' data.
 *
 * @module
 */
import { z } from "zod";
import { definePlugin } from "../../core/plugin.ts";
import { memorySource } from "../../core/memory.ts";

/**
 * Yields `batches` batches of `size` records `{ id, n, label }`, labelled synthetic.
 *
 * @example
 * ```ts
 * import { syntheticSource } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(syntheticSource({ batches: 1, size: 2 }).validate({}), []);
 * ```
 */
export const syntheticSource = definePlugin({
  kind: "source",
  name: "synthetic",
  description: "Yields `batches` batches of `size` synthetic records.",
  config: z.strictObject({ batches: z.int().min(0), size: z.int().min(1) }),
  example: { batches: 2, size: 10 },
  create: ({ batches, size }) =>
    memorySource(
      Array.from({ length: batches }, (_, batch) =>
        Array.from({ length: size }, (_, i) => {
          const n = batch * size + i;
          return { value: { id: `id-${n}`, n, label: `synthetic record ${n}` } };
        })),
    ),
});
