/**
 * From a GBFS system's `station_status` and `station_information` (and `vehicle_types`, when it
 * publishes them) to {@linkcode StationSnapshot}s: one per station, of the system's id. Kept apart
 * from the transport so that every GBFS shape can be checked on its own.
 *
 * What each GBFS version writes, and how it is read:
 *
 * - bikes: `num_bikes_available` (1.x, 2.x), else `num_vehicles_available` (3.0);
 * - mechanical and electric: from `vehicle_types_available` with the propulsion of each type in
 *   `vehicle_types` (`human` is mechanical, any motor electric); else the operators' extensions
 *   `num_bikes_available_types` (`{mechanical, ebike}`, or Vélib's `[{mechanical}, {ebike}]`)
 *   or `num_ebikes_available`; else every vehicle is mechanical, as GBFS says of a system that
 *   publishes no `vehicle_types`;
 * - `is_installed`, `is_renting`, `is_returning`: booleans (2.x, 3.0) or 1/0 (1.x, and some 2.x);
 * - `last_reported`: epoch seconds, as a number or its text (1.x, 2.x), or RFC 3339 (3.0); null
 *   when absent or unreadable;
 * - names: a string, or 3.0's localized `[{text, language}]`, in the preferred language;
 * - `capacity`: as reported; 0 when the station gives none, as the snapshot counts a station
 *   that reports no docks (its occupancy rate is then null);
 * - the code: `station_id`, or the `stationCode` of Vélib's feeds, whose `station_id` is an
 *   internal number and whose `stationCode` is the code everything else uses.
 *
 * @module
 */
import { z } from "zod";
import {
  SCHEMA_VERSION,
  type StationSnapshot,
  stationSnapshotSchema,
} from "../../contracts/mod.ts";

/** The snapshot made from one station, or why it was rejected. */
export type NormalizedStation =
  | { ok: true; snapshot: StationSnapshot }
  | { ok: false; reason: string };

/** What a station is normalized with. */
export interface StationContext {
  /** The system every snapshot belongs to. */
  systemId: string;
  /** When the cycle read `station_status`. */
  collectedAt: Date;
  /** The preferred language of localized names; the first one given when unset or absent. */
  language?: string;
  /** The propulsion type of each vehicle type, by id, when the system has `vehicle_types`. */
  propulsion?: ReadonlyMap<string, string>;
}

/** The feeds' lists, as the system sent them. */
export interface StationLists {
  /** `station_status`'s `data.stations`. */
  status: readonly unknown[];
  /** `station_information`'s `data.stations`. */
  information: readonly unknown[];
  /** `vehicle_types`'s `data.vehicle_types`, when the system publishes it. */
  vehicleTypes?: readonly unknown[];
}

/** One station that could not be normalized: what the feeds said of it, and why. */
export interface StationReject {
  /** Its `station_status` record, and its `station_information` record (null when none). */
  payload: { station_status: unknown; station_information: unknown };
  /** Why, naming the GBFS field. */
  reason: string;
}

/** The snapshots of one cycle, and what did not make one. */
export interface NormalizedStations {
  /** One snapshot per station code, in `station_status` order. */
  stations: StationSnapshot[];
  /** The stations that did not normalize. */
  rejects: StationReject[];
  /** Snapshots dropped because `station_status` gave the same station again. */
  duplicates: number;
  /** Stations of `station_information` that `station_status` does not give: nothing to say. */
  unreported: number;
}

type SourcedField = Exclude<keyof StationSnapshot, "schema_version" | "system_id" | "collected_at">;

const FLAG_EXPECTED = "a boolean, 1 or 0";
const COUNT_EXPECTED = "an integer ≥ 0";

const FLAGS = new Map<unknown, boolean>([[true, true], [false, false], [1, true], [0, false]]);

// An instant needs its offset: without one, Date.parse would read the time as local.
const dateTimeWithOffset = z.iso.datetime({ offset: true });

/**
 * Normalizes every station of `station_status` with its `station_information`, then keeps one
 * snapshot per station code: the one with the newest `last_reported` (a null counts as oldest;
 * on a tie, the first one). A station of the status feed that the information feed does not
 * have is a reject: it has no name and no position.
 *
 * @example Synthetic feeds in the GBFS 2.3 shape
 * ```ts
 * import { normalizeStations } from "./normalize.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic values, not a real system.
 * const lists = {
 *   information: [{ station_id: "s1", name: "Synthetic station", lat: 48.85, lon: 2.35, capacity: 10 }],
 *   status: [
 *     { station_id: "s1", num_bikes_available: 3, num_docks_available: 7, is_installed: true,
 *       is_renting: true, is_returning: false, last_reported: 1740733849 },
 *     { station_id: "s9", num_bikes_available: 1, num_docks_available: 1, is_installed: true,
 *       is_renting: true, is_returning: true, last_reported: 1740733849 },
 *   ],
 * };
 * const result = normalizeStations(lists, { systemId: "synthetic", collectedAt: new Date("2025-02-28T09:11:00Z") });
 * assert.equal(result.stations[0].station_code, "s1");
 * assert.equal(result.stations[0].mechanical_bikes, 3);
 * assert.equal(result.stations[0].last_reported, "2025-02-28T09:10:49.000Z");
 * assert.equal(result.rejects[0].reason, 'station_id "s9" is not in station_information');
 * ```
 */
