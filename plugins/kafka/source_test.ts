import assert from "node:assert/strict";
import {
  type Batch,
  ConnectionError,
  type Cursor,
  END_OF_INPUT,
  retry,
  runPipeline,
  ShutdownRequested,
  sleep,
  type Source,
} from "../../mod.ts";
import { memoryPipeline, memorySink } from "../../testing.ts";
import { sinkConfigSchema, sourceConfigSchema } from "./config.ts";
import { KafkaSink } from "./sink.ts";
import { KafkaSource } from "./source.ts";
import {
  committedOffsets,
  createTestTopic,
  produce,
  sourceContext,
  testBrokers,
  uniqueName,
} from "./test_support.ts";

const signal = new AbortController().signal;
const RETRY_QUICKLY = { attempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 };

function sourceFor(config: Record<string, unknown>): KafkaSource {
  return new KafkaSource(sourceConfigSchema.parse({ brokers: testBrokers(), ...config }));
}

/** Writes `count` records `{ id, n }` keyed by id, with the sink, to a new topic. */
async function topicWith(count: number, partitions: number): Promise<string> {
  const topic = uniqueName("source");
  await writeRecords(topic, { from: 0, count, partitions });
  return topic;
}

async function writeRecords(
  topic: string,
  { from, count, partitions }: { from: number; count: number; partitions: number },
): Promise<void> {
  const sink = new KafkaSink(sinkConfigSchema.parse({
    brokers: testBrokers(),
    topic,
    key: "id",
    createTopic: { partitions },
  }));
  const records = Array.from(
    { length: count },
    (_, i) => ({ value: { id: `r${from + i}`, n: from + i } }),
  );
  try {
    // As the runner does: a topic just created may briefly have no leader.
    await retry(() => sink.connect(sourceContext("batch")), RETRY_QUICKLY);
    await sink.write({ messages: records, rejects: [], cursors: [] }, signal);
  } finally {
    await sink.close();
  }
}

/** Reads until the end of input, acknowledging every batch; returns the origins read. */
async function drain(source: Source): Promise<string[]> {
  const origins: string[] = [];
  for (;;) {
    const batch = await source.read(signal);
    if (batch === END_OF_INPUT) return origins;
    for (const { origin } of batch.messages) origins.push(`${origin!.partition}@${origin!.offset}`);
    await batch.ack();
  }
}

async function readBatch(source: Source): Promise<Batch> {
  const batch = await source.read(signal);
  assert.notEqual(batch, END_OF_INPUT);
  return batch as Batch;
}

/** Polls `check` until it holds, for up to 10 s. */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(25)) {
    if (await check()) return;
  }
  assert.fail(`Timed out waiting until ${what}.`);
}

Deno.test("kafka source in batch mode stops at the high watermarks seen at start", async () => {
  const topic = await topicWith(1000, 3);
  const groupId = uniqueName("group");
  let produced = false;
  const sink = memorySink({
    beforeWrite: async () => {
      if (produced) return;
      produced = true;
      await writeRecords(topic, { from: 1000, count: 50, partitions: 3 });
    },
  });
  const source = sourceFor({ topic, groupId, maxBatchSize: 100 });
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), { mode: "batch" });
  assert.equal(result.exitReason, "drained", JSON.stringify(result.error));
  const ns = sink.written.map((m) => (m.value as { n: number }).n);
  assert.equal(ns.length, 1000);
  assert.equal(new Set(ns).size, 1000);
  assert.ok(ns.every((n) => n < 1000), "records produced during the run must wait for the next");
  const committed = Object.values(await committedOffsets(topic, groupId));
  assert.equal(committed.reduce((sum, offset) => sum + offset, 0), 1000);
});

Deno.test("kafka source resumes from the cursors a sink stored, ahead of the group's committed offset", async () => {
  const topic = await topicWith(100, 1);
  const groupId = uniqueName("group");
  const earlierRun = sourceFor({ topic, groupId, maxBatchSize: 10, maxWaitMs: 2_000 });
  try {
    await earlierRun.connect(sourceContext("stream"));
    await (await readBatch(earlierRun)).ack();
  } finally {
    await earlierRun.close();
  }
  assert.deepEqual(await committedOffsets(topic, groupId), { 0: 10 });
  const sink = memorySink({ storesCursors: true });
  const stored: Cursor[] = [
    { stream: topic, partition: 0, offset: "60" },
    { stream: "another-topic", partition: 0, offset: "99" },
  ];
  await sink.write({ messages: [], rejects: [], cursors: stored }, signal);
  const source = sourceFor({ topic, groupId });
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), { mode: "batch" });
  assert.equal(result.exitReason, "drained", JSON.stringify(result.error));
  assert.equal(sink.written.length, 40);
  assert.deepEqual(sink.written[0].origin, { stream: topic, partition: 0, offset: "60" });
  assert.deepEqual(await committedOffsets(topic, groupId), { 0: 100 });
});

