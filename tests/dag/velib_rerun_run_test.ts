/**
 * The rerun DAG run for real by `airflow dags test`: every task a `deno task pipeline …`
 * command against the test's Kafka broker and a fresh PostgreSQL database. A window of synthetic
 * cycles reloaded from Kafka with all stages; the gold tables rebuilt alone after they were
 * lost; a window that ends before it starts refused by reload_window (exit 2, not retried, and
 * no email without recipients); the checks alone on an empty warehouse (exit 3, not retried, an
 * email to the Variable's recipients); and a conf the params refuse, which creates no run at all.
 * All of it with a real SMTP server on loopback as Airflow's `smtp_default`.
 *
 * The topic holds 6 synthetic cycles (the real stations, seeded synthetic counts; see
 * tests/support/backlog.ts), one a minute as ingest publishes them and ending before now, so
 * that Kafka retains them, none lies in the future, and the window's newest is fresh enough for
 * the freshness check (10 minutes).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import { committedOffsets } from "../../plugins/kafka/test_support.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { ensureAirflow } from "../../tools/lib/airflow.ts";
import { publishBacklog } from "../support/backlog.ts";
import { startMailServer } from "./mail_server.ts";
import { dagsTest, logicalDate, REPO_ROOT, RERUN_TASK_IDS, SHORT_RETRY_DELAY } from "./support.ts";

const STATIONS = 1471;
const CYCLES = 6;
const CYCLE_MS = 60_000;

/**
 * A config module in a temp dir: tests/support/load.config.ts with the checks of
 * pipeline.config.ts's `load`, so that data_quality_check runs the real checks.
 */
