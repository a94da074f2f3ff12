/**
 * The Kafka sink: writes each record as a JSON message, keyed by one of its fields, with an
 * idempotent producer, each write in a transaction of its own when the config asks for it.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type {
  Admin,
  CompressionTypes,
  Kafka,
  Message as KafkaMessage,
  Producer,
  ProducerRecord,
} from "kafkajs";
import {
  BatchError,
  type ComponentContext,
  definePlugin,
  PipelineError,
  type Reject,
  type Sink,
  type SinkBatch,
} from "../../mod.ts";
import {
  createKafka,
  describeTopic,
  disconnectAll,
  kafkaError,
  loadKafkajs,
  withAdmin,
} from "./client.ts";
import { type KafkaSinkConfig, sinkConfigSchema, sinkExample } from "./config.ts";

/**
 * Writes records to a Kafka topic, creating it at connect when it is missing. Each record
 * becomes one JSON message; each write is one request, acknowledged by every in-sync replica,
 * and, with `transactional`, one transaction that `read_committed` consumers see whole or never.
 * As the dead-letter sink, it writes rejects to the same topic as JSON envelopes.
 *
 * @example In a pipeline config
 * ```ts
 * import { kafkaSink } from "./sink.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = kafkaSink({ brokers: "127.0.0.1:9092", topic: "velib-stations", key: "station_code" });
 * assert.deepEqual(sink.validate({ KAFKA_BROKERS: "kafka1:9092,kafka2:9092" }), []);
 * ```
 */
export const kafkaSink = definePlugin({
  kind: "sink",
  name: "kafka",
  description: "Writes each record as a JSON message to a Kafka topic, keyed by one of its fields.",
  config: sinkConfigSchema,
  example: sinkExample,
  env: { brokers: "KAFKA_BROKERS" },
  create: (config) => new KafkaSink(config),
});

/**
 * The component `kafkaSink` builds.
 *
 * @example Writing one record
 * ```ts ignore
 * import { KafkaSink } from "./sink.ts";
 * import { sinkConfigSchema } from "./config.ts";
 * import { getLogger } from "@logtape/logtape";
 *
 * const sink = new KafkaSink(sinkConfigSchema.parse({ brokers: "127.0.0.1:9092", topic: "t" }));
 * const signal = new AbortController().signal;
 * await sink.connect({ pipeline: "demo", mode: "batch", logger: getLogger(["demo"]), signal });
 * await sink.write({ messages: [{ value: { n: 1 } }], rejects: [], cursors: [] }, signal);
 * await sink.close();
 * ```
 */
export class KafkaSink implements Sink {
  readonly #config: KafkaSinkConfig;
  #log: Logger = getLogger(["pipeline", "kafka"]);
  #kafka?: Kafka;
  #admin?: Admin;
  #producer?: Producer;
  #compression?: CompressionTypes;
  /**
   * What the last send that failed carried. The broker may have written it all the same, under
   * the sequence numbers the producer gives the next send: the same records again are then
   * deduplicated, but other records of the same count would be taken for them and dropped. In
   * a transaction it is not visible yet, and the next write's new producer aborts it.
   */
  #unresolved?: string;
  /** Set when each write is a transaction: the id that a new producer fences the old one by. */
  readonly #transactionalId?: string;

  /** Builds the sink; connects nothing. */
  constructor(config: KafkaSinkConfig) {
    this.#config = config;
    const { transactional, clientId, topic } = config;
    this.#transactionalId = transactional === false
      ? undefined
      : transactional === true
      ? `${clientId}.${topic}`
      : transactional.id;
  }

