/**
 * The `load` pipeline end to end, through the CLI as Airflow runs it: real Kafka, real
 * PostgreSQL, the real enrich transform, warehouse sink and migrations.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv } from "../../core/testing.ts";
import { committedOffsets, createTestTopic, produce } from "../../plugins/kafka/test_support.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { runCli, startCliUntilHung } from "../support/cli.ts";
import { captureSnapshots } from "../support/fixtures.ts";

const CONFIG = ["--config", "tests/support/load.config.ts"];
const STATIONS = 1471;
const FIRST_CYCLE = Date.parse("2024-05-28T20:10:00Z");

/** The capture as cycle `k`: collected `k` × 5 minutes after the first. */
const cycle = (k: number) => captureSnapshots(new Date(FIRST_CYCLE + k * 5 * 60_000));

const asMessages = (snapshots: StationSnapshot[]) =>
  snapshots.map((s) => ({ key: s.station_code, value: JSON.stringify(s) }));

/** A topic and a database of the test's own, and a client on the database. */
async function loadSetup(partitions = 1) {
  const database = await scratchDatabase();
  const topic = await createTestTopic("load", partitions);
  const env = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    DATABASE_URL: database.url,
    LOAD_TOPIC: topic,
  };
  const client = new pg.Client({ connectionString: database.url });
  // The tables are created by the first run's migrations; until then a count is 0.
  const count = async (table: "raw.station_snapshots" | `${"mart" | "pipeline"}.${string}`) => {
    const { rows: [found] } = await client.query("SELECT to_regclass($1) IS NOT NULL AS t", [
      table,
    ]);
    if (!found.t) return 0;
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
    return rows[0].n as number;
  };
  await client.connect();
  return {
    env,
    topic,
    client,
    count,
    async [Symbol.asyncDispose]() {
      await client.end();
      await database[Symbol.asyncDispose]();
    },
  };
}

const counters = (summary: Record<string, unknown>) => summary.counters as Record<string, number>;

