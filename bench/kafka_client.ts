/**
 * Kafka client: consume throughput under Deno of kafkajs (the Kafka plugins' client, whose last
 * release is from 2023) against @platformatic/kafka, on one topic of the synthetic backlog
 * (gzip, as ingest publishes it). Each run of each client reads the whole topic from the
 * beginning as a new consumer group, counting messages and value bytes; nothing is committed.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };
import { uniqueName } from "../core/testing.ts";
import { createKafka, withAdmin } from "../plugins/kafka/client.ts";
import { connectionSchema } from "../plugins/kafka/config.ts";
import { publishBacklog } from "../tests/support/backlog.ts";
import { type Bench, type Figure, median } from "./report.ts";

/** Cycles of 1,471 stations in the topic. */
const CYCLES = { small: 34, full: 680 };

/** How much faster a second client must read to be worth maintaining beside the first. */
const WORTH_IT_FACTOR = 1.5;

/** A client's version, as deno.json pins it, e.g. `2.2.4` for `npm:kafkajs@2.2.4`. */
const pinned = (name: keyof typeof config.imports) =>
  config.imports[name].slice(config.imports[name].lastIndexOf("@") + 1);

/** One client's reading of the topic. */
interface Reading {
  /** Connect to the first message, ms: group join and the first fetch. */
  startupMs: number;
  /** First message to the last, ms. */
  readMs: number;
  /** Messages read. */
  messages: number;
  /** Value bytes read, after decompression. */
  bytes: number;
}

/** Reads `total` messages of `topic` from the beginning as the new group `groupId`. */
type Reader = (brokers: string[], topic: string, groupId: string, total: number) => Promise<
  Reading
>;

/**
 * What one fetch may bring per partition in plugins/kafka/source.ts (compressed): both clients
 * are measured with it, and with their own defaults (kafkajs 1 MiB, @platformatic/kafka 50 MiB).
 */
const SOURCE_FETCH_BYTES = 256 * 1024;

/** kafkajs as the Kafka source runs it: `eachBatch`, no auto-commit. */
const readWithKafkajs =
  (maxBytesPerPartition?: number): Reader => async (brokers, topic, groupId, total) => {
    const { Kafka, logLevel } = await import("kafkajs");
    const kafka = new Kafka({ clientId: "bench-kafkajs", brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500, maxBytesPerPartition });
    const started = performance.now();
    let first = 0;
    let messages = 0;
    let bytes = 0;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const done = Promise.withResolvers<void>();
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          if (first === 0) first = performance.now();
          for (const message of batch.messages) bytes += message.value?.length ?? 0;
          messages += batch.messages.length;
          if (messages >= total) done.resolve();
          return Promise.resolve();
        },
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => done.reject(payload.error));
      await done.promise;
      const finished = performance.now();
      return { startupMs: first - started, readMs: finished - first, messages, bytes };
    } finally {
      await consumer.disconnect();
    }
  };

/** @platformatic/kafka's message stream, in flowing mode, no auto-commit. */
const readWithPlatformatic =
  (maxBytesPerPartition?: number): Reader => async (brokers, topic, groupId, total) => {
    const { Consumer, MessagesStreamModes, MessagesStreamFallbackModes } = await import(
      "@platformatic/kafka"
    );
    const consumer = new Consumer({
      clientId: "bench-platformatic",
      groupId,
      bootstrapBrokers: brokers,
      maxWaitTime: 500,
      maxBytesPerPartition,
    });
    const started = performance.now();
    let first = 0;
    let messages = 0;
    let bytes = 0;
    try {
      const stream = await consumer.consume({
        topics: [topic],
        autocommit: false,
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      });
      const done = Promise.withResolvers<void>();
      stream.on("data", (message) => {
        if (first === 0) first = performance.now();
        bytes += message.value?.length ?? 0;
        messages += 1;
        if (messages >= total) done.resolve();
      });
      stream.on("error", (error) => done.reject(error));
      await done.promise;
      const finished = performance.now();
      await stream.close();
      return { startupMs: first - started, readMs: finished - first, messages, bytes };
    } finally {
      await consumer.close(true);
    }
  };

const KAFKAJS = `kafkajs ${pinned("kafkajs")}, 256 KiB fetches (the source's)`;
const KAFKAJS_DEFAULT = `kafkajs ${pinned("kafkajs")}, its default fetches`;
const PLATFORMATIC = `@platformatic/kafka ${pinned("@platformatic/kafka")}, 256 KiB fetches`;
const PLATFORMATIC_DEFAULT = `@platformatic/kafka ${
  pinned("@platformatic/kafka")
}, its default fetches`;
const CLIENTS = [
  { name: KAFKAJS, read: readWithKafkajs(SOURCE_FETCH_BYTES) },
  { name: PLATFORMATIC, read: readWithPlatformatic(SOURCE_FETCH_BYTES) },
  { name: KAFKAJS_DEFAULT, read: readWithKafkajs() },
  { name: PLATFORMATIC_DEFAULT, read: readWithPlatformatic() },
];

/**
 * The Kafka client benchmark.
 *
 * @example
 * ```ts ignore
 * import { kafkaClient } from "./kafka_client.ts";
 *
 * const section = await kafkaClient({ size: "small", runs: 3, env, log: console.error });
 * ```
 */
