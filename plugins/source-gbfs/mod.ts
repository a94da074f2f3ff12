/**
 * The GBFS source: polls any docked bike-share system that publishes the General Bikeshare Feed
 * Specification (1.x, 2.x or 3.0), from its auto-discovery `gbfs.json`, and publishes one batch
 * of station snapshots per cycle, of the same contract as the Vélib' source, each with its
 * system's id.
 *
 * @example In a pipeline config
 * ```ts ignore
 * import { defineConfig } from "../../mod.ts";
 * import { gbfsSource } from "./mod.ts";
 * import { kafkaSink } from "../kafka/mod.ts";
 *
 * const stations = kafkaSink({ brokers: "127.0.0.1:9092", topic: "velib-stations", key: "station_code" });
 * export default defineConfig({
 *   pipelines: {
 *     "ingest-gbfs": {
 *       description: "A GBFS system to Kafka, every minute.",
 *       source: gbfsSource({ url: "https://gbfs.example.org/gbfs.json", intervalMs: 60_000 }),
 *       sinks: [stations],
 *       deadLetter: stations,
 *     },
 *   },
 * });
 * ```
 *
 * @module
 */
export { gbfsSource } from "./source.ts";
export type { GbfsCounters, GbfsSource } from "./source.ts";
