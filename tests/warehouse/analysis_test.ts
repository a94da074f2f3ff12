import assert from "node:assert/strict";
import { captureCycles } from "./capture.ts";
import {
  averageRate,
  comparable,
  expectedDaily,
  expectedHourly,
  expectedRanking,
  groupBy,
  roundDiv,
} from "./expected.ts";
import {
  analysisQuery,
  fillStationLatest,
  fixed,
  insertSnapshots,
  synthetic,
  type Warehouse,
  warehouse,
} from "./support.ts";

// Every test loads the same 5 cycles derived from the real 2024-05-28 capture (22:05 to 00:05
// in Paris), refreshes the gold tables, and compares one analysis query with values computed
// here from the cycles.
const cycles = await captureCycles();
const snapshots = cycles.flat();
const hourly = [...expectedHourly(snapshots).values()];
const daily = [...expectedDaily(snapshots).values()];
const ranking = [...expectedRanking(snapshots).values()];

async function loadedWarehouse(): Promise<Warehouse> {
  const wh = await warehouse();
  try {
    for (const cycle of cycles) await insertSnapshots(wh.client, cycle);
    await wh.query(
      `SELECT mart.refresh_hourly_stats(), mart.refresh_daily_stats(),
         mart.compute_station_ranking()`,
    );
    await fillStationLatest(wh.client);
    return wh;
  } catch (error) {
    await wh[Symbol.asyncDispose]();
    throw error;
  }
}

/** Adds rows outside a query's window, and refreshes: the query must not show them. */
async function addOutsideWindow(wh: Warehouse, rows: Parameters<typeof insertSnapshots>[1]) {
  await insertSnapshots(wh.client, rows);
  await wh.query("SELECT mart.refresh_hourly_stats(), mart.refresh_daily_stats()");
}

async function run(wh: Warehouse, file: string) {
  return (await wh.query(await analysisQuery(file))).map(comparable);
}

/** A decimal text as an integer count of its last digit's unit: "12.35" → 1235. */
const units = (decimal: string) => Number(decimal.replace(".", ""));

/** The sum of 2-decimal averages, rounded to an integer, as `round(sum(avg_x))::int`. */
const roundedSum = (values: string[]) =>
  roundDiv(values.reduce((total, v) => total + units(v), 0), 100);

/** The network totals per bucket that last_24h_by_hour.sql and daily_trend.sql show. */
function networkTotals(rows: typeof hourly | typeof daily) {
  return {
    stations: rows.length,
    bikes: roundedSum(rows.map((r) => r.avg_bikes)),
    mechanical: roundedSum(rows.map((r) => r.avg_mechanical)),
    electric: roundedSum(rows.map((r) => r.avg_electric)),
    docks: roundedSum(rows.map((r) => r.avg_docks)),
    stations_empty: rows.filter((r) => r.empty_count > 0).length,
    stations_saturated: rows.filter((r) => r.saturated_count > 0).length,
    avg_occupancy_rate: averageRate(rows.map((r) => r.avg_occupancy_rate)),
  };
}

Deno.test("network_overview.sql sums the latest snapshot of every station of the system in one row", async () => {
  await using wh = await loadedWarehouse();
  const latest = cycles.at(-1)!;
  const inService = latest.filter((s) => s.station_status === "en_service");
  const total = (pick: (s: typeof latest[number]) => number) =>
    latest.reduce((sum, s) => sum + pick(s), 0);
  assert.deepEqual(await run(wh, "network_overview.sql"), [{
    system_id: "velib",
    as_of: latest[0].collected_at,
    stations: latest.length,
    in_service: inService.length,
    closed: latest.filter((s) => s.station_status === "fermée").length,
    out_of_service: latest.filter((s) => s.station_status === "hors_service").length,
    stale_stations: 0,
    bikes: total((s) => s.bikes_available),
    mechanical: total((s) => s.mechanical_bikes),
    electric: total((s) => s.electric_bikes),
    docks: total((s) => s.docks_available),
    empty_stations: inService.filter((s) => s.bikes_available === 0).length,
    saturated_stations: inService.filter((s) => s.docks_available === 0).length,
    avg_occupancy_rate: averageRate(inService.map((s) => s.occupancy_rate)),
  }]);
});

for (
  const { file, minutes, rank } of [
    { file: "top_saturated.sql", minutes: "minutes_saturated", rank: "rank_saturation" },
    { file: "top_empty.sql", minutes: "minutes_empty", rank: "rank_empty" },
  ] as const
) {
  Deno.test(`${file} lists the 10 stations with the most ${minutes}, by rank then station code`, async () => {
    await using wh = await loadedWarehouse();
    const expected = ranking
      .filter((r) => r[minutes] !== "0.00")
      .toSorted((a, b) => a[rank] - b[rank] || (a.station_code < b.station_code ? -1 : 1))
      .slice(0, 10)
      .map((r) => ({
        rank: r[rank],
        station_code: r.station_code,
        station_name: r.station_name,
        [minutes]: r[minutes],
      }));
    assert.equal(expected.length, 10);
    const rows = await run(wh, file);
    assert.deepEqual(
      rows.map(({ rank, station_code, station_name, [minutes]: m }) => ({
        rank,
        station_code,
        station_name,
        [minutes]: m,
      })),
      expected,
    );
  });
}

