// The source against a replay of the API serving the real 2024-05-28 capture, driven by the runner
// with in-memory sinks: no Kafka, no network beyond 127.0.0.1.
import assert from "node:assert/strict";
import { configure, type LogRecord } from "@logtape/logtape";
import {
  ConnectionError,
  type RunMode,
  runPipeline,
  type RunResult,
  ShutdownRequested,
} from "../../mod.ts";
import { memoryPipeline, type MemorySink, memorySink } from "../../testing.ts";
import { EXPLORE_EXPORTS_CAPTURE, readCapture } from "../../tests/support/fixtures.ts";
import { type ReplayFault, withReplayServer } from "../../tests/support/velib_replay.ts";
import { configSchema } from "./config.ts";
import { type StationSnapshot, stationSnapshotSchema } from "../../contracts/mod.ts";
import { createVelibSource, type VelibSource } from "./source.ts";

type Fetch = "exports" | "records";
type ExploreRecord = Record<string, unknown> & { stationcode: string; duedate: string };

const capture = await readCapture(EXPLORE_EXPORTS_CAPTURE) as ExploreRecord[];

const logs: LogRecord[] = [];
await configure({
  reset: true,
  sinks: { memory: (record) => logs.push(record) },
  loggers: [
    { category: ["pipeline"], lowestLevel: "debug", sinks: ["memory"] },
    { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["memory"] },
  ],
});

/** The source's own log lines (the runner names it `memory-source`), as text. */
function sourceLines(level: LogRecord["level"]): string[] {
  return logs
    .filter((record) => record.category.at(-1) === "memory-source" && record.level === level)
    .map((record) => record.message.join(""));
}

interface RunOptions {
  mode: RunMode;
  fetch: Fetch;
  /** @default {200} */
  intervalMs?: number;
  /** @default {1000} */
  timeoutMs?: number;
  /** In `stream` mode, the run is stopped once this many batches were written. */
  stopAfterWrites?: number;
  /** Throws from the sink's first writes, to make the runner nack. */
  failingWrites?: number;
}

interface Run {
  result: RunResult;
  sink: MemorySink<StationSnapshot>;
  source: VelibSource;
}

async function run(baseUrl: string, options: RunOptions): Promise<Run> {
  logs.length = 0;
  const source = createVelibSource(configSchema.parse({
    baseUrl,
    fetch: options.fetch,
    intervalMs: options.intervalMs ?? 200,
    timeoutMs: options.timeoutMs ?? 1_000,
  }));
  const stop = new AbortController();
  let attempts = 0;
  let writes = 0;
  const sink = memorySink<StationSnapshot>({
    beforeWrite: () => {
      if (++attempts <= (options.failingWrites ?? 0)) {
        throw new Error("injected sink failure");
      }
      if (++writes >= (options.stopAfterWrites ?? Infinity)) {
        stop.abort(new ShutdownRequested("SIGINT"));
      }
    },
  });
  const pipeline = memoryPipeline({ source, sinks: [sink] });
  const result = await runPipeline(pipeline, { mode: options.mode, signal: stop.signal });
  return { result, sink, source };
}

function assertAllStations(sink: MemorySink<StationSnapshot>): void {
  assert.equal(sink.written.length, 1471);
  const keys = new Set(sink.written.map((message) => message.key));
  assert.equal(keys.size, 1471);
  assert.ok(keys.has("11031_relais") && keys.has("10001_relais"));
  for (const message of sink.written) {
    assert.equal(message.key, stationSnapshotSchema.parse(message.value).station_code);
  }
  assert.equal(new Set(sink.written.map((message) => message.value.collected_at)).size, 1);
}

for (const fetch of ["exports", "records"] as const) {
  Deno.test(`one ${fetch} cycle yields the 1,471 stations keyed by code, then the end`, () =>
    withReplayServer(async (replay) => {
      const { result, sink, source } = await run(replay.baseUrl, { mode: "batch", fetch });
      assert.equal(result.exitCode, 0, JSON.stringify(result.error));
      assertAllStations(sink);
      assert.deepEqual(sink.rejects, []);
      assert.deepEqual(source.counters, {
        cyclesOk: 1,
        cyclesFailed: 0,
        cyclesDropped: 0,
        duplicates: 0,
        rejects: 0,
      });
      // An export is checked by one count: `/records?limit=0`.
      assert.equal(replay.requests.length, fetch === "exports" ? 2 : 15);
      assert.deepEqual(sourceLines("info").map((line) => line.replace(/\d+ ms/, "N ms")), [
        "Snapshot 1: 1471 stations, 0 duplicate(s), 0 reject(s) in N ms.",
      ]);
    }));
}

