// Synthetic records are labelled as such (codes ending in `_synthetic`); the one real-data test
// reads the 2024-05-28 capture in place and normalizes it as the Vélib' source does.
import assert from "node:assert/strict";
import type { Message, Reject, TransformResult } from "../../mod.ts";
import { captureSnapshots } from "../../tests/support/fixtures.ts";
import { type StationSnapshot } from "../../contracts/mod.ts";
import {
  enrich,
  type EnrichedSnapshot,
  enrichedSnapshotSchema,
  occupancyRate,
  stationStatus,
} from "./mod.ts";

/** A valid snapshot with synthetic values, not a real station. */
const SYNTHETIC: StationSnapshot = {
  schema_version: 2,
  system_id: "synthetic",
  station_code: "99001_synthetic",
  station_name: "Synthetic station",
  bikes_available: 8,
  mechanical_bikes: 5,
  electric_bikes: 3,
  docks_available: 12,
  capacity: 20,
  is_installed: true,
  is_renting: true,
  is_returning: true,
  latitude: 48.85,
  longitude: 2.35,
  last_reported: "2024-05-28T20:04:29.000Z",
  commune: "Paris",
  code_insee: null,
  collected_at: "2024-05-28T20:07:00.000Z",
};

const MIB = 1024 * 1024;

function origin(offset: number) {
  return { stream: "velib-stations", partition: 0, offset: String(offset) };
}

async function run(messages: Message[]): Promise<TransformResult<EnrichedSnapshot>> {
  return await enrich.spec.create({}).apply(messages);
}

async function rejectOf(value: unknown): Promise<Reject> {
  const { messages, rejects } = await run([{ value }]);
  assert.equal(messages.length, 0, "expected a reject");
  assert.equal(rejects.length, 1);
  return rejects[0];
}

async function reasonFor(value: unknown): Promise<string> {
  return (await rejectOf(value)).reason;
}

async function enrichedOf(value: unknown): Promise<EnrichedSnapshot> {
  const { messages, rejects } = await run([{ value }]);
  assert.deepEqual(rejects, [], "expected no reject");
  return messages[0].value;
}

Deno.test("enrich passes a valid snapshot on with occupancy_rate and station_status added", async () => {
  const { messages, rejects } = await run([
    { key: "99001_synthetic", value: SYNTHETIC, origin: origin(7) },
  ]);
  assert.deepEqual(rejects, []);
  assert.deepEqual(messages, [{
    key: "99001_synthetic",
    value: { ...SYNTHETIC, occupancy_rate: 0.4, station_status: "en_service" },
    origin: origin(7),
  }]);
});

Deno.test("enrich reads a version-1 snapshot, which has no system_id, as one of the velib system", async () => {
  const { system_id: _, ...fields } = SYNTHETIC;
  const enriched = await enrichedOf({ ...fields, schema_version: 1 });
  assert.equal(enriched.schema_version, 1);
  assert.equal(enriched.system_id, "velib");
  assert.deepEqual(Object.keys(enriched).slice(0, 3), [
    "schema_version",
    "system_id",
    "station_code",
  ]);
});

Deno.test("enrich rejects a version-2 snapshot without a valid system_id, and a version-1 one that has one", async () => {
  const { system_id: _, ...withoutSystem } = SYNTHETIC;
  assert.equal(await reasonFor(withoutSystem), "system_id is missing");
  assert.equal(
    await reasonFor({ ...SYNTHETIC, system_id: "Synthetic System" }),
    'system_id must be 1 to 64 lowercase letters, digits, _ or -, got "Synthetic System"',
  );
  assert.equal(
    await reasonFor({ ...SYNTHETIC, schema_version: 1 }),
    "system_id: a version-1 snapshot has no system_id; version 2 carries it, " +
      'received string "synthetic"',
  );
});

Deno.test("enrich rejects a record without station_code, with the reason", async () => {
  const { station_code: _, ...withoutCode } = SYNTHETIC;
  const { messages, rejects } = await run([{ value: withoutCode, origin: origin(3) }]);
  assert.deepEqual(messages, []);
  assert.deepEqual(rejects, [{
    payload: withoutCode,
    reason: "station_code is missing",
    stage: "transform enrich",
    origin: origin(3),
  }]);
});

Deno.test("enrich rejects an empty or non-string station_code, naming the value", async () => {
  assert.equal(
    await reasonFor({ ...SYNTHETIC, station_code: "" }),
    'station_code must be a non-empty string, got ""',
  );
  assert.equal(
    await reasonFor({ ...SYNTHETIC, station_code: 99001 }),
    "station_code must be a non-empty string, got 99001",
  );
  assert.equal(
    await reasonFor({ ...SYNTHETIC, station_code: null }),
    "station_code must be a non-empty string, got null",
  );
});

