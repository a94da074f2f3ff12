/**
 * What the DAG tests share: the DAGs' expected shapes, the facts `probe.py` reads out of Airflow
 * as JSON for the tests to assert on, and a run of `airflow dags test`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { lastLines } from "../../tools/lib/proc.ts";
import { runCli } from "../support/cli.ts";
import { startReplayServer } from "../support/velib_replay.ts";
import type { Airflow } from "../../tools/lib/airflow.ts";

/** The checkout's root, where `deno task pipeline` runs. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** The DAG file under test. */
export const DAG_FILE = fileURLToPath(new URL("../../dags/velib_pipeline.py", import.meta.url));

/** The rerun DAG's file. */
export const RERUN_DAG_FILE = fileURLToPath(
  new URL("../../dags/velib_rerun.py", import.meta.url),
);

const PROBE = fileURLToPath(new URL("./probe.py", import.meta.url));

/** The operator of every task, a BashOperator subclass in dags/velib_common.py. */
export const PIPELINE_OPERATOR = "velib_common.PipelineOperator";

/** Every task's on_failure_callback: the failure email of dags/velib_common.py. */
export const FAILURE_EMAIL = "velib_common.FailureEmail";

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

/** velib_rerun's tasks: each one's upstream tasks and its stage (what `stages` names). */
export const RERUN_TASKS: Record<string, { upstream: string[]; stage: string }> = {
  reload_window: { upstream: [], stage: "load" },
  rebuild_gold: { upstream: ["reload_window"], stage: "gold" },
  compute_station_rank: { upstream: ["reload_window"], stage: "gold" },
  data_quality_check: { upstream: ["compute_station_rank", "rebuild_gold"], stage: "checks" },
};

/** velib_rerun's task ids, sorted. */
export const RERUN_TASK_IDS: string[] = Object.keys(RERUN_TASKS).sort();

/** One task as `probe.py shape` reports it. */
export interface TaskFacts {
  operator: string;
  /** Whether the operator is a BashOperator (or a subclass). */
  is_bash_operator: boolean;
  /** Each callback's class, and its recipients template when it has one. */
  on_failure_callback: { class: string; to: string | null }[];
  bash_command: string | null;
  upstream: string[];
  downstream: string[];
  retries: number;
  retry_delay_seconds: number;
  execution_timeout_seconds: number | null;
  append_env: boolean | null;
  skip_on_exit_code: number[];
  do_xcom_push: boolean;
  trigger_rule: string;
}

/** One DAG param as `probe.py shape` reports it. */
export interface ParamFacts {
  /** No default: a run must give it. */
  required: boolean;
  default: unknown;
  /** The JSON schema a run's value is validated against. */
  schema: Record<string, unknown>;
  description: string | null;
}

/** One DAG as `probe.py shape` reports it. */
export interface DagFacts {
  schedule: string;
  /** False for a DAG that runs only when triggered. */
  can_be_scheduled: boolean;
  interval_seconds: number[];
  catchup: boolean;
  max_active_runs: number;
  start_date: string | null;
  tags: string[];
  params: Record<string, ParamFacts>;
  project_dir: {
    template: string;
    default: string;
    env: string;
    variable: string;
    same_for_all_tasks: boolean;
  };
  tasks: Record<string, TaskFacts>;
}

/** `probe.py shape`: the DAG folder as the DagBag loads it. */
export interface ShapeFacts {
  dag_ids: string[];
  import_errors: Record<string, string>;
  /** The files parsed for DAGs, by name. */
  files: string[];
  /** Every DAG, by id. */
  dags: Record<string, DagFacts>;
  /** velib_pipeline's facts, as `dags.velib_pipeline`. */
  dag?: DagFacts;
}

/** `probe.py confs`: per conf, its validation and what each task's command renders and runs. */
export type ConfFacts = Record<string, {
  /** Whether a run could be created with this conf (its params pass their schema). */
  valid: boolean;
  error: string | null;
  tasks: Record<string, {
    /** Why the command could not be rendered, e.g. a value it needs is missing. */
    render_error?: string;
    /** The bash_command rendered with the conf (from the raw values when not valid). */
    command: string;
    /** bash's exit code, with a stand-in `deno` that prints its arguments and exits 0. */
    exit_code: number;
    /** The arguments `deno` got, as bash split the command; null when it did not run. */
    argv: string[] | null;
    output: string;
  }>;
}>;

/**
 * `probe.py exits`: per exit code of the stand-in command, what the task's execute did: return
 * the last line (the XCom), or raise an error that fails the task, retried or not.
 */
export type ExitFacts = Record<
  string,
  { returned: string } | { raised: string; retried: boolean; message: string }
