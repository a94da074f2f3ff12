/**
 * The Vélib' Métropole pipelines, wired from plugins by explicit import.
 *
 * `KAFKA_BROKERS`, `DATABASE_URL` and `VELIB_API_URL` override the addresses below.
 *
 * @module
 */
import { defineConfig } from "./mod.ts";
import { kafkaSink } from "./plugins/kafka/mod.ts";
import { velibSource } from "./plugins/source-velib/mod.ts";

const HOUR_MS = 3_600_000;
const GIB = 1024 ** 3;
const LOCAL_BROKER = "localhost:9092";

/** One message per station and cycle, keyed by station code; Kafka keeps a day of them. */
const stations = kafkaSink({
  brokers: LOCAL_BROKER,
  topic: "velib-stations",
  key: "station_code",
  compression: "gzip",
  createTopic: {
    partitions: 1,
    configs: { "retention.ms": String(24 * HOUR_MS), "retention.bytes": String(GIB) },
  },
});

/** Records the API sent that could not be normalized, with the reason; kept a week. */
const rejectedStations = kafkaSink({
  brokers: LOCAL_BROKER,
  topic: "velib-stations-rejected",
  createTopic: { partitions: 1, configs: { "retention.ms": String(7 * 24 * HOUR_MS) } },
});

export default defineConfig({
  pipelines: {
    ingest: {
      description:
        "Polls the Vélib' API every 60 s and publishes one message per station to Kafka.",
      source: velibSource({ fetch: "exports", intervalMs: 60_000, timeoutMs: 10_000 }),
      sinks: [stations],
      deadLetter: rejectedStations,
      // A cycle is a snapshot: reading one ahead while another is published buys nothing.
      runtime: { maxInFlight: 1 },
    },
  },
});