  /** Connects, and creates the topic if it is missing and `createTopic` allows it. */
  async connect(ctx: ComponentContext): Promise<void> {
    this.#log = ctx.logger;
    await this.#disconnect(); // what an earlier, failed attempt left behind
    const { CompressionTypes } = await loadKafkajs();
    this.#compression = this.#config.compression === "gzip"
      ? CompressionTypes.GZIP
      : CompressionTypes.None;
    const kafka = await createKafka(this.#config);
    const admin = kafka.admin();
    const producer = await newProducer(kafka, this.#transactionalId);
    this.#kafka = kafka;
    this.#admin = admin;
    this.#producer = producer;
    this.#unresolved = undefined;
    try {
      await admin.connect();
      await connectProducer(producer, this.#transactionalId !== undefined);
      await this.#ensureTopic(admin);
    } catch (error) {
      await this.#disconnect();
      throw kafkaError(error, this.#config.brokers, `prepare topic ${this.#config.topic}`);
    }
  }

  /**
   * Sends the batch in one request, in a transaction of its own when the config asks for it.
   * Records that cannot become a message (no key field, not serializable) fail the batch with a
   * `BatchError` that names them, before anything is sent. The same batch sent again after a
   * failure is written once; a different one goes through a new producer, since the failed send
   * may have been written after all. In a transaction, any write after a failure goes through a
   * new producer, which aborts what the failed one may have left open.
   */
  async write(batch: SinkBatch, signal: AbortSignal): Promise<void> {
    if (!this.#producer) {
      throw new PipelineError("The Kafka sink was written to before it connected.", {
        hint: "This is a bug in the caller: connect() must succeed first.",
      });
    }
    const records = this.#toMessages(batch);
    const messages = [...records, ...batch.rejects.map((reject) => toDeadLetter(reject))];
    if (signal.aborted) throw signal.reason;
    if (messages.length === 0) return;
    const topic = this.#config.topic;
    const content = () => contentOf(records, batch.rejects);
    try {
      if (
        this.#unresolved !== undefined &&
        (this.#transactionalId !== undefined || this.#unresolved !== content())
      ) {
        await this.#renewProducer();
      }
      const record = { topic, acks: -1, compression: this.#compression, messages };
      if (this.#transactionalId === undefined) await this.#producer.send(record);
      else await sendInTransaction(this.#producer, record);
      this.#unresolved = undefined;
    } catch (error) {
      this.#unresolved ??= content();
      throw kafkaError(error, this.#config.brokers, `write to topic ${topic}`);
    }
  }

  /** Describes the cluster and the topic. */
  async health(signal: AbortSignal): Promise<string> {
    const { brokers, topic } = this.#config;
    try {
      const kafka = await createKafka(this.#config);
      const described = await withAdmin(kafka, signal, (admin) => describeTopic(admin, topic));
      return `Kafka ${brokers.join(",")}: ${described}`;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw kafkaError(error, brokers, `describe topic ${topic}`);
    }
  }

  /** Disconnects; safe to call more than once. */
  async close(): Promise<void> {
    await this.#disconnect();
  }

  #toMessages(batch: SinkBatch): KafkaMessage[] {
    const keyField = this.#config.key;
    const messages: KafkaMessage[] = [];
    const failures: Array<[number, PipelineError]> = [];
    batch.messages.forEach(({ value }, index) => {
      const key = keyField === undefined ? undefined : fieldOf(value, keyField);
      if (keyField !== undefined && (key === undefined || key === null)) {
        failures.push([index, new PipelineError(`The record has no ${keyField} to key it by.`)]);
        return;
      }
      const text = toJson(value);
      if (text === undefined) {
        failures.push([index, new PipelineError("The record cannot be written as JSON.")]);
        return;
      }
      messages.push(key === undefined ? { value: text } : { key: String(key), value: text });
    });
    if (failures.length === 0) return messages;
    const error = new BatchError(
      `${failures.length} of ${batch.messages.length} record(s) cannot become Kafka messages.`,
    );
    for (const [index, cause] of failures) error.failed(index, cause);
    throw error;
  }

  /**
   * Replaces the producer with one of a new producer id, so that a batch sent after one whose
   * fate is unknown cannot be taken for it; with the same transactional id, the new one fences
   * the old one and aborts its open transaction. The old one is kept until the new one connects.
   */
  async #renewProducer(): Promise<void> {
    const producer = await newProducer(this.#kafka!, this.#transactionalId);
    try {
      await connectProducer(producer, this.#transactionalId !== undefined);
    } catch (error) {
      await disconnectAll([producer], this.#config.brokers, this.#log);
      throw error;
    }
    const stale = this.#producer;
    this.#producer = producer;
    this.#unresolved = undefined;
    this.#log.warn(
      this.#transactionalId === undefined
        ? "A write to {topic} failed without an answer, and the broker may have it; the next " +
          "batch goes through a new producer so that it cannot be dropped as a duplicate of it."
        : "A write to {topic} failed; the next batch goes through a new producer of " +
          "transactional id {transactionalId}, which aborts what the failed write left open.",
      { topic: this.#config.topic, transactionalId: this.#transactionalId },
    );
    await disconnectAll([stale], this.#config.brokers, this.#log);
  }

  async #ensureTopic(admin: Admin): Promise<void> {
    const { topic, createTopic } = this.#config;
    if ((await admin.listTopics()).includes(topic)) {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      this.#log.info("Topic {topic} exists with {partitions} partition(s); left as it is.", {
        topic,
        partitions: metadata.topics[0].partitions.length,
      });
      return;
    }
    if (createTopic === false) {
      throw new PipelineError(`Topic ${topic} does not exist and createTopic is false.`, {
        hint: "Create the topic, or let the sink create it with createTopic in its config.",
        transient: true, // an operator may be creating it
      });
    }
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic,
        numPartitions: createTopic.partitions,
        replicationFactor: createTopic.replicationFactor,
        configEntries: Object.entries(createTopic.configs).map(([name, value]) => ({
          name,
          value,
        })),
      }],
    });
    // false: another instance created it between the two calls.
    this.#log.info(
      created
        ? "Created topic {topic} with {partitions} partition(s) and configs {configs}."
        : "Topic {topic} was created meanwhile by someone else; left as it is.",
      { topic, partitions: createTopic.partitions, configs: createTopic.configs },
    );
  }

  async #disconnect(): Promise<void> {
    const producer = this.#producer;
    const admin = this.#admin;
    this.#producer = undefined;
    this.#admin = undefined;
    await disconnectAll([producer, admin], this.#config.brokers, this.#log);
  }
}

/**
 * An idempotent producer: one partition's batches are written once and in order. With a
 * transactional id, {@linkcode connectProducer} makes it fence every earlier producer of it.
 */
async function newProducer(kafka: Kafka, transactionalId?: string): Promise<Producer> {
  const { Partitioners } = await loadKafkajs();
  return kafka.producer({
    // A retried request is deduplicated by the broker and cannot overtake a later one.
    // kafkajs requires such a producer to retry at least once; the client's 2 retries do.
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    // A transaction left open by a process that died blocks read_committed consumers until
    // the broker aborts it, after kafkajs's 60 s, or until a restart fences it, at once.
    transactionalId,
  });
}

/**
 * Connects `producer`. A transactional one takes its producer id now, not at its first
 * transaction as kafkajs would: that fences every earlier producer of its id at once, and
 * aborts what they left open, before anything is written.
 */
async function connectProducer(producer: Producer, transactional: boolean): Promise<void> {
  await producer.connect();
  // An empty transaction: kafkajs takes the id, and its abort sends nothing.
  if (transactional) await (await producer.transaction()).abort();
}

/**
 * Sends `record` in a transaction of its own and commits it. A failed one is aborted, if the
 * broker answers; if it does not, the next producer of the same id aborts it.
 */
async function sendInTransaction(producer: Producer, record: ProducerRecord): Promise<void> {
  const transaction = await producer.transaction();
  try {
    await transaction.send(record);
    await transaction.commit();
  } catch (error) {
    await transaction.abort().catch(() => {});
    throw error;
  }
}

/** What a write carries, to tell it sent again from another one (rejects without their time). */
function contentOf(records: KafkaMessage[], rejects: Reject[]): string {
  return JSON.stringify([
    records.map((message) => [message.key, message.value]),
    rejects.map((reject) => toDeadLetter(reject, "").value),
  ]);
}

function fieldOf(value: unknown, field: string): unknown {
  return typeof value === "object" && value !== null
    ? (value as Record<string, unknown>)[field]
    : undefined;
}

/** The JSON text of `value`, or undefined when it has none (undefined, a function, a cycle). */
function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** A reject as the message a dead-letter topic keeps: what arrived, why, where from, when. */
function toDeadLetter(reject: Reject, rejectedAt = new Date().toISOString()): KafkaMessage {
  const envelope = {
    reason: reject.reason,
    stage: reject.stage,
    origin: reject.origin ?? null,
    payload: reject.payload,
    rejected_at: rejectedAt,
  };
  return { value: toJson(envelope) ?? toJson({ ...envelope, payload: String(reject.payload) })! };
}