export function normalizeStations(
  lists: StationLists,
  context: Omit<StationContext, "propulsion">,
): NormalizedStations {
  const propulsion = lists.vehicleTypes === undefined
    ? undefined
    : propulsionByType(lists.vehicleTypes);
  const withTypes = propulsion === undefined ? context : { ...context, propulsion };
  const information = new Map<string, unknown>();
  for (const station of lists.information) {
    const id = isObject(station) ? stationId(station.station_id) : undefined;
    if (id !== undefined && !information.has(id)) information.set(id, station);
  }
  const snapshots: StationSnapshot[] = [];
  const rejects: StationReject[] = [];
  const reported = new Set<string>();
  for (const status of lists.status) {
    const id = isObject(status) ? stationId(status.station_id) : undefined;
    const info = id === undefined ? undefined : information.get(id);
    if (id !== undefined) reported.add(id);
    const normalized = normalizeStation(status, info, withTypes);
    if (normalized.ok) snapshots.push(normalized.snapshot);
    else {
      rejects.push({
        payload: { station_status: status, station_information: info ?? null },
        reason: normalized.reason,
      });
    }
  }
  const byCode = new Map<string, StationSnapshot>();
  for (const snapshot of snapshots) {
    const kept = byCode.get(snapshot.station_code);
    if (kept === undefined || reportedAt(snapshot) > reportedAt(kept)) {
      byCode.set(snapshot.station_code, snapshot);
    }
  }
  const unreported = [...information.keys()].filter((id) => !reported.has(id)).length;
  return {
    stations: [...byCode.values()],
    rejects,
    duplicates: snapshots.length - byCode.size,
    unreported,
  };
}

/**
 * Normalizes one station: its `station_status` record with its `station_information` record
 * (undefined when that feed does not have it). A station the snapshot schema refuses comes back
 * with a reason that names the GBFS field.
 *
 * @example A GBFS 3.0 station, localized names and an RFC 3339 last_reported
 * ```ts
 * import { normalizeStation } from "./normalize.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic values, not a real station.
 * const info = {
 *   station_id: "7", lat: 43.64, lon: -79.4, capacity: 20,
 *   name: [{ text: "Synthetic", language: "en" }, { text: "Synthétique", language: "fr" }],
 * };
 * const status = {
 *   station_id: "7", num_vehicles_available: 4, num_docks_available: 16, is_installed: true,
 *   is_renting: true, is_returning: true, last_reported: "2026-10-09T09:38:28.628Z",
 * };
 * const result = normalizeStation(status, info, {
 *   systemId: "synthetic", collectedAt: new Date("2026-10-09T09:40:00Z"), language: "fr",
 * });
 * assert.ok(result.ok);
 * assert.equal(result.snapshot.station_name, "Synthétique");
 * assert.equal(result.snapshot.bikes_available, 4);
 * assert.equal(result.snapshot.last_reported, "2026-10-09T09:38:28.628Z");
 *
 * const broken = normalizeStation({ ...status, is_renting: "yes" }, info, {
 *   systemId: "synthetic", collectedAt: new Date(),
 * });
 * assert.deepEqual(broken, { ok: false, reason: 'is_renting must be a boolean, 1 or 0, got "yes"' });
 * ```
 */
