import assert from "node:assert/strict";
import type { Message as KafkaMessage } from "kafkajs";
import {
  BadRequest,
  type Batch,
  type Cursor,
  END_OF_INPUT,
  type ReadRange,
  type Reject,
  runPipeline,
  type SourceContext,
} from "../../mod.ts";
import { memoryPipeline, memorySink } from "../../testing.ts";
import { sourceConfigSchema } from "./config.ts";
import { KafkaSource } from "./source.ts";
import {
  committedOffsets,
  createTestTopic,
  produce,
  sourceContext,
  testBrokers,
  uniqueName,
  withTestAdmin,
} from "./test_support.ts";

const signal = new AbortController().signal;
const MINUTE = 60_000;
// Recent enough that the broker's time-based retention keeps every record the tests write.
const T0 = Math.floor(Date.now() / MINUTE) * MINUTE - 60 * MINUTE;

function at(minutes: number): string {
  return new Date(T0 + minutes * MINUTE).toISOString();
}

function sourceFor(config: Record<string, unknown>): KafkaSource {
  return new KafkaSource(sourceConfigSchema.parse({ brokers: testBrokers(), ...config }));
}

/**
 * Snapshot `{ id, collected_at }` number `i`, collected at minute `i` and published 90 s later,
 * as the pipeline's collector would: a record collected just before a minute is stamped after it.
 */
function snapshot(i: number, partition: number): KafkaMessage {
  return {
    partition,
    value: JSON.stringify({ id: i, collected_at: at(i) }),
    timestamp: String(T0 + i * MINUTE + 90_000),
  };
}

/** A topic of `count` snapshots, round-robin over `partitions`. */
async function topicOfSnapshots(count: number, partitions: number): Promise<string> {
  const topic = await createTestTopic("rerun", partitions);
  await produce(topic, Array.from({ length: count }, (_, i) => snapshot(i, i % partitions)));
  return topic;
}

interface Read {
  /** `partition@offset` of every message, in order. */
  origins: string[];
  /** The values handed out. */
  values: unknown[];
  rejects: Reject[];
  /** Per partition, the furthest cursor of any batch. */
  cursors: Record<number, string>;
}

/** Connects `source` with `ctx`, reads until the end of input acknowledging every batch, closes. */
async function drain(source: KafkaSource, ctx: SourceContext): Promise<Read> {
  const read: Read = { origins: [], values: [], rejects: [], cursors: {} };
  try {
    await source.connect(ctx);
    for (;;) {
      const batch = await source.read(AbortSignal.timeout(30_000));
      if (batch === END_OF_INPUT) return read;
      collect(read, batch);
      await batch.ack();
    }
  } finally {
    await source.close();
  }
}

function collect(read: Read, batch: Batch): void {
  for (const { origin, value } of batch.messages) {
    read.origins.push(`${origin!.partition}@${origin!.offset}`);
    read.values.push(value);
  }
  read.rejects.push(...batch.rejects ?? []);
  for (const { partition, offset } of batch.cursors) read.cursors[partition] = offset;
}

function rerun(range: ReadRange): SourceContext {
  return sourceContext("batch", [], range);
}

function ids(values: unknown[]): number[] {
  return values.map((value) => (value as { id: number }).id).toSorted((a, b) => a - b);
}

function deleteRecordsBefore(topic: string, partition: number, offset: number): Promise<void> {
  return withTestAdmin(async (admin) => {
    await admin.fetchTopicMetadata({ topics: [topic] }); // kafkajs finds the leader in it
    await admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: String(offset) }] });
  });
}

