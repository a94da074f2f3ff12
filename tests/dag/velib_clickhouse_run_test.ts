/**
 * The ClickHouse DAG run for real by `airflow dags test`: every task a `deno task pipeline …`
 * command of `load-clickhouse` against the test's Kafka broker and a ClickHouse warehouse of the
 * test's own, then the same DAG with ClickHouse unreachable.
 *
 * @module
 */
import assert from "node:assert/strict";
import { requiredEnv } from "../../core/testing.ts";
import { scratchWarehouse } from "../../plugins/sink-clickhouse/testing.ts";
import { ensureAirflow } from "../../tools/lib/airflow.ts";
import { reserveFreePorts } from "../../tools/lib/proc.ts";
import {
  dagsTest,
  ingestTwoCycles,
  logicalDate,
  REPO_ROOT,
  SHORT_RETRY_DELAY,
  TASK_IDS,
} from "./support.ts";

const STATIONS = 1471;

Deno.test("airflow dags test runs velib_clickhouse end to end, and stops before consuming when ClickHouse is down", async (t) => {
  const kafkaBrokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  await using warehouse = await scratchWarehouse("sql/clickhouse/migrations");
  await using airflow = await ensureAirflow({ localSettings: SHORT_RETRY_DELAY });
  const publishedFrom = await ingestTwoCycles(kafkaBrokers);
  const env = { ...warehouse.env, KAFKA_BROKERS: kafkaBrokers, VELIB_PROJECT_DIR: REPO_ROOT };

  await t.step(
    "with Kafka and ClickHouse up, all 7 tasks succeed, load the warehouse and push their summaries",
    async () => {
      const { code, facts, states, output } = await dagsTest(
        airflow,
        "velib_clickhouse",
        logicalDate(10),
        { env },
      );
      assert.ok(facts, output);
      assert.deepEqual(states, Object.fromEntries(TASK_IDS.map((id) => [id, "success"])), output);
      assert.equal(code, 0, output);
      for (const id of TASK_IDS) {
        assert.equal(JSON.parse(facts.xcom[id] ?? "null")?.exitCode, 0, `${id}: ${facts.xcom[id]}`);
      }
      const consumed = JSON.parse(facts.xcom.consume_kafka_batch);
      assert.equal(consumed.pipeline, "load-clickhouse");
      // The topic is shared with other tests: the fresh warehouse reads all of it, ours included.
      assert.ok(consumed.counters.written >= 2 * STATIONS, facts.xcom.consume_kafka_batch);

      const count = async (sql: string, params: unknown[] = []) =>
        Number((await warehouse.query<{ n: string }>(sql, params))[0].n);
      const since = Math.floor(publishedFrom.getTime() / 1000);
      assert.ok(
        await count(
          "SELECT count() AS n FROM (SELECT collected_at FROM raw.station_snapshots FINAL " +
            "WHERE collected_at >= toDateTime($1, 'UTC') GROUP BY collected_at " +
            "HAVING count() = $2)",
          [since, STATIONS],
        ) >= 2,
        "our two cycles, whole",
      );
      for (const table of ["hourly_station_stats", "daily_station_stats", "station_ranking"]) {
        assert.ok(await count(`SELECT count() AS n FROM mart.${table}`) > 0, table);
      }
      const errors = await warehouse.query(
        "SELECT check_name FROM pipeline.check_results " +
          "WHERE run_id = $1 AND severity = 'error' AND passed = 0",
        [facts.run_id],
      );
      assert.ok(
        await count("SELECT count() AS n FROM pipeline.check_results WHERE run_id = $1", [
          facts.run_id,
        ]) === 8,
        `the eight checks stored under ${facts.run_id}`,
      );
      assert.deepEqual(errors, []);
    },
  );

  await t.step(
    "with ClickHouse unreachable, check_dwh_health fails and nothing downstream runs",
    async () => {
      const [closedPort] = reserveFreePorts(1);
      const unreachable = new URL(env.CLICKHOUSE_URL);
      unreachable.port = String(closedPort);
      const { facts, states, output } = await dagsTest(
        airflow,
        "velib_clickhouse",
        logicalDate(5),
        { env: { ...env, CLICKHOUSE_URL: unreachable.href } },
      );
      assert.ok(facts, output);
      assert.deepEqual(states, {
        check_kafka_health: "success",
        check_dwh_health: "failed",
        consume_kafka_batch: "upstream_failed",
        refresh_hourly_agg: "upstream_failed",
        refresh_daily_agg: "upstream_failed",
        compute_station_rank: "upstream_failed",
        data_quality_check: "upstream_failed",
      }, output);
      assert.equal(facts.tasks.check_dwh_health.try_number, 3, output);
    },
  );
});
