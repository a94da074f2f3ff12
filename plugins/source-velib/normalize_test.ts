// Every test starts from real records of the 2024-05-28 capture and changes only the field under
// test, so what is checked is the API's own shape.
import assert from "node:assert/strict";
import { EXPLORE_EXPORTS_CAPTURE, readCapture } from "../../tests/support/fixtures.ts";
import { type StationSnapshot, stationSnapshotSchema } from "../../contracts/mod.ts";
import { dedupeStations, normalizeStation } from "./normalize.ts";

type ExploreRecord = Record<string, unknown> & {
  stationcode: string;
  duedate: string;
  capacity: number;
  numbikesavailable: number;
  coordonnees_geo: { lon: number; lat: number };
};

const capture = await readCapture(EXPLORE_EXPORTS_CAPTURE) as ExploreRecord[];
const first = capture[0];
const collectedAt = new Date("2024-05-28T20:07:00Z");

function snapshotOf(record: unknown): StationSnapshot {
  const result = normalizeStation(record, collectedAt);
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.snapshot;
}

function reasonFor(record: unknown): string {
  const result = normalizeStation(record, collectedAt);
  assert.ok(!result.ok, "expected a reject");
  return result.reason;
}

Deno.test("normalizeStation maps every field of a real record", () => {
  assert.deepEqual(snapshotOf(first), {
    schema_version: 2,
    system_id: "velib",
    station_code: first.stationcode,
    station_name: first.name,
    bikes_available: first.numbikesavailable,
    mechanical_bikes: first.mechanical,
    electric_bikes: first.ebike,
    docks_available: first.numdocksavailable,
    capacity: first.capacity,
    is_installed: first.is_installed === "OUI",
    is_renting: first.is_renting === "OUI",
    is_returning: first.is_returning === "OUI",
    latitude: first.coordonnees_geo.lat,
    longitude: first.coordonnees_geo.lon,
    last_reported: new Date(first.duedate).toISOString(),
    commune: first.nom_arrondissement_communes,
    code_insee: null,
    collected_at: "2024-05-28T20:07:00.000Z",
  });
});

Deno.test("normalizeStation reads flags given as OUI/NON, booleans and 1/0", () => {
  // Only the three flags change.
  for (const [yes, no] of [["OUI", "NON"], [true, false], [1, 0]]) {
    const snapshot = snapshotOf({ ...first, is_installed: yes, is_renting: no, is_returning: yes });
    assert.deepEqual(
      [snapshot.is_installed, snapshot.is_renting, snapshot.is_returning],
      [true, false, true],
      `flags ${yes}/${no}`,
    );
  }
});

Deno.test("normalizeStation rejects a flag it does not know, naming the field", () => {
  assert.equal(
    reasonFor({ ...first, is_renting: "yes" }),
    'is_renting must be "OUI", "NON", a boolean, 1 or 0, got "yes"',
  );
});

Deno.test("normalizeStation turns duedate at +00:00, +01:00 and +02:00 into one UTC instant", () => {
  // The capture's duedate is at +00:00; the same instant is written at two other offsets.
  const instant = Date.parse(first.duedate);
  const at = (hours: number) =>
    new Date(instant + hours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, `+0${hours}:00`);
  const written = [first.duedate, at(1), at(2)];
  assert.equal(written[0].endsWith("+00:00"), true);
  const reported = written.map((duedate) => snapshotOf({ ...first, duedate }).last_reported);
  assert.deepEqual(reported, Array(3).fill(new Date(instant).toISOString()));
  assert.ok(reported[0]!.endsWith("Z"));
});

Deno.test("normalizeStation gives last_reported null when duedate is missing or unreadable", () => {
  const { duedate: _, ...withoutDuedate } = first;
  assert.equal(snapshotOf(withoutDuedate).last_reported, null);
  assert.equal(snapshotOf({ ...first, duedate: null }).last_reported, null);
  // Without an offset the instant is unknown; a calendar date that does not exist is unreadable.
  assert.equal(snapshotOf({ ...first, duedate: first.duedate.slice(0, 19) }).last_reported, null);
  assert.equal(snapshotOf({ ...first, duedate: "2024-02-30T10:00:00+00:00" }).last_reported, null);
});

Deno.test("normalizeStation keeps capacity 0 as it is", () => {
  const relay = capture.find((record) => record.stationcode === "11031_relais")!;
  assert.equal(relay.capacity, 0);
  const snapshot = snapshotOf(relay);
  assert.equal(snapshot.capacity, 0);
  assert.equal(snapshot.station_code, "11031_relais");
});

