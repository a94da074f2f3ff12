/**
 * Failure drill 7 on ClickHouse: the hostile strings of drill 7, published to real Kafka and
 * loaded by `pipeline batch load-clickhouse` into a real ClickHouse server, through the CLI. Each
 * one is stored verbatim (ClickHouse strings are bytes: NUL included) or, when it is not valid
 * Unicode, set aside in `pipeline.dead_letters` with a reason; none runs as SQL.
 *
 * Every snapshot here is synthetic; none pretends to be a real station.
 *
 * @module
 */
import assert from "node:assert/strict";
import { requiredEnv } from "../../core/testing.ts";
import { createTestTopic, produce } from "../../plugins/kafka/test_support.ts";
import { scratchWarehouse } from "../../plugins/sink-clickhouse/testing.ts";
import { runCli } from "../support/cli.ts";
import { hostileSnapshots, INJECTION, judgeHostile, TEXT_FIELDS } from "./hostile.ts";
import { drillSeed, recordDrill } from "./report.ts";

const CONFIG = ["--config", "tests/support/load_clickhouse.config.ts"];

/** What ClickHouse cannot hold as sent: text that is not valid Unicode. */
const UNSTORABLE: Record<string, RegExp> = { "lone surrogate": /lone surrogate/ };

const TABLES = "SELECT concat(database, '.', name) AS name FROM system.tables " +
  "WHERE startsWith(database, $1) ORDER BY name";

Deno.test("hostile strings on ClickHouse: each is stored verbatim in raw and mart or dead-lettered with a reason, and none runs as SQL", async () => {
  const seed = drillSeed();
  await using warehouse = await scratchWarehouse("sql/clickhouse/migrations");
  const topic = await createTestTopic("hostile_ch", 1);
  const env = {
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    LOAD_TOPIC: topic,
    ...warehouse.env,
  };
  const prefix = warehouse.env.CLICKHOUSE_DATABASE_PREFIX;
  const migrated = await runCli(["migrate", "load-clickhouse", ...CONFIG], { env });
  assert.equal(migrated.code, 0, migrated.stderr);
  const before = await warehouse.query<{ name: string }>(TABLES, [prefix]);

  const hostile = hostileSnapshots(seed);
  const snapshots = hostile.map(({ snapshot }) => snapshot);
  const notJson = `${INJECTION}\u0000 {not json`;
  await produce(topic, [
    ...snapshots.map((s) => ({ key: s.station_code, value: JSON.stringify(s) })),
    { key: INJECTION, value: notJson },
  ]);
  const run = await runCli(["batch", "load-clickhouse", ...CONFIG], { env });
  assert.equal(run.code, 0, run.stderr);
  const counters = run.summary.counters as Record<string, number>;
  assert.equal(counters.read, snapshots.length + 1);

  const columns = TEXT_FIELDS.join(", ");
  const raw = await warehouse.query(`SELECT ${columns} FROM raw.station_snapshots FINAL`);
  const mart = await warehouse.query(`SELECT ${columns} FROM mart.station_latest FINAL`);
  const hourly = await warehouse.query(
    "SELECT station_code, station_name FROM mart.hourly_station_stats FINAL",
  );
  const dead = await warehouse.query(
    "SELECT reason, payload, toUInt32(source_offset) AS offset FROM pipeline.dead_letters FINAL",
  );
  const { stored, deadLettered, deadByOffset, rawByCode } = judgeHostile(
    hostile,
    { raw, mart, hourly, dead },
    UNSTORABLE,
  );
  const letter = deadByOffset.get(snapshots.length);
  assert.match(String(letter?.reason), /not valid JSON/);
  assert.equal(letter?.payload, notJson, "kept as it arrived, NUL included");

  const after = await warehouse.query<{ name: string }>(TABLES, [prefix]);
  assert.deepEqual(after, before, "no table created or dropped");
  assert.equal(raw.length, stored);
  assert.equal(mart.length, stored);
  assert.equal(dead.length, deadLettered + 1);
  assert.equal(counters.written, stored);
  assert.equal(counters.rejected, deadLettered + 1);

  const again = await runCli(["batch", "load-clickhouse", ...CONFIG], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.summary.counters as Record<string, number>).read, 0, "nothing jammed");
  await recordDrill({
    scenario: "hostile strings (ClickHouse)",
    seed,
    faults: snapshots.length + 1,
    messagesIn: snapshots.length + 1,
    rowsOut: stored + deadLettered + 1,
    lost: snapshots.length + 1 - stored - deadLettered - 1,
    duplicated: raw.length - rawByCode.size,
  });
});
