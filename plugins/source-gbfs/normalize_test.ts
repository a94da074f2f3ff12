// Each GBFS shape the source reads, from real records of the captures (read in place); a test that
// changes a record says so, and what it changes is synthetic.
import assert from "node:assert/strict";
import {
  type GbfsCapture,
  gbfsCapture,
  readFeed,
  velibGbfsCapture,
} from "../../tests/support/gbfs_fixtures.ts";
import type { StationSnapshot } from "../../contracts/mod.ts";
import {
  normalizeStation,
  normalizeStations,
  propulsionByType,
  type StationContext,
} from "./normalize.ts";

type Station = Record<string, unknown>;

const collectedAt = new Date("2026-01-01T00:00:00Z");
const context: StationContext = { systemId: "test", collectedAt };

async function feedsOf(capture: GbfsCapture) {
  const list = async (feed: string, field = "stations") =>
    ((await readFeed(capture, feed)) as { data: Record<string, Station[]> } | undefined)
      ?.data[field];
  return {
    status: (await list("station_status"))!,
    information: (await list("station_information"))!,
    vehicleTypes: await list("vehicle_types", "vehicle_types"),
  };
}

/** The status and information records of station `id` of a capture. */
async function station(name: string, id: unknown): Promise<{ status: Station; info: Station }> {
  const feeds = await feedsOf(await gbfsCapture(name));
  return {
    status: feeds.status.find((s) => s.station_id === id)!,
    info: feeds.information.find((s) => s.station_id === id)!,
  };
}

function snapshotOf(status: unknown, info: unknown, with_: Partial<StationContext> = {}) {
  const result = normalizeStation(status, info, { ...context, ...with_ });
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.snapshot;
}

function reasonFor(status: unknown, info: unknown, with_: Partial<StationContext> = {}): string {
  const result = normalizeStation(status, info, { ...context, ...with_ });
  assert.ok(!result.ok, "expected a reject");
  return result.reason;
}

Deno.test("GBFS 1.0 (Nice Ride): last_reported as a string of epoch seconds, flags as 1/0, no e-bike count", async () => {
  const { status, info } = await station("nice-ride-minnesota_2016-09-15", "2");
  assert.deepEqual(
    snapshotOf(status, info),
    {
      schema_version: 2,
      system_id: "test",
      station_code: "2",
      station_name: "100 Main Street SE",
      bikes_available: 9,
      // No vehicle_types: GBFS takes every bike for one without a motor.
      mechanical_bikes: 9,
      electric_bikes: 0,
      docks_available: 18,
      capacity: 27,
      is_installed: true,
      is_renting: true,
      is_returning: true,
      latitude: 44.984892,
      longitude: -93.256551,
      last_reported: "2016-09-15T04:28:50.000Z",
      commune: null,
      code_insee: null,
      collected_at: "2026-01-01T00:00:00.000Z",
    } satisfies StationSnapshot,
  );
});

Deno.test("GBFS 1.x (Ford GoBike): num_ebikes_available splits the bikes", async () => {
  const { status, info } = await station("ford-gobike-sf_2018-04-30", "8");
  const snapshot = snapshotOf(status, info);
  assert.deepEqual(
    [snapshot.bikes_available, snapshot.mechanical_bikes, snapshot.electric_bikes],
    [18, 16, 2],
  );
  assert.equal(snapshot.last_reported, "2018-04-30T16:15:05.000Z");
  assert.equal(
    reasonFor({ ...status, num_ebikes_available: 19 }, info),
    "num_bikes_available - num_ebikes_available must be an integer ≥ 0, got -1",
  );
});

Deno.test("GBFS 1.x (Bicing): an integer station_id, and num_bikes_available_types {mechanical, ebike}", async () => {
  const { status, info } = await station("bicing-barcelona_2022-04-19", 2);
  const snapshot = snapshotOf(status, info);
  assert.equal(snapshot.station_code, "2");
  assert.deepEqual([snapshot.mechanical_bikes, snapshot.electric_bikes], [10, 6]);
  assert.equal(snapshot.is_installed, true);
});

