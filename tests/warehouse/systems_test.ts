/**
 * Two bike-share systems in one warehouse, with the same station codes: every table keeps them
 * apart, the ranking ranks within each system, and the checks and analyst queries measure each
 * system on its own. All stations here are synthetic.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  analysisQuery,
  fillStationLatest,
  insertSnapshots,
  synthetic,
  type Warehouse,
  warehouse,
} from "./support.ts";

const CHECKS = new URL("../../sql/checks/", import.meta.url);
const CODES = ["99001", "99002", "99003"];
const AT = ["2024-05-28T20:00:00.000Z", "2024-05-28T20:05:00.000Z"];

/** A cycle of `system` at `at`: the stations of `codes`, the first one empty in `emptyIn`. */
function cycle(system: string, at: string, codes = CODES, emptyIn = "velib") {
  return codes.map((station_code, i) =>
    synthetic({
      system_id: system,
      station_code,
      collected_at: at,
      bikes_available: i === 0 && system === emptyIn ? 0 : 4,
    })
  );
}

async function twoSystems(): Promise<Warehouse> {
  const wh = await warehouse();
  for (const at of AT) {
    await insertSnapshots(wh.client, cycle("velib", at));
    await insertSnapshots(wh.client, cycle("synthetic-b", at, CODES.slice(0, 2)));
  }
  await wh.query(
    "SELECT mart.refresh_hourly_stats(), mart.refresh_daily_stats(), mart.compute_station_ranking()",
  );
  await fillStationLatest(wh.client);
  return wh;
}

const count = (wh: Warehouse, table: string) =>
  wh.query<{ system_id: string; n: number }>(
    `SELECT system_id, count(*)::int AS n FROM ${table} GROUP BY 1 ORDER BY 1`,
  );

Deno.test("two systems with the same station codes are kept apart in raw, mart and the gold tables", async () => {
  await using wh = await twoSystems();
  const perSystem = [{ system_id: "synthetic-b", n: 4 }, { system_id: "velib", n: 6 }];
  assert.deepEqual(await count(wh, "raw.station_snapshots"), perSystem);
  assert.deepEqual(await count(wh, "mart.hourly_station_stats"), [
    { system_id: "synthetic-b", n: 2 },
    { system_id: "velib", n: 3 },
  ]);
  assert.deepEqual(await count(wh, "mart.daily_station_stats"), [
    { system_id: "synthetic-b", n: 2 },
    { system_id: "velib", n: 3 },
  ]);
  assert.deepEqual(await count(wh, "mart.station_latest"), [
    { system_id: "synthetic-b", n: 2 },
    { system_id: "velib", n: 3 },
  ]);
  // The same code, two stations: each hour's stats are of its own system's snapshots only.
  const stats = await wh.query<{ system_id: string; snapshot_count: number; empty_count: number }>(
    `SELECT system_id, snapshot_count, empty_count FROM mart.hourly_station_stats
     WHERE station_code = '99001' ORDER BY system_id`,
  );
  assert.deepEqual(stats, [
    { system_id: "synthetic-b", snapshot_count: 2, empty_count: 0 },
    { system_id: "velib", snapshot_count: 2, empty_count: 2 },
  ]);
});

Deno.test("compute_station_ranking() ranks the stations of each system among themselves", async () => {
  await using wh = await twoSystems();
  const ranks = await wh.query<{ system_id: string; station_code: string; rank_empty: number }>(
    `SELECT system_id, station_code, rank_empty FROM mart.station_ranking
     ORDER BY system_id, station_code`,
  );
  assert.deepEqual(ranks, [
    // No station of synthetic-b was ever empty: all tie at rank 1 of their system.
    { system_id: "synthetic-b", station_code: "99001", rank_empty: 1 },
    { system_id: "synthetic-b", station_code: "99002", rank_empty: 1 },
    { system_id: "velib", station_code: "99001", rank_empty: 1 },
    { system_id: "velib", station_code: "99002", rank_empty: 2 },
    { system_id: "velib", station_code: "99003", rank_empty: 2 },
  ]);
});

Deno.test("the station_count check compares each system with its own cycles, not with the other system's", async () => {
  await using wh = await twoSystems();
  const stationCount = await Deno.readTextFile(new URL("station_count.sql", CHECKS));
  // Systems of 3 and 2 stations, interleaved: no drop, although the newest cycle overall has 2.
  const [steady] = await wh.query<{ observed: number; details: string }>(stationCount);
  assert.equal(steady.observed, 0);
  assert.match(steady.details, /synthetic-b: 2 stations in the newest cycle; trailing median 2/);
  assert.match(steady.details, /velib: 3 stations in the newest cycle; trailing median 3/);
  // velib loses a station: a third fewer than its usual 3.
  await insertSnapshots(wh.client, cycle("velib", "2024-05-28T20:10:00.000Z", CODES.slice(0, 2)));
  const [dropped] = await wh.query<{ observed: number }>(stationCount);
  assert.equal(dropped.observed, 33.33);
});

Deno.test("the checks of the newest cycle look at each system's newest cycle", async () => {
  await using wh = await twoSystems();
  // synthetic-b's newest cycle is older than velib's, and has a station over its capacity.
  await insertSnapshots(wh.client, cycle("velib", "2024-05-28T20:10:00.000Z"));
  await wh.query(
    `UPDATE raw.station_snapshots SET bikes_available = 12, mechanical_bikes = 12
     WHERE system_id = 'synthetic-b' AND station_code = '99002'
       AND collected_at = '2024-05-28T20:05:00.000Z'`,
  );
  const overCapacity = await Deno.readTextFile(new URL("bikes_over_capacity.sql", CHECKS));
  const [result] = await wh.query<{ observed: number; details: string }>(overCapacity);
  assert.deepEqual(result, {
    observed: 1,
    details: "synthetic-b/99002 (12 bikes, capacity 10)",
  });
});

Deno.test("network_overview.sql gives one row per system, the default system first", async () => {
  await using wh = await twoSystems();
  const rows = await wh.query<{ system_id: string; stations: number; empty_stations: number }>(
    await analysisQuery("network_overview.sql"),
  );
  assert.deepEqual(
    rows.map(({ system_id, stations, empty_stations }) => ({
      system_id,
      stations,
      empty_stations,
    })),
    [
      { system_id: "velib", stations: 3, empty_stations: 1 },
      { system_id: "synthetic-b", stations: 2, empty_stations: 0 },
    ],
  );
});

Deno.test("top_empty.sql lists each system's own ranking, the default system first", async () => {
  await using wh = await twoSystems();
  // synthetic-b's first station empty too, in a cycle of its own.
  await insertSnapshots(
    wh.client,
    cycle("synthetic-b", "2024-05-28T20:07:00.000Z", CODES.slice(0, 2), "synthetic-b"),
  );
  await insertSnapshots(
    wh.client,
    cycle("synthetic-b", "2024-05-28T20:09:00.000Z", CODES.slice(0, 2)),
  );
  await wh.query("SELECT mart.compute_station_ranking()");
  const rows = await wh.query<{ system_id: string; rank: number; station_code: string }>(
    await analysisQuery("top_empty.sql"),
  );
  assert.deepEqual(
    rows.map(({ system_id, rank, station_code }) => ({ system_id, rank, station_code })),
    [
      { system_id: "velib", rank: 1, station_code: "99001" },
      { system_id: "synthetic-b", rank: 1, station_code: "99001" },
    ],
  );
});
