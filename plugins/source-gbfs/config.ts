/**
 * The config of the GBFS source: the schema is the single source of truth for its type.
 *
 * @module
 */
import { z } from "zod";
import { normalizeSystemId } from "../../contracts/mod.ts";

/**
 * The config of `gbfsSource`. `url` is overridden by `GBFS_URL`, `systemId` by
 * `GBFS_SYSTEM_ID`.
 *
 * @example Defaults
 * ```ts
 * import { configSchema } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = configSchema.parse({ url: "https://gbfs.example.org/gbfs.json", systemId: "Bixi_MTL" });
 * assert.equal(config.systemId, "bixi_mtl");
 * assert.equal(config.language, undefined);
 * assert.equal(config.intervalMs, 60_000);
 * assert.equal(config.timeoutMs, 10_000);
 * ```
 */
export const configSchema = z.strictObject({
  /**
   * The system's auto-discovery file, `gbfs.json` (GBFS 1.x, 2.x or 3.0), from which every other
   * feed is found. Unset, the source refuses to start: a pipeline of this source needs `GBFS_URL`.
   */
  url: z.url({ protocol: /^https?$/, error: "expected the http(s) URL of a gbfs.json" })
    .optional(),
  /**
   * The system's id, written as the snapshot contract's system ids are (`Bixi_MTL` becomes
   * `bixi_mtl`). Needed for a feed that publishes no `system_information` (several real ones do
   * not); set, it comes before the feed's own `system_information.system_id`, so that a system
   * keeps the id it already has (Vélib's GBFS calls itself `Paris`; its stations are `velib`).
   */
  systemId: z.string()
    .transform((text, ctx) => {
      const id = normalizeSystemId(text);
      if (id !== undefined) return id;
      ctx.addIssue({
        code: "custom",
        message: "expected a system id such as bixi-montreal: 1 to 64 letters, digits, _ or -",
      });
      return z.NEVER;
    })
    .optional(),
  /**
   * The preferred language, e.g. `fr`: of the feeds of a 1.x/2.x discovery file, which lists
   * them per language, and of the localized names of 3.0. Unset, or absent from the feed: the
   * first one the feed gives.
   */
  language: z.string().min(1).optional(),
  /** How often a snapshot is taken, from the start of one cycle to the start of the next. */
  intervalMs: z.int().min(1).default(60_000),
  /** Longest wait for one HTTP request, body included. */
  timeoutMs: z.int().min(1).default(10_000),
});

/** A validated config, defaults applied. */
export type GbfsSourceConfig = z.output<typeof configSchema>;

/**
 * A complete config: a system polled every minute, its French names preferred.
 *
 * @example
 * ```ts
 * import { configSchema, example } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(configSchema.parse(example).language, "fr");
 * ```
 */
export const example: z.input<typeof configSchema> = {
  url: "https://gbfs.example.org/gbfs.json",
  systemId: "example-bikes",
  language: "fr",
  intervalMs: 60_000,
  timeoutMs: 10_000,
};
