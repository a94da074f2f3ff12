/**
 * The peer users would run instead of `batch load`: Kafka Connect standalone with Debezium's JDBC
 * sink, configured as its documentation suggests (insert mode, the primary key from the record
 * value, `batch.size` raised and the consumer's `max.poll.records` with it,
 * `reWriteBatchedInserts=true`), loading the same backlog into a raw-like table of a new database
 * on the same PostgreSQL server. The connector needs a schema on every message (JsonConverter
 * with schemas on), so it reads a JSON-with-schema copy of the backlog on a topic of its own:
 * each original record's value, unchanged, as the payload beside one fixed schema.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { uniqueName } from "../core/testing.ts";
import { scratchDatabase } from "../plugins/sink-postgres/testing.ts";
import {
  DEBEZIUM_JDBC_VERSION,
  ensureKafkaConnectJars,
  KAFKA_CONNECT_VERSION,
  startKafkaConnect,
  waitForConnector,
} from "../tools/lib/kafka_connect.ts";
import { randomHex } from "../tools/lib/proc.ts";

/** Debezium's `batch.size` (default 500), and the consumer's `max.poll.records` to match. */
export const KAFKA_CONNECT_BATCH_SIZE = 5_000;
/** The Connect JVM's `-Xmx`. */
export const KAFKA_CONNECT_HEAP = "1g";
/** How often the table's count(*) is polled. */
const POLL_MS = 250;

/** The table the connector writes: raw's columns for the message's fields, its key and index. */
const TABLE = "station_snapshots";
const CREATE_TABLE = `
  CREATE TABLE ${TABLE} (
    schema_version smallint NOT NULL,
    system_id text NOT NULL,
    station_code text NOT NULL,
    station_name text NOT NULL,
    bikes_available int NOT NULL,
    mechanical_bikes int NOT NULL,
    electric_bikes int NOT NULL,
    docks_available int NOT NULL,
    capacity int NOT NULL,
    is_installed boolean NOT NULL,
    is_renting boolean NOT NULL,
    is_returning boolean NOT NULL,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    last_reported timestamptz NULL,
    commune text NULL,
    code_insee text NULL,
    collected_at timestamptz NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_code, collected_at)
  );
  CREATE INDEX ${TABLE}_collected_at_idx ON ${TABLE} (collected_at);`;

/** The Connect schema of a station snapshot; timestamps are Debezium's ZonedTimestamp strings. */
const SCHEMA = {
  type: "struct",
  name: "velib.StationSnapshot",
  optional: false,
  fields: [
    ["schema_version", "int16"],
    ["system_id", "string"],
    ["station_code", "string"],
    ["station_name", "string"],
    ["bikes_available", "int32"],
    ["mechanical_bikes", "int32"],
    ["electric_bikes", "int32"],
    ["docks_available", "int32"],
    ["capacity", "int32"],
    ["is_installed", "boolean"],
    ["is_renting", "boolean"],
    ["is_returning", "boolean"],
    ["latitude", "double"],
    ["longitude", "double"],
    ["last_reported", "string", true, "io.debezium.time.ZonedTimestamp"],
    ["commune", "string", true],
    ["code_insee", "string", true],
    ["collected_at", "string", false, "io.debezium.time.ZonedTimestamp"],
  ].map(([field, type, optional = false, name]) => ({
    field,
    type,
    optional,
    ...(name ? { name } : {}),
  })),
};

const encoder = new TextEncoder();
const ENVELOPE_HEAD = encoder.encode(`{"schema":${JSON.stringify(SCHEMA)},"payload":`);
const ENVELOPE_TAIL = encoder.encode("}");
/** Messages per produce request of the copy (about 2 MB before gzip). */
const COPY_CHUNK = 1_000;

/** Options of {@linkcode publishSchemaCopy}. */
export interface SchemaCopyOptions {
  /** Comma-separated `host:port` list. */
  brokers: string;
  /** The backlog's topic, read from its beginning. */
  from: string;
  /** The copy's topic, created with one partition. */
  to: string;
  /** How many messages `from` holds. */
  messages: number;
}

/**
 * Copies every record of `from` to `to`, keys unchanged, each value wrapped as
 * `{"schema": …, "payload": <the original value>}` (what JsonConverter reads with schemas on),
 * gzip, acks=all; resolves once `messages` are copied.
 *
 * @example
 * ```ts ignore
 * import { publishSchemaCopy } from "./kafka_connect.ts";
 *
 * await publishSchemaCopy({ brokers, from: "bench_catchup", to: "bench_catchup_schema", messages });
 * ```
 */
