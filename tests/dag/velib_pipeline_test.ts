/**
 * `dags/velib_pipeline.py` as Airflow's DAG processor loads it: no import error, its two load
 * DAGs (PostgreSQL's and ClickHouse's) each with the seven tasks and their order, the schedule
 * and retry settings, the commands, the failure email, and an import that touches neither the
 * network nor the metadata DB.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DAGS_FOLDER, ensureAirflow } from "../../tools/lib/airflow.ts";
import {
  DAG_FILE,
  FAILURE_EMAIL,
  PIPELINE_OPERATOR,
  probe,
  REPO_ROOT,
  type ShapeFacts,
  TASK_IDS,
  UPSTREAM,
} from "./support.ts";

/**
 * What each task runs after `deno task pipeline`, and its execution_timeout in seconds, for a
 * load pipeline and its warehouse component.
 */
const commands = (load: string, warehouse: string): Record<string, [string, number]> => ({
  check_kafka_health: [`health ${load} kafka`, 60],
  check_dwh_health: [`health ${load} ${warehouse}`, 60],
  consume_kafka_batch: [`batch ${load} --load-only`, 240],
  refresh_hourly_agg: [`step ${load} refresh-hourly`, 120],
  refresh_daily_agg: [`step ${load} refresh-daily`, 120],
  compute_station_rank: [`step ${load} rank-stations`, 120],
  data_quality_check: [`check ${load}`, 120],
});

/** The load DAGs: one per warehouse, of the same shape. */
const LOAD_DAGS = [
  { id: "velib_pipeline", load: "load", warehouse: "postgres" },
  { id: "velib_clickhouse", load: "load-clickhouse", warehouse: "clickhouse" },
];

/** The DagBag's view of dags/, read once for the tests below (each read starts Airflow: 4 s). */
let shapeFacts: Promise<ShapeFacts> | undefined;
function loadShape(): Promise<ShapeFacts> {
  return shapeFacts ??= (async () => {
    // No metadata DB: loading a DAG must not need one.
    await using airflow = await ensureAirflow({ database: false });
    return await probe<ShapeFacts>(airflow, ["shape", DAGS_FOLDER]);
  })();
}

for (const { id: dagId, load, warehouse } of LOAD_DAGS) {
  Deno.test(`${dagId} loads through the DagBag with its 7 tasks, order, schedule, retries and commands`, async () => {
    const facts = await loadShape();

    assert.deepEqual(facts.import_errors, {});
    assert.deepEqual(facts.dag_ids, ["velib_clickhouse", "velib_pipeline", "velib_rerun"]);
    const dag = facts.dags[dagId];
    const COMMANDS = commands(load, warehouse);
    assert.ok(dag.interval_seconds.length > 0, dag.schedule);
    assert.ok(dag.interval_seconds.every((seconds) => seconds === 300), dag.schedule);
    assert.equal(dag.catchup, false);
    assert.equal(dag.max_active_runs, 1);
    assert.ok(dag.start_date && Date.parse(dag.start_date) < Date.now(), dag.start_date ?? "none");

    assert.deepEqual(Object.keys(dag.tasks).sort(), TASK_IDS);
    for (const [id, task] of Object.entries(dag.tasks)) {
      const downstream = TASK_IDS.filter((other) => UPSTREAM[other].includes(id));
      assert.deepEqual(task.upstream, UPSTREAM[id], `${id}: upstream`);
      assert.deepEqual(task.downstream, downstream, `${id}: downstream`);
      assert.equal(
        task.trigger_rule,
        "all_success",
        `${id}: runs only when all upstream succeeded`,
      );
      assert.equal(task.operator, PIPELINE_OPERATOR, `${id}: operator`);
      assert.equal(task.is_bash_operator, true, `${id}: a BashOperator`);
      // Exit codes 1, 130 and 143 are retried; velib_common_test.ts shows 2 and 3 are not.
      assert.equal(task.retries, 2, `${id}: retries`);
      assert.equal(task.retry_delay_seconds, 60, `${id}: retry_delay`);
      const [args, timeout] = COMMANDS[id];
      assert.equal(task.execution_timeout_seconds, timeout, `${id}: execution_timeout`);
      const command = task.bash_command ?? "";
      assert.ok(command.startsWith(`deno task pipeline ${args}`), `${id}: ${command}`);
      // Only options such as --log-format json may follow.
      assert.match(command.slice(`deno task pipeline ${args}`.length), /^( --[a-z-]+( [a-z]+)?)*$/);
      assert.equal(task.append_env, true, `${id}: must inherit the worker's environment`);
      assert.deepEqual(task.skip_on_exit_code, [], `${id}: no exit code may mean "skipped"`);
      assert.equal(task.do_xcom_push, true, `${id}: the JSON summary goes to XCom`);
      assert.deepEqual(
        task.on_failure_callback.map((callback) => callback.class),
        [FAILURE_EMAIL],
        `${id}: emails when it fails`,
      );
    }
  });
}

