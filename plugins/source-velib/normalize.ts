/**
 * From the Explore API's station records to {@linkcode StationSnapshot}s. Kept apart from the
 * HTTP transport so that another transport (a GBFS feed, a file) can reuse it.
 *
 * @module
 */
import { z } from "zod";
import {
  DEFAULT_SYSTEM_ID,
  SCHEMA_VERSION,
  type StationSnapshot,
  stationSnapshotSchema,
} from "../../contracts/mod.ts";

/** The snapshot made from one record, or why the record was rejected. */
export type NormalizedStation =
  | { ok: true; snapshot: StationSnapshot }
  | { ok: false; reason: string };

type SourcedField = Exclude<keyof StationSnapshot, "schema_version" | "system_id" | "collected_at">;

// Where each snapshot field comes from, and what that field must hold: a reject names the
// record's field, which is what a person compares with the API's response.
const SOURCES: Record<SourcedField, { field: string; expected: string }> = {
  station_code: { field: "stationcode", expected: "a non-empty string or an integer" },
  station_name: { field: "name", expected: "a string" },
  bikes_available: { field: "numbikesavailable", expected: "an integer ≥ 0" },
  mechanical_bikes: { field: "mechanical", expected: "an integer ≥ 0" },
  electric_bikes: { field: "ebike", expected: "an integer ≥ 0" },
  docks_available: { field: "numdocksavailable", expected: "an integer ≥ 0" },
  capacity: { field: "capacity", expected: "an integer ≥ 0" },
  is_installed: { field: "is_installed", expected: '"OUI", "NON", a boolean, 1 or 0' },
  is_renting: { field: "is_renting", expected: '"OUI", "NON", a boolean, 1 or 0' },
  is_returning: { field: "is_returning", expected: '"OUI", "NON", a boolean, 1 or 0' },
  latitude: { field: "coordonnees_geo.lat", expected: "a number from -90 to 90" },
  longitude: { field: "coordonnees_geo.lon", expected: "a number from -180 to 180" },
  last_reported: { field: "duedate", expected: "a date-time within years 0000–9999" },
  commune: { field: "nom_arrondissement_communes", expected: "a string or null" },
  code_insee: { field: "code_insee_commune", expected: "a string or null" },
};

// The Explore API writes flags as "OUI"/"NON"; GBFS feeds use booleans or 1/0.
const FLAGS = new Map<unknown, boolean>([
  ["OUI", true],
  ["NON", false],
  [true, true],
  [false, false],
  [1, true],
  [0, false],
]);

// An instant needs its offset: without one, Date.parse would read the time as local.
const dateTimeWithOffset = z.iso.datetime({ offset: true });

/**
 * Normalizes one Explore v2.1 station record taken at `collectedAt`. Counts are kept as given
 * (`capacity` 0, more bikes than `capacity`); `duedate` becomes a UTC instant, or null when it
 * is absent or not a date-time with an offset. A record the snapshot schema refuses comes back
 * with a reason that names the record's field.
 *
 * @example A synthetic record
 * ```ts
 * import { normalizeStation } from "./normalize.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic values in the API's shape, not a real station.
 * const record = {
 *   stationcode: "99001",
 *   name: "Synthetic station",
 *   is_installed: "OUI",
 *   capacity: 20,
 *   numdocksavailable: 12,
 *   numbikesavailable: 8,
 *   mechanical: 5,
 *   ebike: 3,
 *   is_renting: "OUI",
 *   is_returning: "NON",
 *   duedate: "2024-05-28T22:04:29+02:00",
 *   coordonnees_geo: { lon: 2.35, lat: 48.85 },
 *   nom_arrondissement_communes: "Paris",
 *   code_insee_commune: null,
 * };
 * const result = normalizeStation(record, new Date("2024-05-28T20:07:00Z"));
 * assert.ok(result.ok);
 * assert.equal(result.snapshot.last_reported, "2024-05-28T20:04:29.000Z");
 * assert.equal(result.snapshot.is_returning, false);
 *
 * const broken = normalizeStation({ ...record, numbikesavailable: "abc" }, new Date());
 * assert.deepEqual(broken, {
 *   ok: false,
 *   reason: 'numbikesavailable must be an integer ≥ 0, got "abc"',
 * });
 * ```
 */
