/**
 * The ClickHouse warehouse end to end, through the CLI as Airflow runs it: real Kafka, a real
 * ClickHouse server, the real enrich transform, clickhouse sink, migrations and gold scripts;
 * and beside it the PostgreSQL warehouse, reading the same topic.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv } from "../../core/testing.ts";
import { committedOffsets, createTestTopic, produce } from "../../plugins/kafka/test_support.ts";
import { scratchWarehouse } from "../../plugins/sink-clickhouse/testing.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { runCli } from "../support/cli.ts";
import { captureSnapshots } from "../support/fixtures.ts";

const CONFIG = ["--config", "tests/support/load_clickhouse.config.ts"];
const STATIONS = 1471;
const FIRST_CYCLE = Date.parse("2024-05-28T20:10:00Z");

/** The capture as cycle `k`: collected `k` × 5 minutes after the first. */
const cycle = (k: number) => captureSnapshots(new Date(FIRST_CYCLE + k * 5 * 60_000));

const asMessages = (snapshots: StationSnapshot[]) =>
  snapshots.map((s) => ({ key: s.station_code, value: JSON.stringify(s) }));

const counters = (summary: Record<string, unknown>) => summary.counters as Record<string, number>;

/** A topic with two cycles of the capture, and a ClickHouse warehouse of the test's own. */
async function clickhouseSetup() {
  const topic = await createTestTopic("load_ch", 1);
  await produce(topic, asMessages([...await cycle(0), ...await cycle(1)]));
  const warehouse = await scratchWarehouse("sql/clickhouse/migrations");
  const env = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    LOAD_TOPIC: topic,
    ...warehouse.env,
  };
  const count = async (sql: string) => Number((await warehouse.query<{ n: string }>(sql))[0].n);
  return {
    topic,
    env,
    warehouse,
    count,
    [Symbol.asyncDispose]: () => warehouse[Symbol.asyncDispose](),
  };
}

Deno.test("load-clickhouse: two cycles give 2 × 1,471 snapshots read with FINAL, 1,471 in mart, and a second run changes nothing", async () => {
  await using ch = await clickhouseSetup();
  const first = await runCli(["batch", "load-clickhouse", ...CONFIG], { env: ch.env });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(
    [counters(first.summary).read, counters(first.summary).written],
    [2 * STATIONS, 2 * STATIONS],
  );
  const raw = "SELECT count() AS n FROM raw.station_snapshots FINAL";
  const mart = "SELECT count() AS n FROM mart.station_latest FINAL";
  assert.equal(await ch.count(raw), 2 * STATIONS);
  assert.equal(await ch.count(mart), STATIONS);
  const [position] = await ch.warehouse.query<{ offset: string }>(
    "SELECT toString(max(next_offset)) AS offset FROM pipeline.source_positions WHERE stream = $1",
    [ch.topic],
  );
  assert.equal(position.offset, String(2 * STATIONS));

  const second = await runCli(["batch", "load-clickhouse", ...CONFIG], { env: ch.env });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(counters(second.summary).read, 0);
  assert.equal(await ch.count(raw), 2 * STATIONS);
  assert.equal(await ch.count(mart), STATIONS);
});

Deno.test("load-clickhouse: a rerun writes every snapshot again, and readers still see each once", async () => {
  await using ch = await clickhouseSetup();
  const first = await runCli(["batch", "load-clickhouse", ...CONFIG], { env: ch.env });
  assert.equal(first.code, 0, first.stderr);
  const rerun = await runCli(["rerun", "reload-clickhouse", ...CONFIG], { env: ch.env });
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.equal(counters(rerun.summary).written, 2 * STATIONS, "every snapshot written again");
  // Stored twice until a merge; the documented reads see each once.
  assert.ok(await ch.count("SELECT count() AS n FROM raw.station_snapshots") >= 2 * STATIONS);
  assert.equal(
    await ch.count("SELECT count() AS n FROM raw.station_snapshots FINAL"),
    2 * STATIONS,
  );
  assert.equal(await ch.count("SELECT count() AS n FROM mart.station_latest FINAL"), STATIONS);
  assert.equal(
    await ch.count("SELECT count() AS n FROM mart.hourly_station_stats FINAL"),
    await ch.count(
      "SELECT count() AS n FROM (SELECT DISTINCT system_id, station_code, " +
        "toStartOfHour(collected_at, 'Europe/Paris') FROM raw.station_snapshots)",
    ),
  );
});

