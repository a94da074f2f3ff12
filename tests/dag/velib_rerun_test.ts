/**
 * `dags/velib_rerun.py` as Airflow's DAG processor loads it, beside `dags/velib_pipeline.py`:
 * both DAGs without an import error, the rerun triggered by hand only, its params and their
 * schema, its four tasks, their order, trigger rules and failure email, the commands a conf
 * renders (quoted, or the skip of a stage left out), and an import that touches neither network
 * nor metadata DB.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DAGS_FOLDER, ensureAirflow } from "../../tools/lib/airflow.ts";
import {
  type ConfFacts,
  FAILURE_EMAIL,
  PIPELINE_OPERATOR,
  probe,
  REPO_ROOT,
  RERUN_DAG_FILE,
  RERUN_TASK_IDS,
  RERUN_TASKS,
  type ShapeFacts,
} from "./support.ts";

const FROM = "2025-10-18T01:00:00Z";
const TO = "2025-10-18T03:00:00+02:00";

/** Each task's `deno` arguments after `task pipeline`, for a window; and its timeout in s. */
const COMMANDS: Record<string, [(window: string[]) => string[], number]> = {
  reload_window: [(window) => ["batch", "load", ...window, "--load-only"], 900],
  rebuild_gold: [(window) => ["step", "load", "refresh-hourly", "refresh-daily", ...window], 600],
  compute_station_rank: [() => ["step", "load", "rank-stations"], 120],
  data_quality_check: [() => ["check", "load"], 120],
};

/** What `deno` gets for `task` and a window: the command, then the JSON logs option. */
function argv(task: string, window: string[]): string[] {
  return ["task", "pipeline", ...COMMANDS[task][0](window), "--log-format", "json"];
}

/**
 * A value that would break out of any quoting but the shell's own: single and double quotes,
 * a command substitution, a backtick, a `;` and a newline.
 */
const PWNED = `/tmp/velib-rerun-pwned-${crypto.randomUUID()}`;
const HOSTILE = `${FROM}'; echo "$(touch ${PWNED})" \`id\`; '\nexit 7`;

/** The confs rendered and validated below, by name. */
const CONFS = {
  window: { from: FROM, to: TO },
  openEnded: { from: FROM },
  explicitNullTo: { from: FROM, to: null, stages: ["load", "gold", "checks"] },
  fractionsAndOffset: { from: "2025-10-18T01:00:00.123+02:00", to: "2025-10-18T03:00:00.5Z" },
  goldOnly: { from: FROM, to: TO, stages: ["gold"] },
  loadAndChecks: { from: FROM, stages: ["checks", "load"] },
  hostileFrom: { from: HOSTILE, to: TO },
  hostileTo: { from: FROM, to: `${TO}'"$(id)"` },
  // Refused by the schema, each for one reason.
  missingFrom: { to: TO },
  nullFrom: { from: null },
  noZone: { from: "2025-10-18T01:00:00" },
  noSeconds: { from: "2025-10-18T01:00Z" },
  dateOnly: { from: "2025-10-18" },
  trailingNewline: { from: `${FROM}\n` },
  toNotATime: { from: FROM, to: "tomorrow" },
  toANumber: { from: FROM, to: 1760749200 },
  unknownStage: { from: FROM, stages: ["load", "silver"] },
  repeatedStage: { from: FROM, stages: ["gold", "gold"] },
  noStage: { from: FROM, stages: [] },
  stagesAString: { from: FROM, stages: "gold" },
};

/** The DagBag's view of dags/, read once for the tests below (each read starts Airflow: 4 s). */
let shapeFacts: Promise<ShapeFacts> | undefined;
function loadShape(): Promise<ShapeFacts> {
  return shapeFacts ??= (async () => {
    // No metadata DB: loading a DAG must not need one.
    await using airflow = await ensureAirflow({ database: false });
    return await probe<ShapeFacts>(airflow, ["shape", DAGS_FOLDER]);
  })();
}

let confFacts: Promise<ConfFacts> | undefined;
function loadConfs(): Promise<ConfFacts> {
  return confFacts ??= (async () => {
    await using airflow = await ensureAirflow({ database: false });
    return await probe<ConfFacts>(airflow, [
      "confs",
      DAGS_FOLDER,
      "velib_rerun",
      JSON.stringify(CONFS),
    ]);
  })();
}

async function rerunDag() {
  const dag = (await loadShape()).dags.velib_rerun;
  assert.ok(dag, "velib_rerun is not in the DagBag");
  return dag;
}

Deno.test("dags/ loads through the DagBag with its DAGs, velib_pipeline, velib_clickhouse and velib_rerun, and no import error", async () => {
  const facts = await loadShape();
  assert.deepEqual(facts.import_errors, {});
  assert.deepEqual(facts.dag_ids, ["velib_clickhouse", "velib_pipeline", "velib_rerun"]);
  assert.deepEqual(Object.keys(facts.dags).sort(), facts.dag_ids);
  // The main DAG is still the one velib_pipeline_test.ts asserts on.
  assert.deepEqual(facts.dag, facts.dags.velib_pipeline);
  assert.equal(facts.dags.velib_pipeline.can_be_scheduled, true);
  assert.deepEqual(facts.dags.velib_pipeline.params, {});
});

