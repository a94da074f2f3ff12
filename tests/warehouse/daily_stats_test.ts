import assert from "node:assert/strict";
import { captureCycles } from "./capture.ts";
import { comparable, expectedDaily } from "./expected.ts";
import { insertSnapshots, synthetic, type Warehouse, warehouse } from "./support.ts";

// As in the hourly tests: a session zone far from Paris shows any use of the session's zone.
const FOREIGN_SESSION_ZONE = "SET TimeZone = 'Pacific/Chatham'";

async function refreshDaily(wh: Warehouse) {
  const [{ written }] = await wh.query<{ written: number }>(
    "SELECT mart.refresh_daily_stats() AS written",
  );
  return written;
}

/** The days written, with their start and snapshot count. */
function days(wh: Warehouse) {
  return wh.query<{ day: string; day_start: Date; snapshot_count: number }>(
    "SELECT day, day_start, snapshot_count FROM mart.daily_station_stats ORDER BY day",
  ).then((rows) => rows.map(comparable));
}

Deno.test("refresh_daily_stats() matches, for every station and day, the stats computed in TypeScript from the 2024-05-28 capture", async () => {
  await using wh = await warehouse();
  const cycles = await captureCycles(); // 5 cycles derived from the real capture, over 2 days
  for (const cycle of cycles) await insertSnapshots(wh.client, cycle);
  const expected = expectedDaily(cycles.flat());
  assert.equal(new Set([...expected.values()].map((r) => r.day)).size, 2);

  assert.equal(await refreshDaily(wh), expected.size);

  const rows = await wh.query<Record<string, unknown> & { station_code: string; day: string }>(
    "SELECT * FROM mart.daily_station_stats",
  );
  assert.equal(rows.length, expected.size);
  for (const row of rows) {
    const key = `${row.station_code}|${row.day}`;
    assert.deepEqual(comparable(row), expected.get(key), key);
  }
});

Deno.test("refresh_daily_stats() cuts days at Paris midnight, not UTC midnight", async () => {
  await using wh = await warehouse();
  await wh.query(FOREIGN_SESSION_ZONE);
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-05-28T21:59:59.000Z" }), // 23:59:59 on the 28th in Paris
    synthetic({ collected_at: "2024-05-28T22:00:00.000Z" }), // 00:00 on the 29th
    synthetic({ collected_at: "2024-05-28T23:30:00.000Z" }), // 01:30 on the 29th
  ]);
  assert.equal(await refreshDaily(wh), 2);
  assert.deepEqual(await days(wh), [
    { day: "2024-05-28", day_start: "2024-05-27T22:00:00.000Z", snapshot_count: 1 },
    { day: "2024-05-29", day_start: "2024-05-28T22:00:00.000Z", snapshot_count: 2 },
  ]);
});

Deno.test("refresh_daily_stats() makes 2024-03-31, the spring-forward day, 23 hours long", async () => {
  await using wh = await warehouse();
  await wh.query(FOREIGN_SESSION_ZONE);
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-03-30T22:59:59.000Z" }), // 23:59:59 CET on the 30th
    synthetic({ collected_at: "2024-03-30T23:00:00.000Z" }), // 00:00 CET on the 31st
    synthetic({ collected_at: "2024-03-31T21:59:59.000Z" }), // 23:59:59 CEST on the 31st
    synthetic({ collected_at: "2024-03-31T22:00:00.000Z" }), // 00:00 CEST on April 1st
  ]);
  assert.equal(await refreshDaily(wh), 3);
  assert.deepEqual(await days(wh), [
    { day: "2024-03-30", day_start: "2024-03-29T23:00:00.000Z", snapshot_count: 1 },
    { day: "2024-03-31", day_start: "2024-03-30T23:00:00.000Z", snapshot_count: 2 },
    { day: "2024-04-01", day_start: "2024-03-31T22:00:00.000Z", snapshot_count: 1 },
  ]);
});

Deno.test("refresh_daily_stats() makes 2024-10-27, the fall-back day, 25 hours long", async () => {
  await using wh = await warehouse();
  await wh.query(FOREIGN_SESSION_ZONE);
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-10-26T21:59:59.000Z" }), // 23:59:59 CEST on the 26th
    synthetic({ collected_at: "2024-10-26T22:00:00.000Z" }), // 00:00 CEST on the 27th
    synthetic({ collected_at: "2024-10-27T22:59:59.000Z" }), // 23:59:59 CET on the 27th
    synthetic({ collected_at: "2024-10-27T23:00:00.000Z" }), // 00:00 CET on the 28th
  ]);
  assert.equal(await refreshDaily(wh), 3);
  assert.deepEqual(await days(wh), [
    { day: "2024-10-26", day_start: "2024-10-25T22:00:00.000Z", snapshot_count: 1 },
    { day: "2024-10-27", day_start: "2024-10-26T22:00:00.000Z", snapshot_count: 2 },
    { day: "2024-10-28", day_start: "2024-10-27T23:00:00.000Z", snapshot_count: 1 },
  ]);
});
