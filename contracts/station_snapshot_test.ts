import assert from "node:assert/strict";
import {
  DEFAULT_SYSTEM_ID,
  normalizeSystemId,
  SCHEMA_VERSION,
  stationSnapshotRecordSchema,
  stationSnapshotSchema,
} from "./mod.ts";

/** A version-2 snapshot with synthetic values, not a real station. */
const V2 = {
  schema_version: 2,
  system_id: "synthetic",
  station_code: "99001_synthetic",
  station_name: "Synthetic station",
  bikes_available: 3,
  mechanical_bikes: 1,
  electric_bikes: 2,
  docks_available: 7,
  capacity: 10,
  is_installed: true,
  is_renting: true,
  is_returning: true,
  latitude: 48.85,
  longitude: 2.35,
  last_reported: null,
  commune: null,
  code_insee: null,
  collected_at: "2024-05-28T20:07:00.000Z",
};

Deno.test("producers emit version 2, which the schema passes on as it is", () => {
  assert.equal(SCHEMA_VERSION, 2);
  assert.deepEqual(stationSnapshotSchema.parse(V2), V2);
});

Deno.test("a version-1 message, as the topic may still hold, reads as one of the default system", () => {
  const { system_id: _, ...v1 } = { ...V2, schema_version: 1 };
  const read = stationSnapshotSchema.parse(v1);
  assert.deepEqual(read, { ...v1, system_id: DEFAULT_SYSTEM_ID });
  assert.deepEqual(Object.keys(read), Object.keys(stationSnapshotRecordSchema.shape));
});

Deno.test("version 2 needs a system_id of the contract's spelling; version 1 may not have one", () => {
  const { system_id: _, ...withoutSystem } = V2;
  const issues = (value: unknown) =>
    stationSnapshotSchema.safeParse(value).error?.issues.map((i) => i.path.join("."));
  assert.deepEqual(issues(withoutSystem), ["system_id"]);
  assert.deepEqual(issues({ ...V2, system_id: "Bixi MTL" }), ["system_id"]);
  assert.deepEqual(issues({ ...V2, schema_version: 1 }), ["system_id"]);
  assert.deepEqual(issues({ ...V2, schema_version: 3 }), ["schema_version"]);
});

Deno.test("normalizeSystemId writes operators' ids in the contract's spelling", () => {
  assert.equal(normalizeSystemId("Bixi_MTL"), "bixi_mtl");
  assert.equal(normalizeSystemId("Paris"), "paris");
  assert.equal(normalizeSystemId("bogota_bike"), "bogota_bike");
  assert.equal(normalizeSystemId("Lillestrøm bysykkel"), "lillestr-m-bysykkel");
  assert.equal(normalizeSystemId("Vélo'v"), "velo-v");
  assert.equal(normalizeSystemId(""), undefined);
  assert.equal(normalizeSystemId("x".repeat(65)), undefined);
});
