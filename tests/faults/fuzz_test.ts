/**
 * Failure drill 6, malformed input: property-based tests (fast-check) of what the Vélib' source
 * applies to each API record (normalization, then one snapshot per station code) and of the
 * enrich transform, over random and malformed records: wrong types, missing fields, huge
 * numbers, NaN-like strings, nested junk, prototype-pollution keys, very long strings, values
 * that throw when read.
 *
 * The property: nothing throws past the plugin boundary, and every record comes out exactly
 * once, either as a valid message or as a reject with a non-empty reason.
 *
 * Every record here is synthetic; none pretends to be a real station.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { testContext } from "../../core/testing.ts";
import { type Message, type Reject } from "../../core/types.ts";
import { normalizeStation, type VelibSource, velibSource } from "../../plugins/source-velib/mod.ts";
import {
  type StationSnapshot,
  stationSnapshotRecordSchema,
  stationSnapshotSchema,
} from "../../contracts/mod.ts";
import { enrich, enrichedSnapshotSchema } from "../../plugins/transform-enrich/mod.ts";
import { drillSeed, recordDrill } from "./report.ts";

/** A synthetic record in the Explore API's shape (from the normalizer's own example). */
const SYNTHETIC_API_RECORD: Record<string, unknown> = {
  stationcode: "99001",
  name: "Synthetic station",
  is_installed: "OUI",
  capacity: 20,
  numdocksavailable: 12,
  numbikesavailable: 8,
  mechanical: 5,
  ebike: 3,
  is_renting: "OUI",
  is_returning: "NON",
  duedate: "2024-05-28T22:04:29+02:00",
  coordonnees_geo: { lon: 2.35, lat: 48.85 },
  nom_arrondissement_communes: "Paris",
  code_insee_commune: null,
};

const API_FIELDS = Object.keys(SYNTHETIC_API_RECORD);
const SNAPSHOT_FIELDS = Object.keys(stationSnapshotRecordSchema.shape);

/** Keys that reach for an object's prototype, or shadow its methods. */
const POLLUTING_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
];

/** JSON values an API or a producer might send where a count, a flag or a name belongs. */
const hostileJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-0",
    "0x10",
    " 3 ",
    "3.0",
    "١٢", // Arabic-Indic digits
    "",
    "OUI ",
    "oui",
    "null",
    "true",
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2,
    -1,
    0.5,
    2 ** 31,
    2 ** 53,
    -0,
    null,
    true,
    false,
    [],
    {},
    "9".repeat(400),
    "x".repeat(100_000),
    "2024-05-28T22:04:29", // no offset
    "2024-13-45T99:99:99Z",
    "+010000-01-01T00:00:00Z",
  ),
  fc.integer(),
  fc.double(),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 2 }).map((inner) =>
    JSON.parse(`{"__proto__": ${JSON.stringify(inner)}}`)
  ),
  fc.nat(30).map((depth) => JSON.parse("[".repeat(depth + 20) + "]".repeat(depth + 20))),
);

/** A key to change on a record: one of its fields, a polluting key, or any other. */
const keyOf = (fields: string[]) =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...fields), weight: 6 },
    { arbitrary: fc.constantFrom(...POLLUTING_KEYS), weight: 2 },
    { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
  );

/**
 * `base` with a few fields replaced by hostile values (`undefined`: removed) or added. Built with
 * `Object.fromEntries`, which defines own properties, so `__proto__` is a key as `JSON.parse`
 * makes it, not a prototype change.
 */
function mutated(base: fc.Arbitrary<Record<string, unknown>>, fields: string[]) {
  const edit = fc.tuple(keyOf(fields), fc.option(hostileJsonValue, { nil: undefined }));
  return fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([record, edits]) => {
    const entries = new Map(Object.entries(record));
    for (const [key, value] of edits) {
      if (value === undefined) entries.delete(key);
      else entries.set(key, value);
    }
    return Object.fromEntries(entries);
  });
}

/** An instant as the API writes `duedate`: with an offset, within years 1970–2100. */
const apiDate = fc.date({
  min: new Date("1970-01-01T00:00:00Z"),
  max: new Date("2100-01-01T00:00:00Z"),
  noInvalidDate: true,
}).map((date) => date.toISOString().replace("Z", "+00:00"));

/** Synthetic API records that are valid, with varied values: codes may repeat. */
const validApiRecord: fc.Arbitrary<Record<string, unknown>> = fc.record({
  stationcode: fc.oneof(fc.constantFrom("99001", "99002", "99003_relais"), fc.nat(99_999)),
  name: fc.string({ maxLength: 60 }),
  is_installed: fc.constantFrom("OUI", "NON", true, false, 1, 0),
  capacity: fc.nat(80),
  numdocksavailable: fc.nat(80),
  numbikesavailable: fc.nat(80),
  mechanical: fc.nat(80),
  ebike: fc.nat(80),
  is_renting: fc.constantFrom("OUI", "NON", true, false, 1, 0),
  is_returning: fc.constantFrom("OUI", "NON", true, false, 1, 0),
  duedate: fc.option(apiDate, { nil: null }),
  coordonnees_geo: fc.record({
    lon: fc.double({ min: -180, max: 180, noNaN: true }),
    lat: fc.double({ min: -90, max: 90, noNaN: true }),
  }),
  nom_arrondissement_communes: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
  code_insee_commune: fc.option(fc.string({ maxLength: 5 }), { nil: null }),
});

