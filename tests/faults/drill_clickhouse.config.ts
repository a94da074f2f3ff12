/**
 * The failure drills' ClickHouse pipeline: the real `load-clickhouse` of `pipeline.config.ts`
 * (kafka source → enrich → clickhouse sink) reading a topic of the drill's own, named by
 * `LOAD_TOPIC`, into the warehouse `CLICKHOUSE_DATABASE_PREFIX` names, without steps or checks
 * (the drills count messages, not statistics).
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";
import config from "../../pipeline.config.ts";
import { kafkaSource } from "../../plugins/kafka/mod.ts";

const topic = Deno.env.get("LOAD_TOPIC") ?? "velib-stations-drill";

export default defineConfig({
  // Fail fast when a service is missing at start: a drill checks messages, not patience.
  runtime: { connectRetry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 400 } },
  pipelines: {
    "load-clickhouse": {
      ...config.pipelines["load-clickhouse"],
      source: kafkaSource({
        brokers: "set-by-KAFKA_BROKERS:9092",
        topic,
        groupId: `${topic}-clickhouse`,
        // The broker's minimum: each run after a SIGKILL waits this long for the dead member's
        // session to expire before it gets the partitions.
        sessionTimeoutMs: 6_000,
      }),
      steps: {},
      checks: [],
    },
  },
});
