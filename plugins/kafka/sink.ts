/**
 * The Kafka sink: writes each record as a JSON message, keyed by one of its fields, with an
 * idempotent producer.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { Admin, CompressionTypes, Message as KafkaMessage, Producer } from "kafkajs";
import { BatchError, PipelineError } from "../../core/errors.ts";
import { definePlugin } from "../../core/plugin.ts";
import type { ComponentContext, Reject, Sink, SinkBatch } from "../../core/types.ts";
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
 * becomes one JSON message; each write is one request, acknowledged by every in-sync replica.
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
  #admin?: Admin;
  #producer?: Producer;
  #compression?: CompressionTypes;

  /** Builds the sink; connects nothing. */
  constructor(config: KafkaSinkConfig) {
    this.#config = config;
  }

  /** Connects, and creates the topic if it is missing and `createTopic` allows it. */
  async connect(ctx: ComponentContext): Promise<void> {
    this.#log = ctx.logger;
    await this.#disconnect(); // what an earlier, failed attempt left behind
    const { CompressionTypes, Partitioners } = await loadKafkajs();
    this.#compression = this.#config.compression === "gzip"
      ? CompressionTypes.GZIP
      : CompressionTypes.None;
    const kafka = await createKafka(this.#config);
    const admin = kafka.admin();
    const producer = kafka.producer({
      // A retried request is deduplicated by the broker and cannot overtake a later one.
      // kafkajs requires such a producer to retry at least once; the client's 2 retries do.
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.#admin = admin;
    this.#producer = producer;
    try {
      await admin.connect();
      await producer.connect();
      await this.#ensureTopic(admin);
    } catch (error) {
      await this.#disconnect();
      throw kafkaError(error, this.#config.brokers, `prepare topic ${this.#config.topic}`);
    }
  }

  /**
   * Sends the batch in one request. Records that cannot become a message (no key field, not
   * serializable) fail the batch with a `BatchError` that names them, before anything is sent.
   */
  async write(batch: SinkBatch, signal: AbortSignal): Promise<void> {
    const producer = this.#producer;
    if (!producer) {
      throw new PipelineError("The Kafka sink was written to before it connected.", {
        hint: "This is a bug in the caller: connect() must succeed first.",
      });
    }
    const messages = [...this.#toMessages(batch), ...batch.rejects.map(toDeadLetter)];
    if (signal.aborted) throw signal.reason;
    if (messages.length === 0) return;
    const topic = this.#config.topic;
    try {
      await producer.send({ topic, acks: -1, compression: this.#compression, messages });
    } catch (error) {
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
function toDeadLetter(reject: Reject): KafkaMessage {
  const envelope = {
    reason: reject.reason,
    stage: reject.stage,
    origin: reject.origin ?? null,
    payload: reject.payload,
    rejected_at: new Date().toISOString(),
  };
  return { value: toJson(envelope) ?? toJson({ ...envelope, payload: String(reject.payload) })! };
}