/** What an API page may hold in place of a station record: mostly records, some broken. */
const apiRecord: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: validApiRecord, weight: 3 },
  { arbitrary: mutated(validApiRecord, API_FIELDS), weight: 5 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 },
  { arbitrary: hostileJsonValue, weight: 1 },
);

/** An instant as the source writes it: UTC, milliseconds, `Z`. */
const isoInstant = fc.date({
  min: new Date("1970-01-01T00:00:00Z"),
  max: new Date("2100-01-01T00:00:00Z"),
  noInvalidDate: true,
}).map((date) => date.toISOString());

/** Synthetic snapshots that the schema accepts, with varied values. */
const validSnapshot: fc.Arbitrary<Record<string, unknown>> = fc.record({
  schema_version: fc.constant(1),
  station_code: fc.string({ minLength: 1, maxLength: 64 }),
  station_name: fc.string({ unit: "binary", maxLength: 60 }),
  bikes_available: fc.nat(),
  mechanical_bikes: fc.nat(),
  electric_bikes: fc.nat(),
  docks_available: fc.nat(),
  capacity: fc.nat(),
  is_installed: fc.boolean(),
  is_renting: fc.boolean(),
  is_returning: fc.boolean(),
  latitude: fc.double({ min: -90, max: 90, noNaN: true }),
  longitude: fc.double({ min: -180, max: 180, noNaN: true }),
  last_reported: fc.option(isoInstant, { nil: null }),
  commune: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
  code_insee: fc.option(fc.string({ maxLength: 5 }), { nil: null }),
  collected_at: isoInstant,
});

/** Values that throw as soon as anything reads them. */
const TRAPS: unknown[] = [
  new Proxy({}, {
    get: () => {
      throw new Error("synthetic trap: get");
    },
    ownKeys: () => {
      throw new Error("synthetic trap: ownKeys");
    },
  }),
  Object.defineProperty({}, "station_code", {
    enumerable: true,
    get: () => {
      throw new Error("synthetic trap: getter");
    },
  }),
];

/** What a message value may be when it reaches the transform, JSON or not. */
const transformInput: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: validSnapshot, weight: 3 },
  { arbitrary: mutated(validSnapshot, SNAPSHOT_FIELDS), weight: 5 },
  {
    arbitrary: fc.anything({
      maxDepth: 3,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
    }),
    weight: 1,
  },
  { arbitrary: hostileJsonValue, weight: 1 },
  { arbitrary: fc.constantFrom(...TRAPS, Number.NaN, Infinity, undefined, 10n ** 30n), weight: 1 },
);

/** Fails when a record's handling wrote onto `Object.prototype`. */
function assertPrototypeClean(): void {
  const polluted = Object.keys(Object.prototype).concat(
    SNAPSHOT_FIELDS.filter((field) => field in {}),
  );
  assert.deepEqual(polluted, [], "Object.prototype was polluted");
}

/** A reject's reason: non-empty, and on one line. */
function assertReason(reject: Reject | { reason: string }, label: string): void {
  assert.equal(typeof reject.reason, "string", label);
  assert.ok(reject.reason.trim().length > 0, `${label}: the reason is empty`);
  assert.ok(!/[\r\n]/.test(reject.reason), `${label}: the reason spans lines: ${reject.reason}`);
}

const FUZZ_RUNS = 500;

Deno.test("fuzz: every API record normalizes to a snapshot that enrich accepts, or is rejected with a reason", async () => {
  const seed = drillSeed();
  const transform = enrich({}).build({});
  let records = 0;
  let snapshots = 0;
  let rejects = 0;
  await fc.assert(
    fc.asyncProperty(apiRecord, isoInstant, async (record, collectedAt) => {
      records++;
      const result = normalizeStation(record, new Date(collectedAt));
      if (!result.ok) {
        rejects++;
        assertReason(result, "normalizeStation");
        return;
      }
      snapshots++;
      // Published as JSON, read back by the load pipeline: the same snapshot (-0 is written 0).
      const text = JSON.stringify(result.snapshot);
      const published = JSON.parse(text);
      assert.equal(JSON.stringify(stationSnapshotSchema.parse(published)), text);
      const enriched = await transform.apply([{ value: published }]);
      assert.deepEqual(enriched.rejects, [], "enrich refused what the source published");
      assert.equal(enriched.messages.length, 1);
    }),
    { seed, numRuns: FUZZ_RUNS },
  );
  assertPrototypeClean();
  await recordDrill({
    scenario: "fuzz: velib normalizer",
    seed,
    faults: records - snapshots,
    messagesIn: records,
    rowsOut: snapshots + rejects,
    lost: records - snapshots - rejects,
    duplicated: 0,
  });
});

