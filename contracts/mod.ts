/**
 * The message contracts between the pipelines' plugins: what one publishes and another reads.
 *
 * @example
 * ```ts
 * import { stationSnapshotSchema } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(stationSnapshotSchema.safeParse({ schema_version: 3 }).success, false);
 * ```
 *
 * @module
 */
export {
  DEFAULT_SYSTEM_ID,
  normalizeSystemId,
  SCHEMA_VERSION,
  stationSnapshotRecordSchema,
  stationSnapshotSchema,
  SYSTEM_ID_PATTERN,
  systemIdSchema,
} from "./station_snapshot.ts";
export type { StationSnapshot } from "./station_snapshot.ts";