/** The hourly stats of a warehouse, as comparable rows: instants as epoch seconds. */
interface HourlyRow {
  system_id: string;
  station_code: string;
  bucket_start: number;
  station_name: string;
  avg_bikes: number;
  avg_docks: number;
  avg_occupancy_rate: number | null;
  min_bikes: number;
  max_bikes: number;
  snapshot_count: number;
  saturated_count: number;
  empty_count: number;
  out_of_service_count: number;
  capacity: number;
}

const HOURLY_COLUMNS = "system_id, station_code, station_name, avg_bikes, avg_docks, " +
  "avg_occupancy_rate, min_bikes, max_bikes, snapshot_count, saturated_count, empty_count, " +
  "out_of_service_count, capacity";

/** Numbers as numbers, whatever type the driver gave them. */
const asHourly = (row: Record<string, unknown>): HourlyRow => {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = key === "system_id" || key === "station_code" || key === "station_name"
      ? value
      : value === null
      ? null
      : Number(value);
  }
  return out as unknown as HourlyRow;
};

Deno.test("both warehouses from one topic: load and load-clickhouse each get every message, and their hourly stats and ranking agree row for row", async () => {
  await using ch = await clickhouseSetup();
  await using database = await scratchDatabase();
  const env = { ...ch.env, DATABASE_URL: database.url };

  const postgres = await runCli(["batch", "load", ...CONFIG], { env });
  assert.equal(postgres.code, 0, postgres.stderr);
  const clickhouse = await runCli(["batch", "load-clickhouse", ...CONFIG], { env });
  assert.equal(clickhouse.code, 0, clickhouse.stderr);

  // Each consumer read the whole topic with its own group; neither moved the other's.
  assert.deepEqual(await committedOffsets(ch.topic, `${ch.topic}-warehouse`), { 0: 2 * STATIONS });
  assert.deepEqual(await committedOffsets(ch.topic, `${ch.topic}-clickhouse`), {
    0: 2 * STATIONS,
  });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows: [pgRaw] } = await client.query(
      "SELECT count(*)::int AS n FROM raw.station_snapshots",
    );
    assert.equal(pgRaw.n, 2 * STATIONS);
    assert.equal(
      await ch.count("SELECT count() AS n FROM raw.station_snapshots FINAL"),
      2 * STATIONS,
    );

    const { rows: pgRows } = await client.query(
      `SELECT extract(epoch FROM bucket_start)::bigint AS bucket_start, ${HOURLY_COLUMNS}
       FROM mart.hourly_station_stats ORDER BY system_id, station_code, bucket_start`,
    );
    const chRows = await ch.warehouse.query(
      `SELECT toUInt32(bucket_start) AS bucket_start, ${HOURLY_COLUMNS}
       FROM mart.hourly_station_stats FINAL ORDER BY system_id, station_code, bucket_start`,
    );
    assert.equal(pgRows.length, STATIONS, "both cycles fall in the same hour");
    assert.equal(chRows.length, pgRows.length);
    chRows.map(asHourly).forEach((row, i) => {
      const expected = asHourly(pgRows[i]);
      // Averages are rounded to 2 (occupancy 4) decimals on both sides, each its own way.
      for (const key of ["avg_bikes", "avg_docks"] as const) {
        assert.ok(Math.abs(row[key] - expected[key]) <= 0.01, `${key} of row ${i}`);
      }
      if (expected.avg_occupancy_rate === null) assert.equal(row.avg_occupancy_rate, null);
      else assert.ok(Math.abs(row.avg_occupancy_rate! - expected.avg_occupancy_rate) <= 1e-4);
      const exact = (r: HourlyRow) => ({
        ...r,
        avg_bikes: 0,
        avg_docks: 0,
        avg_occupancy_rate: 0,
      });
      assert.deepEqual(exact(row), exact(expected), `row ${i}`);
    });

    const RANKING = "system_id, station_code, station_name, snapshot_count, minutes_saturated, " +
      "minutes_empty, rank_saturation, rank_empty";
    const { rows: pgRanking } = await client.query(
      `SELECT ${RANKING} FROM mart.station_ranking
       WHERE computed_at = (SELECT max(computed_at) FROM mart.station_ranking)
       ORDER BY system_id, station_code`,
    );
    const chRanking = await ch.warehouse.query(
      `SELECT ${RANKING} FROM mart.station_ranking
       WHERE computed_at = (SELECT max(computed_at) FROM mart.station_ranking)
       ORDER BY system_id, station_code`,
    );
    assert.equal(pgRanking.length, STATIONS);
    assert.ok(pgRanking.some((row) => Number(row.minutes_saturated) > 0), "some saturation");
    assert.deepEqual(chRanking.map(asHourly), pgRanking.map(asHourly));
  } finally {
    await client.end();
  }
});
