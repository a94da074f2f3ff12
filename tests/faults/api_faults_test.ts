/**
 * Failure drill 5: the Vélib' API misbehaving over a long run. Fifty cycles of `stream ingest`
 * against the replay of the real capture, with every fault the replay can inject mixed at random
 * among clean cycles. A fault fails its cycle, or not, as source-velib documents; a failed cycle
 * publishes nothing and the run goes on; every other cycle is the capture, exactly. The drill
 * pages through `/records`; short exports get a run of their own with `fetch: "exports"`, the
 * production read.
 *
 * @module
 */
import assert from "node:assert/strict";
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import { sleep } from "../../core/retry.ts";
import { kafkaSink } from "../../plugins/kafka/mod.ts";
import { type VelibSource, velibSource } from "../../plugins/source-velib/mod.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import { CAPTURE_MOMENT, seededRandom } from "../support/backlog.ts";
import { captureSnapshots } from "../support/fixtures.ts";
import { readTopic } from "../support/kafka.ts";
import { streamThroughFaults } from "../support/fault_cycles.ts";
import { type ReplayFault, type ReplayRequest, withReplayServer } from "../support/velib_replay.ts";
import {
  cyclesInTopic,
  logRecords,
  sourceCycles,
  startDrillIngest,
  STATIONS_IN_CAPTURE,
  tallyCycles,
} from "./ingest_cycles.ts";
import { drillSeed, recordDrill } from "./report.ts";

const CYCLES = 50;

/** A way the API breaks a cycle, and what the source does about it by its documentation. */
interface FaultCase {
  name: string;
  fault: ReplayFault;
  /** The cycle publishes nothing: the snapshot cannot be had whole within the cycle. */
  fails: boolean;
  /** The source asks again within the cycle (a `Retry-After` it can wait out). */
  asksAgain?: boolean;
}

/**
 * Every mode of the replay, with the variants that the source treats differently. The drill
 * config gives a request 1 s and a cycle 1.5 s; the source waits at least 1 s on a
 * `Retry-After`, and only when that wait ends before the next cycle is due.
 */
const FAULT_CASES: readonly FaultCase[] = [
  { name: "an answer after the timeout", fault: { kind: "delay", ms: 3_000 }, fails: true },
  { name: "a slow answer within the timeout", fault: { kind: "delay", ms: 200 }, fails: false },
  { name: "HTTP 500", fault: { kind: "http-error", status: 500 }, fails: true },
  { name: "HTTP 503 without Retry-After", fault: { kind: "http-error", status: 503 }, fails: true },
  { name: "HTTP 429 without Retry-After", fault: { kind: "http-error", status: 429 }, fails: true },
  { name: "HTTP 404", fault: { kind: "http-error", status: 404 }, fails: true },
  {
    name: "Retry-After: 0 (waited 1 s, within the cycle)",
    fault: { kind: "retry-after", status: 503, retryAfter: 0 },
    fails: false,
    asksAgain: true,
  },
  {
    name: "Retry-After: a date already past",
    fault: { kind: "retry-after", status: 429, retryAfter: "Tue, 28 May 2024 20:00:00 GMT" },
    fails: false,
    asksAgain: true,
  },
  {
    name: "Retry-After: 3600 (past the next cycle)",
    fault: { kind: "retry-after", status: 429, retryAfter: 3_600 },
    fails: true,
  },
  {
    name: "Retry-After: a date years ahead",
    fault: { kind: "retry-after", status: 503, retryAfter: "Fri, 31 Dec 2099 23:59:59 GMT" },
    fails: true,
  },
  {
    name: "Retry-After that is not a delay (an HTTP 429)",
    fault: { kind: "retry-after", status: 429, retryAfter: "soon" },
    fails: true,
  },
  { name: "a body cut off", fault: { kind: "truncated" }, fails: true },
  { name: "an HTML page", fault: { kind: "invalid-json" }, fails: true },
  { name: "a page missing (total_count disagrees)", fault: { kind: "missing-page" }, fails: true },
  { name: "a station served twice", fault: { kind: "duplicate" }, fails: false },
  {
    name: "an export cut short (a paged read is whole)",
    fault: { kind: "short-export", missing: 5 },
    fails: false,
  },
];

