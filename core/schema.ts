/**
 * Zod schemas for the settings the core itself owns. Their types are derived with `z.infer`
 * and re-exported from `types.ts`.
 *
 * @module
 */
import { z } from "zod";

/**
 * Exponential backoff: attempt `n` waits `initialDelayMs · 2^(n-1)`, capped at `maxDelayMs`.
 *
 * @example
 * ```ts
 * import { retryPolicySchema } from "./schema.ts";
 * import assert from "node:assert/strict";
 *
 * const policy = retryPolicySchema.parse({ attempts: 3 });
 * assert.equal(policy.initialDelayMs, 500);
 * ```
 */
export const retryPolicySchema = z.strictObject({
  /** Tries in all, the first one included. */
  attempts: z.int().min(1).max(100).default(5),
  /** Wait before the second try. */
  initialDelayMs: z.int().min(0).default(500),
  /** Longest wait between two tries. */
  maxDelayMs: z.int().min(0).default(30_000),
});

/**
 * Where a `stream` run serves its metrics, and what they measure.
 *
 * @example
 * ```ts
 * import { metricsSchema } from "./schema.ts";
 * import assert from "node:assert/strict";
 *
 * const metrics = metricsSchema.parse({ listen: "127.0.0.1:9464" });
 * assert.equal(metrics.stalledAfterMs, 300_000);
 * ```
 */
export const metricsSchema = z.strictObject({
  /**
   * `host:port` (or `:port`, on 127.0.0.1) to serve `/metrics`, `/healthz` and `/readyz` on in
   * `stream` mode; the `--metrics` flag wins over it. Unset: no server.
   */
  listen: z.string().min(1).optional(),
  /**
   * The field of a record's value that holds its event time (ISO-8601, or ms since the epoch),
   * for the freshness histogram. Unset: no freshness is measured.
   */
  eventTimeField: z.string().min(1).optional(),
  /** `/readyz` turns unready when records wait and none was acknowledged for this long. */
  stalledAfterMs: z.int().min(1).default(300_000),
});

/**
 * How the runner runs a pipeline. Every field has a default, so `{}` is valid.
 *
 * @example
 * ```ts
 * import { runtimeSchema } from "./schema.ts";
 * import assert from "node:assert/strict";
 *
 * const runtime = runtimeSchema.parse({ maxInFlight: 4 });
 * assert.equal(runtime.connectRetry.attempts, 10);
 * ```
 */
export const runtimeSchema = z.strictObject({
  /** Batches read but not yet acknowledged, at most. Reading pauses at this bound. */
  maxInFlight: z.int().min(1).max(64).default(2),
  /** Retries of `connect()` for every component, at start. */
  connectRetry: retryPolicySchema.default({
    attempts: 10,
    initialDelayMs: 500,
    maxDelayMs: 30_000,
  }),
  /** Retries of a sink write, and of a post-load step, before the run fails. */
  writeRetry: retryPolicySchema.default({ attempts: 5, initialDelayMs: 200, maxDelayMs: 10_000 }),
  /** How long closing all components may take at shutdown. */
  closeTimeoutMs: z.int().min(0).default(10_000),
  /** What a run's metrics serve and measure. */
  metrics: metricsSchema.default(metricsSchema.parse({})),
});
