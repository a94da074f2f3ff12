/**
 * The config of the Vélib' source: the schema is the single source of truth for its type.
 *
 * @module
 */
import { z } from "zod";

/** The Explore v2.1 dataset of Vélib' Métropole station availability on Paris open data. */
export const DEFAULT_BASE_URL =
  "https://opendata.paris.fr/api/explore/v2.1/catalog/datasets/velib-disponibilite-en-temps-reel";

/**
 * The config of `velibSource`. `baseUrl` is overridden by `VELIB_API_URL`.
 *
 * @example Defaults
 * ```ts
 * import { configSchema, DEFAULT_BASE_URL } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * const config = configSchema.parse({});
 * assert.equal(config.baseUrl, DEFAULT_BASE_URL);
 * assert.equal(config.fetch, "exports");
 * assert.equal(config.intervalMs, 60_000);
 * ```
 */
export const configSchema = z.strictObject({
  /** The dataset's URL, without `/records` or `/exports/json`; a trailing `/` is dropped. */
  baseUrl: z.url({ protocol: /^https?$/, error: "expected an http(s) URL of the dataset" })
    .transform((url) => url.replace(/\/+$/, ""))
    .default(DEFAULT_BASE_URL),
  /**
   * `exports`: the whole snapshot in one request to `/exports/json`, then `/records?limit=0`
   * for the `total_count` it must match. `records`: pages of 100 from `/records`, checked
   * against `total_count`; it cannot go past 10,000 stations.
   */
  fetch: z.enum(["exports", "records"]).default("exports"),
  /** How often a snapshot is taken, from the start of one cycle to the start of the next. */
  intervalMs: z.int().min(1).default(60_000),
  /** Longest wait for one HTTP request, body included. */
  timeoutMs: z.int().min(1).default(10_000),
});

/** A validated config, defaults applied. */
export type VelibSourceConfig = z.output<typeof configSchema>;

/**
 * A complete config: the live API, polled every minute.
 *
 * @example
 * ```ts
 * import { configSchema, example } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(configSchema.parse(example).timeoutMs, 10_000);
 * ```
 */
export const example: z.input<typeof configSchema> = {
  baseUrl: DEFAULT_BASE_URL,
  fetch: "exports",
  intervalMs: 60_000,
  timeoutMs: 10_000,
};
