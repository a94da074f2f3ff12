/**
 * The station snapshot: the contract on the stations topic. One message per station and cycle,
 * published by the sources of station data and read by everything downstream; every producer
 * and consumer imports it from here.
 *
 * @module
 */
import { z } from "zod";

const count = z.int().nonnegative();

/** The version producers emit: 2, which added `system_id`. */
export const SCHEMA_VERSION = 2;

/**
 * The system of a snapshot whose message names none: every version-1 message is Vélib'
 * Métropole's, the only system there was, and the warehouse's rows from before systems too.
 */
export const DEFAULT_SYSTEM_ID = "velib";

/** What a system id is: 1 to 64 lowercase ASCII letters, digits, `_` or `-`. */
export const SYSTEM_ID_PATTERN: RegExp = /^[a-z0-9_-]{1,64}$/;

/**
 * A bike-share system's id, as {@linkcode normalizeSystemId} writes it.
 *
 * @example
 * ```ts
 * import { systemIdSchema } from "./station_snapshot.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(systemIdSchema.safeParse("bixi_mtl").success, true);
 * assert.equal(systemIdSchema.safeParse("Bixi_MTL").success, false);
 * ```
 */
export const systemIdSchema: z.ZodString = z.string().regex(SYSTEM_ID_PATTERN, {
  error: "expected a system id: 1 to 64 lowercase letters, digits, _ or -",
});

/**
 * A system id from an operator's own spelling (a GBFS `system_id`, a config value): lowercase,
 * accents dropped, every run of other characters made one `-`, and no `-` at either end.
 * Undefined when nothing is left, or more than 64 characters.
 *
 * @example
 * ```ts
 * import { normalizeSystemId } from "./station_snapshot.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(normalizeSystemId("Bixi_MTL"), "bixi_mtl");
 * assert.equal(normalizeSystemId(" Vélo Métropole "), "velo-metropole");
 * assert.equal(normalizeSystemId("***"), undefined);
 * ```
 */
export function normalizeSystemId(text: string): string | undefined {
  const id = text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return SYSTEM_ID_PATTERN.test(id) ? id : undefined;
}

/**
 * A snapshot as it is passed on and stored: either version, always with its system. This is
 * {@linkcode stationSnapshotSchema} after a version-1 message got its system; parse messages
 * with that one, and use this one's `shape` to extend or inspect the fields.
 */
export const stationSnapshotRecordSchema = z.strictObject({
  /**
   * Raised when a field changes meaning, so consumers can tell versions apart. 1: no
   * `system_id` (Vélib' only). 2: `system_id` added; what producers emit.
   */
  schema_version: z.literal([1, 2]),
  /**
   * The bike-share system the station belongs to, e.g. `velib`; a station is known by its
   * system and its code. Version 1 has none: it is read as {@linkcode DEFAULT_SYSTEM_ID}.
   */
  system_id: systemIdSchema,
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

/**
 * One station at one moment: the schema every message on the stations topic is parsed with, the
 * single source of truth for the record. Sources validate every snapshot with it before
 * publishing, as version 2 with its `system_id`; consumers parse messages with it and read both
 * versions: a version-1 message (no `system_id`, as the topic may still hold) comes out with
 * the system {@linkcode DEFAULT_SYSTEM_ID}, and a version-1 message that names a system is
 * refused. The output always has a `system_id` and keeps the version the message had.
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
 *   schema_version: 2,
 *   system_id: "synthetic",
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
 *
 * // A version-1 message from before systems: Vélib'.
 * const { system_id: _, ...fields } = snapshot;
 * const old = stationSnapshotSchema.parse({ ...fields, schema_version: 1 });
 * assert.equal(old.system_id, "velib");
 * assert.equal(old.schema_version, 1);
 * ```
 */
export const stationSnapshotSchema: z.ZodType<
  z.output<typeof stationSnapshotRecordSchema>,
  unknown
> = z.preprocess((input, ctx) => {
  if (typeof input !== "object" || input === null || !("schema_version" in input)) return input;
  if (input.schema_version !== 1) return input;
  if (!("system_id" in input)) return { ...input, system_id: DEFAULT_SYSTEM_ID };
  ctx.addIssue({
    code: "custom",
    path: ["system_id"],
    input: input.system_id,
    message: "a version-1 snapshot has no system_id; version 2 carries it",
  });
  return input;
}, stationSnapshotRecordSchema);

/** A validated station snapshot, of either version, with its system. */
export type StationSnapshot = z.infer<typeof stationSnapshotRecordSchema>;
