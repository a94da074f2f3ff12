import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { memoryPipeline } from "../../core/memory.ts";
import { runPipeline } from "../../core/runner.ts";
import { requiredEnv, uniqueName } from "../../core/testing.ts";
import type { Message } from "../../core/types.ts";
import { kafkaSink } from "../../plugins/kafka/mod.ts";
import { type VelibSource, velibSource } from "../../plugins/source-velib/mod.ts";
import { stationSnapshotSchema } from "../../contracts/mod.ts";
import { runCli } from "../support/cli.ts";
import { streamThroughFaults } from "../support/fault_cycles.ts";
import { readTopic, readTopicSince } from "../support/kafka.ts";
import { type ReplayFault, type ReplayServer, withReplayServer } from "../support/velib_replay.ts";

const STATIONS_IN_CAPTURE = 1471;

const brokers = () => requiredEnv("KAFKA_BROKERS", "a Kafka broker");

/** `deno task pipeline stream ingest --once`, pointed at the replay server. */
const ingestOnce = (replay: ReplayServer) =>
  runCli(["stream", "ingest", "--once"], {
    env: { KAFKA_BROKERS: brokers(), VELIB_API_URL: replay.baseUrl },
  });

/** A Kafka sink to a topic of the test's own, keyed as ingest keys. */
const stationsSink = (topic: string) =>
  kafkaSink({ brokers: brokers(), topic, key: "station_code" }).build({});

/** Checks one published cycle: every station once, keyed by its code, valid, one collected_at. */
function assertOneFullCycle(messages: Message[]): void {
  assert.equal(messages.length, STATIONS_IN_CAPTURE);
  const values = messages.map((m) => stationSnapshotSchema.parse(m.value));
  assert.deepEqual(messages.map((m) => m.key), values.map((v) => v.station_code));
  const codes = new Set(values.map((v) => v.station_code));
  assert.equal(codes.size, STATIONS_IN_CAPTURE);
  assert.ok(codes.has("11031_relais") && codes.has("10001_relais"));
  assert.equal(new Set(values.map((v) => v.collected_at)).size, 1);
}

Deno.test("stream ingest --once publishes the capture's 1,471 stations keyed by station code", () =>
  withReplayServer(async (replay) => {
    const before = await readTopic("velib-stations").catch(() => []);
    const run = await ingestOnce(replay);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.summary.command, "stream --once");
    assert.equal((run.summary.counters as Record<string, number>).written, STATIONS_IN_CAPTURE);
    assertOneFullCycle(await readTopicSince("velib-stations", before));
  }));

Deno.test("ingest creates velib-stations with its partitions and a 24 h / 1 GiB retention", () =>
  withReplayServer(async (replay) => {
    const admin = new Kafka({ brokers: brokers().split(","), logLevel: logLevel.NOTHING }).admin();
    try {
      const run = await ingestOnce(replay);
      assert.equal(run.code, 0, run.stderr);
      await admin.connect();
      const metadata = await admin.fetchTopicMetadata({ topics: ["velib-stations"] });
      assert.equal(metadata.topics[0].partitions.length, 1);
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{
          type: 2,
          name: "velib-stations",
          configNames: ["retention.ms", "retention.bytes"],
        }],
      });
      const configs = Object.fromEntries(
        described.resources[0].configEntries.map((e) => [e.configName, e.configValue]),
      );
      assert.deepEqual(configs, { "retention.ms": "86400000", "retention.bytes": "1073741824" });
    } finally {
      await admin.disconnect();
    }
  }));

Deno.test("the paginated path publishes the same 1,471 stations", () =>
  withReplayServer(async (replay) => {
    const topic = uniqueName("velib-paged");
    const source = velibSource({ baseUrl: replay.baseUrl, fetch: "records" }).build({});
    const pipeline = memoryPipeline({ source, sinks: [stationsSink(topic)] });
    const result = await runPipeline(pipeline, { mode: "batch" });
    assert.equal(result.exitCode, 0, JSON.stringify(result.error));
    assertOneFullCycle(await readTopic(topic));
  }));

Deno.test("each API fault fails only its cycle: nothing is published, the next cycle is whole, the run stays up", () =>
  withReplayServer(async (replay) => {
    const topic = uniqueName("velib-faults");
    const faults: ReplayFault[] = [
      { kind: "delay", ms: 1_500 },
      { kind: "http-error", status: 500 },
      { kind: "retry-after", status: 429, retryAfter: 3_600 },
      { kind: "truncated" },
      { kind: "invalid-json" },
      { kind: "missing-page" },
    ];
    const source = velibSource({
      baseUrl: replay.baseUrl,
      fetch: "records",
      intervalMs: 300,
      timeoutMs: 500,
    }).build({}) as VelibSource;
    // Fail, recover, fail, recover…
    const result = await streamThroughFaults(replay, source, stationsSink(topic), faults);
    assert.equal(result.exitReason, "signal", JSON.stringify(result.error));
    assert.equal(source.counters.cyclesFailed, faults.length);
    const messages = await readTopic(topic);
    const cycles = Map.groupBy(
      messages,
      (m) => (m.value as { collected_at: string }).collected_at,
    );
    assert.equal(cycles.size, source.counters.cyclesOk);
    for (const cycle of cycles.values()) assertOneFullCycle(cycle);
  }));

Deno.test("with Kafka unreachable at start, ingest tries 10 times with growing waits, then fails clearly", () =>
  withReplayServer(async (replay) => {
    const run = await runCli(
      ["stream", "ingest", "--config", "tests/support/ingest_fast_retry.config.ts"],
      { env: { KAFKA_BROKERS: "127.0.0.1:1", VELIB_API_URL: replay.baseUrl } },
    );
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /Error: Could not connect kafka after 10 attempt\(s\): Could not reach Kafka at 127\.0\.0\.1:1/,
    );
    assert.match(run.stderr, /Hint: .*KAFKA_BROKERS/);
    const attempts = run.stderr.split("\n").filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line))
      .filter((log) => log.properties?.what === "connect kafka");
    assert.deepEqual(attempts.map((log) => log.properties.attempt), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const waits = attempts.map((log) => log.properties.delayMs as number);
    for (let i = 1; i < waits.length; i++) {
      assert.ok(waits[i] > waits[i - 1], `waits grow: ${waits}`);
    }
  }));
