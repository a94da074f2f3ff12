/**
 * Failure drill 4: Kafka goes away under a running ingest and comes back, twice. The broker is
 * the drill's own (the shared one must stay up). First it is stopped at a random moment of a
 * cycle, kept down while cycles fail, and started again on the same port with its data. Then it
 * freezes (a long GC pause, a partition): a cycle is sent and never answered, fails after its
 * retries, and the broker, once it goes on, may write it all the same, but in a transaction
 * that is aborted: a `read_committed` reader sees every acknowledged cycle and nothing else.
 *
 * @module
 */
import assert from "node:assert/strict";
import { sleep } from "../../core/retry.ts";
import { uniqueName } from "../../core/testing.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { CAPTURE_MOMENT, seededRandom } from "../support/backlog.ts";
import { captureSnapshots } from "../support/fixtures.ts";
import { type ReplayServer, withReplayServer } from "../support/velib_replay.ts";
import {
  cyclesInTopic,
  type LogRecord,
  logRecords,
  sourceCycles,
  startDrillIngest,
  STATIONS_IN_CAPTURE,
  tallyCycles,
} from "./ingest_cycles.ts";
import { startDrillBroker } from "./kafka_broker.ts";
import { drillSeed, recordDrill } from "./report.ts";

/** The drill config's interval between cycles. */
const INTERVAL_MS = 1_500;

/** Polls `condition` until it holds; the child's exit ends the wait (its output then tells). */
async function until(condition: () => boolean, exited: () => boolean): Promise<void> {
  while (!condition() && !exited()) await sleep(20);
}

/**
 * The source cycle each cycle of the topic came from: the first cycle read whole at or after
 * its `collected_at` (the source stamps a snapshot as soon as it has it, then logs it).
 */
function sourceCycleOf(collectedAt: string, logs: readonly LogRecord[]): number | undefined {
  const reads = logs.filter((log) =>
    log.logger === "pipeline.ingest.velib" && typeof log.properties.stations === "number"
  );
  const at = Date.parse(collectedAt);
  return reads.find((log) => Date.parse(log["@timestamp"]) >= at)
    ?.properties.cycle as number | undefined;
}

/** Reads opened on the replay: one per cycle, since the drill injects no API fault. */
const readsOpened = (replay: ReplayServer) =>
  replay.requests.filter((request) =>
    request.path.endsWith("/records") && new URLSearchParams(request.query).get("offset") === "0"
  ).length;