>;

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

/** A finished run as `probe.py run` reports it. */
export interface RunFacts {
  error?: string;
  run_id: string;
  state: string;
  tasks: Record<string, { state: string; try_number: number; max_tries: number }>;
  /** Each task's XCom, as stored: BashOperator pushes its last output line as a string. */
  xcom: Record<string, string>;
}

/** Options of {@linkcode dagsTest}. */
export interface DagsTestOptions {
  /** The environment of the run's tasks, on top of Airflow's. */
  env: Record<string, string>;
  /**
   * The run's conf (`--conf`).
   * @default {undefined}
   */
  conf?: Record<string, unknown>;
}

/**
 * Runs `airflow dags test <dagId> <logicalDate>` and reads back what happened: the command's
 * exit code, the run's facts (undefined when no run was created, e.g. a conf its params
 * refuse), each task's state, and the output for assertion messages.
 *
 * @example
 * ```ts ignore
 * const { states } = await dagsTest(airflow, "velib_rerun", "2026-01-01T00:00:00+00:00", {
 *   env: { DATABASE_URL: url },
 *   conf: { from: "2025-12-31T22:00:00Z" },
 * });
 * ```
 */
export async function dagsTest(
  airflow: Airflow,
  dagId: string,
  logicalDate: string,
  options: DagsTestOptions,
): Promise<{
  code: number;
  facts?: RunFacts;
  states: Record<string, string>;
  /** The commands' output and how the run ended. */
  output: string;
  /** All of `airflow dags test`'s output. */
  log: string;
}> {
  const conf = options.conf === undefined ? [] : ["--conf", JSON.stringify(options.conf)];
  const run = await airflow.run(["dags", "test", dagId, logicalDate, ...conf], options.env);
  const facts = await probe<RunFacts>(airflow, ["run", dagId, logicalDate]);
  const log = run.stdout + run.stderr;
  const states = Object.fromEntries(
    Object.entries(facts.tasks ?? {}).map(([id, task]) => [id, task.state]),
  );
  const found = facts.error === undefined ? facts : undefined;
  return { code: run.code, facts: found, states, output: commandOutput(log), log };
}

/**
 * For assertion messages: which task ran, each command's output (Airflow logs it through
 * SubprocessHook), how the run ended; not the rest of Airflow's log.
 */
function commandOutput(log: string): string {
  const lines = log.split("\n");
  const kept = lines.filter((line) => /SubprocessHook|\[DAG TEST\] (starting|end)/.test(line));
  return [...kept, "…", ...lines.slice(-5)].join("\n");
}

/**
 * A cluster policy for this Airflow home only: retry_delay 1 s instead of 1 min, so that a
 * task meant to fail uses up its 2 retries in seconds (`dags test` waits out retry delays).
 * The retries themselves stay as the DAG sets them, and the runs below prove them. The DAG
 * file keeps its 1 min; the shape test checks it.
 */
export const SHORT_RETRY_DELAY = `
from datetime import timedelta

def task_policy(task):
    task.retry_delay = timedelta(seconds=1)
`;

/** `YYYY-MM-DDTHH:MM:00+00:00`, `minutesAgo` before now, on a 5-minute boundary. */
export function logicalDate(minutesAgo: number): string {
  const at = Math.floor((Date.now() - minutesAgo * 60_000) / 300_000) * 300_000;
  return new Date(at).toISOString().replace(".000Z", "+00:00");
}

/**
 * Two cycles of the real capture (1,471 stations each) into `velib-stations`, as `stream ingest`
 * publishes them, 2 s apart: the ranking needs two. `collected_at` is the fetch time, so the
 * freshness check passes. Resolves with the instant before the first.
 *
 * @example
 * ```ts ignore
 * const publishedFrom = await ingestTwoCycles(requiredEnv("KAFKA_BROKERS", "a Kafka broker"));
 * ```
 */
export async function ingestTwoCycles(kafkaBrokers: string): Promise<Date> {
  const publishedFrom = new Date();
  const replay = await startReplayServer();
  try {
    for (const cycle of [1, 2]) {
      if (cycle > 1) await new Promise((resolve) => setTimeout(resolve, 2_000));
      const ingest = await runCli(["stream", "ingest", "--once"], {
        env: { VELIB_API_URL: replay.baseUrl, KAFKA_BROKERS: kafkaBrokers },
      });
      assert.equal(ingest.code, 0, ingest.stderr);
      assert.equal((ingest.summary.counters as Record<string, number>).written, 1471);
    }
  } finally {
    await replay.close();
  }
  return publishedFrom;
}
