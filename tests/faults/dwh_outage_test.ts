/**
 * Failure drills 2 and 3, the warehouse goes away: PostgreSQL (a server of the drill's own) is
 * stopped in the middle of a `batch` load, and for 30 s under a `stream` load while messages
 * keep arriving. Every message is counted once it is back.
 *
 * @module
 */
import assert from "node:assert/strict";
import { seededRandom } from "../support/backlog.ts";
import { startOwnPostgres } from "./postgres_server.ts";
import { drillSeed, recordDrill } from "./report.ts";
import {
  assertAuditClean,
  assertGroupNotAhead,
  assertMartIsNewestCycle,
  auditRaw,
  type Drill,
  drillOn,
  groupOffsets,
  highWatermarks,
  Published,
  storedPositions,
  total,
  waitUntil,
} from "./warehouse_audit.ts";

const PARTITIONS = 3;
const OUTAGE_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the stored positions reached the topic's end on every partition. */
async function loadedAll(drill: Drill): Promise<boolean> {
  const ends = await highWatermarks(drill);
  const stored = await storedPositions(drill);
  return Object.entries(ends).every(([partition, end]) => stored[Number(partition)] === end);
}

/** Asserts that raw holds every published snapshot once and mart the newest cycle. */
async function assertLoadedOnce(drill: Drill, published: Published) {
  const audit = await auditRaw(drill, published);
  assertAuditClean(audit);
  assert.equal(audit.rows, published.messages);
  await assertMartIsNewestCycle(drill, published);
  assert.deepEqual(await storedPositions(drill), await highWatermarks(drill));
  return audit;
}

Deno.test("warehouse outage in a batch run: the run exits 1 with a clear error, acknowledges nothing it did not commit, and the next run completes exactly", async () => {
  const seed = drillSeed();
  const random = seededRandom(seed);
  await using postgres = await startOwnPostgres();
  await using drill = drillOn(postgres.url, "dwh_batch", PARTITIONS);
  const published = new Published();
  await published.add(drill, 40, seed);

  // Stop the server once the run has committed a seeded share (10–50 %) of the backlog.
  const target = Math.floor(published.messages * (0.1 + 0.4 * random()));
  const run = drill.start("batch");
  await waitUntil(
    `the load passed ${target} messages`,
    async () => total(await storedPositions(drill)) >= target,
    run,
  );
  await postgres.stop();
  const failed = await run.finished;
  assert.equal(failed.code, 1, failed.stderr);
  const error = failed.summary.error as { message: string; hint?: string };
  assert.match(error.message, /PostgreSQL at 127\.0\.0\.1:\d+\/velib/);
  assert.match(failed.stderr, /^Error: .*PostgreSQL/m);
  assert.doesNotMatch(failed.stderr, /^\s+at /m, "no stack trace");

  await postgres.start();
  const stored = await storedPositions(drill);
  const committed = await groupOffsets(drill);
  assertGroupNotAhead(committed, stored, PARTITIONS);
  const partial = await auditRaw(drill, published);
  assert.equal(partial.rows, total(stored), "the rows present are those the positions cover");
  assert.ok(partial.rows < published.messages, "the outage cut the load short");

  const next = await drill.start("batch").finished;
  assert.equal(next.code, 0, next.stderr);
  const counters = next.summary.counters as Record<string, number>;
  assert.equal(counters.read, published.messages - total(stored), "resumed where it stopped");
  const audit = await assertLoadedOnce(drill, published);
  await recordDrill({
    scenario: "warehouse outage in a batch run",
    seed,
    faults: 1,
    messagesIn: published.messages,
    rowsOut: audit.rows + audit.deadLetters,
    lost: audit.lost,
    duplicated: audit.duplicated,
  });
});

Deno.test("warehouse outage of 30 s in a stream run: it retries with backoff, stays up, and loads every message once when PostgreSQL is back", async () => {
  const seed = drillSeed();
  const random = seededRandom(seed);
  await using postgres = await startOwnPostgres();
  await using drill = drillOn(postgres.url, "dwh_stream", PARTITIONS);
  const published = new Published();
  await published.add(drill, 10, seed);

  const run = drill.start("stream");
  let exited = false;
  run.child.status.then(() => exited = true);
  await waitUntil("the first cycles are loaded", () => loadedAll(drill), run);

  await postgres.stop();
  // Ingest goes on during the outage: a few cycles every 5 s, as a backlog builds up.
  const outageEnds = Date.now() + OUTAGE_MS;
  while (Date.now() < outageEnds - 5_000) {
    await published.add(drill, 1 + Math.floor(random() * 3), Math.floor(random() * 2 ** 31));
    await sleep(5_000);
  }
  await sleep(Math.max(0, outageEnds - Date.now()));
  assert.equal(exited, false, `the stream stopped during the outage:\n${run.stderr()}`);
  await postgres.start();

  await waitUntil("every message is loaded", () => loadedAll(drill), run, { everyMs: 200 });
  const audit = await assertLoadedOnce(drill, published);
  run.child.kill("SIGTERM");
  const stopped = await run.finished;
  assert.equal(stopped.code, 143, stopped.stderr);
  const retries = stopped.stderr.match(/Could not write postgres \(attempt \d+ of \d+\)/g) ?? [];
  assert.ok(retries.length > 0, `no retry was logged:\n${stopped.stderr}`);
  assert.match(stopped.stderr, /the stream goes on/);
  await recordDrill({
    scenario: "warehouse outage of 30 s in a stream run",
    seed,
    faults: 1,
    messagesIn: published.messages,
    rowsOut: audit.rows + audit.deadLetters,
    lost: audit.lost,
    duplicated: audit.duplicated,
  });
});
