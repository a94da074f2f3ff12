/**
 * `dags/velib_common.py`'s PipelineOperator, the operator of every task of the DAGs: what a
 * task does with each exit code of its `deno task pipeline …` command, run by Airflow's own
 * BashOperator code with a stand-in `deno` that prints a JSON summary (the shapes the CLI
 * prints) and exits with the code.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DAGS_FOLDER, ensureAirflow } from "../../tools/lib/airflow.ts";
import { type ExitFacts, probe } from "./support.ts";

/** Per exit code, the last line the stand-in prints. */
const CASES: Record<string, string> = {
  0: JSON.stringify({ command: "health", exitCode: 0, exitReason: "healthy" }),
  1: JSON.stringify({
    command: "health",
    exitCode: 1,
    exitReason: "unhealthy",
    components: [
      { name: "kafka", healthy: true, answer: "1 broker" },
      {
        name: "postgres",
        healthy: false,
        error: "Could not connect to PostgreSQL at 127.0.0.1:1/x: connect ECONNREFUSED.",
        hint: "Check that PostgreSQL is running and DATABASE_URL points at it.",
      },
    ],
  }),
  2: JSON.stringify({
    command: "health",
    exitCode: 2,
    exitReason: "failed",
    error: {
      name: "ConfigError",
      message: "Invalid configuration in pipeline.config.ts:\n  - pipelines.nope: no such pipeline",
      hint: "The pipelines defined are: ingest, load.",
    },
  }),
  3: JSON.stringify({
    command: "check",
    exitCode: 3,
    exitReason: "check_failed",
    checks: [
      {
        name: "freshness",
        severity: "error",
        passed: false,
        message: "Observed 900, at most 600.",
      },
      { name: "duplicates", severity: "error", passed: true, message: "Observed 0, at most 0." },
      { name: "bikes_mismatch", severity: "warn", passed: false, message: "Observed 3." },
    ],
  }),
  // Stopped by SIGINT and SIGTERM (a timeout's): no summary, or a partial one.
  130: JSON.stringify({ command: "batch", exitCode: 130, exitReason: "signal" }),
  143: "Terminated",
};

let exitFacts: Promise<ExitFacts> | undefined;
function loadExits(): Promise<ExitFacts> {
  return exitFacts ??= (async () => {
    await using airflow = await ensureAirflow({ database: false });
    return await probe<ExitFacts>(airflow, [
      "exits",
      DAGS_FOLDER,
      "velib_pipeline",
      "check_dwh_health",
      JSON.stringify(CASES),
    ]);
  })();
}

/** What the task raised for `code`; fails the test when it returned instead. */
async function raised(code: number) {
  const facts = (await loadExits())[code];
  assert.ok("raised" in facts, `exit ${code} returned ${JSON.stringify(facts)}`);
  return facts;
}

Deno.test("exit 0 succeeds with the JSON summary as the task's return value, its XCom", async () => {
  assert.deepEqual((await loadExits())[0], { returned: CASES[0] });
});

Deno.test("exit 1 fails the task for a retry, naming each unhealthy component's error and hint", async () => {
  const failure = await raised(1);
  assert.equal(failure.retried, true);
  assert.equal(
    failure.message,
    "`deno task pipeline` exited 1: postgres: Could not connect to PostgreSQL at 127.0.0.1:1/x: " +
      "connect ECONNREFUSED. Hint: Check that PostgreSQL is running and DATABASE_URL points at it.",
  );
});

Deno.test("exit 2 fails the task without retries, naming the summary's error on one line", async () => {
  const failure = await raised(2);
  assert.equal(failure.raised, "AirflowFailException");
  assert.equal(failure.retried, false);
  assert.equal(
    failure.message,
    "`deno task pipeline` exited 2 (a usage error: not retried): Invalid configuration in " +
      "pipeline.config.ts: - pipelines.nope: no such pipeline Hint: The pipelines defined are: " +
      "ingest, load.",
  );
});

Deno.test("exit 3 fails the task without retries, naming the failed error-severity checks only", async () => {
  const failure = await raised(3);
  assert.equal(failure.raised, "AirflowFailException");
  assert.equal(failure.retried, false);
  assert.equal(
    failure.message,
    "`deno task pipeline` exited 3 (a data-quality check failed: not retried): " +
      "check freshness failed: Observed 900, at most 600.",
  );
});

Deno.test("exit 130 and 143, a stop by signal, fail the task for a retry, with or without a summary", async () => {
  for (const code of [130, 143]) {
    const failure = await raised(code);
    assert.equal(failure.retried, true, `exit ${code}`);
    assert.equal(failure.message, `\`deno task pipeline\` exited ${code}.`);
  }
});
