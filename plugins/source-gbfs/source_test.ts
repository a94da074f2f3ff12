// The source against replays of real GBFS captures, served in place on 127.0.0.1, driven by the
// runner with in-memory sinks: every capture once, then the ttl, faults and refusals on a few.
import assert from "node:assert/strict";
import { configure, type LogRecord } from "@logtape/logtape";
import { type RunMode, runPipeline, type RunResult, ShutdownRequested } from "../../mod.ts";
import { memoryPipeline, type MemorySink, memorySink } from "../../testing.ts";
import {
  captureStations,
  configuredSystemId,
  type GbfsCapture,
  gbfsCapture,
  gbfsCaptures,
  loadedSystemId,
  readFeed,
  velibGbfsCapture,
} from "../../tests/support/gbfs_fixtures.ts";
import { type GbfsFault, withGbfsReplay } from "../../tests/support/gbfs_replay.ts";
import { type StationSnapshot, stationSnapshotSchema } from "../../contracts/mod.ts";
import { configSchema } from "./config.ts";
import { createGbfsSource, type GbfsSource } from "./source.ts";

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
  url?: string;
  systemId?: string;
  /** @default {200} */
  intervalMs?: number;
  /** In `stream` mode, the run is stopped once this many batches were written. */
  stopAfterWrites?: number;
  /** Called before each write with its number, from 1. */
  beforeWrite?: (write: number) => void;
  now?: () => number;
}

interface Run {
  result: RunResult;
  sink: MemorySink<StationSnapshot>;
  source: GbfsSource;
}

async function run(options: RunOptions): Promise<Run> {
  logs.length = 0;
  const source = createGbfsSource(
    configSchema.parse({
      ...(options.url === undefined ? {} : { url: options.url }),
      ...(options.systemId === undefined ? {} : { systemId: options.systemId }),
      intervalMs: options.intervalMs ?? 200,
      timeoutMs: 1_000,
    }),
    options.now === undefined ? {} : { now: options.now },
  );
  const stop = new AbortController();
  let writes = 0;
  const sink = memorySink<StationSnapshot>({
    beforeWrite: () => {
      writes++;
      options.beforeWrite?.(writes);
      if (writes >= (options.stopAfterWrites ?? Infinity)) {
        stop.abort(new ShutdownRequested("SIGINT"));
      }
    },
  });
  const pipeline = memoryPipeline({ source, sinks: [sink] });
  const result = await runPipeline(pipeline, { mode: options.mode, signal: stop.signal });
  return { result, sink, source };
}

/** The system id to configure for a capture: only when it publishes no system_information. */
function systemIdFor(capture: GbfsCapture): string | undefined {
  return "system_information" in capture.files ? undefined : configuredSystemId(capture);
}

/** Asserts that the sink holds one cycle of the capture: each station once, its own counts. */
async function assertCycle(capture: GbfsCapture, sink: MemorySink<StationSnapshot>) {
  const expected = await captureStations(capture);
  const system = await loadedSystemId(capture);
  assert.equal(sink.written.length, expected.length, capture.name);
  const byCode = new Map(sink.written.map((message) => [message.value.station_code, message]));
  assert.equal(byCode.size, expected.length, "each station once");
  for (const { code, status } of expected) {
    const message = byCode.get(code)!;
    assert.ok(message, `${capture.name}: station ${code}`);
    const snapshot = stationSnapshotSchema.parse(message.value);
    assert.equal(message.key, `${system}/${code}`);
    assert.equal(snapshot.schema_version, 2);
    assert.equal(snapshot.system_id, system);
    assert.equal(
      snapshot.bikes_available,
      status.num_bikes_available ?? status.num_vehicles_available,
    );
    assert.equal(snapshot.docks_available, status.num_docks_available);
    assert.equal(snapshot.is_installed, Boolean(status.is_installed));
    assert.equal(snapshot.is_renting, Boolean(status.is_renting));
    assert.equal(snapshot.is_returning, Boolean(status.is_returning));
  }
  assert.equal(new Set(sink.written.map((message) => message.value.collected_at)).size, 1);
}

