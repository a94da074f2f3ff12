/**
 * Station snapshots made ready for analysis: each value is checked against the station snapshot
 * contract (either version; a version-1 one gets the `velib` system), then given its occupancy
 * rate and a service status. The functions are pure; the transform applies them one record at a
 * time and turns every failure into a reject.
 *
 * @module
 */
import { z } from "zod";
import type { Reject, Transform, TransformResult } from "../../mod.ts";
import {
  type StationSnapshot,
  stationSnapshotRecordSchema,
  stationSnapshotSchema,
} from "../../contracts/mod.ts";

/** How rejects name this transform. */
const STAGE = "transform enrich";

/** The most characters of a value a reason quotes. */
const SHOWN_CHARS = 80;

/** The most unknown field names a reason lists. */
const SHOWN_KEYS = 5;

/** Decimals kept in `occupancy_rate`. */
const RATE_DECIMALS = 4;

/** The count fields; their reasons say what a count must be. */
const COUNTS: ReadonlySet<PropertyKey> = new Set<keyof StationSnapshot>([
  "bikes_available",
  "mechanical_bikes",
  "electric_bikes",
  "docks_available",
  "capacity",
]);

const stationStatusSchema = z.enum(["en_service", "fermée", "hors_service"]);

/**
 * Whether a station can be used: `en_service` (open), `fermée` (installed but closed both ways)
 * or `hors_service` (not installed).
 */
export type StationStatus = z.infer<typeof stationStatusSchema>;

/**
 * A station snapshot with its occupancy rate and service status: the value of every message
 * `enrich` passes on. It is the snapshot contract's record, extended.
 *
 * @example A synthetic enriched snapshot
 * ```ts
 * import { enrichedSnapshotSchema } from "./enrich.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic values, not a real station.
 * const enriched = enrichedSnapshotSchema.parse({
 *   schema_version: 2,
 *   system_id: "synthetic",
 *   station_code: "99001_synthetic",
 *   station_name: "Synthetic station",
 *   bikes_available: 30,
 *   mechanical_bikes: 10,
 *   electric_bikes: 20,
 *   docks_available: 0,
 *   capacity: 20,
 *   is_installed: true,
 *   is_renting: true,
 *   is_returning: true,
 *   latitude: 48.85,
 *   longitude: 2.35,
 *   last_reported: null,
 *   commune: "Paris",
 *   code_insee: null,
 *   collected_at: "2024-05-28T20:07:00.000Z",
 *   occupancy_rate: 1.5,
 *   station_status: "en_service",
 * });
 * assert.equal(enriched.occupancy_rate, 1.5);
 * assert.equal(enrichedSnapshotSchema.safeParse({ ...enriched, station_status: "open" }).success, false);
 * ```
 */
export const enrichedSnapshotSchema = stationSnapshotRecordSchema.extend({
  /** `bikes_available / capacity` to 4 decimals; above 1 when the station reports more bikes than docks; null when `capacity` is 0. */
  occupancy_rate: z.number().min(0).nullable(),
  /** Whether the station can be used; see {@linkcode stationStatus}. */
  station_status: stationStatusSchema,
});

/** A validated enriched snapshot. */
export type EnrichedSnapshot = z.infer<typeof enrichedSnapshotSchema>;

/** A value that is a valid station snapshot, or why it is not. */
export type SnapshotCheck =
  | { ok: true; snapshot: StationSnapshot }
  | { ok: false; reason: string };

/**
 * The share of docks taken by available bikes: `bikes_available / capacity`, rounded half away
 * from zero to 4 decimals. Null when `capacity` is 0, as some stations report. It is kept above 1
 * when a station reports more bikes than docks, as real data has.
 *
 * @example
 * ```ts
 * import { occupancyRate } from "./enrich.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(occupancyRate({ bikes_available: 2, capacity: 3 }), 0.6667);
 * assert.equal(occupancyRate({ bikes_available: 1, capacity: 8 }), 0.125);
 * assert.equal(occupancyRate({ bikes_available: 30, capacity: 20 }), 1.5);
 * assert.equal(occupancyRate({ bikes_available: 3, capacity: 0 }), null);
 * ```
 */
export function occupancyRate(
  snapshot: Pick<StationSnapshot, "bikes_available" | "capacity">,
): number | null {
  if (snapshot.capacity === 0) return null;
  return roundHalfAwayFromZero(snapshot.bikes_available / snapshot.capacity, RATE_DECIMALS);
}

/**
 * Whether a station can be used, decided in this order: not installed is `hors_service`;
 * installed but neither renting nor returning is `fermée`; anything else is `en_service`,
 * including a station that only rents or only takes bikes back.
 *
 * @example
 * ```ts
 * import { stationStatus } from "./enrich.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(stationStatus({ is_installed: true, is_renting: true, is_returning: false }), "en_service");
 * assert.equal(stationStatus({ is_installed: true, is_renting: false, is_returning: false }), "fermée");
 * assert.equal(stationStatus({ is_installed: false, is_renting: true, is_returning: true }), "hors_service");
 * ```
 */