Deno.test("fuzz: the Vélib' source turns every record of a snapshot into one station, one reject or one counted duplicate", async () => {
  const seed = drillSeed();
  let page: unknown[] = [];
  // The export, and the count the source checks it against.
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      new URL(request.url).pathname.endsWith("/records")
        ? Response.json({ total_count: page.length, results: [] })
        : Response.json(page),
  );
  let records = 0;
  let out = 0;
  let duplicates = 0;
  let rejected = 0;
  let overCounted = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(apiRecord, { maxLength: 30 }), async (generated) => {
      // What the source reads is what the API's JSON parses to.
      page = JSON.parse(JSON.stringify(generated));
      records += page.length;
      const source = velibSource({
        baseUrl: `http://127.0.0.1:${server.addr.port}/synthetic-dataset`,
        fetch: "exports",
      }).build({}) as VelibSource;
      const signal = new AbortController().signal;
      await source.connect!({
        ...testContext("fuzz", { signal }),
        loadCursors: () => Promise.resolve([]),
      });
      const batch = await source.read(signal);
      assert.ok(typeof batch === "object", "one snapshot is one batch");
      const counted = source.counters.duplicates;
      out += batch.messages.length;
      duplicates += counted;
      rejected += batch.rejects?.length ?? 0;
      const accounted = batch.messages.length + (batch.rejects?.length ?? 0) + counted;
      overCounted += Math.max(0, accounted - page.length);
      assert.equal(accounted, page.length, "every record is a station, a reject or a duplicate");
      const codes = batch.messages.map((message) => message.key);
      assert.equal(new Set(codes).size, codes.length, "one station per code");
      for (const message of batch.messages) {
        const snapshot = stationSnapshotSchema.parse(message.value) as StationSnapshot;
        assert.equal(message.key, snapshot.station_code);
      }
      const remaining = [...page];
      for (const reject of batch.rejects ?? []) {
        assertReason(reject, "source velib");
        assert.equal(reject.stage, "source velib");
        // Each reject is one record of the page, as it arrived.
        const index = remaining.findIndex((record) => isDeepStrictEqual(record, reject.payload));
        assert.notEqual(index, -1, "a reject's payload is a record of the page");
        remaining.splice(index, 1);
      }
    }),
    { seed, numRuns: 60 },
  );
  assertPrototypeClean();
  await recordDrill({
    scenario: "fuzz: velib source (per API record)",
    seed,
    faults: rejected + duplicates,
    messagesIn: records,
    rowsOut: out + rejected + duplicates,
    lost: records - out - rejected - duplicates,
    duplicated: overCounted,
  });
});

Deno.test("fuzz: enrich passes each valid snapshot on and rejects everything else with a reason, each record once and in order", async () => {
  const seed = drillSeed();
  const transform = enrich({}).build({});
  let records = 0;
  let rejected = 0;
  let rowsOut = 0;
  let lost = 0;
  let duplicated = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(transformInput, { maxLength: 30 }), async (values) => {
      records += values.length;
      const input: Message[] = values.map((value, offset) => ({
        key: `synthetic-${offset}`,
        value,
        origin: { stream: "synthetic-fuzz", partition: 0, offset: String(offset) },
      }));
      const result = await transform.apply(input);
      rejected += result.rejects.length;
      const seen = [...result.messages.map((m) => m.origin), ...result.rejects.map((r) => r.origin)]
        .map((origin) => Number(origin!.offset));
      const unique = new Set(seen);
      rowsOut += unique.size;
      duplicated += seen.length - unique.size;
      lost += input.filter((_, offset) => !unique.has(offset)).length;
      assert.deepEqual([...seen].sort((a, b) => a - b), input.map((_, offset) => offset));
      for (const message of result.messages) {
        const offset = Number(message.origin!.offset);
        assert.equal(message.key, input[offset].key);
        assert.ok(stationSnapshotSchema.safeParse(values[offset]).success, "only valid ones pass");
        enrichedSnapshotSchema.parse(message.value);
      }
      for (const reject of result.rejects) {
        const offset = Number(reject.origin!.offset);
        assertReason(reject, `enrich, record ${offset}`);
        assert.equal(reject.stage, "transform enrich");
        assert.ok(
          Object.is(reject.payload, values[offset]),
          "the reject keeps the value as it came",
        );
        assert.ok(!safelyValid(values[offset]), "a valid snapshot is never rejected");
      }
      const order = result.messages.map((m) => Number(m.origin!.offset));
      assert.deepEqual(order, [...order].sort((a, b) => a - b), "messages keep their order");
    }),
    { seed, numRuns: 200 },
  );
  assertPrototypeClean();
  await recordDrill({
    scenario: "fuzz: enrich transform",
    seed,
    faults: rejected,
    messagesIn: records,
    rowsOut,
    lost,
    duplicated,
  });
});

/** Whether the schema accepts `value`; a value that throws when read is not valid. */
function safelyValid(value: unknown): boolean {
  try {
    return stationSnapshotSchema.safeParse(value).success;
  } catch {
    return false;
  }
}
