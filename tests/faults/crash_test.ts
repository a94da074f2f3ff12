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
  assertMartIsNewestCycle,
  auditRaw,
  drillOn,
  groupOffsets,
  highWatermarks,
  Published,
  storedPositions,
  total,
  waitUntil,
} from "./warehouse_audit.ts";

const CYCLES = 136; // × 1,471 stations = 200,056 messages
const KILLS = 10;
const STATIONS = 1471;
/**
 * Kills aim at the first 80 % of the backlog: a run overshoots its target by a few batches
 * before the kill lands, and the last one must still find work to do.
 */
const KILLED_SHARE = 0.8;
/** After a commit, a kill waits up to this long, so that it lands inside a later batch. */
const MAX_KILL_DELAY_MS = 250;

Deno.test("crash safety: a batch load SIGKILLed 10 times while writing, then run to the end, loses and duplicates nothing", async () => {
  const seed = drillSeed();
  const random = seededRandom(seed);
  await using database = await scratchDatabase();
  await using drill = drillOn(database.url, "crash", 3);
  const published = new Published();
  await published.add(drill, CYCLES, seed);

  // One kill in each tenth of the first 80 % of the backlog, at a seeded point within it.
  const targets = Array.from(
    { length: KILLS },
    (_, i) => Math.floor(published.messages * KILLED_SHARE * (i + random()) / KILLS),
  );
  for (const [i, target] of targets.entries()) {
    const before = total(await storedPositions(drill));
    const run = drill.start("batch");
    let exited = false;
    run.child.status.then(() => exited = true);
    // Past the target, and past a commit of this run's own: it is writing, not starting.
    await waitUntil(
      `kill ${i + 1} found the load past ${target} messages`,
      async () => {
        const stored = total(await storedPositions(drill));
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
  await assertMartIsNewestCycle(drill, published);
  const ends = await highWatermarks(drill);
  assert.deepEqual(await storedPositions(drill), ends, "the stored positions are the topic's end");
  assert.deepEqual(await groupOffsets(drill), ends, "the group's commits caught up too");
});