export function stationStatus(
  snapshot: Pick<StationSnapshot, "is_installed" | "is_renting" | "is_returning">,
): StationStatus {
  if (!snapshot.is_installed) return "hors_service";
  if (!snapshot.is_renting && !snapshot.is_returning) return "fermée";
  return "en_service";
}

/**
 * Checks that `value` is a station snapshot of either version, with the contract's schema. A
 * value that is not one comes back with a one-line reason that lists every problem, naming each
 * field and the value it had (quoted values are cut to 80 characters). It throws only when
 * reading the value throws (a getter, a proxy), which a parsed JSON value never does.
 *
 * @example
 * ```ts
 * import { validateSnapshot } from "./enrich.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic values, not a real station.
 * const snapshot = {
 *   schema_version: 1, station_code: "99001_synthetic", station_name: "Synthetic station",
 *   bikes_available: 3, mechanical_bikes: 1, electric_bikes: 2, docks_available: 7,
 *   capacity: 10, is_installed: true, is_renting: true, is_returning: true, latitude: 48.85,
 *   longitude: 2.35, last_reported: null, commune: "Paris", code_insee: null,
 *   collected_at: "2024-05-28T20:07:00.000Z",
 * };
 * assert.equal(validateSnapshot(snapshot).ok, true);
 * assert.deepEqual(validateSnapshot({ ...snapshot, bikes_available: -3, is_installed: "OUI" }), {
 *   ok: false,
 *   reason: "bikes_available must be a non-negative integer, got -3; " +
 *     'is_installed: expected boolean, received string "OUI"',
 * });
 * ```
 */
export function validateSnapshot(value: unknown): SnapshotCheck {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      reason: oneLine(`the snapshot must be a JSON object, got ${received(value)}`),
    };
  }
  const parsed = stationSnapshotSchema.safeParse(value);
  if (parsed.success) return { ok: true, snapshot: parsed.data };
  const record = value as Record<PropertyKey, unknown>;
  const problems = new Set(parsed.error.issues.map((issue) => describeIssue(issue, record)));
  return { ok: false, reason: oneLine([...problems].join("; ")) };
}

/**
 * Adds `occupancy_rate` ({@linkcode occupancyRate}) and `station_status`
 * ({@linkcode stationStatus}) to a validated snapshot, leaving its fields as they are.
 *
 * @example
 * ```ts
 * import { enrichSnapshot } from "./enrich.ts";
 * import assert from "node:assert/strict";
 *
 * // Synthetic values, not a real station.
 * const enriched = enrichSnapshot({
 *   schema_version: 2, system_id: "synthetic", station_code: "99001_synthetic",
 *   station_name: "Synthetic station", bikes_available: 0, mechanical_bikes: 0, electric_bikes: 0, docks_available: 0,
 *   capacity: 0, is_installed: true, is_renting: false, is_returning: false, latitude: 48.85,
 *   longitude: 2.35, last_reported: null, commune: "Paris", code_insee: null,
 *   collected_at: "2024-05-28T20:07:00.000Z",
 * });
 * assert.equal(enriched.occupancy_rate, null);
 * assert.equal(enriched.station_status, "fermée");
 * ```
 */
export function enrichSnapshot(snapshot: StationSnapshot): EnrichedSnapshot {
  return {
    ...snapshot,
    occupancy_rate: occupancyRate(snapshot),
    station_status: stationStatus(snapshot),
  };
}

/**
 * Builds the transform: each message whose value is a valid snapshot goes on with the enriched
 * snapshot as its value (its key and origin kept, in the same order); each other one becomes a
 * reject of stage `enrich` with its original value, its origin and the reason. Records are
 * independent, and `apply` never throws for a record: an unexpected error is that record's reject.
 *
 * @example
 * ```ts
 * import { createEnrichTransform } from "./enrich.ts";
 * import assert from "node:assert/strict";
 *
 * const transform = createEnrichTransform();
 * const result = await transform.apply([{ key: "99001_synthetic", value: "not a snapshot" }]);
 * assert.equal(result.messages.length, 0);
 * assert.equal(result.rejects[0].reason, 'the snapshot must be a JSON object, got string "not a snapshot"');
 * ```
 */
export function createEnrichTransform(): Transform<unknown, EnrichedSnapshot> {
  return {
    apply(messages) {
      const result: TransformResult<EnrichedSnapshot> = { messages: [], rejects: [] };
      for (const message of messages) {
        const reject = (reason: string): Reject => ({
          payload: message.value,
          reason,
          stage: STAGE,
          origin: message.origin,
        });
        try {
          const checked = validateSnapshot(message.value);
          if (checked.ok) {
            result.messages.push({ ...message, value: enrichSnapshot(checked.snapshot) });
          } else {
            result.rejects.push(reject(checked.reason));
          }
        } catch (error) {
          // The plugin boundary: a record that breaks the checks is that record's reject.
          result.rejects.push(reject(`the snapshot could not be read: ${describeThrown(error)}`));
        }
      }
      return result;
    },
  };
}

