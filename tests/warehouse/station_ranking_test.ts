import assert from "node:assert/strict";
import { captureCycles } from "./capture.ts";
import { comparable, expectedRanking } from "./expected.ts";
import { insertSnapshots, synthetic, type Warehouse, warehouse } from "./support.ts";

async function computeRanking(wh: Warehouse, args = "") {
  const [{ written }] = await wh.query<{ written: number }>(
    `SELECT mart.compute_station_ranking(${args}) AS written`,
  );
  return written;
}

/** The latest computation's minutes and ranks per station code. */
async function ranking(wh: Warehouse) {
  return await wh.query(
    `SELECT station_code, snapshot_count, minutes_saturated, minutes_empty, rank_saturation,
       rank_empty
     FROM mart.station_ranking
     WHERE computed_at = (SELECT max(computed_at) FROM mart.station_ranking)
     ORDER BY station_code`,
  );
}

/** A minute offset from 2024-05-28T10:00Z, as an ISO instant. */
const at = (minutes: number) =>
  new Date(Date.parse("2024-05-28T10:00:00Z") + minutes * 60_000).toISOString();

Deno.test("compute_station_ranking() matches, for every station, the ranking computed in TypeScript from the 2024-05-28 capture", async () => {
  await using wh = await warehouse();
  const cycles = await captureCycles(); // 5 cycles derived from the real capture
  for (const cycle of cycles) await insertSnapshots(wh.client, cycle);
  const expected = expectedRanking(cycles.flat());
  const values = [...expected.values()];
  assert.ok(values.some((r) => r.rank_saturation > 1 && r.minutes_saturated !== "0.00"));
  assert.ok(values.some((r) => r.rank_empty > 1 && r.minutes_empty !== "0.00"));

  assert.equal(await computeRanking(wh), expected.size);

  const rows = await wh.query<Record<string, unknown> & { station_code: string }>(
    "SELECT * FROM mart.station_ranking",
  );
  assert.equal(rows.length, expected.size);
  for (const row of rows) {
    assert.deepEqual(comparable(row), expected.get(row.station_code), row.station_code);
  }
  assert.equal(new Set(rows.map((r) => String(r.computed_at))).size, 1);
});

Deno.test("compute_station_ranking() counts minutes from the spacing of snapshots, not from their number", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: at(0), bikes_available: 10, docks_available: 0 }), // 2 min full
    synthetic({ collected_at: at(2), bikes_available: 10, docks_available: 0 }), // 5 min full
    synthetic({ collected_at: at(7), bikes_available: 7 }),
    synthetic({ collected_at: at(9.5), bikes_available: 0 }), // 30 s empty
    synthetic({ collected_at: at(10), bikes_available: 4 }),
  ]);
  await computeRanking(wh);
  assert.deepEqual(await ranking(wh), [{
    station_code: "99001",
    snapshot_count: 5,
    minutes_saturated: "7.00",
    minutes_empty: "0.50",
    rank_saturation: 1,
    rank_empty: 1,
  }]);
});

Deno.test("compute_station_ranking() caps the time until the next snapshot at max_gap", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: at(0), bikes_available: 0 }), // then no snapshot for 2 hours
    synthetic({ collected_at: at(120), bikes_available: 3 }),
  ]);
  await computeRanking(wh, "max_gap => '30 minutes'");
  const [custom] = await ranking(wh);
  assert.equal(custom.minutes_empty, "30.00");
  await computeRanking(wh);
  const [byDefault] = await ranking(wh);
  assert.equal(byDefault.minutes_empty, "15.00");
});

Deno.test("compute_station_ranking() counts a station's last snapshot in the window as 0 minutes", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: at(0), bikes_available: 3 }),
    synthetic({ collected_at: at(5), bikes_available: 0 }), // its last: lasts 0
    synthetic({ station_code: "99002", collected_at: at(30), bikes_available: 0 }), // only one
  ]);
  await computeRanking(wh);
  const rows = await ranking(wh);
  assert.deepEqual(rows.map((r) => [r.station_code, r.minutes_empty]), [
    ["99001", "0.00"],
    ["99002", "0.00"],
  ]);
});

Deno.test("compute_station_ranking() ranks most minutes first and gives tied stations the same rank", async () => {
  await using wh = await warehouse();
  // Saturated for 5, 10, 10 and 0 minutes, then a snapshot with free docks.
  const saturatedFor = { "99001": 5, "99002": 10, "99003": 10, "99004": 0 };
  await insertSnapshots(
    wh.client,
    Object.entries(saturatedFor).flatMap(([code, minutes]) => [
      synthetic({
        station_code: code,
        collected_at: at(0),
        bikes_available: 10,
        docks_available: minutes ? 0 : 1,
      }),
      synthetic({ station_code: code, collected_at: at(minutes || 1), bikes_available: 5 }),
    ]),
  );
  assert.equal(await computeRanking(wh), 4);
  const rows = await ranking(wh);
  assert.deepEqual(rows.map((r) => [r.station_code, r.minutes_saturated, r.rank_saturation]), [
    ["99001", "5.00", 3],
    ["99002", "10.00", 1],
    ["99003", "10.00", 1],
    ["99004", "0.00", 4],
  ]);
  assert.deepEqual(rows.map((r) => r.rank_empty), [1, 1, 1, 1]); // all tied at 0 minutes
});

Deno.test("compute_station_ranking() keeps only the `keep` latest computations", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [synthetic({ collected_at: at(0) })]);
  // In microseconds, fixed width: two computations may fall within one millisecond.
  const computations = () =>
    wh.query<{ computed_at: string }>(
      `SELECT DISTINCT to_char(computed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')
         AS computed_at
       FROM mart.station_ranking ORDER BY computed_at`,
    ).then((rows) => rows.map((r) => r.computed_at));
  await computeRanking(wh, "keep => 2");
  const [first] = await computations();
  await computeRanking(wh, "keep => 2");
  const [, second] = await computations();
  await computeRanking(wh, "keep => 2");
  const afterThree = await computations();
  assert.equal(afterThree.length, 2);
  assert.equal(afterThree[0], second);
  assert.ok(!afterThree.includes(first));
  await computeRanking(wh); // keep defaults to 1
  const afterDefault = await computations();
  assert.equal(afterDefault.length, 1);
  assert.ok(afterDefault[0] > afterThree[1]);
});

Deno.test("compute_station_ranking() ends its window at the latest collected_at in raw, not at now()", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [
    synthetic({ station_code: "old", collected_at: "2024-05-27T09:59:59.000Z" }), // outside
    synthetic({ station_code: "edge", collected_at: "2024-05-27T10:00:00.000Z" }), // window start
    synthetic({ station_code: "99001", collected_at: "2024-05-28T10:00:00.000Z" }),
  ]);
  assert.equal(await computeRanking(wh), 2);
  const rows = await wh.query(
    "SELECT station_code, window_start, window_end FROM mart.station_ranking ORDER BY station_code",
  );
  assert.deepEqual(
    rows.map(comparable),
    ["99001", "edge"].map((station_code) => ({
      station_code,
      window_start: "2024-05-27T10:00:00.000Z",
      window_end: "2024-05-28T10:00:00.000Z",
    })),
  );
});

Deno.test("compute_station_ranking() writes nothing when raw is empty", async () => {
  await using wh = await warehouse();
  assert.equal(await computeRanking(wh), 0);
  assert.deepEqual(await wh.query("SELECT * FROM mart.station_ranking"), []);
});
