/**
 * The real `load` pipeline of `pipeline.config.ts` (enrich, warehouse sink, gold steps) reading
 * a topic of the test's own, named by `LOAD_TOPIC`, as the group `LOAD_GROUP` (default
 * `<topic>-warehouse`; a new warehouse starts where its group committed, so a run that wants
 * the whole topic again names a new one). With `HANG_MARKER` set, it also hangs after
 * the warehouse commit, so that a test can kill it right there: the marker file appears at that
 * moment. It stays the same pipeline, because positions are stored per pipeline name.
 *
 * @module
 */
import { defineConfig } from "../../mod.ts";
import config from "../../pipeline.config.ts";
import { kafkaSource } from "../../plugins/kafka/mod.ts";
import { hangingSink } from "./hang.ts";

const topic = Deno.env.get("LOAD_TOPIC") ?? "velib-stations-test";
const hangMarker = Deno.env.get("HANG_MARKER");
const load = config.pipelines.load;
const source = kafkaSource({
  brokers: "set-by-KAFKA_BROKERS:9092",
  topic,
  groupId: Deno.env.get("LOAD_GROUP") ?? `${topic}-warehouse`,
  eventTimeField: "collected_at",
});

export default defineConfig({
  // The reruns of pipeline.config.ts, of this pipeline.
  reruns: Object.fromEntries(
    Object.entries(config.reruns ?? {}).filter(([, rerun]) => rerun.pipeline === "load"),
  ),
  // Fail fast when a service is missing: the tests check messages, not patience.
  runtime: { connectRetry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 400 } },
  pipelines: {
    load: {
      ...load,
      source,
      // The captures are from 2024: freshness would fail every run. The checks have tests of
      // their own.
      checks: [],
      sinks: hangMarker === undefined
        ? load.sinks
        : [...load.sinks, hangingSink({ marker: hangMarker })],
    },
  },
});
