/**
 * The Vélib' Métropole source: polls the Paris open-data availability API (Opendatasoft
 * Explore v2.1, dataset `velib-disponibilite-en-temps-reel`) and publishes one batch of station
 * snapshots per cycle, keyed by station code.
 *
 * @example In a pipeline config
 * ```ts ignore
 * import { defineConfig } from "../../mod.ts";
 * import { velibSource } from "./mod.ts";
 * import { kafkaSink } from "../kafka/mod.ts";
 *
 * const stations = kafkaSink({ brokers: "127.0.0.1:9092", topic: "velib-stations", key: "station_code" });
 * export default defineConfig({
 *   pipelines: {
 *     ingest: {
 *       description: "Vélib' API to Kafka, every minute.",
 *       source: velibSource({ intervalMs: 60_000 }),
 *       sinks: [stations],
 *       deadLetter: stations,
 *     },
 *   },
 * });
 * ```
 *
 * @module
 */
export { velibSource } from "./source.ts";
export type { VelibCounters, VelibSource } from "./source.ts";
export { dedupeStations, normalizeStation } from "./normalize.ts";
export type { DedupedStations, NormalizedStation } from "./normalize.ts";