/** Each fault that makes a cycle fail, and what the failure says. */
const CYCLE_FAULTS: Array<{ fault: ReplayFault; message: RegExp; fetch: Fetch[] }> = [
  {
    fault: { kind: "delay", ms: 30_000 },
    message: /did not answer within 1000 ms \(GET http:\/\/127\.0\.0\.1:\d+\/api\//,
    fetch: ["exports", "records"],
  },
  {
    fault: { kind: "http-error", status: 500 },
    message: /answered HTTP 500 Internal Server Error \(GET .*\): Injected fault: HTTP 500\./,
    fetch: ["exports", "records"],
  },
  {
    fault: { kind: "retry-after", status: 429, retryAfter: 30 },
    message: /answered HTTP 429 with Retry-After: 30, longer than the \d+ ms left before the next/,
    fetch: ["exports", "records"],
  },
  {
    fault: { kind: "retry-after", status: 503, retryAfter: 30 },
    message: /answered HTTP 503 with Retry-After: 30, longer than the \d+ ms left before the next/,
    fetch: ["exports", "records"],
  },
  {
    fault: { kind: "truncated" },
    message: /response broke off before its end \(GET /,
    fetch: ["exports", "records"],
  },
  {
    fault: { kind: "invalid-json" },
    message: /sent a body that is not valid JSON \(GET /,
    fetch: ["exports", "records"],
  },
  {
    fault: { kind: "missing-page" },
    message: /returned 1371 records but total_count is 1471: a page came back short/,
    fetch: ["records"],
  },
  {
    fault: { kind: "missing-page" },
    message: /export of the Vélib' dataset returned 1371 records but total_count is 1471 \(GET /,
    fetch: ["exports"],
  },
  {
    fault: { kind: "short-export", missing: 1 },
    message: /export of the Vélib' dataset returned 1470 records but total_count is 1471 \(GET /,
    fetch: ["exports"],
  },
];

for (const { fault, message, fetch: modes } of CYCLE_FAULTS) {
  const name = fault.kind === "retry-after" ? `retry-after ${fault.status}` : fault.kind;
  for (const fetch of modes) {
    Deno.test(`stream, ${fetch}, fault ${name}: that cycle yields nothing, the next all 1,471`, () =>
      withReplayServer(async (replay) => {
        replay.injectFault(fault);
        const { result, sink, source } = await run(replay.baseUrl, {
          mode: "stream",
          fetch,
          stopAfterWrites: 1,
        });
        assert.equal(result.exitReason, "signal", JSON.stringify(result.error));
        assertAllStations(sink);
        assert.equal(source.counters.cyclesFailed, 1);
        assert.equal(source.counters.cyclesOk, 1);
        const errors = sourceLines("error");
        assert.equal(errors.length, 1, errors.join("\n"));
        assert.match(errors[0], /^Snapshot 1 failed; nothing was published: /);
        assert.match(errors[0], message);
        assert.ok(!errors[0].includes("\n"));
        assert.ok(replay.requests.some((request) => request.fault === fault.kind));
      }));

    Deno.test(`batch, ${fetch}, fault ${name}: the run fails with the cycle's error`, () =>
      withReplayServer(async (replay) => {
        replay.injectFault(fault);
        const { result, sink, source } = await run(replay.baseUrl, { mode: "batch", fetch });
        assert.equal(result.exitReason, "failed");
        assert.equal(result.exitCode, 1);
        assert.equal(result.error?.name, "CycleError");
        assert.match(result.error?.message ?? "", message);
        assert.ok(result.error?.hint);
        assert.equal(sink.written.length, 0);
        assert.equal(source.counters.cyclesFailed, 1);
      }));
  }
}

for (const fetch of ["exports", "records"] as const) {
  Deno.test(`${fetch}: a 429 whose Retry-After fits the cycle is waited out in that cycle`, () =>
    withReplayServer(async (replay) => {
      replay.injectFault({ kind: "retry-after", status: 429, retryAfter: 1 });
      const { result, sink, source } = await run(replay.baseUrl, {
        mode: "batch",
        fetch,
        intervalMs: 30_000,
      });
      assert.equal(result.exitCode, 0, JSON.stringify(result.error));
      assertAllStations(sink);
      assert.equal(source.counters.cyclesFailed, 0);
      assert.deepEqual(replay.requests.slice(0, 2).map((request) => request.status), [429, 200]);
    }));

  Deno.test(`${fetch}: a station served twice is kept once, at its newest duedate, and counted`, () =>
    withReplayServer(async (replay) => {
      replay.injectFault({ kind: "duplicate" });
      const { result, sink, source } = await run(replay.baseUrl, { mode: "batch", fetch });
      assert.equal(result.exitCode, 0, JSON.stringify(result.error));
      assertAllStations(sink);
      assert.equal(source.counters.duplicates, 1);
      // The replay duplicates the station whose code sorts last, a minute newer.
      const original = capture.reduce((last, record) =>
        record.stationcode > last.stationcode ? record : last
      );
      const kept = sink.written.find((message) => message.key === original.stationcode)!;
      const newest = new Date(Date.parse(original.duedate) + 60_000).toISOString();
      assert.equal(kept.value.last_reported, newest);
      assert.match(sourceLines("info")[0], /1471 stations, 1 duplicate\(s\), 0 reject\(s\)/);
    }));
}

Deno.test("a nacked snapshot is logged as dropped and counted; the next one goes through", () =>
  withReplayServer(async (replay) => {
    // The memory pipeline tries a write 3 times: the first snapshot fails all three.
    const { result, sink, source } = await run(replay.baseUrl, {
      mode: "stream",
      fetch: "exports",
      failingWrites: 3,
      stopAfterWrites: 1,
    });
    assert.equal(result.exitReason, "signal", JSON.stringify(result.error));
    assert.equal(result.counters.nacked, 1);
    assertAllStations(sink);
    assert.equal(source.counters.cyclesDropped, 1);
    assert.equal(source.counters.cyclesOk, 2);
    const warnings = sourceLines("warning");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^Snapshot 1 \(1471 stations\) was dropped .*injected sink failure/);
  }));

Deno.test("stream mode stops while it waits for the next cycle", () =>
  withReplayServer(async (replay) => {
    // The second cycle is ten minutes away: only the stop signal can end the wait.
    const { result, source } = await run(replay.baseUrl, {
      mode: "stream",
      fetch: "exports",
      intervalMs: 600_000,
      stopAfterWrites: 1,
    });
    assert.equal(result.exitReason, "signal");
    assert.equal(result.exitCode, 130);
    assert.equal(source.counters.cyclesOk, 1);
    assert.equal(replay.requests.length, 2);
  }));

Deno.test("records that do not normalize go to dead letters with the raw record", async () => {
  // Two real records served by a one-off server; the second one has lost its stationcode.
  const { stationcode: _, ...withoutCode } = capture[1];
  const records = [capture[0], withoutCode];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      Response.json(
        new URL(request.url).pathname.endsWith("/records")
          ? { total_count: records.length, results: [] }
          : records,
      ),
  );
  try {
    const { result, sink, source } = await run(`http://127.0.0.1:${server.addr.port}/dataset`, {
      mode: "batch",
      fetch: "exports",
    });
    assert.equal(result.exitCode, 0, JSON.stringify(result.error));
    assert.deepEqual(sink.written.map((message) => message.key), [capture[0].stationcode]);
    assert.deepEqual(sink.rejects, [
      { payload: withoutCode, reason: "stationcode is missing", stage: "source velib" },
    ]);
    assert.equal(source.counters.rejects, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("health() counts the stations with one small request", () =>
  withReplayServer(async (replay) => {
    const source = createVelibSource(configSchema.parse({ baseUrl: replay.baseUrl }));
    const line = await source.health!(AbortSignal.timeout(5_000));
    assert.equal(line, `Vélib' API at ${replay.baseUrl}: 1471 stations`);
    assert.deepEqual(replay.requests.map((request) => request.query), ["?limit=1"]);
  }));

Deno.test("health() fails with a ConnectionError that says what answered", () =>
  withReplayServer(async (replay) => {
    replay.injectFault({ kind: "http-error", status: 503 });
    const source = createVelibSource(configSchema.parse({ baseUrl: replay.baseUrl }));
    await assert.rejects(
      source.health!(AbortSignal.timeout(5_000)),
      (error: ConnectionError) =>
        error instanceof ConnectionError &&
        /HTTP 503 Service Unavailable .*Injected fault: HTTP 503/.test(error.message),
    );
  }));