Deno.test("batch load: 3 cycles give 3 × 1,471 raw rows and 1,471 in mart, and a rerun changes nothing", async () => {
  await using setup = await loadSetup();
  for (const k of [0, 1, 2]) await produce(setup.topic, asMessages(await cycle(k)));

  const first = await runCli(["batch", "load", ...CONFIG], { env: setup.env });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(counters(first.summary).written, 3 * STATIONS);
  assert.equal(await setup.count("raw.station_snapshots"), 3 * STATIONS);
  assert.equal(await setup.count("mart.station_latest"), STATIONS);
  const { rows: [latest] } = await setup.client.query(
    "SELECT min(collected_at) AS oldest, max(collected_at) AS newest FROM mart.station_latest",
  );
  assert.equal(latest.oldest.getTime(), FIRST_CYCLE + 2 * 5 * 60_000);
  assert.equal(latest.newest.getTime(), FIRST_CYCLE + 2 * 5 * 60_000);

  const again = await runCli(["batch", "load", ...CONFIG], { env: setup.env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(counters(again.summary).read, 0);
  assert.equal(await setup.count("raw.station_snapshots"), 3 * STATIONS);
  assert.equal(await setup.count("mart.station_latest"), STATIONS);
});

Deno.test("batch load: an older cycle published late is kept in raw and does not regress mart", async () => {
  await using setup = await loadSetup();
  await produce(setup.topic, asMessages(await cycle(2)));
  const first = await runCli(["batch", "load", ...CONFIG], { env: setup.env });
  assert.equal(first.code, 0, first.stderr);

  await produce(setup.topic, asMessages(await cycle(-1)));
  const late = await runCli(["batch", "load", ...CONFIG], { env: setup.env });
  assert.equal(late.code, 0, late.stderr);
  assert.equal(await setup.count("raw.station_snapshots"), 2 * STATIONS);
  const { rows } = await setup.client.query(
    "SELECT DISTINCT collected_at FROM mart.station_latest",
  );
  assert.deepEqual(rows.map((row) => row.collected_at.getTime()), [FIRST_CYCLE + 10 * 60_000]);
});

Deno.test("batch load: poison messages go to dead letters with their reasons, the good rows load, and none is read again", async () => {
  await using setup = await loadSetup();
  const [a, b, c, d] = (await cycle(0)).slice(0, 4);
  const { station_code: _, ...withoutCode } = b;
  const poison = [
    { name: "non-JSON", value: "{not json", reason: /not valid JSON/ },
    {
      name: "no station_code",
      value: JSON.stringify(withoutCode),
      reason: /station_code is missing/,
    },
    {
      name: "negative bikes",
      value: JSON.stringify({ ...c, bikes_available: -3 }),
      reason: /bikes_available must be a non-negative integer, got -3/,
    },
    {
      name: "wrong types",
      value: JSON.stringify({ ...d, is_installed: "OUI", latitude: "48.8" }),
      reason: /is_installed: expected boolean.*latitude: expected number/,
    },
    {
      name: "1 MiB value",
      value: JSON.stringify({ ...d, station_code: "X".repeat(1024 * 1024) }),
      reason: /station_code must be at most 64 characters/,
    },
  ];
  const good = [a, b, c, d].map((s) => ({ key: s.station_code, value: JSON.stringify(s) }));
  await produce(setup.topic, [
    good[0],
    poison[0],
    good[1],
    poison[1],
    poison[2],
    good[2],
    poison[3],
    poison[4],
    good[3],
  ]);

  const run = await runCli(["batch", "load", ...CONFIG], { env: setup.env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(counters(run.summary).rejected, poison.length);
  const { rows: loaded } = await setup.client.query(
    "SELECT station_code FROM raw.station_snapshots ORDER BY station_code",
  );
  assert.deepEqual(
    loaded.map((row) => row.station_code),
    [a, b, c, d].map((s) => s.station_code).sort(),
  );
  const { rows: dead } = await setup.client.query(
    "SELECT reason, source_offset::int AS offset, length(payload) AS size FROM pipeline.dead_letters ORDER BY source_offset",
  );
  assert.deepEqual(dead.map((row) => row.offset), [1, 3, 4, 6, 7]);
  dead.forEach((row, i) => assert.match(row.reason, poison[i].reason, poison[i].name));
  assert.ok(dead[4].size > 1024 * 1024, "the 1 MiB payload is kept whole");

  const again = await runCli(["batch", "load", ...CONFIG], { env: setup.env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(counters(again.summary).read, 0);
  assert.equal(await setup.count("pipeline.dead_letters"), poison.length);
});

Deno.test("batch load: killed between the warehouse commit and the group commit, the next run loads nothing twice", async () => {
  await using setup = await loadSetup();
  await produce(setup.topic, asMessages(await cycle(0)));
  // Hung once the warehouse transaction has committed and before the ack.
  const hung = await startCliUntilHung(["batch", "load", ...CONFIG], { env: setup.env });
  hung.child.kill("SIGKILL");
  await hung.child.status;
  await hung.finished.catch(() => {}); // killed: there is no summary
  // The first batch is whatever the first fetch returned: its rows and position committed.
  const { rows: [stored] } = await setup.client.query(
    "SELECT next_offset::int AS position FROM pipeline.source_positions WHERE stream = $1",
    [setup.topic],
  );
  assert.ok(stored.position > 0);
  assert.equal(await setup.count("raw.station_snapshots"), stored.position);
  assert.deepEqual(
    await committedOffsets(setup.topic, `${setup.topic}-warehouse`),
    { 0: -1 },
    "the group commit never happened",
  );

  const next = await runCli(["batch", "load", ...CONFIG], { env: setup.env });
  assert.equal(next.code, 0, next.stderr);
  assert.equal(
    counters(next.summary).read,
    STATIONS - stored.position,
    "resumed from the position stored with the rows, not from the group's",
  );
  assert.equal(await setup.count("raw.station_snapshots"), STATIONS);
  assert.deepEqual(
    await committedOffsets(setup.topic, `${setup.topic}-warehouse`),
    { 0: STATIONS },
    "the group commit follows, for Kafka's own lag tools",
  );
});

Deno.test("batch load: two instances on a 3-partition topic load every message exactly once between them", async () => {
  await using setup = await loadSetup(3);
  const cycles = [await cycle(0), await cycle(1), await cycle(2)];
  await produce(setup.topic, cycles.flatMap(asMessages));
  // Both runs migrate the same fresh database at once: the advisory lock serializes them.
  const [one, two] = await Promise.all([
    runCli(["batch", "load", ...CONFIG], { env: setup.env }),
    runCli(["batch", "load", ...CONFIG], { env: setup.env }),
  ]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.ok(counters(one.summary).read + counters(two.summary).read >= 3 * STATIONS);
  assert.equal(await setup.count("raw.station_snapshots"), 3 * STATIONS);
  const { rows } = await setup.client.query(
    "SELECT count(*)::int AS n FROM (SELECT station_code, collected_at FROM raw.station_snapshots " +
      "GROUP BY 1, 2 HAVING count(*) > 1) AS twice",
  );
  assert.equal(rows[0].n, 0);
  const positions = await setup.client.query(
    "SELECT sum(next_offset)::int AS total FROM pipeline.source_positions WHERE stream = $1",
    [setup.topic],
  );
  assert.equal(positions.rows[0].total, 3 * STATIONS, "every partition stored up to its end");
});

Deno.test("step load refresh-hourly runs alone and reports the rows it touched and its time", async () => {
  await using setup = await loadSetup();
  await produce(setup.topic, asMessages(await cycle(0)));
  const loaded = await runCli(["batch", "load", "--load-only", ...CONFIG], { env: setup.env });
  assert.equal(loaded.code, 0, loaded.stderr);
  assert.deepEqual(loaded.summary.steps, []);
  assert.equal(await setup.count("mart.hourly_station_stats"), 0);

  const step = await runCli(["step", "load", "refresh-hourly", ...CONFIG], { env: setup.env });
  assert.equal(step.code, 0, step.stderr);
  assert.equal(counters(step.summary).read, 0);
  const [hourly] = step.summary.steps as Array<{ name: string; rows: number; durationMs: number }>;
  assert.equal(hourly.name, "refresh-hourly");
  assert.equal(hourly.rows, STATIONS);
  assert.equal(typeof hourly.durationMs, "number");
  assert.equal(await setup.count("mart.hourly_station_stats"), STATIONS);
});
