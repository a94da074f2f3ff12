/**
 * The DAG run for real by `airflow dags test`: every task a `deno task pipeline …` command
 * against the test's Kafka broker and a fresh PostgreSQL database, then the same DAG with
 * PostgreSQL unreachable, whose failure email reaches a real SMTP server on loopback.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv } from "../../core/testing.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { ensureAirflow } from "../../tools/lib/airflow.ts";
import { reserveFreePorts } from "../../tools/lib/proc.ts";
import { captureSnapshots } from "../support/fixtures.ts";
import { startMailServer } from "./mail_server.ts";
import {
  dagsTest,
  ingestTwoCycles,
  logicalDate,
  REPO_ROOT,
  SHORT_RETRY_DELAY,
  TASK_IDS,
} from "./support.ts";

const STATIONS = 1471;

Deno.test("airflow dags test runs velib_pipeline end to end, and stops before consuming when PostgreSQL is down", async (t) => {
  const kafkaBrokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  await using database = await scratchDatabase();
  await using airflow = await ensureAirflow({ localSettings: SHORT_RETRY_DELAY });

  const publishedFrom = await ingestTwoCycles(kafkaBrokers);

  await t.step(
    "with Kafka and PostgreSQL up, all 7 tasks succeed, load the warehouse and push their summaries",
    async () => {
      const { code, facts: run, states, output } = await dagsTest(
        airflow,
        "velib_pipeline",
        logicalDate(10),
        {
          env: {
            DATABASE_URL: database.url,
            KAFKA_BROKERS: kafkaBrokers,
            VELIB_PROJECT_DIR: REPO_ROOT,
          },
        },
      );
      assert.ok(run, output);
      const facts = run;
      assert.deepEqual(states, Object.fromEntries(TASK_IDS.map((id) => [id, "success"])), output);
      assert.equal(facts.state, "success", output);
      assert.equal(code, 0, output);
      assert.ok(Object.values(facts.tasks).every((task) => task.max_tries === 2), output);
      // Retries are allowed, as in production (a fresh broker's group coordinator may still be
      // loading at the first health check), but worth a line in the test output.
      for (const [id, task] of Object.entries(facts.tasks)) {
        if (task.try_number > 1) console.error(`note: ${id} succeeded at try ${task.try_number}`);
      }

      // Every task's XCom is its command's JSON summary: the last line, nothing printed after.
      for (const id of TASK_IDS) {
        const summary = JSON.parse(facts.xcom[id] ?? "null");
        assert.equal(summary?.exitCode, 0, `${id}: ${facts.xcom[id]}`);
      }
      const consumed = JSON.parse(facts.xcom.consume_kafka_batch);
      assert.equal(consumed.pipeline, "load");
      assert.equal(consumed.exitReason, "drained");
      // The topic is shared with other tests: the fresh database reads all of it, ours included.
      assert.ok(consumed.counters.written >= 2 * STATIONS, facts.xcom.consume_kafka_batch);

      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const count = async (sql: string, params: unknown[] = []) =>
          (await client.query(sql, params)).rows[0].n as number;
        assert.ok(
          await count("SELECT count(*)::int AS n FROM raw.station_snapshots") >= 2 * STATIONS,
        );
        // Our two cycles, whole: other cycles in the topic are older, or not the capture's.
        const { rows: cycles } = await client.query(
          `SELECT collected_at, count(*)::int AS n FROM raw.station_snapshots
         WHERE collected_at >= $1 GROUP BY collected_at HAVING count(*) = $2`,
          [publishedFrom, STATIONS],
        );
        assert.ok(cycles.length >= 2, JSON.stringify(cycles));
        // Every station of the capture is in mart at one of our cycles (or a newer one). Other
        // tests publish the same capture, so mart has exactly its 1,471 stations unless
        // someone published other codes to velib-stations: then it has more.
        const codes = (await captureSnapshots(new Date())).map((s) => s.station_code);
        assert.equal(codes.length, STATIONS);
        assert.equal(
          await count(
            `SELECT count(*)::int AS n FROM mart.station_latest
           WHERE station_code = ANY($1) AND collected_at >= $2`,
            [codes, publishedFrom],
          ),
          STATIONS,
        );
        assert.ok(await count("SELECT count(*)::int AS n FROM mart.station_latest") >= STATIONS);
        // The gold tasks ran after the load.
        for (const table of ["hourly_station_stats", "daily_station_stats", "station_ranking"]) {
          assert.ok(await count(`SELECT count(*)::int AS n FROM mart.${table}`) > 0, table);
        }
        // data_quality_check stored its results under Airflow's run id.
        const { rows: checks } = await client.query(
          "SELECT check_name, severity, passed FROM pipeline.check_results WHERE run_id = $1",
          [facts.run_id],
        );
        assert.ok(checks.length > 0, `no check results for ${facts.run_id}`);
        assert.deepEqual(checks.filter((c) => c.severity === "error" && !c.passed), []);
      } finally {
        await client.end();
      }
    },
  );

  await t.step(
    "with PostgreSQL unreachable, check_dwh_health fails after its retries, nothing downstream runs, and one email names the DAG, task, run and error",
    async () => {
      await using mail = await startMailServer();
      // A port nothing listens on: reserved then released, so connections are refused at once,
      // as from a stopped server.
      const [closedPort] = reserveFreePorts(1);
      const unreachable = new URL(database.url);
      unreachable.hostname = "127.0.0.1";
      unreachable.port = String(closedPort);
      const { code, facts: run, states, output } = await dagsTest(
        airflow,
        "velib_pipeline",
        logicalDate(5),
        {
          env: {
            DATABASE_URL: unreachable.href,
            KAFKA_BROKERS: kafkaBrokers,
            VELIB_PROJECT_DIR: REPO_ROOT,
            AIRFLOW_CONN_SMTP_DEFAULT: mail.airflowConnection,
            VELIB_ALERT_EMAILS: "ops@velib.test, oncall@velib.test",
          },
        },
      );
      assert.ok(run, output);
      const facts = run;
      assert.deepEqual(states, {
        check_kafka_health: "success",
        check_dwh_health: "failed",
        consume_kafka_batch: "upstream_failed",
        refresh_hourly_agg: "upstream_failed",
        refresh_daily_agg: "upstream_failed",
        compute_station_rank: "upstream_failed",
        data_quality_check: "upstream_failed",
      }, output);
      // Failed (exit 1) after its 2 retries, each as refused as the first.
      assert.equal(facts.tasks.check_dwh_health.try_number, 3, output);
      assert.equal(facts.state, "failed");
      assert.notEqual(code, 0, output);
      assert.equal(facts.xcom.consume_kafka_batch, undefined);

      // One email, when the task failed for good: not per try, not for the tasks it held back.
      const messages = await mail.messages();
      assert.equal(messages.length, 1, JSON.stringify(messages));
      const [message] = messages;
      assert.deepEqual(message.rcpt_tos, ["ops@velib.test", "oncall@velib.test"]);
      assert.equal(message.mail_from, "airflow@velib.test");
      assert.equal(
        message.subject,
        `Airflow: velib_pipeline.check_dwh_health failed in run ${facts.run_id}`,
      );
      const { text } = message;
      assert.match(text, /Task check_dwh_health of DAG velib_pipeline failed in run /);
      assert.ok(text.includes(`failed in run ${facts.run_id}, at try 3 of 3.`), text);
      // The error line of the command's JSON summary, the unreachable port in it.
      assert.ok(
        text.includes(
          `\`deno task pipeline\` exited 1: postgres: Could not connect to PostgreSQL at ` +
            `127.0.0.1:${closedPort}`,
        ),
        text,
      );
    },
  );
});
