/**
 * What the hand-written loaders of the bench share (the naive one and the seed-style one): a
 * kafkajs consumer reading a topic from its beginning as a new group, a PostgreSQL client, and a
 * run that ends when the loader says it is done or failed.
 *
 * @module
 */
import { type Consumer, Kafka, logLevel } from "kafkajs";
import pg from "pg";

/** Options of a hand-written loader. */
export interface HandLoadOptions {
  /** Comma-separated `host:port` list. */
  brokers: string;
  /** The topic, read from its beginning. */
  topic: string;
  /** The consumer group, new for each run. */
  groupId: string;
  /** A migrated warehouse. */
  databaseUrl: string;
  /** Stop after this many messages. */
  limit: number;
}

/** How a loader ends its run: with the time it took, or with an error. */
export interface LoadEnd {
  finish(ms: number): void;
  fail(error: unknown): void;
}

/**
 * Connects a consumer subscribed to the topic from its beginning and a client, hands them to
 * `run` (which starts consuming and calls `end` once), resolves with the time `end.finish` gave,
 * and disconnects both whatever happened.
 *
 * @example
 * ```ts ignore
 * const ms = await handLoad(options, "naive-loader", (consumer, client, end) =>
 *   consumer.run({ eachMessage: async () => {} })
 * );
 * ```
 */
export async function handLoad(
  options: HandLoadOptions,
  clientId: string,
  run: (consumer: Consumer, client: pg.Client, end: LoadEnd) => Promise<void>,
): Promise<number> {
  const kafka = new Kafka({
    clientId,
    brokers: options.brokers.split(","),
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: options.groupId });
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await Promise.all([consumer.connect(), client.connect()]);
  const done = Promise.withResolvers<number>();
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await run(consumer, client, { finish: done.resolve, fail: done.reject });
    return await done.promise;
  } finally {
    await consumer.disconnect().catch(() => {});
    await client.end().catch(() => {});
  }
}
