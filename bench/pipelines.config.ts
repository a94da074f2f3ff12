/**
 * The real `ingest` and `load` pipelines of `pipeline.config.ts` for the benchmarks: both use the
 * topic named by `BENCH_TOPIC`, `load` in the consumer group `BENCH_GROUP` (a new one per run,
 * since a group's committed offsets are where a new warehouse starts) without its gold steps and
 * checks, and ingest polls every second (`VELIB_API_URL`: the replay server).
 *
 * @module
 */
import { defineConfig } from "../mod.ts";
import config from "../pipeline.config.ts";
import { kafkaSink, kafkaSource } from "../plugins/kafka/mod.ts";
import { velibSource } from "../plugins/source-velib/mod.ts";

const topic = Deno.env.get("BENCH_TOPIC") ?? "velib-stations-bench";
const { ingest, load } = config.pipelines;

export default defineConfig({
  pipelines: {
    ingest: {
      ...ingest,
      source: velibSource({ fetch: "exports", intervalMs: 1_000, timeoutMs: 900 }),
      sinks: [kafkaSink({ brokers: "set-by-KAFKA_BROKERS:9092", topic, key: "station_code" })],
    },
    load: {
      ...load,
      source: kafkaSource({
        brokers: "set-by-KAFKA_BROKERS:9092",
        topic,
        groupId: Deno.env.get("BENCH_GROUP") ?? `${topic}-warehouse`,
      }),
      steps: {},
      checks: [],
    },
  },
});