export function normalizeStation(
  status: unknown,
  info: unknown,
  context: StationContext,
): NormalizedStation {
  if (!isObject(status)) {
    return {
      ok: false,
      reason: `a station_status station must be a JSON object, got ${show(status)}`,
    };
  }
  const id = stationId(status.station_id);
  if (id === undefined) {
    return {
      ok: false,
      reason: describe("station_id", status.station_id, "a non-empty string or an integer"),
    };
  }
  if (info === undefined) {
    return { ok: false, reason: `station_id ${show(id)} is not in station_information` };
  }
  if (!isObject(info)) {
    return {
      ok: false,
      reason: `its station_information station must be a JSON object, got ${show(info)}`,
    };
  }
  const sources: Record<SourcedField, { field: string; expected: string; value: unknown }> = {
    station_code: { field: "station_id", expected: "a non-empty string or an integer", value: id },
    station_name: {
      field: "name",
      expected: "a string or a list of {text, language}",
      value: info.name,
    },
    bikes_available: {
      field: "num_bikes_available",
      expected: COUNT_EXPECTED,
      value: status.num_bikes_available,
    },
    mechanical_bikes: { field: "num_bikes_available", expected: COUNT_EXPECTED, value: undefined },
    electric_bikes: { field: "num_bikes_available", expected: COUNT_EXPECTED, value: 0 },
    docks_available: {
      field: "num_docks_available",
      expected: COUNT_EXPECTED,
      value: status.num_docks_available,
    },
    capacity: { field: "capacity", expected: COUNT_EXPECTED, value: info.capacity ?? 0 },
    is_installed: { field: "is_installed", expected: FLAG_EXPECTED, value: status.is_installed },
    is_renting: { field: "is_renting", expected: FLAG_EXPECTED, value: status.is_renting },
    is_returning: { field: "is_returning", expected: FLAG_EXPECTED, value: status.is_returning },
    latitude: { field: "lat", expected: "a number from -90 to 90", value: info.lat },
    longitude: { field: "lon", expected: "a number from -180 to 180", value: info.lon },
    last_reported: { field: "last_reported", expected: "a date-time", value: null },
    commune: { field: "commune", expected: "null", value: null },
    code_insee: { field: "code_insee", expected: "null", value: null },
  };
  const code = smooveCode(info.stationCode) ?? smooveCode(status.stationCode);
  if (code !== undefined) {
    sources.station_code = { ...sources.station_code, field: "stationCode", value: code };
  }
  if (status.num_bikes_available === undefined && status.num_vehicles_available !== undefined) {
    sources.bikes_available = {
      ...sources.bikes_available,
      field: "num_vehicles_available",
      value: status.num_vehicles_available,
    };
  }
  const split = bikeKinds(status, sources.bikes_available.value, context.propulsion);
  if ("reason" in split) return { ok: false, reason: split.reason };
  sources.mechanical_bikes = { ...sources.mechanical_bikes, ...split.mechanical };
  sources.electric_bikes = { ...sources.electric_bikes, ...split.electric };

  const candidate = {
    schema_version: SCHEMA_VERSION,
    system_id: context.systemId,
    station_code: sources.station_code.value,
    station_name: localized(sources.station_name.value, context.language),
    bikes_available: sources.bikes_available.value,
    mechanical_bikes: sources.mechanical_bikes.value,
    electric_bikes: sources.electric_bikes.value,
    docks_available: sources.docks_available.value,
    capacity: sources.capacity.value,
    is_installed: flag(sources.is_installed.value),
    is_renting: flag(sources.is_renting.value),
    is_returning: flag(sources.is_returning.value),
    latitude: sources.latitude.value,
    longitude: sources.longitude.value,
    last_reported: utcInstant(status.last_reported),
    commune: null,
    code_insee: null,
    collected_at: context.collectedAt.toISOString(),
  };
  const parsed = stationSnapshotSchema.safeParse(candidate);
  if (parsed.success) return { ok: true, snapshot: parsed.data };
  const reasons = new Set(parsed.error.issues.map((issue) => {
    const source = sources[issue.path[0] as SourcedField];
    return describe(source.field, source.value, source.expected);
  }));
  return { ok: false, reason: [...reasons].join("; ") };
}

/**
 * The propulsion type of each vehicle type of `vehicle_types`, by id. Entries without an id or a
 * propulsion type are left out: a station that names such a type is then rejected.
 *
 * @example
 * ```ts
 * import { propulsionByType } from "./normalize.ts";
 * import assert from "node:assert/strict";
 *
 * const types = propulsionByType([{ vehicle_type_id: "bike", form_factor: "bicycle", propulsion_type: "human" }]);
 * assert.equal(types.get("bike"), "human");
 * ```
 */
export function propulsionByType(vehicleTypes: readonly unknown[]): Map<string, string> {
  const types = new Map<string, string>();
  for (const type of vehicleTypes) {
    if (!isObject(type)) continue;
    const id = type.vehicle_type_id;
    const propulsion = type.propulsion_type;
    if (typeof id === "string" && typeof propulsion === "string" && !types.has(id)) {
      types.set(id, propulsion);
    }
  }
  return types;
}

type Count = { field: string; value: unknown };