/**
 * The drill's plan, cycle 1 first: each case once, then as many cycles again, each clean or a
 * case at random, all in a seeded order. `undefined` is a clean cycle.
 */
function planCycles(random: () => number): Array<FaultCase | undefined> {
  const plan: Array<FaultCase | undefined> = [...FAULT_CASES];
  while (plan.length < CYCLES) {
    plan.push(
      random() < 0.5 ? undefined : FAULT_CASES[Math.floor(random() * FAULT_CASES.length)],
    );
  }
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  return plan;
}

/** The request that opens a paged read: `/records` at offset 0. */
const opensARead = (request: ReplayRequest) =>
  request.path.endsWith("/records") && new URLSearchParams(request.query).get("offset") === "0";

/**
 * The faults the replay applied, by cycle: the requests are cut into cycles by the reads they
 * open (two for a cycle whose source asked again).
 */
function appliedFaults(
  requests: readonly ReplayRequest[],
  plan: ReadonlyArray<FaultCase | undefined>,
): Array<string | undefined> {
  const applied: Array<Set<string>> = plan.map(() => new Set());
  let cycle = -1;
  let readsLeft = 0;
  for (const request of requests) {
    if (opensARead(request) && --readsLeft < 0) {
      cycle++;
      readsLeft = plan[cycle]?.asksAgain ? 1 : 0;
    }
    if (cycle >= plan.length) break;
    if (cycle >= 0 && request.fault) applied[cycle].add(request.fault);
  }
  return applied.map((kinds) => [...kinds].join(",") || undefined);
}

Deno.test("over 50 cycles with every kind of API fault, exactly the cycles the faults break fail, each alone, and every other cycle in the topic is the capture exactly", async () => {
  const seed = drillSeed();
  const plan = planCycles(seededRandom(seed));
  const brokers = requiredEnv("KAFKA_BROKERS", "a Kafka broker");
  const topic = uniqueName("velib-api-faults");
  const capture = await captureSnapshots(CAPTURE_MOMENT);
  const codes = capture.map((station) => station.station_code);

  const { run, requests } = await withReplayServer(async (replay) => {
    // The cycle after the last one holds on a slow answer, so that the stop finds no cycle
    // half-published.
    const faultFor = (cycle: number): ReplayFault | undefined =>
      cycle > CYCLES ? { kind: "delay", ms: 60_000 } : plan[cycle - 1]?.fault;
    // Reads opened once cycle n has opened all of its own.
    const readsThrough = (cycle: number) =>
      plan.slice(0, cycle).reduce((reads, c) => reads + (c?.asksAgain ? 2 : 1), 0);

    const first = faultFor(1);
    if (first) replay.injectFault(first);
    const ingest = startDrillIngest({ brokers, topic, apiUrl: replay.baseUrl });
    let exited = false;
    ingest.child.status.then(() => exited = true);
    // A fault is queued once the cycle before it has opened all its reads: a read opened after
    // would take it.
    let queuedFor = 1;
    let seen = 0;
    let opened = 0;
    while (!exited) {
      for (; seen < replay.requests.length; seen++) {
        if (opensARead(replay.requests[seen])) opened++;
      }
      if (opened > readsThrough(CYCLES)) break; // the holding cycle has begun
      if (queuedFor <= CYCLES && opened >= readsThrough(queuedFor)) {
        const next = faultFor(++queuedFor);
        if (next) replay.injectFault(next);
      }
      await sleep(10);
    }
    if (!exited) ingest.child.kill("SIGTERM");
    return { run: await ingest.finished, requests: [...replay.requests] };
  });

  const logs = logRecords(run.stderr);
  const cycles = sourceCycles(logs);
  const shouldFail = plan.flatMap((c, i) => c?.fails ? [i + 1] : []);
  const shouldPublish = plan.flatMap((c, i) => c?.fails ? [] : [i + 1]);
  const inTopic = cyclesInTopic(await readTopic(topic));
  const counters = run.summary.counters as Record<string, number>;
  const tally = tallyCycles(inTopic, codes);
  // A cycle acknowledged as published and absent from the topic is lost whole.
  const missingCycles = Math.max(0, counters.acknowledged / STATIONS_IN_CAPTURE - inTopic.length);
  await recordDrill({
    scenario: `API faults (${CYCLES} cycles, every replay mode)`,
    seed,
    faults: plan.filter(Boolean).length,
    messagesIn: counters.written,
    rowsOut: inTopic.reduce((sum, [, messages]) => sum + messages.length, 0),
    lost: tally.lost + missingCycles * STATIONS_IN_CAPTURE,
    duplicated: tally.duplicated,
  });

  assert.equal(run.code, 143, run.stderr);
  assert.equal(run.summary.exitReason, "signal");
  assert.deepEqual(
    appliedFaults(requests, plan),
    plan.map((c) => c?.fault.kind),
    "the replay applied each planned fault to its cycle",
  );
  assert.deepEqual(cycles.failed.filter((n) => n <= CYCLES), shouldFail, "failed cycles");
  assert.deepEqual(cycles.read, shouldPublish, "cycles read whole");
  assert.deepEqual(cycles.dropped, []);
  assert.equal(counters.batches, shouldPublish.length);
  assert.equal(counters.acknowledged, shouldPublish.length * STATIONS_IN_CAPTURE);
  assert.equal(counters.nacked, 0);

  assert.equal(inTopic.length, shouldPublish.length, "one cycle in the topic per cycle read");
  assert.deepEqual(tally, { lost: 0, duplicated: 0 });
  const lastCode = codes.toSorted().at(-1)!;
  inTopic.forEach(([collectedAt, messages], i) => {
    const cycle = shouldPublish[i];
    const expected = new Map(
      capture.map((s) => [s.station_code, { ...s, collected_at: collectedAt }]),
    );
    if (plan[cycle - 1]?.fault.kind === "duplicate") {
      // Of the two copies the replay serves, the source keeps the one reported a minute later.
      const station = expected.get(lastCode)!;
      const reported = Date.parse(station.last_reported!) + 60_000;
      expected.set(lastCode, { ...station, last_reported: new Date(reported).toISOString() });
    }
    assert.deepEqual(
      messages.map((m) => m.key),
      messages.map((m) => (m.value as StationSnapshot).station_code),
    );
    const published = new Map(messages.map((m) => [m.key, m.value]));
    assert.deepEqual(published, expected, `cycle ${cycle} (${plan[cycle - 1]?.name ?? "clean"})`);
  });
});

