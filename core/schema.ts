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
});
