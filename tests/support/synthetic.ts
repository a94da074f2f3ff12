/**
 * A source of synthetic records, for plumbing and volume tests. Nothing here pretends to be
 * Vélib' data.
 *
 * @module
 */
import { z } from "zod";
import { definePlugin } from "../../core/plugin.ts";
import { memorySource } from "../../core/memory.ts";
import { DEFAULT_SYSTEM_ID, type StationSnapshot } from "../../contracts/mod.ts";

/**
 * Yields `batches` batches of `size` records `{ id, n, label }`, labelled synthetic.
 *
 * @example
 * ```ts
 * import { syntheticSource } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(syntheticSource({ batches: 1, size: 2 }).validate({}), []);
 * ```
 */
export const syntheticSource = definePlugin({
  kind: "source",
  name: "synthetic",
  description: "Yields `batches` batches of `size` synthetic records.",
  config: z.strictObject({ batches: z.int().min(0), size: z.int().min(1) }),
  example: { batches: 2, size: 10 },
  create: ({ batches, size }) =>
    memorySource(
      Array.from({ length: batches }, (_, batch) =>
        Array.from({ length: size }, (_, i) => {
          const n = batch * size + i;
          return { value: { id: `id-${n}`, n, label: `synthetic record ${n}` } };
        })),
    ),
});

/**
 * A synthetic station snapshot (station 99001 of the default system, not a real station),
 * collected now, with `fields` overriding any of its values.
 *
 * @example
 * ```ts
 * import { syntheticSnapshot } from "./synthetic.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(syntheticSnapshot({ station_name: "O'Hare; --" }).station_name, "O'Hare; --");
 * ```
 */
export function syntheticSnapshot(fields: Partial<StationSnapshot> = {}): StationSnapshot {
  return {
    schema_version: 2,
    system_id: DEFAULT_SYSTEM_ID,
    station_code: "99001",
    station_name: "Synthetic station",
    bikes_available: 4,
    mechanical_bikes: 3,
    electric_bikes: 1,
    docks_available: 6,
    capacity: 10,
    is_installed: true,
    is_renting: true,
    is_returning: true,
    latitude: 48.85,
    longitude: 2.35,
    last_reported: null,
    commune: "Paris",
    code_insee: null,
    collected_at: new Date().toISOString(),
    ...fields,
  };
}
