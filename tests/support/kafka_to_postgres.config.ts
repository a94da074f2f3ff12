/**
 * The integration smoke test's pipelines: a producer into Kafka, and Kafka into a PostgreSQL
 * table. Names come from the environment so each test run has its own topic and table.
 *
 * @module
 */
import { z } from "zod";
import { defineConfig, definePlugin, memorySource } from "../../mod.ts";
import { kafkaSink, kafkaSource } from "../../plugins/kafka/mod.ts";
import { postgresSink } from "../../plugins/sink-postgres/mod.ts";

const topic = Deno.env.get("SMOKE_TOPIC") ?? "smoke";
const table = Deno.env.get("SMOKE_TABLE") ?? "smoke.events";

/** Synthetic records `{ id, n, label }`, for volume and plumbing tests only. */
const syntheticSource = definePlugin({
  kind: "source",
  name: "synthetic",
  description: "Yields `count` synthetic records in batches of 250.",
  config: z.strictObject({ count: z.int().min(0) }),
  example: { count: 10 },
  create: ({ count }) =>
    memorySource(
      Array.from({ length: Math.ceil(count / 250) }, (_, batch) =>
        Array.from({ length: Math.min(250, count - batch * 250) }, (_, i) => {
          const n = batch * 250 + i;
          return { value: { id: `id-${n}`, n, label: `synthetic record ${n}` } };
        })),
    ),
});

const warehouse = postgresSink({
  url: "postgres://set-by-DATABASE_URL/velib",
  writes: [{ table, mode: "insert", key: ["id"] }],
});
const kafka = kafkaSink({
  brokers: "set-by-KAFKA_BROKERS:9092",
  topic,
  key: "id",
  createTopic: { partitions: 3 },
});

export default defineConfig({
  // Fail fast when a service is missing: the test checks the message, not the patience.
  runtime: { connectRetry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 400 } },
  pipelines: {
    produce: {
      description: "Synthetic records into a 3-partition topic.",
      source: syntheticSource({ count: Number(Deno.env.get("SMOKE_COUNT") ?? 1000) }),
      sinks: [kafka],
      deadLetter: kafka,
    },
    load: {
      description: "The topic into a PostgreSQL table, unchanged.",
      source: kafkaSource({
        brokers: "set-by-KAFKA_BROKERS:9092",
        topic,
        groupId: `${topic}-load`,
      }),
      sinks: [warehouse],
      deadLetter: warehouse,
    },
  },
});