Deno.test("enrich rejects a station_code longer than 64 characters, quoting only its start", async () => {
  const reason = await reasonFor({ ...SYNTHETIC, station_code: "9".repeat(1024 * 1024) });
  assert.match(reason, /^station_code must be at most 64 characters, got "9{10,}/);
  assert.ok(reason.length < 200);
});

Deno.test("enrich rejects a negative count, naming the field and the value", async () => {
  const counts = [
    "bikes_available",
    "mechanical_bikes",
    "electric_bikes",
    "docks_available",
    "capacity",
  ];
  for (const field of counts) {
    assert.equal(
      await reasonFor({ ...SYNTHETIC, [field]: -3 }),
      `${field} must be a non-negative integer, got -3`,
    );
  }
});

Deno.test("enrich rejects a count that is not an integer, naming the field and the value", async () => {
  assert.equal(
    await reasonFor({ ...SYNTHETIC, docks_available: 1.5 }),
    "docks_available must be a non-negative integer, got 1.5",
  );
  assert.equal(
    await reasonFor({ ...SYNTHETIC, electric_bikes: "3" }),
    'electric_bikes must be a non-negative integer, got "3"',
  );
  assert.equal(
    await reasonFor({ ...SYNTHETIC, mechanical_bikes: null }),
    "mechanical_bikes must be a non-negative integer, got null",
  );
  assert.equal(
    await reasonFor({ ...SYNTHETIC, bikes_available: Number.NaN }),
    "bikes_available must be a non-negative integer, got NaN",
  );
});

Deno.test("enrich rejects a negative capacity with a reason that names capacity", async () => {
  assert.equal(
    await reasonFor({ ...SYNTHETIC, capacity: -1 }),
    "capacity must be a non-negative integer, got -1",
  );
});

Deno.test("enrich keeps a station with capacity 0, with a null occupancy_rate", async () => {
  const enriched = await enrichedOf({ ...SYNTHETIC, capacity: 0, bikes_available: 3 });
  assert.equal(enriched.capacity, 0);
  assert.equal(enriched.occupancy_rate, null);
});

Deno.test("enrich keeps a station with more bikes than capacity, with a rate above 1", async () => {
  const enriched = await enrichedOf({ ...SYNTHETIC, bikes_available: 30, capacity: 20 });
  assert.equal(enriched.bikes_available, 30);
  assert.equal(enriched.occupancy_rate, 1.5);
});

Deno.test("enrich lists every other schema violation in one reason as field: message", async () => {
  const reason = await reasonFor({
    ...SYNTHETIC,
    schema_version: 3,
    is_installed: "true",
    latitude: 100,
    last_reported: "yesterday",
    commune: 3,
    collected_at: "2024-05-28T22:07:00+02:00",
  });
  assert.equal(
    reason,
    "schema_version: expected 1 or 2, received number 3; " +
      'is_installed: expected boolean, received string "true"; ' +
      "latitude: expected at most 90, received number 100; " +
      "last_reported: expected an ISO-8601 UTC date-time such as 2024-05-28T20:07:00.000Z, " +
      'received string "yesterday"; ' +
      "commune: expected string or null, received number 3; " +
      "collected_at: expected an ISO-8601 UTC date-time such as 2024-05-28T20:07:00.000Z, " +
      'received string "2024-05-28T22:07:00+02:00"',
  );
});

Deno.test("enrich lists count and other problems of one record together", async () => {
  const { station_code: _, ...withoutCode } = SYNTHETIC;
  assert.equal(
    await reasonFor({ ...withoutCode, capacity: -2, is_renting: 1 }),
    "station_code is missing; capacity must be a non-negative integer, got -2; " +
      "is_renting: expected boolean, received number 1",
  );
});

Deno.test("enrich reports a missing field as missing", async () => {
  const { latitude: _, ...withoutLatitude } = SYNTHETIC;
  assert.equal(await reasonFor(withoutLatitude), "latitude is missing");
});

Deno.test("enrich rejects unknown fields, naming them", async () => {
  assert.equal(
    await reasonFor({ ...SYNTHETIC, occupancy: 0.4 }),
    'unknown field: "occupancy"',
  );
  const many = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`extra_${i}`, i]));
  assert.equal(
    await reasonFor({ ...SYNTHETIC, ...many }),
    'unknown fields: "extra_0", "extra_1", "extra_2", "extra_3", "extra_4" and 2 more',
  );
});