Deno.test("kafka source commits to the group only after ack, and only contiguous offsets", async () => {
  const topic = await topicWith(30, 1);
  const groupId = uniqueName("group");
  const source = sourceFor({ topic, groupId, maxBatchSize: 10, maxWaitMs: 2_000 });
  try {
    await source.connect(sourceContext("stream"));
    const [first, second, third] = [
      await readBatch(source),
      await readBatch(source),
      await readBatch(source),
    ];
    assert.deepEqual([first, second, third].map((b) => b.cursors[0].offset), ["10", "20", "30"]);
    assert.deepEqual(await committedOffsets(topic, groupId), { 0: -1 });
    await second.ack();
    assert.deepEqual(await committedOffsets(topic, groupId), { 0: -1 });
    await first.ack();
    assert.deepEqual(await committedOffsets(topic, groupId), { 0: 20 });
    await third.ack();
    assert.deepEqual(await committedOffsets(topic, groupId), { 0: 30 });
  } finally {
    await source.close();
  }
});

Deno.test("kafka source never commits past a nacked batch, so the next run reads it again", async () => {
  const topic = await topicWith(20, 1);
  const groupId = uniqueName("group");
  const source = sourceFor({ topic, groupId, maxBatchSize: 10, maxWaitMs: 2_000 });
  try {
    await source.connect(sourceContext("stream"));
    const [first, second] = [await readBatch(source), await readBatch(source)];
    await first.ack(new Error("the warehouse is down"));
    await second.ack();
    assert.deepEqual(await committedOffsets(topic, groupId), { 0: -1 });
  } finally {
    await source.close();
  }
  const again = sourceFor({ topic, groupId });
  try {
    await again.connect(sourceContext("batch"));
    assert.equal((await drain(again)).length, 20);
  } finally {
    await again.close();
  }
});

Deno.test("kafka source delivers a nacked batch again in a stream run, before what was read after it", async () => {
  const topic = await topicWith(50, 2);
  const controller = new AbortController();
  let failuresLeft = 1;
  const sink = memorySink({
    beforeWrite: () => {
      if (failuresLeft-- > 0) throw new ConnectionError("The warehouse is down.");
    },
  });
  // Stops once all 50 are written; the guard turns a lost batch into a failed count, not a hang.
  const started = Date.now();
  const watcher = setInterval(() => {
    if (sink.written.length >= 50 || Date.now() - started > 20_000) {
      controller.abort(new ShutdownRequested("SIGTERM"));
    }
  }, 50);
  const source = sourceFor({
    topic,
    groupId: uniqueName("group"),
    maxBatchSize: 10,
    maxWaitMs: 50,
  });
  const pipeline = memoryPipeline({
    source,
    sinks: [sink],
    runtime: { maxInFlight: 3, writeRetry: { attempts: 1, initialDelayMs: 1 } },
  });
  const result = await runPipeline(pipeline, { mode: "stream", signal: controller.signal });
  clearInterval(watcher);
  assert.equal(result.exitCode, 143, JSON.stringify(result.error));
  assert.equal(result.counters.nacked, 1);
  const written = sink.written.map((m) => m.origin!);
  assert.equal(written.length, 50, "every record exactly once");
  assert.equal(new Set(written.map((o) => `${o.partition}@${o.offset}`)).size, 50);
  for (const partition of [0, 1]) {
    const offsets = written.filter((o) => o.partition === partition).map((o) => Number(o.offset));
    assert.deepEqual(offsets, offsets.toSorted((a, b) => a - b), `partition ${partition} in order`);
  }
});

Deno.test("kafka source sends a non-JSON value to rejects with its origin", async () => {
  const topic = await createTestTopic("source-rejects", 1);
  await produce(topic, [
    { value: '{"ok":1}' },
    { value: "not json" },
    { value: null },
    { key: "k", value: '{"ok":2}' },
  ]);
  const sink = memorySink();
  const deadLetter = memorySink();
  const source = sourceFor({ topic, groupId: uniqueName("group") });
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink], deadLetter }), {
    mode: "batch",
  });
  assert.equal(result.exitReason, "drained", JSON.stringify(result.error));
  assert.deepEqual(sink.written.map((m) => [m.key, m.value]), [
    [undefined, { ok: 1 }],
    ["k", { ok: 2 }],
  ]);
  assert.equal(deadLetter.rejects.length, 2);
  const [notJson, noValue] = deadLetter.rejects;
  assert.equal(notJson.payload, "not json");
  assert.match(notJson.reason, /^Value is not valid JSON: /);
  assert.equal(notJson.stage, "source kafka");
  assert.deepEqual(notJson.origin, { stream: topic, partition: 0, offset: "1" });
  assert.equal(noValue.payload, null);
  assert.deepEqual(noValue.origin, { stream: topic, partition: 0, offset: "2" });
  assert.equal(result.counters.acknowledged, 4);
});