Deno.test("Vélib' GBFS: num_bikes_available_types as [{mechanical}, {ebike}], and stationCode as the code", async () => {
  const feeds = await feedsOf(velibGbfsCapture());
  const status = feeds.status[0];
  const info = feeds.information.find((s) => s.station_id === status.station_id);
  const snapshot = snapshotOf(status, info);
  assert.equal(status.station_id, 213688169);
  assert.equal(snapshot.station_code, "16107");
  assert.equal(snapshot.station_name, "Benjamin Godard - Victor Hugo");
  assert.deepEqual([snapshot.bikes_available, snapshot.mechanical_bikes, snapshot.electric_bikes], [
    5,
    1,
    4,
  ]);
  assert.equal(snapshot.capacity, 35);
});

Deno.test("GBFS 2.2 (Lillestrøm): vehicle_types_available with vehicle_types, booleans, capacity as reported", async () => {
  const feeds = await feedsOf(await gbfsCapture("lillestrom-bysykkel_2021-09-10"));
  const propulsion = propulsionByType(feeds.vehicleTypes!);
  assert.deepEqual([...propulsion], [["YLS:VehicleType:CityBike", "human"]]);
  const snapshot = snapshotOf(feeds.status[0], feeds.information[0], { propulsion });
  assert.equal(snapshot.station_code, "YLS:VehicleSharingParkingArea:3");
  assert.deepEqual([snapshot.bikes_available, snapshot.mechanical_bikes, snapshot.electric_bikes], [
    10,
    10,
    0,
  ]);
  // Capacity 3 under 10 bikes and 10 docks: kept as the operator reports it.
  assert.equal(snapshot.capacity, 3);
  // A vehicle type the feed does not describe.
  assert.equal(
    reasonFor(feeds.status[0], feeds.information[0], { propulsion: new Map() }),
    'vehicle_types_available names vehicle_type_id "YLS:VehicleType:CityBike", which ' +
      "vehicle_types does not list",
  );
});

Deno.test("GBFS 2.2 (Oslo): flags as 1/0 although 2.x says booleans", async () => {
  const { status, info } = await station("oslo-bysykkel_2022-10-23", "2351");
  const snapshot = snapshotOf(status, info);
  assert.deepEqual([snapshot.is_installed, snapshot.is_renting, snapshot.is_returning], [
    true,
    true,
    true,
  ]);
  assert.equal(snapshot.bikes_available, 10);
  assert.deepEqual(
    [0, 1, 0].map((v, i) =>
      snapshotOf({ ...status, is_installed: 1, is_renting: v, is_returning: i % 2 }, info)
    ).map((s) => [s.is_renting, s.is_returning]),
    [[false, false], [true, true], [false, false]],
  );
});

Deno.test("GBFS 2.3 (Lovélo): vehicle_types_available without vehicle_types counts every vehicle as mechanical", async () => {
  const { status, info } = await station("lovelo-rouen_2025-02-28", "5288");
  const snapshot = snapshotOf(status, info);
  assert.deepEqual([snapshot.bikes_available, snapshot.mechanical_bikes, snapshot.electric_bikes], [
    5,
    5,
    0,
  ]);
  assert.equal(snapshot.station_name, "131 - CALENDE");
});

