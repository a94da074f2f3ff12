/**
 * What every benchmark of `deno task bench` returns, and how the figures are summarized: each
 * figure is measured several times (this machine is shared and noisy) and reported as
 * min / median / max; targets are stated as ratios to references measured in the same run.
 *
 * @module
 */

/** How big a benchmark run is: `small` is CI's smoke size, `full` the sizes the issue names. */
export type BenchSize = "small" | "full";

/** The services a benchmark may use, started by `bench/main.ts`. */
export interface BenchEnv {
  /** Comma-separated `host:port` list of the Kafka broker. */
  KAFKA_BROKERS: string;
  /** The PostgreSQL server's URL (with its password: never print it). */
  DATABASE_URL: string;
  /** The ClickHouse server's URL (with its password: never print it). */
  CLICKHOUSE_URL: string;
}

/** What `bench/main.ts` hands to each benchmark. */
export interface BenchContext {
  /** The size asked for. */
  size: BenchSize;
  /** Repetitions of each figure (at least 3). */
  runs: number;
  /** The services. */
  env: BenchEnv;
  /** A progress line on stderr. */
  log: (line: string) => void;
}

/** One measured figure: the same quantity measured `runs` times. */
export interface Figure {
  /** What was measured, e.g. `catch-up: pipeline batch load`. */
  name: string;
  /** The unit of `samples`, e.g. `msg/s`, `ms`, `MB`. */
  unit: string;
  /** One value per run. */
  samples: number[];
}

/** A target of the issue, judged on the medians. */
export interface Target {
  /** The target as stated, e.g. `pipeline ≥ 0.6 × COPY`. */
  name: string;
  /** What was observed, e.g. `0.72 × (median)`. */
  observed: string;
  /** Whether it holds. */
  met: boolean;
}

/** One benchmark's outcome: a section of the table and of `bench/RESULTS.md`. */
export interface BenchSection {
  /** The section title, e.g. `Catch-up after a 24 h outage`. */
  title: string;
  /** The figures, references beside the measured one. */
  figures: Figure[];
  /** The targets, judged. */
  targets: Target[];
  /** Setup and what was found, one sentence each (sizes used, what was scaled down, why). */
  notes: string[];
}

/** A benchmark: measures and returns its section. */
export type Bench = (context: BenchContext) => Promise<BenchSection>;

/**
 * The min, median and max of `samples`.
 *
 * @example
 * ```ts
 * import { summarize } from "./report.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(summarize([3, 1, 2]), { min: 1, median: 2, max: 3 });
 * ```
 */
export function summarize(
  samples: readonly number[],
): { min: number; median: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
  return { min: sorted[0], median, max: sorted[sorted.length - 1] };
}

/**
 * The median of `samples`.
 *
 * @example
 * ```ts
 * import { median } from "./report.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(median([4, 1, 3, 2]), 2.5);
 * ```
 */
export function median(samples: readonly number[]): number {
  return summarize(samples).median;
}
