/**
 * The integration smoke test's pipelines: a producer into Kafka, and Kafka into a PostgreSQL
 * table. Names come from the environment so each test run has its own topic and table.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";
import { kafkaSink, kafkaSource } from "../../plugins/kafka/mod.ts";
import { postgresSink } from "../../plugins/sink-postgres/mod.ts";
import { syntheticSource } from "./synthetic.ts";

const topic = Deno.env.get("SMOKE_TOPIC") ?? "smoke";
const table = Deno.env.get("SMOKE_TABLE") ?? "smoke.events";

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
      source: syntheticSource({ batches: 4, size: 250 }),
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
