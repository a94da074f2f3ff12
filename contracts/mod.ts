/**
 * The message contracts between the pipelines' plugins: what one publishes and another reads.
 *
 * @example
 * ```ts
 * import { stationSnapshotSchema } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(stationSnapshotSchema.shape.schema_version.value, 1);
 * ```
 *
 * @module
 */
export { stationSnapshotSchema } from "./station_snapshot.ts";
export type { StationSnapshot } from "./station_snapshot.ts";
