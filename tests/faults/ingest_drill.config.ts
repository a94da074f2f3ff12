/**
 * The real `ingest` pipeline as the failure drills run it: a snapshot every 1.5 s instead of
 * every minute, to the topic named by `VELIB_DRILL_TOPIC` (and its dead letters to that name
 * with `-rejected`), so that a drill owns its topic and runs many cycles in little time.
 *
 * It pages through `/records` rather than reading `/exports/json`, so that the page faults of the
 * replay server (a missing or repeated page) are drilled too; both reads are checked against
 * `total_count`, and `api_faults_test.ts` drills the export's own check. The 1.5 s leave room for a `Retry-After` of up to 1 s (the shortest wait
 * the source honours) within a cycle; a request to the API gets 1 s, and so does one to Kafka
 * (30 s by default), so that a frozen broker costs a drill seconds rather than minutes. Each
 * cycle is one transaction, as in `pipeline.config.ts`.
 *
 * @module
 */
import config from "../../pipeline.config.ts";
import { defineConfig } from "../../mod.ts";
import { kafkaSink } from "../../plugins/kafka/mod.ts";
import { velibSource } from "../../plugins/source-velib/mod.ts";

/** Where the drills' snapshots go. */
const topic = Deno.env.get("VELIB_DRILL_TOPIC") ?? "velib-drill-stations";

/** As `KAFKA_BROKERS` overrides it. */
const brokers = "localhost:9092";

export default defineConfig({
  pipelines: {
    ingest: {
      ...config.pipelines.ingest,
      source: velibSource({ fetch: "records", intervalMs: 1_500, timeoutMs: 1_000 }),
      sinks: [
        kafkaSink({
          brokers,
          topic,
          key: "station_code",
          compression: "gzip",
          transactional: true,
          requestTimeoutMs: 1_000,
        }),
      ],
      deadLetter: kafkaSink({ brokers, topic: `${topic}-rejected` }),
    },
  },
});