Deno.test("enrich rejects values that are not objects: null, an array, a string, a number", async () => {
  const cases: Array<[unknown, string]> = [
    [null, "the snapshot must be a JSON object, got null"],
    [[SYNTHETIC], `the snapshot must be a JSON object, got array [{"schema_version":2,`],
    ["99001_synthetic", 'the snapshot must be a JSON object, got string "99001_synthetic"'],
    [42, "the snapshot must be a JSON object, got number 42"],
    [undefined, "the snapshot must be a JSON object, got undefined"],
  ];
  for (const [value, expected] of cases) {
    const reject = await rejectOf(value);
    assert.ok(reject.reason.startsWith(expected), `${reject.reason} for ${typeof value}`);
    assert.equal(reject.payload, value);
  }
});

Deno.test("enrich keeps the reason short and on one line when a field holds a 1 MiB string", async () => {
  const huge = "x".repeat(MIB - 1) + "\n";
  const values = [
    { ...SYNTHETIC, is_installed: huge },
    { ...SYNTHETIC, last_reported: huge },
    { ...SYNTHETIC, capacity: huge },
    { ...SYNTHETIC, [huge]: 1 },
    huge,
  ];
  for (const value of values) {
    const reason = await reasonFor(value);
    assert.ok(reason.length < 300, `reason of ${reason.length} characters`);
    assert.ok(!reason.includes("\n"), "reason on more than one line");
    assert.match(reason, /"x{80}"… \(1048576 characters\)/);
  }
});

Deno.test("enrich keeps the reason bounded when every field is wrong", async () => {
  const huge = "\u2028".repeat(MIB);
  const everything = Object.fromEntries(Object.keys(SYNTHETIC).map((field) => [field, [huge]]));
  for (const value of [{ ...everything, [huge]: huge }, huge]) {
    const reason = await reasonFor(value);
    assert.ok(reason.length < 4096, `reason of ${reason.length} characters`);
    assert.ok(!/[\n\r\u2028\u2029]/.test(reason), "reason on more than one line");
    assert.match(reason, /\\u2028"… \(1048576 characters\)/);
  }
});

Deno.test("enrich turns an error thrown while reading a record into a reject, not a throw", async () => {
  const hostile = {
    ...SYNTHETIC,
    station_code: "99002_synthetic",
    get is_installed(): boolean {
      throw new Error("synthetic failure\nin a getter");
    },
  };
  const { messages, rejects } = await run([
    { value: hostile, origin: origin(0) },
    { value: SYNTHETIC, origin: origin(1) },
  ]);
  assert.deepEqual(rejects, [{
    payload: hostile,
    reason: "the snapshot could not be read: synthetic failure in a getter",
    stage: "transform enrich",
    origin: origin(0),
  }]);
  assert.deepEqual(messages.map((m) => m.origin), [origin(1)]);
});

Deno.test("enrich keeps order, keys and origins in a mixed batch and splits good from bad", async () => {
  const values: unknown[] = [
    SYNTHETIC,
    null,
    { ...SYNTHETIC, station_code: "99002_synthetic", capacity: 0 },
    { ...SYNTHETIC, station_code: "99003_synthetic", bikes_available: -3 },
    { ...SYNTHETIC, station_code: "99004_synthetic", is_installed: false },
    "not a snapshot",
  ];
  const batch = values.map((value, i) => ({ key: `key_${i}`, value, origin: origin(100 + i) }));
  const { messages, rejects } = await run(batch);
  assert.deepEqual(messages.map((m) => [m.key, m.origin?.offset, m.value.station_code]), [
    ["key_0", "100", "99001_synthetic"],
    ["key_2", "102", "99002_synthetic"],
    ["key_4", "104", "99004_synthetic"],
  ]);
  assert.deepEqual(messages.map((m) => m.value.station_status), [
    "en_service",
    "en_service",
    "hors_service",
  ]);
  assert.deepEqual(rejects.map((r) => [r.origin?.offset, r.payload]), [
    ["101", values[1]],
    ["103", values[3]],
    ["105", values[5]],
  ]);
});

Deno.test("enrich gives a record the same result alone as among bad records", async () => {
  const alone = await run([{ value: SYNTHETIC }]);
  const among = await run([{ value: [] }, { value: SYNTHETIC }, { value: { station_code: 1 } }]);
  assert.deepEqual(among.messages, alone.messages);
});

Deno.test("enrich returns nothing for an empty batch", async () => {
  assert.deepEqual(await run([]), { messages: [], rejects: [] });
});

Deno.test("enrich is configured with an empty object and refuses any option", () => {
  assert.deepEqual(enrich({}).validate({}), []);
  assert.deepEqual(enrich(enrich.spec.example).validate({}), []);
  const issues = enrich({ decimals: 2 } as unknown as Record<string, never>).validate({});
  assert.equal(issues.length, 1);
  assert.match(issues[0].message, /decimals/);
});

Deno.test("stationStatus decides hors_service, then fermée, then en_service over all 8 flags", () => {
  // [is_installed, is_renting, is_returning] → status
  const table: Array<[boolean, boolean, boolean, string]> = [
    [false, false, false, "hors_service"],
    [false, false, true, "hors_service"],
    [false, true, false, "hors_service"],
    [false, true, true, "hors_service"],
    [true, false, false, "fermée"],
    [true, false, true, "en_service"],
    [true, true, false, "en_service"],
    [true, true, true, "en_service"],
  ];
  for (const [is_installed, is_renting, is_returning, expected] of table) {
    assert.equal(
      stationStatus({ is_installed, is_renting, is_returning }),
      expected,
      `${is_installed}/${is_renting}/${is_returning}`,
    );
  }
});

Deno.test("occupancyRate rounds half away from zero to 4 decimals", () => {
  const cases: Array<[number, number, number]> = [
    [2, 3, 0.6667],
    [1, 3, 0.3333],
    [5, 6, 0.8333],
    [1, 8, 0.125],
    [1, 32, 0.0313], // 0.03125, a half: away from zero
    [1, 160, 0.0063], // 0.00625
    [10001, 20000, 0.5001], // 0.50005
    [29, 20000, 0.0015], // 0.00145, though 0.00145 * 1e4 is 14.499999999999998
    [0, 20, 0],
    [20, 20, 1],
  ];
  for (const [bikes_available, capacity, expected] of cases) {
    assert.equal(
      occupancyRate({ bikes_available, capacity }),
      expected,
      `${bikes_available}/${capacity}`,
    );
  }
});

Deno.test("occupancyRate is null when capacity is 0", () => {
  assert.equal(occupancyRate({ bikes_available: 0, capacity: 0 }), null);
  assert.equal(occupancyRate({ bikes_available: 4, capacity: 0 }), null);
});

Deno.test("occupancyRate keeps rates above 1", () => {
  assert.equal(occupancyRate({ bikes_available: 30, capacity: 20 }), 1.5);
  assert.equal(occupancyRate({ bikes_available: 7, capacity: 3 }), 2.3333);
});

/** When the real-data tests say the capture was collected. */
const CAPTURED_AT = new Date("2024-05-28T20:07:00Z");

function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[keyOf(item)] = (counts[keyOf(item)] ?? 0) + 1;
  return counts;
}