/**
 * Rounds half away from zero. The shift by `decimals` is made on the number's decimal text, not
 * by multiplying: 0.00145 * 1e4 is 14.499999999999998, which would round down to 0.0014.
 */
function roundHalfAwayFromZero(value: number, decimals: number): number {
  if (!Number.isFinite(value)) return value;
  const shift = (x: number, by: number): number => {
    const [digits, exponent = "0"] = String(x).split("e");
    return Number(`${digits}e${Number(exponent) + by}`);
  };
  const rounded = Math.sign(value) * shift(Math.round(shift(Math.abs(value), decimals)), -decimals);
  return rounded === 0 ? 0 : rounded; // no -0
}

function describeIssue(issue: z.core.$ZodIssue, record: Record<PropertyKey, unknown>): string {
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.slice(0, SHOWN_KEYS).map(quote).join(", ");
    const more = issue.keys.length > SHOWN_KEYS
      ? ` and ${issue.keys.length - SHOWN_KEYS} more`
      : "";
    return `unknown ${issue.keys.length === 1 ? "field" : "fields"}: ${names}${more}`;
  }
  const key = issue.path[0];
  if (key === undefined) return clip(issue.message);
  // The fields are the schema's own, so their names are short; the value is read from the record
  // because an issue leaves out an undefined input.
  const field = String(key);
  const value = record[key];
  if (value === undefined) return `${field} is missing`;
  if (field === "station_code") {
    return issue.code === "too_big"
      ? `station_code must be at most ${issue.maximum} characters, got ${show(value)}`
      : `station_code must be a non-empty string, got ${show(value)}`;
  }
  if (field === "system_id") {
    return issue.code === "custom"
      ? `${field}: ${issue.message}, received ${received(value)}`
      : `system_id must be 1 to 64 lowercase letters, digits, _ or -, got ${show(value)}`;
  }
  if (COUNTS.has(key)) return `${field} must be a non-negative integer, got ${show(value)}`;
  return `${field}: ${expectation(issue, field)}, received ${received(value)}`;
}

/** What the schema wanted, in the words of a person reading the reject. */
function expectation(issue: z.core.$ZodIssue, field: string): string {
  switch (issue.code) {
    case "invalid_type": {
      const shape: Record<string, z.ZodType> = stationSnapshotRecordSchema.shape;
      const nullable = shape[field]?.safeParse(null).success === true;
      return `expected ${issue.expected}${nullable ? " or null" : ""}`;
    }
    case "invalid_value":
      return `expected ${issue.values.map((v) => show(v)).join(" or ")}`;
    case "too_small":
      return `expected at least ${issue.minimum}`;
    case "too_big":
      return `expected at most ${issue.maximum}`;
    case "invalid_format":
      return issue.format === "datetime"
        ? "expected an ISO-8601 UTC date-time such as 2024-05-28T20:07:00.000Z"
        : `expected the format ${issue.format}`;
    default:
      return clip(issue.message);
  }
}

/** A value with its type, for "received …": `string "abc"`, `number -3`, `null`, `NaN`. */
function received(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const type = Array.isArray(value) ? "array" : typeof value;
  if (type === "function" || type === "symbol") return type;
  return `${type} ${show(value)}`;
}

/** A value as JSON, cut to {@linkcode SHOWN_CHARS}: reasons stay short and on one line. */
function show(value: unknown): string {
  if (typeof value === "string") return quote(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean" || value == null) {
    return String(value);
  }
  if (typeof value === "function" || typeof value === "symbol") return typeof value;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // Cycles, bigints, a throwing toJSON: say what it is instead.
  }
  return clip(text ?? Object.prototype.toString.call(value));
}

/** A string in double quotes, cut to {@linkcode SHOWN_CHARS}, with its length when cut. */
function quote(text: string): string {
  return fit(text, (char) => JSON.stringify(char).slice(1, -1), (shown) => `"${shown}"`);
}

/** Text cut to {@linkcode SHOWN_CHARS}, with its length when cut. */
function clip(text: string): string {
  return fit(text, (char) => char, (shown) => shown);
}

/**
 * `text` written a character at a time with `escape`, on one line, until it would pass
 * {@linkcode SHOWN_CHARS}: the bound is on what is written, escapes included.
 */
function fit(
  text: string,
  escape: (char: string) => string,
  wrap: (shown: string) => string,
): string {
  let shown = "";
  let read = 0;
  for (const char of text) {
    const piece = oneLine(escape(char));
    if (shown.length + piece.length > SHOWN_CHARS) break;
    shown += piece;
    read += char.length;
  }
  return read === text.length ? wrap(shown) : `${wrap(shown)}… (${text.length} characters)`;
}

/** Line breaks become spaces; the separators JSON leaves as they are are escaped. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? clip(String(error.message)) : show(error);
  } catch {
    return "an error that could not be read";
  }
}
