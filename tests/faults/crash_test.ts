/**
 * Failure drill 1, crash safety: a batch load of a 200,056-message backlog is SIGKILLed ten
 * times while it writes, then run to the end. Every message is counted: the warehouse must hold
 * each published snapshot exactly once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { seededRandom } from "../support/backlog.ts";
import { drillSeed, recordDrill } from "./report.ts";
import {
  assertAuditClean,
  assertMartIsNewestCycle,
  auditRaw,
  drillOn,
  groupOffsets,
  highWatermarks,
  killLoadsWhileWriting,
  Published,
  storedPositions,
  total,
} from "./warehouse_audit.ts";

const CYCLES = 136; // × 1,471 stations = 200,056 messages
const KILLS = 10;
const STATIONS = 1471;

Deno.test("crash safety: a batch load SIGKILLed 10 times while writing, then run to the end, loses and duplicates nothing", async () => {
  const seed = drillSeed();
  const random = seededRandom(seed);
  await using database = await scratchDatabase();
  await using drill = drillOn(database.url, "crash", 3);
  const published = new Published();
  await published.add(drill, CYCLES, seed);

  // One kill in each tenth of the first 80 % of the backlog, at a seeded point within it.
  await killLoadsWhileWriting({
    start: () => drill.start("batch"),
    stored: async () => total(await storedPositions(drill)),
    messages: published.messages,
    kills: KILLS,
    random,
  });
  const killedAt = total(await storedPositions(drill));
  assert.ok(killedAt < published.messages, "the kills left work for the last run");

  const last = await drill.start("batch").finished;
  assert.equal(last.code, 0, last.stderr);

  const audit = await auditRaw(drill, published);
  await recordDrill({
    scenario: `crash safety (${KILLS} × SIGKILL while writing)`,
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
  await assertMartIsNewestCycle(drill, published);
  const ends = await highWatermarks(drill);
  assert.deepEqual(await storedPositions(drill), ends, "the stored positions are the topic's end");
  assert.deepEqual(await groupOffsets(drill), ends, "the group's commits caught up too");
});