Deno.test("velib_rerun runs only when triggered: no schedule, no catch-up, one run at a time, tagged velib", async () => {
  const dag = await rerunDag();
  assert.equal(dag.schedule, "None");
  assert.equal(dag.can_be_scheduled, false);
  assert.deepEqual(dag.interval_seconds, []);
  assert.equal(dag.catchup, false);
  assert.equal(dag.max_active_runs, 1);
  assert.deepEqual(dag.tags, ["velib"]);
});

Deno.test("velib_rerun's params: `from` a required instant with a zone, `to` one or null, `stages` distinct stages defaulting to all three", async () => {
  const { params } = await rerunDag();
  assert.deepEqual(Object.keys(params).sort(), ["from", "stages", "to"]);
  const instant = (params.from.schema.pattern as string) ?? "";

  assert.equal(params.from.required, true);
  assert.equal(params.from.schema.type, "string");
  assert.equal(params.from.schema.format, "date-time");
  assert.equal(params.to.required, false);
  assert.equal(params.to.default, null);
  assert.deepEqual(params.to.schema.type, ["null", "string"]);
  assert.equal(params.to.schema.format, "date-time");
  assert.equal(params.to.schema.pattern, instant);
  // The same instants the CLI's --from/--to take (core/range.ts), in both regex dialects.
  const pattern = new RegExp(instant);
  for (const ok of [FROM, TO, "2025-10-18T01:00:00.123456789-05:30"]) {
    assert.match(ok, pattern);
  }
  for (const bad of ["2025-10-18T01:00:00", "2025-10-18T01:00Z", "2025-10-18", `${FROM}\n`]) {
    assert.doesNotMatch(bad, pattern);
  }

  assert.equal(params.stages.required, false);
  assert.deepEqual(params.stages.default, ["load", "gold", "checks"]);
  assert.deepEqual(params.stages.schema, {
    type: "array",
    items: { type: "string", enum: ["load", "gold", "checks"] },
    uniqueItems: true,
    minItems: 1,
  });
  for (const name of ["from", "to", "stages"]) {
    assert.ok(params[name].description, `${name}: a description for the trigger form`);
  }
});

Deno.test("velib_rerun refuses a bad conf when the run is created, before any task runs", async () => {
  const confs = await loadConfs();
  const valid = [
    "window",
    "openEnded",
    "explicitNullTo",
    "fractionsAndOffset",
    "goldOnly",
    "loadAndChecks",
  ];
  for (const name of valid) {
    assert.equal(confs[name].valid, true, `${name}: ${confs[name].error}`);
  }
  const refused: Record<string, RegExp> = {
    hostileFrom: /from/,
    hostileTo: /\bto\b/,
    missingFrom: /no value passed|from/i,
    nullFrom: /from/,
    noZone: /from/,
    noSeconds: /from/,
    dateOnly: /from/,
    trailingNewline: /from/,
    toNotATime: /\bto\b/,
    toANumber: /\bto\b/,
    unknownStage: /stages/,
    repeatedStage: /stages/,
    noStage: /stages/,
    stagesAString: /stages/,
  };
  assert.deepEqual(
    Object.keys(confs).sort(),
    [...valid, ...Object.keys(refused)].sort(),
  );
  for (const [name, error] of Object.entries(refused)) {
    assert.equal(confs[name].valid, false, `${name} must be refused`);
    assert.match(confs[name].error ?? "", /ParamValidationError/, name);
    assert.match(confs[name].error ?? "", error, name);
  }
});

Deno.test("velib_rerun has 4 tasks in order: reload, then gold rebuild and ranking side by side, then checks; none_failed, 99 = skipped, an email on failure", async () => {
  const dag = await rerunDag();
  assert.deepEqual(Object.keys(dag.tasks).sort(), RERUN_TASK_IDS);
  for (const [id, task] of Object.entries(dag.tasks)) {
    const downstream = RERUN_TASK_IDS.filter((other) => RERUN_TASKS[other].upstream.includes(id));
    assert.deepEqual(task.upstream, RERUN_TASKS[id].upstream, `${id}: upstream`);
    assert.deepEqual(task.downstream, downstream, `${id}: downstream`);
    // Runs after upstreams that succeeded or were skipped (a stage left out), not failed.
    assert.equal(task.trigger_rule, "none_failed", `${id}: trigger rule`);
    assert.equal(task.operator, PIPELINE_OPERATOR, `${id}: operator`);
    assert.equal(task.is_bash_operator, true, `${id}: a BashOperator`);
    assert.deepEqual(
      task.on_failure_callback.map((callback) => callback.class),
      [FAILURE_EMAIL],
      `${id}: emails when it fails`,
    );
    assert.deepEqual(task.skip_on_exit_code, [99], `${id}: the stage guard's exit code`);
    assert.equal(task.retries, 2, `${id}: retries`);
    assert.equal(task.retry_delay_seconds, 60, `${id}: retry_delay`);
    assert.equal(task.execution_timeout_seconds, COMMANDS[id][1], `${id}: execution_timeout`);
    assert.equal(task.append_env, true, `${id}: must inherit the worker's environment`);
    assert.equal(task.do_xcom_push, true, `${id}: the JSON summary goes to XCom`);
    // The conf is only ever read through the quoting filter.
    const uses = task.bash_command?.match(/\{\{[^}]*\}\}/g) ?? [];
    for (const use of uses) assert.match(use, /\| shell_quote \}\}$/, `${id}: ${use}`);
  }
});