Deno.test("a kafka rerun by time reads exactly the records whose event time field is in [from, to), across partitions, and ends", async () => {
  const topic = await topicOfSnapshots(30, 3);
  const source = sourceFor({
    topic,
    groupId: uniqueName("group"),
    eventTimeField: "collected_at",
    maxBatchSize: 4,
  });
  const read = await drain(source, rerun({ from: { time: at(10) }, to: { time: at(20) } }));
  assert.deepEqual(ids(read.values), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  // Records 20 to 29 were skipped, yet consumed: the cursors reach the end of every partition.
  assert.deepEqual(read.cursors, { 0: "10", 1: "10", 2: "10" });
});

Deno.test("without eventTimeField, a kafka rerun by time selects records by their Kafka timestamp", async () => {
  const topic = await createTestTopic("rerun", 2);
  await produce(
    topic,
    Array.from({ length: 12 }, (_, i) => ({
      partition: i % 2,
      // A field that looks like an event time, but is not configured as one.
      value: JSON.stringify({ id: i, collected_at: at(-1000) }),
      timestamp: String(T0 + i * MINUTE),
    })),
  );
  const source = sourceFor({ topic, groupId: uniqueName("group") });
  const read = await drain(source, rerun({ from: { time: at(5) }, to: { time: at(8) } }));
  assert.deepEqual(ids(read.values), [5, 6, 7]);
});

Deno.test("a kafka rerun by offsets reads exactly those offsets of the partitions named", async () => {
  const topic = await topicOfSnapshots(30, 3);
  const source = sourceFor({ topic, groupId: uniqueName("group"), maxBatchSize: 3 });
  const read = await drain(
    source,
    rerun({ from: { offsets: { 0: "2", 1: "5" } }, to: { offsets: { 0: "6", 1: "8" } } }),
  );
  assert.deepEqual(read.origins.toSorted(), ["0@2", "0@3", "0@4", "0@5", "1@5", "1@6", "1@7"]);
});

Deno.test("a kafka rerun from offsets without an end reads to where the partition ended at the start", async () => {
  const topic = await topicOfSnapshots(30, 3);
  const source = sourceFor({ topic, groupId: uniqueName("group") });
  const read = await drain(source, rerun({ from: { offsets: { 2: "7" } } }));
  assert.deepEqual(read.origins, ["2@7", "2@8", "2@9"]);
});

Deno.test("a kafka rerun from earliest reads every retained record, and none produced after it started", async () => {
  const topic = await topicOfSnapshots(20, 2);
  await deleteRecordsBefore(topic, 0, 4);
  const source = sourceFor({ topic, groupId: uniqueName("group"), maxBatchSize: 5 });
  const ctx = rerun({ from: "earliest", to: "latest" });
  const read: Read = { origins: [], values: [], rejects: [], cursors: {} };
  try {
    await source.connect(ctx);
    await produce(topic, [snapshot(100, 0), snapshot(101, 1)]);
    for (let batch = await source.read(signal); batch !== END_OF_INPUT;) {
      collect(read, batch);
      await batch.ack();
      batch = await source.read(signal);
    }
  } finally {
    await source.close();
  }
  // Partition 0 holds the even ids, and lost 0, 2, 4 and 6.
  assert.deepEqual(ids(read.values), [1, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
});

Deno.test("a kafka rerun from latest reads nothing and ends at once", async () => {
  const topic = await topicOfSnapshots(10, 2);
  const source = sourceFor({ topic, groupId: uniqueName("group") });
  const read = await drain(source, rerun({ from: "latest" }));
  assert.deepEqual(read.origins, []);
});

Deno.test("a kafka rerun acknowledges its batches but commits nothing, neither to the live group nor to its own", async () => {
  const topic = await topicOfSnapshots(30, 1);
  const groupId = uniqueName("group");
  const live = sourceFor({ topic, groupId, maxBatchSize: 10, maxWaitMs: 2_000 });
  try {
    await live.connect(sourceContext("stream"));
    const batch = await live.read(signal);
    assert.notEqual(batch, END_OF_INPUT);
    await (batch as Batch).ack();
  } finally {
    await live.close();
  }
  const before = await committedOffsets(topic, groupId);
  assert.deepEqual(before, { 0: 10 });
  let loads = 0;
  const ctx = {
    ...rerun({ from: "earliest" }),
    loadCursors: (): Promise<Cursor[]> => (loads++, Promise.resolve([])),
  };
  const source = sourceFor({ topic, groupId, maxBatchSize: 7 });
  const read = await drain(source, ctx);
  assert.equal(read.origins.length, 30);
  assert.deepEqual(await committedOffsets(topic, groupId), before);
  assert.deepEqual(await committedOffsets(topic, `${groupId}.rerun.${ctx.runId}`), { 0: -1 });
  assert.equal(loads, 0, "a rerun never reads the live pipeline's stored positions");
});

Deno.test("a kafka rerun of a window older than anything retained fails with a BadRequest naming the earliest retained time, before any batch", async () => {
  const topic = await topicOfSnapshots(10, 1);
  await deleteRecordsBefore(topic, 0, 5);
  const source = sourceFor({ topic, groupId: uniqueName("group"), eventTimeField: "collected_at" });
  const sink = memorySink();
  const result = await runPipeline(memoryPipeline({ source, sinks: [sink] }), {
    mode: "batch",
    range: { from: { time: at(-60) }, to: { time: at(3) } },
  });
  assert.equal(result.exitReason, "bad_request", JSON.stringify(result.error));
  assert.equal(result.exitCode, 2);
  assert.equal(result.error?.name, "BadRequest");
  assert.equal(
    result.error?.message,
    `The window ends at ${at(3)}, before anything ${topic} retains: its earliest record was ` +
      `collected at ${at(5)}.`,
  );
  assert.match(result.error?.hint ?? "", /retention/);
  assert.equal(result.counters.batches, 0);
  assert.equal(sink.written.length, 0);
});

Deno.test("a kafka rerun of a window that ends within what the topic retains reads what is left of it", async () => {
  const topic = await topicOfSnapshots(10, 1);
  await deleteRecordsBefore(topic, 0, 5);
  const source = sourceFor({ topic, groupId: uniqueName("group"), eventTimeField: "collected_at" });
  const read = await drain(source, rerun({ from: { time: at(-60) }, to: { time: at(7) } }));
  assert.deepEqual(ids(read.values), [5, 6]);
});

Deno.test("a kafka rerun from an offset below the earliest retained one fails with a BadRequest", async () => {
  const topic = await topicOfSnapshots(10, 1);
  await deleteRecordsBefore(topic, 0, 5);
  const source = sourceFor({ topic, groupId: uniqueName("group") });
  const error = await source.connect(rerun({ from: { offsets: { 0: "3" } } }))
    .catch((error) => error);
  await source.close();
  assert.ok(error instanceof BadRequest, `expected a BadRequest, got ${error}`);
  assert.equal(
    error.message,
    `Offset 3 of partition 0 of ${topic} is no longer retained: its earliest retained offset is 5.`,
  );
});

Deno.test("a kafka rerun delivers a nacked batch again", async () => {
  const topic = await topicOfSnapshots(30, 1);
  const groupId = uniqueName("group");
  const source = sourceFor({ topic, groupId, eventTimeField: "collected_at", maxBatchSize: 5 });
  const read: Read = { origins: [], values: [], rejects: [], cursors: {} };
  try {
    await source.connect(rerun({ from: { time: at(2) }, to: { time: at(20) } }));
    const [first, second] = [await source.read(signal), await source.read(signal)] as Batch[];
    const firstOrigins = first.messages.map((m) => m.origin!.offset);
    await first.ack(new Error("the warehouse is down"));
    await second.ack();
    const again = await source.read(signal) as Batch;
    assert.deepEqual(again.messages.map((m) => m.origin!.offset), firstOrigins);
    collect(read, again);
    await again.ack();
    for (let batch = await source.read(signal); batch !== END_OF_INPUT;) {
      collect(read, batch);
      await batch.ack();
      batch = await source.read(signal);
    }
  } finally {
    await source.close();
  }
  assert.deepEqual(ids(read.values), Array.from({ length: 18 }, (_, i) => i + 2));
  assert.deepEqual(await committedOffsets(topic, groupId), { 0: -1 });
});

Deno.test("a kafka rerun by time hands out the records whose event time cannot be read", async () => {
  const topic = await createTestTopic("rerun", 1);
  const stamped = String(T0 + 15 * MINUTE);
  await produce(
    topic,
    [
      { id: "before", collected_at: at(5) },
      { id: "inside", collected_at: at(12) },
      { id: "no field" },
      { id: "not a time", collected_at: "yesterday" },
      { id: "no zone", collected_at: at(12).slice(0, -1) },
      { id: "after", collected_at: at(25) },
      42,
    ].map((value) => ({ value: JSON.stringify(value), timestamp: stamped })).concat([
      { value: "not json", timestamp: stamped },
    ]),
  );
  const source = sourceFor({ topic, groupId: uniqueName("group"), eventTimeField: "collected_at" });
  const read = await drain(source, rerun({ from: { time: at(10) }, to: { time: at(20) } }));
  assert.deepEqual(
    read.values.map((value) => (value as { id?: string }).id ?? value),
    ["inside", "no field", "not a time", "no zone", 42],
  );
  assert.deepEqual(read.rejects.map((reject) => reject.payload), ["not json"]);
});

Deno.test("a kafka rerun that needs the earliest record of every partition gets them past its own backpressure", async () => {
  const topic = await topicOfSnapshots(80, 4);
  // Each partition's first fetch alone holds more than the buffer takes before it waits.
  const source = sourceFor({
    topic,
    groupId: uniqueName("group"),
    eventTimeField: "collected_at",
    maxBatchSize: 2,
  });
  const read = await drain(source, rerun({ from: "earliest", to: { time: at(40) } }));
  assert.deepEqual(ids(read.values), Array.from({ length: 40 }, (_, i) => i));
});