for (const capture of await gbfsCaptures()) {
  Deno.test(`one cycle of ${capture.name} yields each of its stations once, with its own counts`, () =>
    withGbfsReplay(capture, async (replay) => {
      const systemId = systemIdFor(capture);
      const { result, sink, source } = await run({
        mode: "batch",
        url: replay.url,
        ...(systemId === undefined ? {} : { systemId }),
      });
      assert.equal(result.exitCode, 0, JSON.stringify(result.error));
      await assertCycle(capture, sink);
      const status = await readFeed(capture, "station_status") as { data: { stations: [] } };
      const unmatched = status.data.stations.length - sink.written.length;
      assert.equal(sink.rejects.length, unmatched);
      assert.equal(source.counters.rejects, unmatched);
      assert.equal(source.counters.cyclesOk, 1);
      assert.equal(replay.requestsOf("station_status"), 1);
      assert.equal(replay.requestsOf("station_information"), 1);
    }));
}

Deno.test("toronto-bike-share_2023-08-24: the 5 status stations without information are rejects naming their id", async () => {
  const capture = await gbfsCapture("toronto-bike-share_2023-08-24");
  await withGbfsReplay(capture, async (replay) => {
    const { sink } = await run({ mode: "batch", url: replay.url, systemId: "toronto" });
    assert.deepEqual(
      sink.rejects.map((reject) => [reject.reason, reject.stage]),
      ["7165", "7300", "7325", "7390", "7490"].map((id) => [
        `station_id "${id}" is not in station_information`,
        "source gbfs",
      ]),
    );
    const payload = sink.rejects[0].payload as { station_status: { status: string } };
    assert.equal(payload.station_status.status, "END_OF_LIFE");
  });
});

Deno.test("Vélib's GBFS capture yields its 1,495 stations under their stationCode, in the configured system", () =>
  withGbfsReplay(velibGbfsCapture(), async (replay) => {
    const { result, sink } = await run({ mode: "batch", url: replay.url, systemId: "velib" });
    assert.equal(result.exitCode, 0, JSON.stringify(result.error));
    assert.equal(sink.written.length, 1495);
    const codes = new Set(sink.written.map((message) => message.value.station_code));
    assert.ok(codes.has("16107") && codes.has("40001"));
    assert.ok(sink.written.every((message) => message.value.system_id === "velib"));
    const first = sink.written.find((message) => message.value.station_code === "16107")!.value;
    // [{"mechanical":1},{"ebike":4}] in the capture.
    assert.deepEqual([first.mechanical_bikes, first.electric_bikes], [1, 4]);
  }));

Deno.test("station_information is read again only once its last_updated + ttl has run out", async () => {
  // Its information says last_updated 2025-05-17T18:05:09Z, ttl 10: the clock starts there.
  const capture = await gbfsCapture("bixi-montreal_2025-05-18");
  const info = await readFeed(capture, "station_information") as { last_updated: number };
  let now = info.last_updated * 1_000;
  await withGbfsReplay(capture, async (replay) => {
    const { result, source } = await run({
      mode: "stream",
      url: replay.url,
      intervalMs: 10,
      now: () => now,
      stopAfterWrites: 5,
      // After the third cycle, 11 s pass: from the fourth on, every cycle reads it again, as
      // the file served keeps saying it was updated more than its ttl ago.
      beforeWrite: (write) => {
        if (write === 3) now += 11_000;
      },
    });
    assert.equal(result.exitReason, "signal", JSON.stringify(result.error));
    assert.equal(source.counters.cyclesOk, 5);
    assert.equal(replay.requestsOf("station_status"), 5);
    assert.equal(replay.requestsOf("station_information"), 3);
    assert.match(sourceLines("info")[1], /\(read gbfs, station_status\)\.$/);
  });
});

Deno.test("a feed without last_updated is kept for its ttl from when it was read (Vélib': an hour)", () =>
  withGbfsReplay(velibGbfsCapture(), async (replay) => {
    const { result } = await run({
      mode: "stream",
      url: replay.url,
      systemId: "velib",
      intervalMs: 10,
      stopAfterWrites: 3,
    });
    assert.equal(result.exitReason, "signal", JSON.stringify(result.error));
    assert.equal(replay.requestsOf("station_status"), 3);
    assert.equal(replay.requestsOf("station_information"), 1);
  }));

