/**
 * The pipelines the benchmarks run: the tests' `load` (the real one of `pipeline.config.ts` on
 * the topic `LOAD_TOPIC` as the group `LOAD_GROUP`, see tests/support/load.config.ts), the real
 * `load-clickhouse` on the same topic and group, and the real `ingest` publishing to that topic
 * every second (`VELIB_API_URL`: the replay server).
 *
 * @module
 */
import { defineConfig } from "../mod.ts";
import config from "../pipeline.config.ts";
import { kafkaSink, kafkaSource } from "../plugins/kafka/mod.ts";
import { velibSource } from "../plugins/source-velib/mod.ts";
import loadTest from "../tests/support/load.config.ts";

const topic = Deno.env.get("LOAD_TOPIC") ?? "velib-stations-test";

export default defineConfig({
  runtime: loadTest.runtime,
  pipelines: {
    ingest: {
      ...config.pipelines.ingest,
      source: velibSource({ fetch: "exports", intervalMs: 1_000, timeoutMs: 900 }),
      sinks: [kafkaSink({ brokers: "set-by-KAFKA_BROKERS:9092", topic, key: "station_code" })],
    },
    load: loadTest.pipelines.load,
    "load-clickhouse": {
      ...config.pipelines["load-clickhouse"],
      source: kafkaSource({
        brokers: "set-by-KAFKA_BROKERS:9092",
        topic,
        groupId: Deno.env.get("LOAD_GROUP") ?? `${topic}-clickhouse`,
        eventTimeField: "collected_at",
      }),
      checks: [],
    },
  },
});
