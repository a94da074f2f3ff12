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
import {
  assertAuditClean,
  highWatermarks,
  killLoadsWhileWriting,
  Published,
  total,
} from "./warehouse_audit.ts";
import {
  auditClickhouseRaw,
  clickhouseDrill,
  clickhouseGroupOffsets,
  storedClickhousePositions,
} from "./clickhouse_audit.ts";

const CYCLES = 136; // × 1,471 stations = 200,056 messages
const KILLS = 10;
const STATIONS = 1471;

Deno.test("crash safety on ClickHouse: a batch load SIGKILLed 10 times while writing, then run to the end, loses and duplicates nothing", async () => {
  const seed = drillSeed();
  const random = seededRandom(seed);
  await using drill = await clickhouseDrill("crash_ch", 3);
  const published = new Published();
  await published.add(drill, CYCLES, seed);

  await killLoadsWhileWriting({
    start: () => drill.start("batch"),
    stored: async () => total(await storedClickhousePositions(drill)),
    messages: published.messages,
    kills: KILLS,
    random,
  });
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
  assertAuditClean(audit);
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