Deno.test("normalizeStation keeps more bikes than capacity as it is", () => {
  const overfull = capture.find((record) => record.numbikesavailable > record.capacity)!;
  const snapshot = snapshotOf(overfull);
  assert.equal(snapshot.bikes_available, overfull.numbikesavailable);
  assert.equal(snapshot.capacity, overfull.capacity);
  assert.ok(snapshot.bikes_available > snapshot.capacity);
});

Deno.test("normalizeStation rejects a record without stationcode, saying so", () => {
  const { stationcode: _, ...withoutCode } = first;
  assert.equal(reasonFor(withoutCode), "stationcode is missing");
});

Deno.test("normalizeStation turns a numeric stationcode into a string", () => {
  assert.equal(snapshotOf({ ...first, stationcode: 16107 }).station_code, "16107");
});

Deno.test("normalizeStation names the field and the value of a wrong type", () => {
  assert.equal(
    reasonFor({ ...first, numbikesavailable: "abc" }),
    'numbikesavailable must be an integer ≥ 0, got "abc"',
  );
  assert.equal(reasonFor({ ...first, capacity: -1 }), "capacity must be an integer ≥ 0, got -1");
  assert.equal(reasonFor({ ...first, name: null }), "name must be a string, got null");
});

Deno.test("normalizeStation reports missing coordinates once, and every problem at once", () => {
  const { coordonnees_geo: _, ...withoutGeo } = first;
  assert.equal(reasonFor(withoutGeo), "coordonnees_geo is missing");
  assert.equal(
    reasonFor({ ...first, coordonnees_geo: { lon: first.coordonnees_geo.lon, lat: 91 } }),
    "coordonnees_geo.lat must be a number from -90 to 90, got 91",
  );
  assert.equal(
    reasonFor({ ...first, stationcode: "", ebike: 1.5 }),
    'stationcode must be a non-empty string or an integer, got ""; ebike must be an integer ≥ 0, ' +
      "got 1.5",
  );
});

Deno.test("normalizeStation rejects what is not an object", () => {
  assert.equal(reasonFor(null), "the record must be a JSON object, got null");
  assert.equal(reasonFor([first]).startsWith("the record must be a JSON object, got [{"), true);
});

Deno.test("the whole 2024-05-28 capture normalizes to 1,471 valid snapshots", () => {
  const results = capture.map((record) => normalizeStation(record, collectedAt));
  const snapshots = results.flatMap((result) => result.ok ? [result.snapshot] : []);
  assert.equal(snapshots.length, 1471);
  for (const snapshot of snapshots) stationSnapshotSchema.parse(snapshot);
  const codes = new Set(snapshots.map((snapshot) => snapshot.station_code));
  assert.equal(codes.size, 1471);
  assert.ok(codes.has("11031_relais") && codes.has("10001_relais"));
  assert.ok(snapshots.every((snapshot) => snapshot.collected_at === "2024-05-28T20:07:00.000Z"));
});

Deno.test("stationSnapshotSchema holds instants in UTC only", () => {
  const snapshot = snapshotOf(first);
  assert.equal(stationSnapshotSchema.safeParse(snapshot).success, true);
  assert.equal(
    stationSnapshotSchema.safeParse({ ...snapshot, last_reported: first.duedate }).success,
    false,
  );
});

Deno.test("dedupeStations keeps the newest duedate of a station, wherever it comes", () => {
  // Two real stations; the first one also comes again with a duedate a minute later.
  const [a, b] = capture.slice(0, 2).map(snapshotOf);
  const newer = snapshotOf({
    ...first,
    duedate: new Date(Date.parse(first.duedate) + 60_000).toISOString(),
  });
  for (const order of [[a, b, newer], [newer, b, a]]) {
    const { stations, duplicates } = dedupeStations(order);
    assert.equal(duplicates, 1);
    assert.equal(stations.length, 2);
    assert.equal(stations.find((s) => s.station_code === a.station_code), newer);
    assert.equal(stations[1], b, "order of first appearance");
  }
});

Deno.test("dedupeStations ranks a missing last_reported below any date", () => {
  const dated = snapshotOf(first);
  const undated = snapshotOf({ ...first, duedate: null });
  assert.deepEqual(dedupeStations([undated, dated]), { stations: [dated], duplicates: 1 });
  assert.deepEqual(dedupeStations([dated, undated]), { stations: [dated], duplicates: 1 });
});
