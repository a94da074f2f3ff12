/**
 * The configuration of a quality check: the schema is the single source of truth for its type.
 *
 * @module
 */
import { z } from "zod";

/**
 * The config of `qualityCheck`. Where it runs is not here: the pipeline's `warehouse` is, so
 * that the same check runs on any warehouse that can answer its query.
 */
export const configSchema = z.strictObject({
  /** The check's name in results, e.g. `freshness`. */
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, { error: "expected a lowercase name" }),
  /** What a failure means: `error` fails the run (exit code 3), `warn` and `info` only report. */
  severity: z.enum(["info", "warn", "error"]),
  /**
   * A `.sql` file of one read-only query, in the warehouse's language, returning one row:
   * `observed` (a number) and, optionally, `details` (text, e.g. the stations at fault).
   */
  query: z.string().endsWith(".sql", { error: "expected the path of a .sql file" }),
  /** The limit `observed` is judged against. */
  threshold: z.number(),
  /** Passes when `observed` is at most (`max`) or at least (`min`) the threshold. */
  passWhen: z.enum(["max", "min"]).default("max"),
  /** One sentence for people: what the check watches. */
  description: z.string().min(1),
});

/** A validated config, defaults applied. */
export type QualityCheckConfig = z.output<typeof configSchema>;

/**
 * A complete config: the latest snapshot is at most 10 minutes old.
 *
 * @example
 * ```ts
 * import { configSchema, example } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(configSchema.parse(example).passWhen, "max");
 * ```
 */
export const example: z.input<typeof configSchema> = {
  name: "freshness",
  severity: "error",
  query: "sql/checks/freshness.sql",
  threshold: 600,
  description: "Seconds since the latest collected_at.",
};
