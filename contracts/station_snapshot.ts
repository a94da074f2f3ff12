/**
 * The station snapshot: the contract on the stations topic. One message per station and cycle,
 * published by the sources of station data and read by everything downstream; every producer
 * and consumer imports it from here.
 *
 * @module
 */
import { z } from "zod";

const count = z.int().nonnegative();

/**
 * One station at one moment. The schema is the single source of truth for the record: the source
 * validates every snapshot with it before publishing, and consumers parse messages with it.
 *
 * Counts are kept as the operator reports them: a station may have `capacity` 0, or more bikes
 * than `capacity`, and both occur in real data.
 *
 * @example A synthetic snapshot
 * ```ts
 * import { stationSnapshotSchema } from "./station_snapshot.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic values, not a real station.
 * const snapshot = stationSnapshotSchema.parse({
 *   schema_version: 1,
 *   station_code: "99001_synthetic",
 *   station_name: "Synthetic station",
 *   bikes_available: 3,
 *   mechanical_bikes: 1,
 *   electric_bikes: 2,
 *   docks_available: 0,
 *   capacity: 0,
 *   is_installed: true,
 *   is_renting: true,
 *   is_returning: false,
 *   latitude: 48.85,
 *   longitude: 2.35,
 *   last_reported: null,
 *   commune: "Paris",
 *   code_insee: null,
 *   collected_at: "2024-05-28T20:07:00.000Z",
 * });
 * assert.equal(snapshot.bikes_available > snapshot.capacity, true);
 * ```
 */
export const stationSnapshotSchema = z.strictObject({
  /** Raised when a field changes meaning, so consumers can tell versions apart. */
  schema_version: z.literal(1),
  /**
   * The operator's code. Not always numeric (`11031_relais`); codes reach 12 characters. The
   * bound keeps a hostile value out of the warehouse's unique index, whose entries are limited.
   */
  station_code: z.string().min(1).max(64),
  /** The station's name as the operator writes it; names are not unique. */
  station_name: z.string(),
  /** Bikes that can be rented now, of both kinds. */
  bikes_available: count,
  /** Mechanical bikes among them. */
  mechanical_bikes: count,
  /** Electric bikes among them. */
  electric_bikes: count,
  /** Free docks. */
  docks_available: count,
  /** Docks in all, as reported; 0 for some stations. */
  capacity: count,
  /** Whether the station is in service. */
  is_installed: z.boolean(),
  /** Whether bikes can be taken from it. */
  is_renting: z.boolean(),
  /** Whether bikes can be returned to it. */
  is_returning: z.boolean(),
  /** WGS 84 latitude. */
  latitude: z.number().min(-90).max(90),
  /** WGS 84 longitude. */
  longitude: z.number().min(-180).max(180),
  /** When the station last reported (ISO-8601, UTC); null when unknown. May be years old. */
  last_reported: z.iso.datetime().nullable(),
  /** The commune, or the city for Paris. */
  commune: z.string().nullable(),
  /** The commune's INSEE code, when the API gives it. */
  code_insee: z.string().nullable(),
  /** When the cycle that read it took its snapshot (ISO-8601, UTC); shared by every station. */
  collected_at: z.iso.datetime(),
});

/** A validated station snapshot. */
export type StationSnapshot = z.infer<typeof stationSnapshotSchema>;
