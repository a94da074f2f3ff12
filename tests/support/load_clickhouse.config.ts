/**
 * The real `load` and `load-clickhouse` pipelines of `pipeline.config.ts` (enrich, warehouse
 * sinks, gold steps) reading one topic of the test's own, named by `LOAD_TOPIC`, each as its
 * group (`<topic>-warehouse`, `<topic>-clickhouse`): the two consumers of one topic. The
 * ClickHouse warehouse is the test's own through `CLICKHOUSE_DATABASE_PREFIX`.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";
import config from "../../pipeline.config.ts";
import { kafkaSource } from "../../plugins/kafka/mod.ts";

const topic = Deno.env.get("LOAD_TOPIC") ?? "velib-stations-test";
const source = (group: string) =>
  kafkaSource({
    brokers: "set-by-KAFKA_BROKERS:9092",
    topic,
    groupId: `${topic}-${group}`,
    eventTimeField: "collected_at",
  });

export default defineConfig({
  // The reruns of pipeline.config.ts, of these pipelines.
  reruns: config.reruns,
  // Fail fast when a service is missing: the tests check messages, not patience.
  runtime: { connectRetry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 400 } },
  pipelines: {
    // The captures are from 2024: freshness would fail every run. The checks have tests of
    // their own.
    load: { ...config.pipelines.load, source: source("warehouse"), checks: [] },
    "load-clickhouse": {
      ...config.pipelines["load-clickhouse"],
      source: source("clickhouse"),
      checks: [],
    },
  },
});
