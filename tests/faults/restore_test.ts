/**
 * Failure drill, a restored warehouse: the warehouse is lost and replaced by a backup taken some
 * cycles earlier, while the consumer group has committed everything since. The positions stored
 * in the warehouse are the truth, so the next `batch load` reads the gap again from the topic:
 * every message ends up in raw exactly once, and one log line says what was read again.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { requiredEnv } from "../../core/testing.ts";
import { committedOffsets, createTestTopic, produce } from "../../plugins/kafka/test_support.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { seededRandom } from "../support/backlog.ts";
import { runCli } from "../support/cli.ts";
import { captureSnapshots } from "../support/fixtures.ts";
import { drillSeed, recordDrill } from "./report.ts";

const CONFIG = ["--config", "tests/support/load.config.ts"];
const STATIONS = 1471;
const CYCLES = 5;
const FIRST_CYCLE = Date.parse("2024-05-28T20:10:00Z");

/** Cycle `k` of the capture, as messages keyed by station: collected `k` × 5 min after the first. */
async function cycle(k: number) {
  const snapshots = await captureSnapshots(new Date(FIRST_CYCLE + k * 5 * 60_000));
  return snapshots.map((s) => ({ key: s.station_code, value: JSON.stringify(s) }));
}

/** Rows in raw, and distinct (station, cycle) among them. */
async function rawRows(url: string): Promise<{ rows: number; keys: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: [counted] } = await client.query(
      `SELECT count(*)::int AS rows, count(DISTINCT (station_code, collected_at))::int AS keys
         FROM raw.station_snapshots`,
    );
    return counted;
  } finally {
    await client.end();
  }
}

Deno.test("restored warehouse: a backup older than the group's commits reads its gap again, exactly once", async () => {
  const seed = drillSeed();
  // The backup is taken after 1 to 4 of the 5 cycles.
  const backedUpAfter = 1 + Math.floor(seededRandom(seed)() * (CYCLES - 1));
  const topic = await createTestTopic("restore", 1);
  await using live = await scratchDatabase();
  const env = (url: string) => ({
    KAFKA_BROKERS: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
    DATABASE_URL: url,
    LOAD_TOPIC: topic,
  });
  const load = async (url: string) => {
    const run = await runCli(["batch", "load", ...CONFIG], { env: env(url) });
    assert.equal(run.code, 0, run.stderr);
    return run;
  };

  for (let k = 0; k < backedUpAfter; k++) await produce(topic, await cycle(k));
  await load(live.url);
  await using backup = await scratchDatabase(undefined, { copyOf: live.name });
  for (let k = backedUpAfter; k < CYCLES; k++) await produce(topic, await cycle(k));
  await load(live.url);
  assert.deepEqual(await committedOffsets(topic, `${topic}-warehouse`), { 0: CYCLES * STATIONS });

  // The live warehouse is lost; the backup takes its place, behind the group's commits.
  const restored = await load(backup.url);
  const gap = (CYCLES - backedUpAfter) * STATIONS;
  assert.equal((restored.summary.counters as { read: number }).read, gap, "the cycles it lacked");
  const said = restored.stderr.split("\n").filter((line) => line.includes("behind group"));
  assert.equal(said.length, 1, restored.stderr);
  assert.ok(said[0].includes(`0:${backedUpAfter * STATIONS}..${CYCLES * STATIONS}`), said[0]);

  const again = await load(backup.url);
  assert.equal((again.summary.counters as { read: number }).read, 0, "nothing more to read");
  const { rows, keys } = await rawRows(backup.url);
  const messagesIn = CYCLES * STATIONS;
  await recordDrill({
    scenario: `restored warehouse (backup after ${backedUpAfter} of ${CYCLES} cycles)`,
    seed,
    faults: 1,
    messagesIn,
    rowsOut: rows,
    lost: messagesIn - keys,
    duplicated: rows - keys,
  });
  assert.deepEqual({ rows, keys }, { rows: messagesIn, keys: messagesIn });
});