Deno.test("GBFS 3.0 (Toronto): localized names, num_vehicles_available, last_reported in RFC 3339", async () => {
  const { status, info } = await station("bike-share-toronto_2026-10-09", "7001");
  const snapshot = snapshotOf(status, info);
  assert.equal(snapshot.station_name, (info.name as { text: string }[])[0].text);
  assert.equal(snapshot.bikes_available, 16);
  assert.equal(snapshot.docks_available, 0);
  assert.equal(snapshot.last_reported, "2026-10-09T09:38:07.295Z");
  // Synthetic: the French name changed, and the vehicle types described, to see them used.
  const names = (info.name as { text: string; language: string }[]).map((name) =>
    name.language === "fr" ? { ...name, text: "Synthetic French name" } : name
  );
  const french = snapshotOf(status, { ...info, name: names }, { language: "fr" });
  assert.equal(french.station_name, "Synthetic French name");
  assert.equal(
    snapshotOf(status, { ...info, name: names }, { language: "de" }).station_name,
    names[0].text,
  );
  const propulsion = new Map([
    ["ICONIC", "human"],
    ["BOOST", "electric_assist"],
    ["ASTRO", "electric_assist"],
    ["EFIT", "electric_assist"],
  ]);
  const typed = snapshotOf(status, info, { propulsion });
  assert.deepEqual([typed.mechanical_bikes, typed.electric_bikes], [0, 16]);
});

Deno.test("capacity: 0 kept, and 0 when the station gives none", async () => {
  const { status, info } = await station("citi-bike-nyc_2019-07-05", "385");
  assert.equal(info.capacity, 0);
  assert.equal(snapshotOf(status, info).capacity, 0);
  const { capacity: _, ...withoutCapacity } = info;
  assert.equal(snapshotOf(status, withoutCapacity).capacity, 0);
});

Deno.test("last_reported absent or unreadable is null", async () => {
  const { status, info } = await station("oslo-bysykkel_2022-10-23", "2351");
  const { last_reported: _, ...without } = status;
  assert.equal(snapshotOf(without, info).last_reported, null);
  for (const value of ["yesterday", "2026-10-09T09:38:07", 1e20, null]) {
    assert.equal(snapshotOf({ ...status, last_reported: value }, info).last_reported, null);
  }
});

Deno.test("a reject names the GBFS field and its value", async () => {
  const { status, info } = await station("oslo-bysykkel_2022-10-23", "2351");
  assert.equal(
    reasonFor({ ...status, num_docks_available: -1 }, info),
    "num_docks_available must be an integer ≥ 0, got -1",
  );
  const { num_docks_available: _, ...withoutDocks } = status;
  assert.equal(reasonFor(withoutDocks, info), "num_docks_available is missing");
  assert.equal(
    reasonFor({ ...status, is_installed: "true" }, { ...info, lat: 91 }),
    'is_installed must be a boolean, 1 or 0, got "true"; lat must be a number from -90 to 90, ' +
      "got 91",
  );
  assert.equal(
    reasonFor({ ...status, station_id: null }, info),
    "station_id must be a non-empty string or an integer, got null",
  );
  assert.equal(
    reasonFor("a string", info),
    'a station_status station must be a JSON object, got "a string"',
  );
});

Deno.test("normalizeStations keeps one snapshot per code, the newest last_reported, and counts the rest", async () => {
  const feeds = await feedsOf(await gbfsCapture("oslo-bysykkel_2022-10-23"));
  const [first, ...others] = feeds.status;
  // Synthetic: the first station again, reported a minute later with one bike less.
  const later = {
    ...first,
    last_reported: (first.last_reported as number) + 60,
    num_bikes_available: (first.num_bikes_available as number) - 1,
  };
  const result = normalizeStations(
    { status: [first, ...others, later], information: feeds.information },
    context,
  );
  assert.equal(result.stations.length, 260);
  assert.equal(result.duplicates, 1);
  assert.equal(result.stations[0].bikes_available, later.num_bikes_available);
  assert.equal(result.unreported, 0);
  // Without the status of its first station: that station is unreported, and nothing else.
  const fewer = normalizeStations(
    { status: feeds.status.slice(1), information: feeds.information },
    context,
  );
  assert.equal(fewer.unreported, 1);
  assert.deepEqual([fewer.stations.length, fewer.rejects.length], [259, 0]);
});