Deno.test("last_24h_by_hour.sql gives the network's totals for each local hour of data", async () => {
  await using wh = await loadedWarehouse();
  const expected = [...groupBy(hourly, (r) => r.bucket_start)]
    .toSorted(([a], [b]) => a < b ? -1 : 1)
    .map(([bucket_start, rows]) => ({
      system_id: "velib",
      hour_local: rows[0].bucket_local,
      bucket_start,
      ...networkTotals(rows),
    }));
  assert.deepEqual(expected.map((r) => r.hour_local), [
    "2024-05-28 22:00:00",
    "2024-05-28 23:00:00",
    "2024-05-29 00:00:00",
  ]);
  // The hour starting 24 hours before the latest one (00:00 on the 29th) is out.
  await addOutsideWindow(wh, [synthetic({ collected_at: "2024-05-27T22:30:00.000Z" })]);
  assert.deepEqual(await run(wh, "last_24h_by_hour.sql"), expected);
});

Deno.test("mechanical_vs_electric_by_hour.sql gives the average mechanical and electric bikes and the electric share per hour of day", async () => {
  await using wh = await loadedWarehouse();
  // One hour of data per hour of day here, so the average over days is that hour's total.
  const expected = [...groupBy(hourly, (r) => r.bucket_start)]
    .map(([, rows]) => {
      const mechanical = rows.reduce((sum, r) => sum + units(r.avg_mechanical), 0);
      const electric = rows.reduce((sum, r) => sum + units(r.avg_electric), 0);
      return {
        system_id: "velib",
        hour_of_day: Number(rows[0].bucket_local.slice(11, 13)),
        hours: 1,
        avg_mechanical: fixed(mechanical, 2),
        avg_electric: fixed(electric, 2),
        electric_share: fixed(roundDiv(electric * 10_000, mechanical + electric), 4),
      };
    })
    .toSorted((a, b) => a.hour_of_day - b.hour_of_day);
  assert.deepEqual(expected.map((r) => r.hour_of_day), [0, 22, 23]);
  assert.deepEqual(await run(wh, "mechanical_vs_electric_by_hour.sql"), expected);
});

Deno.test("problem_stations_7d.sql lists the stations empty, saturated or not in service in at least a quarter of their snapshots", async () => {
  await using wh = await loadedWarehouse();
  const share = (count: number, total: number) => roundDiv(count * 10_000, total);
  const expected = [...groupBy(daily, (r) => r.station_code)]
    .map(([station_code, days]) => {
      const total = days.reduce((sum, d) => sum + d.snapshot_count, 0);
      const of = (pick: (d: typeof days[number]) => number) =>
        share(days.reduce((sum, d) => sum + pick(d), 0), total);
      const shares = {
        empty: of((d) => d.empty_count),
        saturated: of((d) => d.saturated_count),
        "not in service": of((d) => d.out_of_service_count),
      };
      return {
        worst: Math.max(...Object.values(shares)),
        row: {
          system_id: "velib",
          station_code,
          station_name: days.toSorted((a, b) => a.day < b.day ? 1 : -1)[0].station_name,
          snapshot_count: total,
          empty_share: fixed(shares.empty, 4),
          saturated_share: fixed(shares.saturated, 4),
          out_of_service_share: fixed(shares["not in service"], 4),
          problems: Object.entries(shares).filter(([, s]) => s >= 2500).map(([name]) => name)
            .join(", "),
        },
      };
    })
    .filter((s) => s.worst >= 2500)
    .toSorted((a, b) => b.worst - a.worst || (a.row.station_code < b.row.station_code ? -1 : 1))
    .map((s) => s.row);
  for (const kind of ["empty", "saturated", "not in service"]) {
    assert.ok(expected.some((r) => r.problems.includes(kind)), kind);
  }
  // A station always empty on 2024-05-22, the 8th day before the latest (2024-05-29): out.
  await addOutsideWindow(wh, [
    synthetic({ collected_at: "2024-05-22T10:00:00.000Z", bikes_available: 0 }),
  ]);
  assert.deepEqual(await run(wh, "problem_stations_7d.sql"), expected);
});

Deno.test("daily_trend.sql gives the network's totals for each local day of data", async () => {
  await using wh = await loadedWarehouse();
  const expected = [...groupBy(daily, (r) => r.day)]
    .toSorted(([a], [b]) => a < b ? -1 : 1)
    .map(([day, rows]) => ({ system_id: "velib", day, ...networkTotals(rows) }));
  assert.deepEqual(expected.map((r) => r.day), ["2024-05-28", "2024-05-29"]);
  assert.deepEqual(await run(wh, "daily_trend.sql"), expected);
});

Deno.test("weekday_hour_heatmap.sql gives the average occupancy per ISO weekday and local hour", async () => {
  await using wh = await loadedWarehouse();
  // 2024-05-28 is a Tuesday (2), 2024-05-29 a Wednesday (3).
  const isodow = { "2024-05-28": 2, "2024-05-29": 3 } as Record<string, number>;
  const expected = [...groupBy(hourly, (r) => r.bucket_start)]
    .toSorted(([a], [b]) => a < b ? -1 : 1)
    .map(([, rows]) => ({
      system_id: "velib",
      isodow: isodow[rows[0].bucket_local.slice(0, 10)],
      hour_of_day: Number(rows[0].bucket_local.slice(11, 13)),
      hours: 1,
      avg_occupancy_rate: averageRate(rows.map((r) => r.avg_occupancy_rate)),
    }));
  assert.deepEqual(await run(wh, "weekday_hour_heatmap.sql"), expected);
});
