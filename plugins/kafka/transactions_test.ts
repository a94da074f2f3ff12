// A transactional kafka sink and the kafka source on a real broker: the source reads
// `read_committed`, so it sees a transaction whole once committed and never once aborted, and a
// batch run ends past the markers that close transactions.
import assert from "node:assert/strict";
import type { Producer } from "kafkajs";
import { END_OF_INPUT, PipelineError, retry } from "../../mod.ts";
import { createKafka } from "./client.ts";
import { connectionSchema, sinkConfigSchema, sourceConfigSchema } from "./config.ts";
import { KafkaSink } from "./sink.ts";
import { KafkaSource } from "./source.ts";
import { sourceContext, testBrokers, uniqueName } from "./test_support.ts";

const signal = new AbortController().signal;
const RETRY_QUICKLY = { attempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 };

/** A connected transactional sink of `topic` (created with `partitions`), keyed by id. */
async function transactionalSink(
  topic: string,
  transactional: true | { id: string },
  partitions = 1,
): Promise<KafkaSink> {
  const sink = new KafkaSink(sinkConfigSchema.parse({
    brokers: testBrokers(),
    topic,
    key: "id",
    transactional,
    createTopic: { partitions },
  }));
  // As the runner does: a topic just created may briefly have no leader.
  await retry(() => sink.connect(sourceContext("batch")), RETRY_QUICKLY);
  return sink;
}

const records = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ value: { id: `r${from + i}`, n: from + i } }));

async function write(sink: KafkaSink, from: number, count: number): Promise<void> {
  await sink.write({ messages: records(from, count), rejects: [], cursors: [] }, signal);
}

/** The `n` of every record a batch run of `groupId` reads, acknowledging each batch. */
async function readAll(topic: string, groupId = uniqueName("txn-read")): Promise<number[]> {
  const source = new KafkaSource(
    sourceConfigSchema.parse({ brokers: testBrokers(), topic, groupId, maxWaitMs: 50 }),
  );
  await source.connect(sourceContext("batch"));
  try {
    const read: number[] = [];
    for (;;) {
      const batch = await source.read(AbortSignal.timeout(15_000));
      if (batch === END_OF_INPUT) return read.sort((a, b) => a - b);
      for (const { value } of batch.messages) read.push((value as { n: number }).n);
      await batch.ack();
    }
  } finally {
    await source.close();
  }
}

/** A plain kafkajs producer of `transactionalId` with a transaction open on `topic`. */
async function openTransaction(
  transactionalId: string,
  topic: string,
  from: number,
): Promise<{ producer: Producer; commit(): Promise<void>; abort(): Promise<void> }> {
  const kafka = await createKafka(connectionSchema.parse({ brokers: testBrokers() }));
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({
    topic,
    acks: -1,
    messages: records(from, 3).map(({ value }) => ({
      key: value.id,
      value: JSON.stringify(value),
    })),
  });
  return { producer, commit: () => transaction.commit(), abort: () => transaction.abort() };
}

Deno.test("a transactional kafka sink's writes are read whole, and a batch run ends past their commit markers", async () => {
  const topic = uniqueName("txn-whole");
  const sink = await transactionalSink(topic, true, 2);
  try {
    await write(sink, 0, 40);
    await write(sink, 40, 40);
  } finally {
    await sink.close();
  }
  assert.deepEqual(await readAll(topic), Array.from({ length: 80 }, (_, n) => n));
});

Deno.test("a transaction left open by a producer that died is aborted when the sink of its transactional id connects, and never read", async () => {
  const topic = uniqueName("txn-zombie");
  const id = uniqueName("ingest");
  const first = await transactionalSink(topic, { id });
  await write(first, 0, 2);
  await first.close();
  // The predecessor sent a cycle and died before committing it.
  const zombie = await openTransaction(id, topic, 100);
  const sink = await transactionalSink(topic, { id });
  try {
    await write(sink, 2, 2);
  } finally {
    await sink.close();
  }
  await assert.rejects(zombie.commit());
  await zombie.producer.disconnect();
  assert.deepEqual(await readAll(topic), [0, 1, 2, 3]);
});

Deno.test("a kafka source batch run ends past an aborted transaction at the end of its partition", async () => {
  const topic = uniqueName("txn-aborted-tail");
  const groupId = uniqueName("txn-read");
  const sink = await transactionalSink(topic, true);
  try {
    await write(sink, 0, 5);
  } finally {
    await sink.close();
  }
  assert.deepEqual(await readAll(topic, groupId), [0, 1, 2, 3, 4]);
  // From the group's commit on, the partition holds no record a read_committed consumer gets.
  const aborted = await openTransaction(uniqueName("aborted"), topic, 100);
  await aborted.abort();
  await aborted.producer.disconnect();
  assert.deepEqual(await readAll(topic, groupId), []);
});

Deno.test("a transactional kafka sink fenced by a newer producer of its id fails its write for good, with a hint", async () => {
  const topic = uniqueName("txn-fenced");
  const id = uniqueName("ingest");
  const older = await transactionalSink(topic, { id });
  const newer = await transactionalSink(topic, { id });
  try {
    const error = await write(older, 0, 2).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof PipelineError, String(error));
    assert.equal(error.transient, false);
    assert.match(error.hint ?? "", /transactional id/);
  } finally {
    await older.close();
    await newer.close();
  }
  assert.deepEqual(await readAll(topic), []);
});

Deno.test("a kafka source caught up on a transactional topic reports no lag, past the last commit marker", async () => {
  const topic = uniqueName("txn-lag");
  const sink = await transactionalSink(topic, true);
  try {
    await write(sink, 0, 5);
  } finally {
    await sink.close();
  }
  const source = new KafkaSource(
    sourceConfigSchema.parse({ brokers: testBrokers(), topic, groupId: uniqueName("txn-lag") }),
  );
  await source.connect(sourceContext("batch"));
  try {
    const batch = await source.read(AbortSignal.timeout(15_000));
    assert.notEqual(batch, END_OF_INPUT);
    if (batch === END_OF_INPUT) return;
    await batch.ack();
    assert.equal(await source.read(AbortSignal.timeout(15_000)), END_OF_INPUT);
    // 5 records and the marker that commits them: the group's commit stops at the marker.
    assert.deepEqual(source.lag(), [{ stream: topic, partition: 0, records: 0 }]);
  } finally {
    await source.close();
  }
});