/** Mechanical and electric bikes, and the fields they come from; or why they cannot be had. */
function bikeKinds(
  status: Record<string, unknown>,
  bikes: unknown,
  propulsion: ReadonlyMap<string, string> | undefined,
): { mechanical: Count; electric: Count } | { reason: string } {
  const available = status.vehicle_types_available;
  if (Array.isArray(available) && propulsion !== undefined) {
    const field = "vehicle_types_available";
    let human = 0;
    let motor = 0;
    for (const entry of available) {
      const id = isObject(entry) ? entry.vehicle_type_id : undefined;
      const count = isObject(entry) ? entry.count : undefined;
      if (typeof id !== "string" || !Number.isInteger(count) || (count as number) < 0) {
        return { reason: describe(field, entry, "a list of {vehicle_type_id, count ≥ 0}") };
      }
      const kind = propulsion.get(id);
      if (kind === undefined) {
        return {
          reason: `${field} names vehicle_type_id ${show(id)}, which vehicle_types does not list`,
        };
      }
      if (kind === "human") human += count as number;
      else motor += count as number;
    }
    return { mechanical: { field, value: human }, electric: { field, value: motor } };
  }
  const types = status.num_bikes_available_types;
  if (types !== undefined) {
    const field = "num_bikes_available_types";
    // PBSC writes {mechanical, ebike}; Vélib' writes [{mechanical}, {ebike}].
    const merged = Array.isArray(types)
      ? Object.assign({}, ...types.filter(isObject)) as Record<string, unknown>
      : isObject(types)
      ? types
      : undefined;
    if (merged === undefined) {
      return { reason: describe(field, types, "{mechanical, ebike}, or a list of them") };
    }
    return {
      mechanical: { field: `${field}.mechanical`, value: merged.mechanical ?? 0 },
      electric: { field: `${field}.ebike`, value: merged.ebike ?? 0 },
    };
  }
  const ebikes = status.num_ebikes_available;
  if (ebikes !== undefined) {
    const mechanical = Number.isInteger(bikes) && Number.isInteger(ebikes)
      ? (bikes as number) - (ebikes as number)
      : undefined;
    return {
      mechanical: {
        field: "num_bikes_available - num_ebikes_available",
        value: mechanical,
      },
      electric: { field: "num_ebikes_available", value: ebikes },
    };
  }
  if (Array.isArray(available)) {
    // Vehicle types without vehicle_types: GBFS takes every vehicle for a bicycle without motor.
    const field = "vehicle_types_available";
    let total = 0;
    for (const entry of available) {
      const count = isObject(entry) ? entry.count : undefined;
      if (!Number.isInteger(count) || (count as number) < 0) {
        return { reason: describe(field, entry, "a list of {vehicle_type_id, count ≥ 0}") };
      }
      total += count as number;
    }
    return { mechanical: { field, value: total }, electric: { field, value: 0 } };
  }
  // Nothing tells the kinds apart: no vehicle_types, so every bike is one without a motor.
  return {
    mechanical: { field: "num_bikes_available", value: bikes },
    electric: { field: "num_bikes_available", value: 0 },
  };
}

function stationId(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (Number.isInteger(value)) return String(value);
  return undefined;
}

function smooveCode(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A name: a string, or the text in `language` (else the first) of a localized list. */
function localized(value: unknown, language: string | undefined): unknown {
  if (!Array.isArray(value)) return value;
  const texts = value.filter((entry): entry is Record<string, unknown> =>
    isObject(entry) && typeof entry.text === "string"
  );
  const chosen = texts.find((entry) => entry.language === language) ?? texts[0];
  return chosen?.text ?? value;
}

function reportedAt(snapshot: StationSnapshot): number {
  return snapshot.last_reported === null ? -Infinity : Date.parse(snapshot.last_reported);
}

/** A known flag as a boolean; anything else as it is, for the schema to reject. */
function flag(value: unknown): unknown {
  return FLAGS.has(value) ? FLAGS.get(value) : value;
}

/** Epoch seconds (a number or its text) or an RFC 3339 date-time as a UTC instant, else null. */
function utcInstant(value: unknown): string | null {
  let ms: number;
  if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value))) {
    ms = Number(value) * 1_000;
  } else if (dateTimeWithOffset.safeParse(value).success) {
    ms = Date.parse(value as string);
  } else {
    return null;
  }
  const date = new Date(ms);
  // Within years 0000–9999, which ISO-8601 instants (and the snapshot) can hold.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() > 9999 || ms < -62_167_219_200_000) {
    return null;
  }
  return date.toISOString();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(field: string, value: unknown, expected: string): string {
  return value === undefined
    ? `${field} is missing`
    : `${field} must be ${expected}, got ${show(value)}`;
}

/** A value as JSON, shortened: reasons stay one line. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
