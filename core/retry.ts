/**
 * Retrying with exponential backoff, and a sleep that a signal can cut short.
 *
 * @module
 */
import { isTransient } from "./errors.ts";
import type { RetryPolicy } from "./types.ts";

/**
 * Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts.
 *
 * @example
 * ```ts
 * import { sleep } from "./retry.ts";
 *
 * await sleep(1);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The wait before try `attempt + 1`. Doubles each time, capped, and shortened by up to 10% of
 * jitter so that instances restarted together do not retry in lockstep while successive waits
 * still grow.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./retry.ts";
 * import assert from "node:assert/strict";
 *
 * const policy = { attempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 };
 * assert.ok(backoffDelay(policy, 3) > backoffDelay(policy, 2));
 * ```
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(base * (0.9 + 0.1 * random()));
}

/** Called before each wait between two tries. */
export type OnRetry = (info: { error: unknown; attempt: number; delayMs: number }) => void;

/** Options of {@linkcode retry}. */
export interface RetryOptions {
  /** Aborts the waits and stops retrying. */
  signal?: AbortSignal;
  /** Told of every failed try that will be retried. */
  onRetry?: OnRetry;
}

/**
 * Runs `fn` until it succeeds, the policy's attempts are used up, or it throws an error that is
 * not transient. Rethrows the last error.
 *
 * @example Succeeding on the second try
 * ```ts
 * import { retry } from "./retry.ts";
 * import assert from "node:assert/strict";
 *
 * let tries = 0;
 * const value = await retry(() => {
 *   tries++;
 *   if (tries < 2) throw new Error("flaky");
 *   return Promise.resolve("ok");
 * }, { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 });
 * assert.equal(value, "ok");
 * ```
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: RetryOptions = {},
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (attempt >= policy.attempts || !isTransient(error)) throw error;
      const delayMs = backoffDelay(policy, attempt);
      options.onRetry?.({ error, attempt, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}
