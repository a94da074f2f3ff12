/**
 * The kafkajs client as the source and the sink use it: its logs go to logtape, and its errors
 * become the framework's, with a hint and a transient flag.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { Admin, Kafka, LogEntry } from "kafkajs";
import { ConnectionError, PipelineError } from "../../mod.ts";
import type { KafkaConnectionConfig } from "./config.ts";

const kafkaLogger = getLogger(["pipeline", "kafka"]);

/**
 * kafkajs entries that are logged at debug level instead of as warnings or errors, by namespace
 * and message start. Each either belongs to normal operation or reports an error that kafkajs
 * also throws, and that the plugins report once, with a hint.
 */
const EXPECTED: ReadonlyArray<[namespace: string, start: string]> = [
  // A broker's error answer, e.g. "the group is rebalancing": the caller handles or throws it.
  ["Connection", "Response "],
  // An unreachable broker: thrown as well, and reported as a ConnectionError.
  ["Connection", "Connection error: "],
  ["BrokerPool", "Failed to connect to seed broker"],
  // A consumer that stopped: the source fails the run with the same error.
  ["Consumer", "Crash: "],
  // A rebalance is routine; the source logs each assignment it gets.
  ["Runner", "The group is rebalancing, re-joining"],
  // Bounded on purpose: the runner retries a failed write with its own backoff.
  ["Producer", "Limiting retries for the idempotent producer"],
];

/** Passes kafkajs's warnings and errors to logtape, without the stack of Deno internals. */
function logToLogtape(errorLevel: number): () => (entry: LogEntry) => void {
  return () => ({ namespace, level, log }) => {
    const { message, timestamp: _timestamp, logger: _logger, stack: _stack, ...details } = log;
    const properties = { ...details, namespace, message };
    const template = "kafkajs {namespace}: {message}";
    if (EXPECTED.some(([ns, start]) => ns === namespace && message.startsWith(start))) {
      kafkaLogger.debug(template, properties);
    } else if (level === errorLevel) kafkaLogger.error(template, properties);
    else kafkaLogger.warn(template, properties);
  };
}

/**
 * Loads kafkajs. It is loaded on first use, not imported statically, because it reads the
 * environment as it loads: a config can then be validated without that permission.
 *
 * @example
 * ```ts ignore
 * import { loadKafkajs } from "./client.ts";
 *
 * const { CompressionTypes } = await loadKafkajs();
 * ```
 */
export function loadKafkajs(): Promise<typeof import("kafkajs")> {
  return import("kafkajs");
}

/**
 * Builds a kafkajs client; connects nothing. kafkajs retries only briefly, since the runner
 * retries connects and writes with its own backoff.
 *
 * @example
 * ```ts ignore
 * import { createKafka } from "./client.ts";
 * import { connectionSchema } from "./config.ts";
 *
 * const kafka = await createKafka(connectionSchema.parse({ brokers: "127.0.0.1:9092" }));
 * const admin = kafka.admin(); // not connected until admin.connect()
 * ```
 */
export async function createKafka(config: KafkaConnectionConfig): Promise<Kafka> {
  const { Kafka, logLevel } = await loadKafkajs();
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    retry: { retries: 2, initialRetryTime: 100 },
    logLevel: logLevel.WARN,
    logCreator: logToLogtape(logLevel.ERROR),
  });
}

// The kafkajs errors that mean a broker could not be reached or did not answer.
const UNREACHABLE = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSNoBrokerAvailableError",
  // No broker answered where the group or transaction coordinator is (kafkajs marks it final).
  "KafkaJSGroupCoordinatorNotFound",
]);

/**
 * What kafkajs throws, as a bare `Error`, for a request to a broker whose connection attempt
 * failed (`notInitializedLookup` in its broker/index.js): its message is all there is to go by.
 */
const NOT_CONNECTED = "Broker not connected";

type KafkaJSErrorShape = Error & {
  cause?: unknown;
  retriable?: boolean;
  type?: string;
  errors?: KafkaJSErrorShape[];
};

/** The error and its causes, outermost first. */
function causes(error: unknown): KafkaJSErrorShape[] {
  const chain: KafkaJSErrorShape[] = [];
  for (let e = error; e instanceof Error && chain.length < 10; e = (e as KafkaJSErrorShape).cause) {
    chain.push(e);
  }
  return chain;
}

// What to do about the broker answers that a config can cause, by kafkajs error type.
const HINTS: Record<string, string> = {
  UNKNOWN_TOPIC_OR_PARTITION:
    "Create the topic, or run the pipeline whose kafkaSink creates it, first.",
  MESSAGE_TOO_LARGE: "Keep compression gzip, lower the source's maxBatchSize, or raise the " +
    "topic's max.message.bytes.",
  INVALID_REPLICATION_FACTOR:
    "Lower createTopic.replicationFactor in the kafkaSink config to at most the number of brokers.",
  INVALID_CONFIG: "Check createTopic.configs in the kafkaSink config: names and values must be " +
    "valid Kafka topic configs.",
  // Another producer connected with the same transactional id: this one is a zombie.
  INVALID_PRODUCER_EPOCH: "Another producer took over this sink's transactional id: give each " +
    "instance its own transactional id in the kafkaSink config, or run only one.",
};