export function normalizeStation(raw: unknown, collectedAt: Date): NormalizedStation {
  if (!isObject(raw)) {
    return { ok: false, reason: `the record must be a JSON object, got ${show(raw)}` };
  }
  const geo = isObject(raw.coordonnees_geo) ? raw.coordonnees_geo : {};
  const code = raw.stationcode;
  const candidate = {
    schema_version: SCHEMA_VERSION,
    // Vélib' Métropole is the system every version-1 snapshot belonged to.
    system_id: DEFAULT_SYSTEM_ID,
    station_code: Number.isInteger(code) ? String(code) : code,
    station_name: raw.name,
    bikes_available: raw.numbikesavailable,
    mechanical_bikes: raw.mechanical,
    electric_bikes: raw.ebike,
    docks_available: raw.numdocksavailable,
    capacity: raw.capacity,
    is_installed: flag(raw.is_installed),
    is_renting: flag(raw.is_renting),
    is_returning: flag(raw.is_returning),
    latitude: geo.lat,
    longitude: geo.lon,
    last_reported: utcInstant(raw.duedate),
    commune: raw.nom_arrondissement_communes ?? null,
    code_insee: raw.code_insee_commune ?? null,
    collected_at: collectedAt.toISOString(),
  };
  const parsed = stationSnapshotSchema.safeParse(candidate, { reportInput: true });
  if (parsed.success) return { ok: true, snapshot: parsed.data };
  const reasons = new Set(parsed.error.issues.map((issue) => describeIssue(issue, raw)));
  return { ok: false, reason: [...reasons].join("; ") };
}

/** Station snapshots with one per station code, and how many were dropped as duplicates. */
export interface DedupedStations {
  /** One snapshot per station code, in the order the codes first appeared. */
  stations: StationSnapshot[];
  /** Snapshots dropped because another one had the same code. */
  duplicates: number;
}

/**
 * Keeps one snapshot per station code: the one with the newest `last_reported` (a null counts as
 * oldest; on a tie, the first one). A paginated read can return a station twice when the data
 * moves between pages.
 *
 * @example
 * ```ts
 * import { dedupeStations } from "./normalize.ts";
 * import type { StationSnapshot } from "../../contracts/mod.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic snapshots; only the fields that matter here differ.
 * const base = {
 *   schema_version: 2, system_id: "velib", station_name: "Synthetic station", bikes_available: 1,
 *   mechanical_bikes: 1, electric_bikes: 0, docks_available: 9, capacity: 10,
 *   is_installed: true, is_renting: true, is_returning: true, latitude: 48.85,
 *   longitude: 2.35, commune: null, code_insee: null, collected_at: "2024-05-28T20:07:00.000Z",
 * } as const;
 * const older: StationSnapshot = { ...base, station_code: "1", last_reported: "2024-05-28T20:00:00.000Z" };
 * const newer: StationSnapshot = { ...base, station_code: "1", last_reported: "2024-05-28T20:05:00.000Z" };
 * const { stations, duplicates } = dedupeStations([older, newer]);
 * assert.deepEqual(stations, [newer]);
 * assert.equal(duplicates, 1);
 * ```
 */
export function dedupeStations(snapshots: readonly StationSnapshot[]): DedupedStations {
  const byCode = new Map<string, StationSnapshot>();
  for (const snapshot of snapshots) {
    const kept = byCode.get(snapshot.station_code);
    if (kept === undefined || reportedAt(snapshot) > reportedAt(kept)) {
      byCode.set(snapshot.station_code, snapshot);
    }
  }
  return { stations: [...byCode.values()], duplicates: snapshots.length - byCode.size };
}

function reportedAt(snapshot: StationSnapshot): number {
  return snapshot.last_reported === null ? -Infinity : Date.parse(snapshot.last_reported);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A known flag as a boolean; anything else as it is, for the schema to reject. */
function flag(value: unknown): unknown {
  return FLAGS.has(value) ? FLAGS.get(value) : value;
}

function utcInstant(value: unknown): string | null {
  if (!dateTimeWithOffset.safeParse(value).success) return null;
  return new Date(Date.parse(value as string)).toISOString();
}

function describeIssue(issue: z.core.$ZodIssue, raw: Record<string, unknown>): string {
  // Only sourced fields can fail: schema_version, system_id and collected_at are set here.
  const source = SOURCES[issue.path[0] as SourcedField];
  if (source.field.startsWith("coordonnees_geo.") && !isObject(raw.coordonnees_geo)) {
    return describeValue("coordonnees_geo", raw.coordonnees_geo, "an object with lat and lon");
  }
  return describeValue(source.field, issue.input, source.expected);
}

function describeValue(field: string, value: unknown, expected: string): string {
  return value === undefined
    ? `${field} is missing`
    : `${field} must be ${expected}, got ${show(value)}`;
}

/** A value as JSON, shortened: reasons stay one line. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
