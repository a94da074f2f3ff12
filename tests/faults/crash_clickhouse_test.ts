/**
 * Failure drill 1 on ClickHouse, crash safety: a batch load of a 200,056-message backlog into
 * the ClickHouse warehouse is SIGKILLed ten times while it writes, then run to the end. Every
 * message is counted, as the documented queries read the warehouse (FINAL): each published
 * snapshot exactly once. A kill between a batch's rows and its positions leaves rows that the
 * next run writes again; they collapse.
 *
 * @module
 */
import assert from "node:assert/strict";
import { seededRandom } from "../support/backlog.ts";
import { drillSeed, recordDrill } from "./report.ts";
import { highWatermarks, Published, total, waitUntil } from "./warehouse_audit.ts";
import {
  auditClickhouseRaw,
  clickhouseDrill,
  clickhouseGroupOffsets,
  storedClickhousePositions,
} from "./clickhouse_audit.ts";

const CYCLES = 136; // × 1,471 stations = 200,056 messages
const KILLS = 10;
const STATIONS = 1471;
/** Kills aim at the first 80 % of the backlog, so that the last run still finds work. */
const KILLED_SHARE = 0.8;
/** After a stored position, a kill waits up to this long, so that it lands inside a batch. */
const MAX_KILL_DELAY_MS = 250;

Deno.test("crash safety on ClickHouse: a batch load SIGKILLed 10 times while writing, then run to the end, loses and duplicates nothing", async () => {
  const seed = drillSeed();
  const random = seededRandom(seed);
  await using drill = await clickhouseDrill("crash_ch", 3);
  const published = new Published();
  await published.add(drill, CYCLES, seed);

  const targets = Array.from(
    { length: KILLS },
    (_, i) => Math.floor(published.messages * KILLED_SHARE * (i + random()) / KILLS),
  );
  for (const [i, target] of targets.entries()) {
    const before = total(await storedClickhousePositions(drill));
    const run = drill.start("batch");
    let exited = false;
    run.child.status.then(() => exited = true);
    await waitUntil(
      `kill ${i + 1} found the load past ${target} messages`,
      async () => {
        const stored = total(await storedClickhousePositions(drill));
        return stored > before && stored >= target;
      },
      run,
    );
    await new Promise((resolve) => setTimeout(resolve, random() * MAX_KILL_DELAY_MS));
    assert.equal(exited, false, `kill ${i + 1} came after the run ended:\n${run.stderr()}`);
    run.child.kill("SIGKILL");
    assert.equal((await run.child.status).signal, "SIGKILL");
    await run.finished.catch(() => {}); // killed: there is no summary line
  }
  const killedAt = total(await storedClickhousePositions(drill));
  assert.ok(killedAt < published.messages, "the kills left work for the last run");

  const last = await drill.start("batch").finished;
  assert.equal(last.code, 0, last.stderr);

  const audit = await auditClickhouseRaw(drill, published);
  await recordDrill({
    scenario: `crash safety on ClickHouse (${KILLS} × SIGKILL while writing)`,
    seed,
    faults: KILLS,
    messagesIn: published.messages,
    rowsOut: audit.rows + audit.deadLetters,
    lost: audit.lost,
    duplicated: audit.duplicated,
  });
  assert.deepEqual(
    {
      lost: audit.lost,
      duplicated: audit.duplicated,
      unexpected: audit.unexpected,
      deadLetters: audit.deadLetters,
    },
    { lost: 0, duplicated: 0, unexpected: 0, deadLetters: 0 },
  );
  assert.deepEqual(
    audit.perCycle,
    published.collectedAts.map((at) => [at, STATIONS]),
    "exactly 1,471 rows for each of the 136 collected_at",
  );
  const [mart] = await drill.warehouse.query<{ n: string; oldest: number }>(
    "SELECT count() AS n, toUInt32(min(collected_at)) AS oldest FROM mart.station_latest FINAL",
  );
  assert.equal(Number(mart.n), STATIONS, "one mart row per station");
  assert.equal(
    Number(mart.oldest) * 1000,
    Date.parse(published.collectedAts.at(-1)!),
    "each station's row is of the newest cycle",
  );
  const ends = await highWatermarks(drill);
  assert.deepEqual(await storedClickhousePositions(drill), ends, "stored positions at the end");
  assert.deepEqual(await clickhouseGroupOffsets(drill), ends, "the group's commits caught up too");
});