Deno.test("through a Kafka outage and a frozen broker, ingest stays up, counts and logs each cycle it gives up, publishes again once the broker is back, and the topic holds every acknowledged cycle whole, each station once, and no cycle it gave up", async () => {
  const seed = drillSeed();
  const random = seededRandom(seed);
  const cyclesBefore = 2 + Math.floor(random() * 3);
  const stopIntoCycleMs = Math.floor(random() * INTERVAL_MS);
  const cyclesFailedBeforeRestart = 1 + Math.floor(random() * 2);
  const cyclesAfter = 2 + Math.floor(random() * 2);
  const freezeIntoCycleMs = Math.floor(random() * INTERVAL_MS);
  const topic = uniqueName("velib-outage");
  const codes = (await captureSnapshots(CAPTURE_MOMENT)).map((station) => station.station_code);
  await using broker = await startDrillBroker();

  const { run, restartedAt, thawedAt } = await withReplayServer(async (replay) => {
    const ingest = startDrillIngest({ brokers: broker.brokers, topic, apiUrl: replay.baseUrl });
    let exited = false;
    ingest.child.status.then(() => exited = true);
    const cycles = () => sourceCycles(logRecords(ingest.stderr()));
    // Cycles after `opened` that were published: read whole, not given up, and done with (the
    // next one has begun).
    const publishedSince = (opened: number) => {
      const { read, dropped } = cycles();
      const begun = readsOpened(replay);
      return read.filter((n) => n > opened && n < begun && !dropped.includes(n)).length;
    };

    // Some cycles published (the one after them has begun), then the broker goes down at a
    // random moment of the next one: while it is fetched, published, or waited for.
    await until(() => readsOpened(replay) > cyclesBefore, () => exited);
    await until(() => cycles().read.length > cyclesBefore, () => exited);
    await sleep(stopIntoCycleMs);
    await broker.stop();
    await until(() => cycles().dropped.length >= cyclesFailedBeforeRestart, () => exited);
    await broker.start();
    const restartedAt = readsOpened(replay);
    await until(() => publishedSince(restartedAt) >= cyclesAfter, () => exited);

    // Frozen at a random moment of a cycle: that cycle's write, or the next one's, goes
    // unanswered until the cycle is given up; then the broker handles the requests it holds.
    const readBeforeFreeze = cycles().read.length;
    await until(() => cycles().read.length > readBeforeFreeze, () => exited);
    await sleep(freezeIntoCycleMs);
    const droppedBeforeFreeze = cycles().dropped.length;
    broker.freeze();
    await until(() => cycles().dropped.length > droppedBeforeFreeze, () => exited);
    broker.thaw();
    const thawedAt = readsOpened(replay);
    await until(() => publishedSince(thawedAt) >= cyclesAfter, () => exited);
    // The next cycle holds on a slow answer, so that the stop finds no cycle half-published.
    replay.injectFault({ kind: "delay", ms: 60_000 });
    const held = readsOpened(replay) + 1;
    await until(() => readsOpened(replay) >= held, () => exited);
    if (!exited) ingest.child.kill("SIGTERM");
    return { run: await ingest.finished, restartedAt, thawedAt };
  });

  const logs = logRecords(run.stderr);
  const cycles = sourceCycles(logs);
  const counters = run.summary.counters as Record<string, number>;
  const inTopic = cyclesInTopic(await broker.readTopic(topic));
  const published = inTopic.map(([collectedAt]) => sourceCycleOf(collectedAt, logs));
  const acknowledged = cycles.read.filter((cycle) => !cycles.dropped.includes(cycle));
  const tally = tallyCycles(inTopic, codes);
  const lostCycles = acknowledged.filter((cycle) => !published.includes(cycle)).length;
  // Given up, yet committed: what the transactions are there to prevent.
  const writtenAfterAll = published.filter((cycle) => !acknowledged.includes(cycle!));
  const rowsOut = inTopic.reduce((sum, [, messages]) => sum + messages.length, 0);
  await recordDrill({
    scenario: "Kafka outage (stopped and started, then frozen)",
    seed,
    faults: 2,
    messagesIn: counters.acknowledged,
    rowsOut,
    lost: tally.lost + lostCycles * STATIONS_IN_CAPTURE,
    duplicated: tally.duplicated,
  });
  console.log(
    `cycles: ${cycles.read.length} read from the API, ${acknowledged.length} published, ` +
      `${cycles.dropped.length} given up while Kafka was down or frozen (${writtenAfterAll.length} ` +
      "of them written all the same)",
  );

  assert.equal(run.code, 143, run.stderr);
  assert.equal(run.summary.exitReason, "signal");
  assert.deepEqual(cycles.failed, [], "no cycle failed at the API");
  assert.equal(counters.batches, cycles.read.length);
  // Each cycle given up: counted, and logged by the runner and by the source.
  assert.ok(cycles.dropped.length >= cyclesFailedBeforeRestart + 1, run.stderr);
  assert.equal(counters.nacked, cycles.dropped.length);
  const notWritten = logs.filter((log) =>
    /^A batch of \d+ record\(s\) was not written/.test(log.message)
  );
  assert.equal(notWritten.length, cycles.dropped.length);
  assert.equal(counters.acknowledged, acknowledged.length * STATIONS_IN_CAPTURE);
  // Publishing resumed after the restart and after the thaw.
  const acknowledgedAfter = (opened: number) => acknowledged.filter((n) => n > opened).length;
  assert.ok(acknowledgedAfter(restartedAt) >= 2 * cyclesAfter, `${acknowledged}`);
  assert.ok(acknowledgedAfter(thawedAt) >= cyclesAfter, `${acknowledged}`);
  // Every cycle in the topic is whole: each station once, keyed by its code.
  assert.deepEqual(tally, { lost: 0, duplicated: 0 });
  for (const [, messages] of inTopic) {
    assert.deepEqual(
      messages.map((m) => m.key),
      messages.map((m) => (m.value as StationSnapshot).station_code),
    );
  }
  // Every cycle acknowledged is in the topic, and nothing else: a cycle given up was aborted,
  // even when the broker had it and could not answer.
  assert.deepEqual(acknowledged.filter((cycle) => !published.includes(cycle)), [], "lost");
  assert.deepEqual(writtenAfterAll, [], "given up, yet committed");
  assert.equal(rowsOut, counters.acknowledged);
});