Deno.test("with VELIB_REPORT_DIR set, velib_pipeline ends with write_report after the checks, whatever they found", async () => {
  await using airflow = await ensureAirflow({ database: false });
  const facts = await probe<ShapeFacts>(airflow, ["shape", DAGS_FOLDER], {
    VELIB_REPORT_DIR: "/srv/velib reports",
  });
  const { tasks } = facts.dags.velib_pipeline;
  assert.deepEqual(Object.keys(tasks).sort(), [...TASK_IDS, "write_report"].sort());
  const report = tasks.write_report;
  assert.deepEqual(report.upstream, ["data_quality_check"]);
  assert.equal(report.trigger_rule, "all_done");
  assert.ok(
    report.bash_command?.startsWith(
      "deno task pipeline report load --out '/srv/velib reports/velib_report.html'",
    ),
    report.bash_command ?? "none",
  );
  assert.equal(report.operator, PIPELINE_OPERATOR);
  // ClickHouse's DAG has no report: the report reads PostgreSQL.
  assert.deepEqual(Object.keys(facts.dags.velib_clickhouse.tasks).sort(), TASK_IDS);
});

Deno.test("every task's failure email reads its recipients from the Variable velib_alert_emails when the task fails", async () => {
  const { dags } = await loadShape();
  for (const dag of Object.values(dags)) {
    for (const [id, task] of Object.entries(dag.tasks)) {
      const [{ to }] = task.on_failure_callback;
      // A template: rendered when the task fails, never when the file is parsed. (Without the
      // Variable, VELIB_ALERT_EMAILS: the runs in velib_pipeline_run_test.ts and
      // velib_rerun_run_test.ts send to each, and to neither when neither is set.)
      assert.equal(to, "{{ var.value.get('velib_alert_emails', '') }}", id);
    }
  }
});

Deno.test("dags/velib_common.py is imported by the DAG files but not parsed for DAGs", async () => {
  const { files } = await loadShape();
  assert.deepEqual(files, ["velib_pipeline.py", "velib_rerun.py"]);
});

Deno.test("velib_pipeline runs in the Variable's directory, else VELIB_PROJECT_DIR's, else the repo root", async () => {
  const { dag } = await loadShape();
  const dirs = dag!.project_dir;
  // A template, so that it is resolved per task run on the worker, not at parse time.
  assert.match(dirs.template, /\{\{.*\}\}/);
  assert.equal(dirs.same_for_all_tasks, true);
  assert.equal(dirs.default, REPO_ROOT);
  assert.equal(dirs.env, "/from/env");
  assert.equal(dirs.variable, "/from/variable");
});

Deno.test("importing dags/velib_pipeline.py opens no connection: network and metadata DB blocked", async () => {
  await using airflow = await ensureAirflow({ database: false });
  const result = await probe(airflow, ["offline-import", DAG_FILE]);
  assert.equal(
    result.guard_works,
    true,
    "the guard must refuse a connection, or this proves nothing",
  );
  assert.deepEqual(result.attempts_during_import, []);
  assert.equal(result.error, null);
  assert.equal(result.imported, true);
  assert.equal(result.dag_id, "velib_pipeline");
});
