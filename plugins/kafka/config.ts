/**
 * The configs of the Kafka source and sink: the schemas are the single source of truth for their
 * types.
 *
 * @module
 */
import { z } from "zod";

/**
 * Brokers as `host:port`, given as an array or as the comma-separated string that
 * `KAFKA_BROKERS` holds.
 *
 * @example
 * ```ts
 * import { brokersSchema } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(brokersSchema.parse("127.0.0.1:9092, kafka2:9092"), [
 *   "127.0.0.1:9092",
 *   "kafka2:9092",
 * ]);
 * ```
 */
export const brokersSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((brokers) =>
    (typeof brokers === "string" ? brokers.split(",") : brokers)
      .map((broker) => broker.trim())
      .filter((broker) => broker !== "")
  )
  .pipe(
    z.array(z.string().regex(/^\S+:\d{1,5}$/, { error: "expected host:port" }))
      .min(1, { error: "expected at least one broker as host:port" }),
  );

// Kafka's own rule for topic names.
const topic = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, {
  error: "expected a topic name of letters, digits, '.', '_' and '-'",
});

/** How to reach the cluster; shared by the source and the sink. */
export const connectionSchema = z.strictObject({
  /** The brokers to bootstrap from; overridden by `KAFKA_BROKERS`. */
  brokers: brokersSchema,
  /** How this client names itself to the brokers (in their logs, quotas and ACLs). */
  clientId: z.string().min(1).default("pipeline"),
  /** Longest wait for a TCP connection to a broker. */
  connectionTimeoutMs: z.int().min(1).default(3_000),
  /** Longest wait for a broker to answer a request. */
  requestTimeoutMs: z.int().min(1).default(30_000),
});

/** A validated connection config, defaults applied. */
export type KafkaConnectionConfig = z.output<typeof connectionSchema>;

/** How the sink creates its topic when it is missing. */
export const createTopicSchema = z.strictObject({
  /** Partitions of the new topic. */
  partitions: z.int().min(1).default(1),
  /** Copies of each partition; at most the number of brokers. */
  replicationFactor: z.int().min(1).default(1),
  /** Topic configs, e.g. `{ "retention.ms": "604800000" }`. */
  configs: z.record(z.string(), z.string()).default({}),
});

/** The config of `kafkaSink`. */
export const sinkConfigSchema = connectionSchema.extend({
  /** The topic written to. */
  topic,
  /** The record field whose value keys each message; no key when unset. */
  key: z.string().min(1).optional(),
  /** How each request's messages are compressed. */
  compression: z.enum(["gzip", "none"]).default("gzip"),
  /** Creates the topic at connect when it is missing; `false` leaves that to an operator. */
  createTopic: z.union([z.literal(false), createTopicSchema]).default({
    partitions: 1,
    replicationFactor: 1,
    configs: {},
  }),
  /**
   * Publishes each write (an ingest cycle) in one Kafka transaction, so that consumers reading
   * `read_committed`, as `kafkaSource` does, see it whole or not at all: a write that failed or
   * was given up is aborted, even when the broker had it. `true` takes the transactional id
   * `<clientId>.<topic>`; `{ id }` names it. The id must be stable across restarts, so that a
   * restarted producer fences the one it replaces, and unique per instance: two producers with
   * the same id fence each other. Needs the broker's transaction state log, and, with ACLs,
   * WRITE on the transactional id.
   */
  transactional: z.union([z.boolean(), z.strictObject({ id: z.string().min(1) })]).default(
    false,
  ),
});

/** A validated `kafkaSink` config, defaults applied. */
export type KafkaSinkConfig = z.output<typeof sinkConfigSchema>;

/** The config of `kafkaSource`. */
export const sourceConfigSchema = connectionSchema.extend({
  /** The topic read. */
  topic,
  /** The consumer group: instances that share it split the partitions between them. */
  groupId: z.string().min(1),
  /** Most records in one batch. */
  maxBatchSize: z.int().min(1).default(5_000),
  /** How long a read waits to fill a batch once it has one record. */
  maxWaitMs: z.int().min(0).default(500),
  /** How message values are decoded. */
  format: z.enum(["json"]).default("json"),
  /**
   * The top-level field of each JSON value that holds its event time, as ISO-8601 with a zone
   * (e.g. `collected_at`): a rerun by time selects records by it. Without it, a rerun by time
   * selects records by their Kafka timestamp, which is when they were published.
   */
  eventTimeField: z.string().min(1).optional(),
  /**
   * How long the group waits for a member's heartbeat before it gives the member's partitions
   * to others. A member that dies without leaving (a killed run) holds its partitions that long:
   * the next run waits for it before it reads anything. kafkajs's 30 s would cost every restart
   * after a crash 30 s; 10 s still covers a pause of the process. The broker refuses values
   * outside its `group.min.session.timeout.ms` (6 s by default) and
   * `group.max.session.timeout.ms`.
   */
  sessionTimeoutMs: z.int().min(1_000).default(10_000),
});

/** A validated `kafkaSource` config, defaults applied. */
export type KafkaSourceConfig = z.output<typeof sourceConfigSchema>;

/**
 * A complete sink config: station snapshots keyed by station, kept a week or 1 GiB per partition.
 *
 * @example
 * ```ts
 * import { sinkConfigSchema, sinkExample } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(sinkConfigSchema.parse(sinkExample).compression, "gzip");
 * ```
 */
export const sinkExample: z.input<typeof sinkConfigSchema> = {
  brokers: "127.0.0.1:9092",
  topic: "velib-stations",
  key: "station_code",
  createTopic: {
    partitions: 3,
    configs: { "retention.ms": "604800000", "retention.bytes": "1073741824" },
  },
};

/**
 * A complete source config: the warehouse loader's group on the stations topic.
 *
 * @example
 * ```ts
 * import { sourceConfigSchema, sourceExample } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(sourceConfigSchema.parse(sourceExample).maxBatchSize, 5000);
 * ```
 */
export const sourceExample: z.input<typeof sourceConfigSchema> = {
  brokers: "127.0.0.1:9092",
  topic: "velib-stations",
  groupId: "velib-warehouse",
};
