/**
 * The config of the `enrich` transform: the schema is the single source of truth for its type.
 *
 * @module
 */
import { z } from "zod";

/**
 * The config of `enrich`. It has no options: an empty object, and anything else is refused so a
 * misspelt option is caught when the pipeline config loads.
 *
 * @example
 * ```ts
 * import { configSchema } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(configSchema.parse({}), {});
 * assert.equal(configSchema.safeParse({ rounding: 2 }).success, false);
 * ```
 */
export const configSchema = z.strictObject({});

/** A validated config. */
export type EnrichConfig = z.output<typeof configSchema>;

/**
 * A complete config.
 *
 * @example
 * ```ts
 * import { configSchema, example } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(configSchema.safeParse(example).success, true);
 * ```
 */
export const example: z.input<typeof configSchema> = {};