Deno.test("two kafka sources in one group split a 3-partition topic without overlap", async () => {
  const topic = await topicWith(1000, 3);
  const groupId = uniqueName("group");
  const [a, b] = [
    sourceFor({ topic, groupId, maxBatchSize: 100 }),
    sourceFor({ topic, groupId, maxBatchSize: 100 }),
  ];
  try {
    await Promise.all([a.connect(sourceContext("batch")), b.connect(sourceContext("batch"))]);
    const [fromA, fromB] = await Promise.all([drain(a), drain(b)]);
    assert.ok(fromA.length > 0 && fromB.length > 0, `split ${fromA.length}/${fromB.length}`);
    const inA = new Set(fromA);
    assert.deepEqual(fromB.filter((origin) => inA.has(origin)), []);
    assert.equal(new Set([...fromA, ...fromB]).size, 1000);
    assert.equal(fromA.length + fromB.length, 1000);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("a kafka source in batch mode that is assigned no partition ends at once", async () => {
  const topic = await topicWith(10, 1);
  const groupId = uniqueName("group");
  const [a, b] = [sourceFor({ topic, groupId }), sourceFor({ topic, groupId })];
  try {
    await Promise.all([a.connect(sourceContext("batch")), b.connect(sourceContext("batch"))]);
    const counts = (await Promise.all([drain(a), drain(b)])).map((origins) => origins.length);
    assert.deepEqual(counts.sort(), [0, 10]);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("kafka source reloads the stored cursors whenever its partitions are reassigned", async () => {
  const topic = await topicWith(10, 2);
  const groupId = uniqueName("group");
  let loads = 0;
  const context = {
    ...sourceContext("stream"),
    loadCursors: () => (loads++, Promise.resolve([])),
  };
  const [a, b] = [sourceFor({ topic, groupId }), sourceFor({ topic, groupId })];
  try {
    await a.connect(context);
    await eventually("the first assignment loads the cursors", () => loads === 1);
    await b.connect(sourceContext("stream"));
    await eventually("the rebalance loads them again", () => loads === 2);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("kafka source in stream mode reads until it is stopped, then commits what was written", async () => {
  const topic = await topicWith(10, 1);
  const groupId = uniqueName("group");
  const stop = new AbortController();
  const sink = memorySink();
  const source = sourceFor({ topic, groupId });
  const run = runPipeline(memoryPipeline({ source, sinks: [sink] }), {
    mode: "stream",
    signal: stop.signal,
  });
  await eventually("every record is committed", async () => {
    const committed = await committedOffsets(topic, groupId);
    return committed[0] === 10;
  });
  const stoppedAt = Date.now();
  stop.abort(new ShutdownRequested("SIGTERM"));
  const result = await run;
  assert.equal(result.exitReason, "signal");
  assert.equal(result.exitCode, 143);
  assert.equal(sink.written.length, 10);
  assert.ok(Date.now() - stoppedAt < 2_000, "stopping must not wait for more input");
});

Deno.test("kafka source in stream mode hands out what is waiting without waiting maxWaitMs for more", async () => {
  const topic = await topicWith(7, 1);
  // Longer than any test may take: a read that waits for it never comes back in time.
  const source = sourceFor({ topic, groupId: uniqueName("group"), maxWaitMs: 3_600_000 });
  try {
    await source.connect(sourceContext("stream"));
    const batch = await source.read(AbortSignal.timeout(60_000));
    assert.notEqual(batch, END_OF_INPUT);
    assert.equal((batch as Batch).messages.length, 7);
  } finally {
    await source.close();
  }
});

Deno.test("kafka source reports what is left up to the high watermark as its backlog", async () => {
  const topic = await topicWith(30, 1);
  const source = sourceFor({ topic, groupId: uniqueName("group"), maxBatchSize: 10 });
  try {
    await source.connect(sourceContext("stream"));
    await readBatch(source);
    assert.equal(source.backlog(), 20);
  } finally {
    await source.close();
  }
});

Deno.test("kafka source reports the topic and its group's lag in its health check", async () => {
  const topic = await topicWith(10, 2);
  const groupId = uniqueName("group");
  const source = sourceFor({ topic, groupId });
  const health = await source.health(AbortSignal.timeout(5_000));
  assert.equal(
    health,
    `Kafka ${testBrokers()}: 1 broker(s), topic ${topic} has 2 partition(s), ` +
      `group ${groupId} lags 10 record(s)`,
  );
});

Deno.test("kafka source reports an unreachable broker as a ConnectionError with a hint", async () => {
  const source = new KafkaSource(sourceConfigSchema.parse({
    brokers: "127.0.0.1:1",
    topic: "t",
    groupId: "g",
  }));
  const error = await source.connect(sourceContext("batch")).catch((error) => error);
  await source.close();
  assert.ok(error instanceof ConnectionError, `expected a ConnectionError, got ${error}`);
  assert.match(error.message, /^Could not reach Kafka at 127\.0\.0\.1:1: connect ECONNREFUSED/);
  assert.match(error.hint!, /KAFKA_BROKERS/);
});