/**
 * Turns what kafkajs threw into a framework error: a `ConnectionError` (transient) when no
 * broker answered, otherwise a `PipelineError` that is transient when kafkajs says the request
 * may be retried. `doing` completes "Kafka at … failed to …". Framework errors pass unchanged.
 *
 * @example
 * ```ts
 * import { kafkaError } from "./client.ts";
 * import { ConnectionError } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const refused = Object.assign(new Error("Connection error: connect ECONNREFUSED 127.0.0.1:1"), {
 *   name: "KafkaJSConnectionError",
 * });
 * const error = kafkaError(refused, ["127.0.0.1:1"], "connect");
 * assert.ok(error instanceof ConnectionError);
 * assert.equal(error.message, "Could not reach Kafka at 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1");
 * ```
 */
export function kafkaError(error: unknown, brokers: string[], doing: string): PipelineError {
  if (error instanceof PipelineError) return error;
  const chain = causes(error);
  const root = chain.at(-1);
  const detail = (root?.message ?? String(error)).replace(/^Connection error: /, "");
  const at = brokers.join(",");
  if (chain.some((e) => UNREACHABLE.has(e.name) || e.message === NOT_CONNECTED)) {
    return new ConnectionError(`Could not reach Kafka at ${at}: ${detail}`, {
      hint: "Check that the broker is running and that KAFKA_BROKERS (or brokers in " +
        "pipeline.config.ts) points at it.",
      cause: error,
    });
  }
  // kafkajs reports the topics that createTopics failed for as one aggregate.
  const answers = root?.errors ?? (root ? [root] : []);
  const reasons = root?.errors ? `: ${answers.map((e) => e.message).join("; ")}` : "";
  const hint = [...chain, ...answers].map((e) => HINTS[e.type ?? ""]).find(Boolean);
  // As kafkajs decides whether to restart a consumer that crashed.
  const transient = chain.some((e) => e.name === "KafkaJSNumberOfRetriesExceeded") ||
    (answers.length > 0 && answers.every((e) => e.retriable === true));
  return new PipelineError(`Kafka at ${at} failed to ${doing}: ${detail}${reasons}`, {
    hint,
    transient,
    cause: error,
  });
}

/**
 * Settles like `promise`, or rejects with the signal's reason as soon as `signal` aborts. The
 * request itself is not cancelled: kafkajs cannot cancel one.
 *
 * @example
 * ```ts
 * import { abortable } from "./client.ts";
 * import assert from "node:assert/strict";
 *
 * const controller = new AbortController();
 * controller.abort(new Error("stop"));
 * await assert.rejects(abortable(new Promise(() => {}), controller.signal), /stop/);
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Runs `use` with an admin client of its own, connected for the call and bounded by `signal`,
 * so that a health check measures a fresh round trip whether or not the component is connected.
 *
 * @example
 * ```ts ignore
 * import { createKafka, withAdmin } from "./client.ts";
 * import { connectionSchema } from "./config.ts";
 *
 * const kafka = await createKafka(connectionSchema.parse({ brokers: "127.0.0.1:9092" }));
 * const topics = await withAdmin(kafka, AbortSignal.timeout(5_000), (admin) => admin.listTopics());
 * ```
 */
export async function withAdmin<T>(
  kafka: Kafka,
  signal: AbortSignal,
  use: (admin: Admin) => Promise<T>,
): Promise<T> {
  const admin = kafka.admin();
  try {
    return await abortable(admin.connect().then(() => use(admin)), signal);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Describes the cluster and a topic in a few words, for health checks:
 * `1 broker(s), topic velib-stations has 3 partition(s)`.
 *
 * @example
 * ```ts ignore
 * import { createKafka, describeTopic, withAdmin } from "./client.ts";
 * import { connectionSchema } from "./config.ts";
 *
 * const kafka = await createKafka(connectionSchema.parse({ brokers: "127.0.0.1:9092" }));
 * const text = await withAdmin(kafka, AbortSignal.timeout(5_000), (admin) =>
 *   describeTopic(admin, "velib-stations"));
 * ```
 */
export async function describeTopic(admin: Admin, topic: string): Promise<string> {
  const cluster = await admin.describeCluster();
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  const partitions = metadata.topics[0]?.partitions.length ?? 0;
  return `${cluster.brokers.length} broker(s), topic ${topic} has ${partitions} partition(s)`;
}

/**
 * Disconnects kafkajs clients one after the other. A client that does not disconnect cleanly
 * is logged, not thrown: closing must not fail, and its connections die with the process.
 *
 * @example
 * ```ts
 * import { disconnectAll } from "./client.ts";
 * import { getLogger } from "@logtape/logtape";
 *
 * await disconnectAll([undefined], ["127.0.0.1:9092"], getLogger(["pipeline", "kafka"]));
 * ```
 */
export async function disconnectAll(
  clients: Array<{ disconnect(): Promise<void> } | undefined>,
  brokers: string[],
  log: Logger,
): Promise<void> {
  for (const client of clients) {
    await client?.disconnect().catch((error: unknown) => {
      log.warn("Could not disconnect from Kafka cleanly: {error}", {
        error: kafkaError(error, brokers, "disconnect").message,
      });
    });
  }
}