async function withRealChecks(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "velib-rerun-config-" });
  const path = join(dir, "rerun_dag.config.ts");
  const url = (file: string) => pathToFileURL(join(REPO_ROOT, file)).href;
  await Deno.writeTextFile(
    path,
    `import tests from ${JSON.stringify(url("tests/support/load.config.ts"))};
import real from ${JSON.stringify(url("pipeline.config.ts"))};

export default {
  ...tests,
  pipelines: { load: { ...tests.pipelines.load, checks: real.pipelines.load.checks } },
};
`,
  );
  return { path, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** Every task in `state`, but those in `others`. */
function states(state: string, others: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(RERUN_TASK_IDS.map((id) => [id, others[id] ?? state]));
}

Deno.test("airflow dags test runs velib_rerun: a window reloaded, gold rebuilt alone, an empty window, a failed check and a bad conf refused", async (t) => {
  const brokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  await using database = await scratchDatabase();
  await using airflow = await ensureAirflow({ localSettings: SHORT_RETRY_DELAY });
  await using mail = await startMailServer();

  // Cycles 0…5, the last one 30 s ago; the window takes cycles 1, 2 and 3.
  const topic = uniqueName("velib-rerun-dag");
  const group = `${topic}-warehouse`;
  const first = Math.floor(Date.now() / 1000) * 1000 - 30_000 - (CYCLES - 1) * CYCLE_MS;
  const cycleAt = (cycle: number) => new Date(first + cycle * CYCLE_MS).toISOString();
  await publishBacklog({
    brokers,
    topic,
    cycles: CYCLES,
    startAt: new Date(first),
    intervalMs: CYCLE_MS,
    seed: 5,
  });
  const window = { from: cycleAt(1), to: cycleAt(4) };
  const inWindow = [cycleAt(1), cycleAt(2), cycleAt(3)];

  // The tests' load pipeline on our topic, as the live group would read it, with the real
  // checks back (tests/support/load.config.ts has none, for its 2024 captures).
  await using config = await withRealChecks();
  const env = {
    DATABASE_URL: database.url,
    KAFKA_BROKERS: brokers,
    VELIB_PROJECT_DIR: REPO_ROOT,
    PIPELINE_CONFIG: config.path,
    LOAD_TOPIC: topic,
    LOAD_GROUP: group,
    // Every run can send mail; who to is up to each step (neither recipient source is set yet).
    AIRFLOW_CONN_SMTP_DEFAULT: mail.airflowConnection,
  };

  const client = new pg.Client({ connectionString: database.url });
  const rows = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => {
    return (await client.query(sql, params)).rows as T[];
  };
  /** raw's snapshots per collected_at, as ISO strings. */
  const rawCycles = async () =>
    Object.fromEntries(
      (await rows<{ at: Date; n: number }>(
        `SELECT collected_at AS at, count(*)::int AS n FROM raw.station_snapshots
         GROUP BY collected_at ORDER BY collected_at`,
      )).map(({ at, n }) => [at.toISOString(), n]),
    );
  const hourlyDigest = async () =>
    (await rows<{ n: number; md5: string }>(
      `SELECT count(*)::int AS n,
         md5(coalesce(string_agg((to_jsonb(h) - 'refreshed_at')::text, E'\\n'
           ORDER BY h.station_code, h.bucket_start), '')) AS md5
       FROM mart.hourly_station_stats AS h`,
    ))[0];

  await client.connect();
  try {
    await t.step(
      "with all stages, the 4 tasks succeed and raw holds exactly the window's snapshots",
      async () => {
        const { code, facts, states: got, output } = await dagsTest(
          airflow,
          "velib_rerun",
          logicalDate(30),
          { env, conf: window },
        );
        assert.deepEqual(got, states("success"), output);
        assert.equal(facts?.state, "success", output);
        assert.equal(code, 0, output);
        for (const [id, task] of Object.entries(facts!.tasks)) {
          assert.equal(task.max_tries, 2, `${id}: retries`);
          if (task.try_number > 1) console.error(`note: ${id} succeeded at try ${task.try_number}`);
        }
        // Every task's XCom is its command's JSON summary.
        for (const id of RERUN_TASK_IDS) {
          const summary = JSON.parse(facts!.xcom[id] ?? "null");
          assert.equal(summary?.exitCode, 0, `${id}: ${facts!.xcom[id]}`);
        }
        const reload = JSON.parse(facts!.xcom.reload_window);
        assert.equal(reload.pipeline, "load", facts!.xcom.reload_window);
        assert.equal(reload.counters?.written, 3 * STATIONS, facts!.xcom.reload_window);

        assert.deepEqual(
          await rawCycles(),
          Object.fromEntries(inWindow.map((at) => [at, STATIONS])),
        );
        // mart has every station at the window's newest cycle.
        const [latest] = await rows<{ n: number; at: Date }>(
          "SELECT count(*)::int AS n, max(collected_at) AS at FROM mart.station_latest",
        );
        assert.equal(latest.n, STATIONS);
        assert.equal(latest.at.toISOString(), cycleAt(3));
        // The gold tasks ran after the reload, on the window's data.
        const [hourly] = await rows<{ n: number; first: Date; last: Date }>(
          `SELECT count(*)::int AS n, min(bucket_start) AS first, max(bucket_start) AS last
           FROM mart.hourly_station_stats`,
        );
        assert.ok(hourly.n >= STATIONS, `${hourly.n} hourly rows`);
        const hourOf = (at: string) => Math.floor(Date.parse(at) / 3_600_000) * 3_600_000;
        assert.ok(hourly.first.getTime() >= hourOf(cycleAt(1)), hourly.first.toISOString());
        assert.ok(hourly.last.getTime() <= hourOf(cycleAt(3)), hourly.last.toISOString());
        for (const table of ["daily_station_stats", "station_ranking"]) {
          const [{ n }] = await rows<{ n: number }>(`SELECT count(*)::int AS n FROM mart.${table}`);
          assert.ok(n > 0, `mart.${table} is empty`);
        }
        // data_quality_check ran the real checks, stored under Airflow's run id, and they pass.
        const checks = await rows<{ check_name: string; severity: string; passed: boolean }>(
          "SELECT check_name, severity, passed FROM pipeline.check_results WHERE run_id = $1",
          [facts!.run_id],
        );
        assert.ok(checks.some((c) => c.check_name === "freshness"), JSON.stringify(checks));
        assert.deepEqual(checks.filter((c) => c.severity === "error" && !c.passed), []);

        // The live pipeline goes on as if nothing happened: its group committed nothing and
        // its positions are not stored; the rerun's are, apart.
        assert.deepEqual(
          Object.values(await committedOffsets(topic, group)).filter((offset) => offset >= 0),
          [],
          "the live group moved",
        );
        const positions = await rows<{ pipeline: string }>(
          "SELECT DISTINCT pipeline FROM pipeline.source_positions ORDER BY pipeline",
        );
        assert.deepEqual(positions.map(({ pipeline }) => pipeline), ["load:rerun"]);
      },
    );

    await t.step(
      'with stages ["gold"], reload_window and data_quality_check are skipped and the lost gold is rebuilt',
      async () => {
        const before = await hourlyDigest();
        // The gold layer lost (say, a bug in a refresh that has been fixed since).
        await client.query("DELETE FROM mart.hourly_station_stats");
        const rawBefore = await rawCycles();

        const { code, facts, states: got, output } = await dagsTest(
          airflow,
          "velib_rerun",
          logicalDate(20),
          { env, conf: { ...window, stages: ["gold"] } },
        );
        assert.deepEqual(
          got,
          states("success", { reload_window: "skipped", data_quality_check: "skipped" }),
          output,
        );
        assert.equal(facts?.state, "success", output);
        assert.equal(code, 0, output);
        // A skipped task pushes no XCom; the gold tasks push their summaries.
        assert.equal(facts!.xcom.reload_window, undefined);
        assert.equal(JSON.parse(facts!.xcom.rebuild_gold).exitCode, 0, facts!.xcom.rebuild_gold);

        assert.deepEqual(await hourlyDigest(), before);
        assert.deepEqual(await rawCycles(), rawBefore);
      },
    );

    await t.step(
      "with `from` after `to`, reload_window fails with exit 2 at once and writes nothing; nothing after it runs; no recipient, no email",
      async () => {
        const rawBefore = await rawCycles();
        const { code, facts, states: got, output, log } = await dagsTest(
          airflow,
          "velib_rerun",
          logicalDate(10),
          { env, conf: { from: window.to, to: window.from } },
        );
        assert.deepEqual(
          got,
          states("upstream_failed", { reload_window: "failed" }),
          output,
        );
        // Not retried: a bad request stays one.
        assert.equal(facts?.tasks.reload_window.try_number, 1, output);
        assert.equal(facts?.tasks.reload_window.max_tries, 2, output);
        assert.equal(facts?.state, "failed", output);
        assert.notEqual(code, 0, output);
        assert.match(log, /`deno task pipeline` exited 2 \(a usage error: not retried\): /, output);
        assert.equal(facts?.xcom.reload_window, undefined);
        assert.deepEqual(await rawCycles(), rawBefore);
        // Neither the Variable nor VELIB_ALERT_EMAILS: a log line, and no email attempted.
        assert.match(log, /No failure email sent: neither the Variable velib_alert_emails/, output);
        assert.deepEqual(await mail.messages(), []);
      },
    );

    await t.step(
      'with stages ["checks"] on an empty warehouse, data_quality_check fails with exit 3 at once and emails the Variable\'s recipients',
      async () => {
        await using empty = await scratchDatabase();
        const set = await airflow.run(["variables", "set", "velib_alert_emails", "dq@velib.test"]);
        assert.equal(set.code, 0, set.stdout + set.stderr);
        const { code, facts, states: got, output } = await dagsTest(
          airflow,
          "velib_rerun",
          logicalDate(15),
          {
            // The Variable wins over the env var.
            env: { ...env, DATABASE_URL: empty.url, VELIB_ALERT_EMAILS: "not-me@velib.test" },
            conf: { ...window, stages: ["checks"] },
          },
        );
        assert.deepEqual(
          got,
          states("skipped", { data_quality_check: "failed" }),
          output,
        );
        // Not retried: the same checks on the same warehouse would fail the same way.
        assert.equal(facts?.tasks.data_quality_check.try_number, 1, output);
        assert.equal(facts?.tasks.data_quality_check.max_tries, 2, output);
        assert.equal(facts?.state, "failed", output);
        assert.notEqual(code, 0, output);

        const messages = await mail.messages();
        assert.equal(messages.length, 1, JSON.stringify(messages));
        const [message] = messages;
        assert.deepEqual(message.rcpt_tos, ["dq@velib.test"]);
        assert.equal(
          message.subject,
          `Airflow: velib_rerun.data_quality_check failed in run ${facts!.run_id}`,
        );
        assert.ok(
          message.text.includes(
            `Task data_quality_check of DAG velib_rerun failed in run ${facts!.run_id}, ` +
              "at try 1 of 3.",
          ),
          message.text,
        );
        assert.match(
          message.text,
          /`deno task pipeline` exited 3 \(a data-quality check failed: not retried\): check freshness failed: .*no snapshot loaded yet/,
        );
      },
    );

    await t.step("a conf the params refuse creates no run, so no task runs", async () => {
      const date = logicalDate(5);
      const { code, facts, states: got, log } = await dagsTest(airflow, "velib_rerun", date, {
        env,
        conf: { from: "yesterday" },
      });
      assert.notEqual(code, 0, log);
      assert.match(log, /Invalid input for param from/, log);
      assert.equal(facts, undefined, "a run was created");
      assert.deepEqual(got, {});
    });
  } finally {
    await client.end().catch(() => {});
  }
});