/** Each feed fault that makes a cycle fail, and what the failure says. */
const FEED_FAULTS: Array<{ fault: GbfsFault; message: RegExp }> = [
  {
    fault: { feed: "station_status", kind: "http-error", status: 500 },
    message: /^The GBFS feed station_status answered HTTP 500 Internal Server Error \(GET http:/,
  },
  {
    fault: { feed: "station_information", kind: "invalid-json" },
    message: /^The GBFS feed station_information sent a body that is not valid JSON \(GET /,
  },
  {
    fault: { feed: "station_status", kind: "malformed" },
    message: /^The GBFS feed station_status has nothing where GBFS puts the list data\.stations/,
  },
  {
    fault: { feed: "gbfs", kind: "delay", ms: 30_000 },
    message: /^The GBFS discovery file did not answer within 1000 ms \(GET /,
  },
  {
    fault: { feed: "vehicle_types", kind: "http-error", status: 404 },
    message: /^The GBFS feed vehicle_types answered HTTP 404 Not Found/,
  },
];

for (const { fault, message } of FEED_FAULTS) {
  const capture = await gbfsCapture("lillestrom-bysykkel_2021-09-10");
  Deno.test(`batch, ${fault.feed} ${fault.kind}: the cycle fails whole and publishes nothing`, () =>
    withGbfsReplay(capture, async (replay) => {
      replay.injectFault(fault);
      const { result, sink, source } = await run({ mode: "batch", url: replay.url });
      assert.equal(result.exitCode, 1);
      assert.equal(result.error?.name, "CycleError");
      assert.match(result.error?.message ?? "", message);
      assert.ok(result.error?.hint);
      assert.deepEqual([sink.written.length, sink.rejects.length], [0, 0]);
      assert.equal(source.counters.cyclesFailed, 1);
    }));

  Deno.test(`stream, ${fault.feed} ${fault.kind}: that cycle yields nothing, the next every station`, () =>
    withGbfsReplay(capture, async (replay) => {
      replay.injectFault(fault);
      const { result, sink, source } = await run({
        mode: "stream",
        url: replay.url,
        stopAfterWrites: 1,
      });
      assert.equal(result.exitReason, "signal", JSON.stringify(result.error));
      await assertCycle(capture, sink);
      assert.deepEqual([source.counters.cyclesFailed, source.counters.cyclesOk], [1, 1]);
      const errors = sourceLines("error");
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0], /^Snapshot 1 failed; nothing was published: /);
    }));
}

Deno.test("a system with neither system_information nor a configured systemId is refused with a hint", async () => {
  const capture = await gbfsCapture("citi-bike-nyc_2019-07-05");
  await withGbfsReplay(capture, async (replay) => {
    const { result, sink } = await run({ mode: "batch", url: replay.url });
    assert.equal(result.exitCode, 2);
    assert.equal(result.error?.name, "BadRequest");
    assert.match(
      result.error?.message ?? "",
      /publishes no system_information, so it does not say/,
    );
    assert.match(result.error?.hint ?? "", /GBFS_SYSTEM_ID/);
    assert.equal(sink.written.length, 0);
  });
});

Deno.test("without a configured systemId, the snapshots carry system_information's system_id", async () => {
  const capture = await gbfsCapture("nice-ride-minnesota_2016-09-15");
  await withGbfsReplay(capture, async (replay) => {
    const { sink } = await run({ mode: "batch", url: replay.url });
    assert.equal(sink.written.length, 198);
    assert.ok(sink.written.every((message) => message.value.system_id === "niceridemn"));
  });
});

Deno.test("a configured systemId comes before system_information's, and the rename is logged once", async () => {
  const capture = await gbfsCapture("nice-ride-minnesota_2016-09-15");
  await withGbfsReplay(capture, async (replay) => {
    const { sink } = await run({
      mode: "stream",
      url: replay.url,
      systemId: "nice-ride",
      stopAfterWrites: 2,
    });
    assert.equal(sink.written.length, 2 * 198);
    assert.ok(sink.written.every((message) => message.value.system_id === "nice-ride"));
    const renames = sourceLines("info").filter((line) => line.startsWith("The feed calls"));
    assert.deepEqual(renames, [
      'The feed calls its system "niceridemn"; its snapshots are written as the configured "nice-ride".',
    ]);
  });
});

Deno.test("without a url the source refuses to start, with a hint", async () => {
  const { result } = await run({ mode: "batch" });
  assert.equal(result.exitCode, 2);
  assert.match(result.error?.message ?? "", /The gbfs source has no url/);
  assert.match(result.error?.hint ?? "", /GBFS_URL/);
});

Deno.test("health() names the version and the feeds of the discovery file", async () => {
  const capture = await gbfsCapture("bike-share-toronto_2026-10-09");
  await withGbfsReplay(capture, async (replay) => {
    const source = createGbfsSource(configSchema.parse({ url: replay.url }));
    const said = await source.health!(new AbortController().signal);
    assert.equal(
      said,
      `GBFS 3.0 discovery file at ${replay.url}: station_information, station_status`,
    );
  });
});