Deno.test("with fetch exports, a short export publishes nothing: the topic holds exactly the whole cycles", () =>
  withReplayServer(async (replay) => {
    const topic = uniqueName("velib-short-exports");
    // One station short, most of them short, a page short: each followed by a clean cycle.
    const faults: ReplayFault[] = [
      { kind: "short-export", missing: 1 },
      { kind: "short-export", missing: 1_000 },
      { kind: "missing-page" },
    ];
    const source = velibSource({
      baseUrl: replay.baseUrl,
      fetch: "exports",
      intervalMs: 300,
      timeoutMs: 1_000,
    }).build({}) as VelibSource;
    const sink = kafkaSink({
      brokers: requiredEnv("KAFKA_BROKERS", "a Kafka broker"),
      topic,
      key: "station_code",
    }).build({});
    // Short, whole, short, whole…
    const result = await streamThroughFaults(replay, source, sink, faults);
    assert.equal(result.exitReason, "signal", JSON.stringify(result.error));

    assert.deepEqual(
      { cyclesOk: source.counters.cyclesOk, cyclesFailed: source.counters.cyclesFailed },
      { cyclesOk: 3, cyclesFailed: 3 },
    );
    const exports = replay.requests.filter((request) => request.path.endsWith("/exports/json"));
    const counts = replay.requests.filter((request) => request.query === "?limit=0");
    assert.deepEqual(
      exports.map((request) => request.fault),
      ["short-export", undefined, "short-export", undefined, "missing-page", undefined],
    );
    assert.equal(counts.length, exports.length, "every export was checked by a count");
    const messages = await readTopic(topic);
    assert.equal(messages.length, 3 * STATIONS_IN_CAPTURE);
    const inTopic = cyclesInTopic(messages);
    assert.equal(inTopic.length, 3);
    const codes = (await captureSnapshots(CAPTURE_MOMENT)).map((station) => station.station_code);
    assert.deepEqual(tallyCycles(inTopic, codes), { lost: 0, duplicated: 0 });
  }));
