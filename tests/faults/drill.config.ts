/**
 * The failure drills' pipeline: the real `load` of `pipeline.config.ts` (kafka source → enrich
 * → warehouse sink) reading a topic of the drill's own, named by `LOAD_TOPIC`, without steps
 * or checks (the drills count messages, not statistics). It stays the pipeline `load`, because
 * positions are stored per pipeline name.
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
    load: {
      ...config.pipelines.load,
      source: kafkaSource({
        brokers: "set-by-KAFKA_BROKERS:9092",
        topic,
        groupId: `${topic}-warehouse`,
        // The broker's minimum: each run after a SIGKILL waits this long for the dead member's
        // session to expire before it gets the partitions.
        sessionTimeoutMs: 6_000,
      }),
      steps: {},
      checks: [],
    },
  },
});
