/**
 * The `enrich` transform: checks every station snapshot of the Vélib' source against its schema,
 * then adds `occupancy_rate` (`bikes_available / capacity` to 4 decimals, null when `capacity` is
 * 0) and `station_status` (`en_service`, `fermée` or `hors_service`). A value that is not a valid
 * snapshot goes to dead letters with a one-line reason naming each bad field and its value.
 *
 * @example Enriching a batch
 * ```ts
 * import { enrich } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const transform = enrich.spec.create({});
 * // Synthetic values, not a real station.
 * const snapshot = {
 *   schema_version: 1, station_code: "99001_synthetic", station_name: "Synthetic station",
 *   bikes_available: 2, mechanical_bikes: 1, electric_bikes: 1, docks_available: 1,
 *   capacity: 3, is_installed: true, is_renting: true, is_returning: true, latitude: 48.85,
 *   longitude: 2.35, last_reported: null, commune: "Paris", code_insee: null,
 *   collected_at: "2024-05-28T20:07:00.000Z",
 * };
 * const { messages, rejects } = await transform.apply([
 *   { key: "99001_synthetic", value: snapshot },
 *   { key: "99002_synthetic", value: { ...snapshot, station_code: undefined } },
 * ]);
 * assert.equal(messages[0].value.occupancy_rate, 0.6667);
 * assert.equal(messages[0].value.station_status, "en_service");
 * assert.equal(rejects[0].reason, "station_code is missing");
 * ```
 *
 * @module
 */
export { enrich } from "./plugin.ts";
export {
  enrichedSnapshotSchema,
  enrichSnapshot,
  occupancyRate,
  stationStatus,
  validateSnapshot,
} from "./enrich.ts";
export type { EnrichedSnapshot, SnapshotCheck, StationStatus } from "./enrich.ts";
