/**
 * Failure drill 3 on ClickHouse, the warehouse goes away: a ClickHouse server of the drill's own
 * is killed in the middle of a `batch` load of `load-clickhouse`, then started again. The run exits 1 with a clear
 * error, its group never commits past what the warehouse holds, and the next run completes:
 * every message counted, as the documented queries read the warehouse (FINAL).
 *
 * @module
 */
import assert from "node:assert/strict";
import { seededRandom } from "../support/backlog.ts";
import { startOwnClickhouse } from "./clickhouse_server.ts";
import { drillSeed, recordDrill } from "./report.ts";
import {
  assertAuditClean,
  assertGroupNotAhead,
  highWatermarks,
  Published,
  total,
  waitUntil,
} from "./warehouse_audit.ts";
import {
  auditClickhouseRaw,
  clickhouseDrill,
  clickhouseGroupOffsets,
  storedClickhousePositions,
} from "./clickhouse_audit.ts";

const PARTITIONS = 3;
/** Enough for the load to take a while: the server dies while it writes. */
const CYCLES = 136;

Deno.test("ClickHouse outage in a batch run: the run exits 1 with a clear error, acknowledges nothing it did not write, and the next run completes exactly", async () => {
  const seed = drillSeed();
  const random = seededRandom(seed);
  await using clickhouse = await startOwnClickhouse();
  await using drill = await clickhouseDrill("ch_outage", PARTITIONS, clickhouse.url);
  const published = new Published();
  await published.add(drill, CYCLES, seed);

  // Stop the server once the run has stored a seeded share (10–50 %) of the backlog.
  const target = Math.floor(published.messages * (0.1 + 0.4 * random()));
  const run = drill.start("batch");
  await waitUntil(
    `the load passed ${target} messages`,
    async () => total(await storedClickhousePositions(drill)) >= target,
    run,
  );
  await clickhouse.kill();
  const failed = await run.finished;
  assert.equal(failed.code, 1, failed.stderr);
  const error = failed.summary.error as { message: string; hint?: string };
  assert.match(error.message, /ClickHouse at 127\.0\.0\.1:\d+/);
  assert.match(failed.stderr, /^Error: .*ClickHouse/m);
  assert.doesNotMatch(failed.stderr, /^\s+at /m, "no stack trace");
  const password = new URL(clickhouse.url).password;
  assert.doesNotMatch(failed.stderr + failed.stdout, new RegExp(password), "no password");

  await clickhouse.start();
  const stored = await storedClickhousePositions(drill);
  const committed = await clickhouseGroupOffsets(drill);
  assertGroupNotAhead(committed, stored, PARTITIONS);
  // Rows go in before their positions: the warehouse holds at least what they cover.
  const partial = await auditClickhouseRaw(drill, published);
  assert.ok(partial.rows >= total(stored), "the rows present cover the positions");
  assert.ok(partial.rows < published.messages, "the outage cut the load short");

  const next = await drill.start("batch").finished;
  assert.equal(next.code, 0, next.stderr);
  const counters = next.summary.counters as Record<string, number>;
  assert.equal(counters.read, published.messages - total(stored), "resumed where it stopped");
  const audit = await auditClickhouseRaw(drill, published);
  assertAuditClean(audit);
  assert.equal(audit.rows, published.messages);
  assert.deepEqual(await storedClickhousePositions(drill), await highWatermarks(drill));
  await recordDrill({
    scenario: "ClickHouse outage in a batch run",
    seed,
    faults: 1,
    messagesIn: published.messages,
    rowsOut: audit.rows + audit.deadLetters,
    lost: audit.lost,
    duplicated: audit.duplicated,
  });
});
