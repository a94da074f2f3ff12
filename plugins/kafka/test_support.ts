/**
 * What the Kafka integration tests share: the broker from `KAFKA_BROKERS`, fresh names, and
 * plain kafkajs clients to set a topic up and read it back independently of the plugins.
 *
 * @module
 */
import { requiredEnv, testContext, uniqueName } from "../../testing.ts";
import type { Admin, KafkaMessage, Message } from "kafkajs";
import type { Cursor, ReadRange, RunMode, SourceContext } from "../../mod.ts";

export { uniqueName };
import { createKafka } from "./client.ts";
import { brokersSchema, connectionSchema } from "./config.ts";

/**
 * The brokers of `KAFKA_BROKERS`. Throws when it is unset: integration tests fail, never skip.
 *
 * @example
 * ```ts ignore
 * import { testBrokers } from "./test_support.ts";
 *
 * const brokers = testBrokers(); // "127.0.0.1:9092"
 * ```
 */
export function testBrokers(): string {
  return requiredEnv("KAFKA_BROKERS", "a Kafka broker");
}

/**
 * What the runner hands a source at connect; with a `range`, what it hands it for a rerun.
 *
 * @example
 * ```ts
 * import { sourceContext } from "./test_support.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(await sourceContext("batch").loadCursors(), []);
 * assert.equal(sourceContext("batch", [], { from: "earliest" }).positions, "kafka-test:rerun");
 * ```
 */
export function sourceContext(
  mode: RunMode,
  stored: Cursor[] = [],
  range?: ReadRange,
): SourceContext {
  const loadCursors = () => Promise.resolve(stored);
  if (range === undefined) return { ...testContext("kafka-test", { mode }), loadCursors };
  return {
    ...testContext("kafka-test", { mode, positions: "kafka-test:rerun" }),
    loadCursors,
    range,
  };
}

/**
 * Runs `use` with a connected kafkajs admin client of the test broker.
 *
 * @example
 * ```ts ignore
 * import { withTestAdmin } from "./test_support.ts";
 *
 * const topics = await withTestAdmin((admin) => admin.listTopics());
 * ```
 */
export async function withTestAdmin<T>(use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = (await testKafka()).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates a topic with `partitions` partitions.
 *
 * @example
 * ```ts ignore
 * import { createTestTopic } from "./test_support.ts";
 *
 * const topic = await createTestTopic("stations", 3);
 * ```
 */
export async function createTestTopic(prefix: string, partitions: number): Promise<string> {
  const topic = uniqueName(prefix);
  await withTestAdmin((admin) =>
    admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] })
  );
  return topic;
}

/**
 * Sends messages as they are given (raw values, explicit partitions) with a plain producer,
 * gzip-compressed as the pipeline's own producer does, so that a value of about 1 MiB fits
 * under the broker's message size limit.
 *
 * @example
 * ```ts ignore
 * import { produce } from "./test_support.ts";
 *
 * await produce("stations", [{ value: "not json", partition: 0 }]);
 * ```
 */
export async function produce(topic: string, messages: Message[]): Promise<void> {
  const { CompressionTypes, Partitioners } = await import("kafkajs");
  const producer = (await testKafka()).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    await producer.send({ topic, messages, compression: CompressionTypes.GZIP });
  } finally {
    await producer.disconnect();
  }
}

/** A message read back, with the partition it was in. */
export interface ReadBack {
  /** The partition. */
  partition: number;
  /** The offset in it. */
  offset: string;
  /** The key as text, or null. */
  key: string | null;
  /** The value as text, or null. */
  value: string | null;
}

/**
 * Reads a topic from the beginning with a plain consumer in a group of its own, until `count`
 * messages arrived.
 *
 * @example
 * ```ts ignore
 * import { readBack } from "./test_support.ts";
 *
 * const messages = await readBack("stations", 3);
 * ```
 */
export async function readBack(topic: string, count: number): Promise<ReadBack[]> {
  const consumer = (await testKafka()).consumer({
    groupId: uniqueName("read-back"),
    maxWaitTimeInMs: 100,
  });
  const messages: ReadBack[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      consumer.run({
        eachMessage: ({ partition, message }) => {
          messages.push(readBackOf(partition, message));
          if (messages.length >= count) resolve();
          return Promise.resolve();
        },
      });
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`Read ${messages.length} of ${count} messages of ${topic} in 10 s.`));
      }, 10_000);
    });
    await Promise.race([done, timeout]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

/**
 * The offsets committed by `groupId` on `topic`, by partition (-1 when none).
 *
 * @example
 * ```ts ignore
 * import { committedOffsets } from "./test_support.ts";
 *
 * const offsets = await committedOffsets("stations", "load"); // { 0: 20 }
 * ```
 */
export function committedOffsets(topic: string, groupId: string): Promise<Record<number, number>> {
  return withTestAdmin(async (admin) => {
    const [{ partitions }] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries(partitions.map((p) => [p.partition, Number(p.offset)]));
  });
}

function readBackOf(partition: number, message: KafkaMessage): ReadBack {
  return {
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? null,
    value: message.value?.toString() ?? null,
  };
}

async function testKafka() {
  const brokers = brokersSchema.parse(testBrokers());
  return await createKafka(connectionSchema.parse({ brokers, clientId: "kafka-test" }));
}
