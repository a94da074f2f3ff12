/**
 * The DAG run for real by `airflow dags test`: every task a `deno task pipeline …` command
 * against the test's Kafka broker and a fresh PostgreSQL database, then the same DAG with
 * PostgreSQL unreachable.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv } from "../../core/testing.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { type Airflow, ensureAirflow } from "../../tools/lib/airflow.ts";
import { reserveFreePorts } from "../../tools/lib/proc.ts";
import { runCli } from "../support/cli.ts";
import { captureSnapshots } from "../support/fixtures.ts";
import { startReplayServer } from "../support/velib_replay.ts";
import { probe, REPO_ROOT, TASK_IDS } from "./support.ts";

const STATIONS = 1471;

/**
 * A cluster policy for this Airflow home only: retry_delay 1 s instead of 1 min, so that a
 * task meant to fail uses up its 2 retries in seconds (`dags test` waits out retry delays).
 * The retries themselves stay as the DAG sets them, and the runs below prove them. The DAG
 * file keeps its 1 min; the shape test checks it.
 */
const SHORT_RETRY_DELAY = `
from datetime import timedelta

def task_policy(task):
    task.retry_delay = timedelta(seconds=1)
`;

interface RunFacts {
  error?: string;
  run_id: string;
  state: string;
  tasks: Record<string, { state: string; try_number: number; max_tries: number }>;
  xcom: Record<string, string>;
}

/** Runs the DAG once at `logicalDate` and reads back what happened. */
async function dagsTest(airflow: Airflow, logicalDate: string, env: Record<string, string>) {
  const run = await airflow.run(["dags", "test", "velib_pipeline", logicalDate], env);
  const facts = await probe<RunFacts>(airflow, ["run", "velib_pipeline", logicalDate]);
  const output = commandOutput(run.stdout + run.stderr);
  assert.equal(facts.error, undefined, `${facts.error}\n${output}`);
  const states = Object.fromEntries(
    Object.entries(facts.tasks).map(([id, task]) => [id, task.state]),
  );
  return { code: run.code, facts, states, output };
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

/** `YYYY-MM-DDTHH:MM:00+00:00`, `minutesAgo` before now, on a 5-minute boundary. */
function logicalDate(minutesAgo: number): string {
  const at = Math.floor((Date.now() - minutesAgo * 60_000) / 300_000) * 300_000;
  return new Date(at).toISOString().replace(".000Z", "+00:00");
}

Deno.test("airflow dags test runs velib_pipeline end to end, and stops before consuming when PostgreSQL is down", async (t) => {
  const kafkaBrokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  await using database = await scratchDatabase();
  await using airflow = await ensureAirflow({ localSettings: SHORT_RETRY_DELAY });

  // Two cycles of the real capture into velib-stations, as `stream ingest` publishes them: the
  // ranking needs two. collected_at is the fetch time, so the freshness check passes.
  const publishedFrom = new Date();
  const replay = await startReplayServer();
  try {
    for (const cycle of [1, 2]) {
      if (cycle > 1) await new Promise((resolve) => setTimeout(resolve, 2_000));
      const ingest = await runCli(["stream", "ingest", "--once"], {
        env: { VELIB_API_URL: replay.baseUrl, KAFKA_BROKERS: kafkaBrokers },
      });
      assert.equal(ingest.code, 0, ingest.stderr);
      assert.equal((ingest.summary.counters as Record<string, number>).written, STATIONS);
    }
  } finally {
    await replay.close();
  }

  await t.step(
    "with Kafka and PostgreSQL up, all 7 tasks succeed, load the warehouse and push their summaries",
    async () => {
      const { code, facts, states, output } = await dagsTest(airflow, logicalDate(10), {
        DATABASE_URL: database.url,
        KAFKA_BROKERS: kafkaBrokers,
        VELIB_PROJECT_DIR: REPO_ROOT,
      });
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
    "with PostgreSQL unreachable, check_dwh_health fails and nothing downstream runs",
    async () => {
      // A port nothing listens on: reserved then released, so connections are refused at once,
      // as from a stopped server.
      const [closedPort] = reserveFreePorts(1);
      const unreachable = new URL(database.url);
      unreachable.hostname = "127.0.0.1";
      unreachable.port = String(closedPort);
      const { code, facts, states, output } = await dagsTest(airflow, logicalDate(5), {
        DATABASE_URL: unreachable.href,
        KAFKA_BROKERS: kafkaBrokers,
        VELIB_PROJECT_DIR: REPO_ROOT,
      });
      assert.deepEqual(states, {
        check_kafka_health: "success",
        check_dwh_health: "failed",
        consume_kafka_batch: "upstream_failed",
        refresh_hourly_agg: "upstream_failed",
        refresh_daily_agg: "upstream_failed",
        compute_station_rank: "upstream_failed",
        data_quality_check: "upstream_failed",
      }, output);
      // Failed after its 2 retries, each as refused as the first.
      assert.equal(facts.tasks.check_dwh_health.try_number, 3, output);
      assert.equal(facts.state, "failed");
      assert.notEqual(code, 0, output);
      assert.equal(facts.xcom.consume_kafka_batch, undefined);
    },
  );
});