export const kafkaClient: Bench = async (context) => {
  const brokers = context.env.KAFKA_BROKERS.split(",");
  const topic = uniqueName("bench_kafka_client");
  const cycles = CYCLES[context.size];
  context.log(`kafka client: publishing ${cycles} cycles to ${topic}`);
  const backlog = await publishBacklog({
    brokers: context.env.KAFKA_BROKERS,
    topic,
    cycles,
    seed: 5,
  });
  const throughput = new Map<string, Figure>();
  const startup = new Map<string, Figure>();
  const failures = new Map<string, string>();
  let valueBytes = 0;
  try {
    // Interleaved, so that both clients see the same share of the machine's noise.
    for (let run = 0; run < context.runs; run++) {
      for (const client of CLIENTS) {
        if (failures.has(client.name)) continue;
        context.log(`kafka client: ${client.name}, run ${run + 1}`);
        try {
          const reading = await client.read(
            brokers,
            topic,
            uniqueName("bench_group"),
            backlog.messages,
          );
          if (reading.messages !== backlog.messages) {
            throw new Error(`read ${reading.messages} of ${backlog.messages} messages`);
          }
          valueBytes = reading.bytes;
          figureOf(throughput, `${client.name}: consume`, "msg/s").samples.push(
            reading.messages / ((reading.startupMs + reading.readMs) / 1000),
          );
          figureOf(startup, `${client.name}: connect to first message`, "ms").samples.push(
            reading.startupMs,
          );
        } catch (error) {
          failures.set(client.name, (error as Error).stack ?? String(error));
        }
      }
    }
  } finally {
    await deleteTopic(context.env.KAFKA_BROKERS, topic);
  }
  const medianOf = (name: string) => {
    const figure = throughput.get(`${name}: consume`);
    return figure ? median(figure.samples) : undefined;
  };
  return {
    title: "Kafka client: consume throughput under Deno",
    figures: [...throughput.values(), ...startup.values()],
    targets: [],
    notes: [
      `One topic, 1 partition, of ${backlog.messages.toLocaleString("en")} messages ` +
      `(${cycles} cycles × ${backlog.stations} real stations, synthetic counts, JSON, gzip ` +
      `batches of one cycle), ${(valueBytes / 2 ** 20).toFixed(1)} MiB of values; ` +
      `Deno ${Deno.version.deno}.`,
      "Each run reads the whole topic from the beginning as a new consumer group, counting " +
      "messages and value bytes, no commits, fetches waiting at most 500 ms, other settings " +
      "the clients' defaults; kafkajs through eachBatch as the Kafka source runs it, " +
      "@platformatic/kafka through its message stream's data events; each at the source's " +
      "256 KiB per partition and fetch, and at its own default (kafkajs 1 MiB per partition, " +
      "@platformatic/kafka 50 MiB per fetch); the readers alternate within each run.",
      "msg/s is over the whole read, from connect to the last message: @platformatic/kafka " +
      "decompresses a whole large fetch before its first message, so a rate from the first " +
      "message would flatter it.",
      ...[...failures].map(([name, error]) =>
        `${name} failed under Deno ${Deno.version.deno}: ${error.split("\n").slice(0, 4).join(" ")}`
      ),
      decision(
        medianOf(KAFKAJS),
        medianOf(PLATFORMATIC),
        medianOf(PLATFORMATIC_DEFAULT),
      ),
    ],
  };
};

/** Deletes the bench's topic: the broker may be shared, and a million messages are no use. */
async function deleteTopic(brokers: string, topic: string): Promise<void> {
  const kafka = await createKafka(connectionSchema.parse({ brokers }));
  await withAdmin(
    kafka,
    AbortSignal.timeout(30_000),
    (admin) => admin.deleteTopics({ topics: [topic] }),
  );
}

function figureOf(figures: Map<string, Figure>, name: string, unit: string): Figure {
  if (!figures.has(name)) figures.set(name, { name, unit, samples: [] });
  return figures.get(name)!;
}

/** A day of 60 s cycles of 1,471 stations: what Kafka keeps, and a catch-up reads. */
const DAY_OF_MESSAGES = 1_440 * 1_471;

/**
 * The decision on offering the second client, from the medians (msg/s): only if it is much
 * faster where reading is what limits the load, i.e. where kafkajs needs more than a load
 * interval (5 minutes) to read a day.
 */
function decision(
  kafkajs: number | undefined,
  platformatic: number | undefined,
  platformaticDefault: number | undefined,
): string {
  if (kafkajs === undefined) return "Decision: none, kafkajs did not complete a reading.";
  const daySeconds = DAY_OF_MESSAGES / kafkajs;
  const dayRead = `kafkajs as the source runs it reads a day of cycles ` +
    `(${DAY_OF_MESSAGES.toLocaleString("en")} messages) in ${daySeconds.toFixed(1)} s`;
  if (platformatic === undefined) {
    return `Decision: the plugins keep kafkajs only: @platformatic/kafka did not complete a ` +
      `reading under Deno (above); ${dayRead}.`;
  }
  const ratio = platformatic / kafkajs;
  const withDefault = platformaticDefault === undefined
    ? ""
    : ` (${(platformaticDefault / kafkajs).toFixed(2)} × with its default 50 MiB fetches, ` +
      "which decode that much at once, the memory the source's 256 KiB was chosen to save)";
  const faster = `@platformatic/kafka read ${ratio.toFixed(2)} × as fast as kafkajs at the ` +
    `same fetch size${withDefault}`;
  if (ratio >= WORTH_IT_FACTOR && daySeconds > 300) {
    return `Decision: offer @platformatic/kafka as a second client of the Kafka plugins: ` +
      `${faster}, and ${dayRead}, more than a load interval; kafkajs has had no release ` +
      "since 2023.";
  }
  return `Decision: the Kafka plugins do not offer a second client: ${faster}; ${dayRead}, ` +
    "so reading does not limit a load, and a second client would double the plugins' error " +
    "mapping, offset and rebalance handling and tests for a gain a load would not see. " +
    "kafkajs has had no release since 2023: should it break, @platformatic/kafka (which runs " +
    "under this Deno and decompresses gzip) is the replacement, one client for the other, not " +
    "an option beside it.";
}