Deno.test("velib_rerun runs in the Variable's directory, else VELIB_PROJECT_DIR's, else the repo root, as velib_pipeline", async () => {
  const facts = await loadShape();
  const dirs = facts.dags.velib_rerun.project_dir;
  assert.equal(dirs.template, facts.dags.velib_pipeline.project_dir.template);
  assert.equal(dirs.same_for_all_tasks, true);
  assert.equal(dirs.default, REPO_ROOT);
  assert.equal(dirs.env, "/from/env");
  assert.equal(dirs.variable, "/from/variable");
});

Deno.test("velib_rerun renders the window into each command, --to only when given", async () => {
  const confs = await loadConfs();
  const cases: Record<string, string[]> = {
    window: ["--from", FROM, "--to", TO],
    openEnded: ["--from", FROM],
    explicitNullTo: ["--from", FROM],
    fractionsAndOffset: [
      "--from",
      "2025-10-18T01:00:00.123+02:00",
      "--to",
      "2025-10-18T03:00:00.5Z",
    ],
  };
  for (const [name, window] of Object.entries(cases)) {
    for (const id of RERUN_TASK_IDS) {
      const task = confs[name].tasks[id];
      assert.equal(task.exit_code, 0, `${name}/${id}: ${task.output}`);
      assert.deepEqual(task.argv, argv(id, window), `${name}/${id}: ${task.command}`);
    }
  }
  // What the Rendered Template tab shows for a plain window: readable, not over-quoted.
  assert.equal(
    confs.window.tasks.reload_window.command,
    `deno task pipeline batch load --from ${FROM} --to ${TO} --load-only --log-format json`,
  );
});

Deno.test("velib_rerun quotes conf values for the shell: a quote, $(…) or newline in one stays one argument", async () => {
  const confs = await loadConfs();
  // Rendered from the raw values, although the schema refuses them: quoting must hold alone.
  const cases: Record<string, string[]> = {
    hostileFrom: ["--from", HOSTILE, "--to", TO],
    hostileTo: ["--from", FROM, "--to", `${TO}'"$(id)"`],
  };
  for (const [name, window] of Object.entries(cases)) {
    for (const id of ["reload_window", "rebuild_gold"]) {
      const task = confs[name].tasks[id];
      assert.equal(task.exit_code, 0, `${name}/${id}: ${task.output}`);
      assert.deepEqual(task.argv, argv(id, window), `${name}/${id}: ${task.command}`);
    }
  }
  assert.equal(
    await Deno.stat(PWNED).then(() => true, () => false),
    false,
    "the command substitution in the value ran",
  );
});

Deno.test("velib_rerun skips a stage left out of `stages` with exit 99 and runs the others", async () => {
  const confs = await loadConfs();
  const cases: Record<string, { stages: string[]; window: string[] }> = {
    goldOnly: { stages: ["gold"], window: ["--from", FROM, "--to", TO] },
    loadAndChecks: { stages: ["load", "checks"], window: ["--from", FROM] },
  };
  for (const [name, { stages, window }] of Object.entries(cases)) {
    for (const id of RERUN_TASK_IDS) {
      const task = confs[name].tasks[id];
      if (stages.includes(RERUN_TASKS[id].stage)) {
        assert.equal(task.exit_code, 0, `${name}/${id}: ${task.output}`);
        assert.deepEqual(task.argv, argv(id, window), `${name}/${id}: ${task.command}`);
      } else {
        // The guard runs instead of the pipeline: `deno` is never called.
        assert.equal(task.exit_code, 99, `${name}/${id}: ${task.command}`);
        assert.equal(task.argv, null, `${name}/${id}: ${task.command}`);
        assert.doesNotMatch(task.command, /deno/, `${name}/${id}`);
        assert.match(task.output, new RegExp(`Stage ${RERUN_TASKS[id].stage} .*skipped`));
      }
    }
  }
});

Deno.test("importing dags/velib_rerun.py opens no connection: network and metadata DB blocked", async () => {
  await using airflow = await ensureAirflow({ database: false });
  const result = await probe(airflow, ["offline-import", RERUN_DAG_FILE]);
  assert.equal(
    result.guard_works,
    true,
    "the guard must refuse a connection, or this proves nothing",
  );
  assert.deepEqual(result.attempts_during_import, []);
  assert.equal(result.error, null);
  assert.equal(result.imported, true);
  assert.equal(result.dag_id, "velib_rerun");
});