export async function publishSchemaCopy(options: SchemaCopyOptions): Promise<void> {
  const kafka = new Kafka({
    clientId: "bench-schema-copy",
    brokers: options.brokers.split(","),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: uniqueName("bench_schema_copy") });
  await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
  try {
    await admin.createTopics({
      topics: [{ topic: options.to, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    let copied = 0;
    let finish: () => void;
    let fail: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    await consumer.subscribe({ topic: options.from, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        if (copied >= options.messages) return;
        try {
          const messages = batch.messages.slice(0, options.messages - copied).map((message) => ({
            key: message.key,
            value: Buffer.concat([ENVELOPE_HEAD, message.value!, ENVELOPE_TAIL]),
          }));
          // One request per chunk: a fetched batch can exceed the broker's message.max.bytes.
          for (let start = 0; start < messages.length; start += COPY_CHUNK) {
            await producer.send({
              topic: options.to,
              acks: -1,
              compression: CompressionTypes.GZIP,
              messages: messages.slice(start, start + COPY_CHUNK),
            });
          }
          copied += messages.length;
          resolveOffset(batch.lastOffset());
          await heartbeat();
          if (copied >= options.messages) finish();
        } catch (error) {
          fail(error);
        }
      },
    });
    await done;
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/** One timed load by Kafka Connect. */
export interface KafkaConnectRun {
  /** From the JVM's spawn until count(*) reached the backlog. */
  wallMs: number;
  /** The JVM's VmHWM, read just before it is stopped. */
  peakRssMb: number;
}

/** Options of {@linkcode kafkaConnectOnce}. */
export interface KafkaConnectRunOptions {
  /** Comma-separated `host:port` list. */
  brokers: string;
  /** The JSON-with-schema copy of the backlog. */
  topic: string;
  /** How many messages it holds. */
  messages: number;
  /** The PostgreSQL server (a new database is made on it, then dropped). */
  databaseUrl: string;
  /** Progress lines. */
  log: (line: string) => void;
  /**
   * Give up after this long.
   * @default {900_000}
   */
  timeoutMs?: number;
}

/**
 * Makes sure the jars are cached (not timed), then loads `topic` with a new connector (a new
 * consumer group) into a new database and times it; the worker is always stopped.
 *
 * @example
 * ```ts ignore
 * import { kafkaConnectOnce } from "./kafka_connect.ts";
 *
 * const run = await kafkaConnectOnce({ brokers, topic, messages, databaseUrl, log });
 * ```
 */
export async function kafkaConnectOnce(options: KafkaConnectRunOptions): Promise<KafkaConnectRun> {
  await ensureKafkaConnectJars(options.log);
  await using database = await scratchDatabase(options.databaseUrl);
  const target = new URL(database.url);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(CREATE_TABLE);
    const secret = "VELIB_BENCH_PG_PASSWORD";
    await using worker = await startKafkaConnect({
      brokers: options.brokers,
      heap: KAFKA_CONNECT_HEAP,
      worker: { "consumer.max.poll.records": String(KAFKA_CONNECT_BATCH_SIZE) },
      connector: {
        "name": `velib-jdbc-sink-${randomHex(4)}`,
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "topics": options.topic,
        "connection.url": `jdbc:postgresql://${target.host}${target.pathname}` +
          "?reWriteBatchedInserts=true",
        "connection.username": decodeURIComponent(target.username),
        "connection.password": `\${env:${secret}}`,
        "insert.mode": "insert",
        "delete.enabled": "false",
        "primary.key.mode": "record_value",
        "primary.key.fields": "station_code,collected_at",
        "schema.evolution": "none",
        "collection.name.format": TABLE,
        "batch.size": String(KAFKA_CONNECT_BATCH_SIZE),
      },
      secrets: { [secret]: decodeURIComponent(target.password) },
      log: options.log,
    });
    let rows = 0;
    await waitForConnector(worker, async () => {
      const result = await client.query<{ rows: string }>(
        `SELECT count(*) AS rows FROM ${TABLE}`,
      );
      rows = Number(result.rows[0].rows);
      return rows >= options.messages;
    }, { timeoutMs: options.timeoutMs ?? 900_000, intervalMs: POLL_MS });
    const wallMs = performance.now() - worker.startedAt;
    const peakRssMb = worker.peakRssMb();
    if (rows !== options.messages) {
      throw new Error(`Kafka Connect left ${rows} rows; expected ${options.messages}.`);
    }
    return { wallMs, peakRssMb };
  } finally {
    await client.end();
  }
}

/** How the peer was set up, for the report's notes. */
export function kafkaConnectNote(): string {
  return `Kafka Connect: ${KAFKA_CONNECT_VERSION} standalone (connect-runtime, connect-json, ` +
    `connect-transforms, slf4j-reload4j 1.7.36) with Debezium's JDBC sink ` +
    `${DEBEZIUM_JDBC_VERSION} (its plugin archive), one task, insert mode, primary key ` +
    `(station_code, collected_at) from the record value, batch.size ` +
    `${
      KAFKA_CONNECT_BATCH_SIZE.toLocaleString("en-US")
    } with consumer max.poll.records to match, ` +
    `reWriteBatchedInserts=true, -Xmx${KAFKA_CONNECT_HEAP}; into a new table with raw's ` +
    "columns for the message's fields (no enrichment, no mart, no positions), its primary key " +
    "and collected_at index, in a new database on the same server. It reads a JSON-with-schema " +
    "copy of the same backlog on a topic of its own (JsonConverter with schemas on: each " +
    "original value as the payload beside one fixed schema), made once before the runs. Timed " +
    `from the JVM's spawn until count(*) reaches the backlog (polled every ${POLL_MS} ms); ` +
    "peak RSS is the JVM's VmHWM.";
}
