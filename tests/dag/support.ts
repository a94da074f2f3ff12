/**
 * What the DAG tests share: the DAG's expected shape, and `probe.py`, which reads facts out of
 * Airflow as JSON for the tests to assert on.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { lastLines } from "../../tools/lib/proc.ts";
import type { Airflow } from "../../tools/lib/airflow.ts";

/** The checkout's root, where `deno task pipeline` runs. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** The DAG file under test. */
export const DAG_FILE = fileURLToPath(new URL("../../dags/velib_pipeline.py", import.meta.url));

const PROBE = fileURLToPath(new URL("./probe.py", import.meta.url));

/** Each task's upstream tasks, as the brief draws them. */
export const UPSTREAM: Record<string, string[]> = {
  check_kafka_health: [],
  check_dwh_health: [],
  consume_kafka_batch: ["check_dwh_health", "check_kafka_health"],
  refresh_hourly_agg: ["consume_kafka_batch"],
  refresh_daily_agg: ["consume_kafka_batch"],
  compute_station_rank: ["consume_kafka_batch"],
  data_quality_check: ["compute_station_rank", "refresh_daily_agg", "refresh_hourly_agg"],
};

/** The task ids, sorted. */
export const TASK_IDS: string[] = Object.keys(UPSTREAM).sort();

/**
 * Runs `probe.py <args>` with the venv's python (and `env` on top of Airflow's) and returns its
 * JSON (the last stdout line); throws with the output's tail when it fails.
 *
 * @example
 * ```ts ignore
 * const facts = await probe(airflow, ["shape", DAGS_FOLDER]);
 * ```
 */
export async function probe<T = Record<string, unknown>>(
  airflow: Airflow,
  args: string[],
  env: Record<string, string> = {},
): Promise<T> {
  const result = await airflow.runPython([PROBE, ...args], env);
  const last = result.stdout.trimEnd().split("\n").at(-1) ?? "";
  if (result.code === 0) {
    try {
      return JSON.parse(last);
    } catch {
      // Reported below.
    }
  }
  throw new Error(
    `probe.py ${args.join(" ")} exited ${result.code} without a JSON line:\n` +
      lastLines(result.stdout + result.stderr, 40),
  );
}