Deno.test("enrich passes every station of the 2024-05-28 capture, statuses matching their flags", async () => {
  const snapshots = await captureSnapshots(CAPTURED_AT);
  const { messages, rejects } = await run(
    snapshots.map((value) => ({ key: value.station_code, value })),
  );
  assert.deepEqual(rejects, []);
  assert.equal(messages.length, 1471);
  const enriched = messages.map((m) => m.value);
  assert.equal(enriched.filter((s) => s.occupancy_rate === null).length, 20);
  assert.equal(enriched.filter((s) => s.capacity === 0).length, 20);
  // The flag triples SOURCES.md documents for this capture, and the status each one gets.
  const triple = (s: StationSnapshot) =>
    [s.is_installed, s.is_renting, s.is_returning].map((f) => f ? "OUI" : "NON").join("/");
  assert.deepEqual(countBy(enriched, triple), {
    "OUI/OUI/OUI": 1426,
    "OUI/NON/NON": 32,
    "NON/NON/NON": 13,
  });
  assert.deepEqual(countBy(enriched, (s) => `${triple(s)} ${s.station_status}`), {
    "OUI/OUI/OUI en_service": 1426,
    "OUI/NON/NON fermée": 32,
    "NON/NON/NON hors_service": 13,
  });
});

Deno.test("every station enrich passes on from the capture parses with enrichedSnapshotSchema", async () => {
  const snapshots = await captureSnapshots(CAPTURED_AT);
  const { messages } = await run(snapshots.map((value) => ({ value })));
  for (const { value } of messages) {
    const parsed = enrichedSnapshotSchema.safeParse(value);
    assert.ok(parsed.success, `${value.station_code}: ${parsed.error?.message}`);
  }
});
