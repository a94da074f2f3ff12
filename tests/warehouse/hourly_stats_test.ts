import assert from "node:assert/strict";
import { captureCycles } from "./capture.ts";
import { comparable, expectedHourly } from "./expected.ts";
import { insertSnapshots, sqlState, synthetic, warehouse } from "./support.ts";

// The DST tests run with a session TimeZone far from Paris, with a 45-minute offset: anything
// in the SQL that used the session's zone instead of the function's argument would show.
const FOREIGN_SESSION_ZONE = "SET TimeZone = 'Pacific/Chatham'";

type HourlyRow = Record<string, unknown> & { station_code: string; bucket_start: Date };

async function refreshHourly(wh: { query: <T>(text: string) => Promise<T[]> }) {
  const [{ written }] = await wh.query<{ written: number }>(
    "SELECT mart.refresh_hourly_stats() AS written",
  );
  return written;
}

Deno.test("refresh_hourly_stats() matches, for every station and hour, the stats computed in TypeScript from the 2024-05-28 capture", async () => {
  await using wh = await warehouse();
  const cycles = await captureCycles(); // 5 cycles derived from the real capture
  for (const cycle of cycles) await insertSnapshots(wh.client, cycle);
  const expected = expectedHourly(cycles.flat());
  // The derived cycles must exercise every count, or this test would prove less than it says.
  const all = [...expected.values()];
  assert.ok(all.some((r) => r.empty_count > 0) && all.some((r) => r.saturated_count > 0));
  assert.ok(all.some((r) => r.out_of_service_count > 0));
  assert.ok(all.some((r) => r.avg_occupancy_rate === null));

  assert.equal(await refreshHourly(wh), expected.size);

  const rows = await wh.query<HourlyRow>("SELECT * FROM mart.hourly_station_stats");
  assert.equal(rows.length, expected.size);
  for (const row of rows) {
    const key = `${row.station_code}|${row.bucket_start.toISOString()}`;
    assert.deepEqual(comparable(row), expected.get(key), key);
  }
  const [totals] = await wh.query<{ snapshots: string; buckets: string }>(
    `SELECT sum(snapshot_count) AS snapshots, count(DISTINCT bucket_start) AS buckets
     FROM mart.hourly_station_stats`,
  );
  assert.deepEqual(totals, { snapshots: String(cycles.flat().length), buckets: "3" });
});

Deno.test("refresh_hourly_stats() puts 02:30 CEST and 02:30 CET of the fall-back night in two distinct 02:00 buckets", async () => {
  await using wh = await warehouse();
  await wh.query(FOREIGN_SESSION_ZONE);
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-10-27T00:30:00.000Z", bikes_available: 1 }), // 02:30 CEST
    synthetic({ collected_at: "2024-10-27T01:30:00.000Z", bikes_available: 3 }), // 02:30 CET
  ]);
  assert.equal(await refreshHourly(wh), 2);
  const rows = await wh.query<{ bucket_start: Date }>(
    `SELECT bucket_start, bucket_local, avg_bikes, snapshot_count
     FROM mart.hourly_station_stats ORDER BY bucket_start`,
  );
  assert.deepEqual(rows.map(comparable), [
    {
      bucket_start: "2024-10-27T00:00:00.000Z",
      bucket_local: "2024-10-27 02:00:00",
      avg_bikes: "1.00",
      snapshot_count: 1,
    },
    {
      bucket_start: "2024-10-27T01:00:00.000Z",
      bucket_local: "2024-10-27 02:00:00",
      avg_bikes: "3.00",
      snapshot_count: 1,
    },
  ]);
});

Deno.test("refresh_hourly_stats() goes from the 01:00 to the 03:00 local bucket on the spring-forward night", async () => {
  await using wh = await warehouse();
  await wh.query(FOREIGN_SESSION_ZONE);
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-03-31T00:59:59.000Z" }), // 01:59:59 CET
    synthetic({ collected_at: "2024-03-31T01:00:00.000Z" }), // 03:00:00 CEST
    synthetic({ collected_at: "2024-03-31T01:59:59.000Z" }), // 03:59:59 CEST
  ]);
  assert.equal(await refreshHourly(wh), 2);
  const rows = await wh.query(
    `SELECT bucket_start, bucket_local, snapshot_count
     FROM mart.hourly_station_stats ORDER BY bucket_start`,
  );
  assert.deepEqual(rows.map(comparable), [
    {
      bucket_start: "2024-03-31T00:00:00.000Z",
      bucket_local: "2024-03-31 01:00:00",
      snapshot_count: 1,
    },
    {
      bucket_start: "2024-03-31T01:00:00.000Z",
      bucket_local: "2024-03-31 03:00:00",
      snapshot_count: 2,
    },
  ]);
});

Deno.test("refresh_hourly_stats() keeps one row for a station renamed inside the hour, with the latest name and capacity", async () => {
  await using wh = await warehouse();
  // Inserted newest first: "latest" must come from collected_at, not from insertion order.
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-05-28T10:50:00.000Z", station_name: "New name", capacity: 25 }),
  ]);
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-05-28T10:05:00.000Z", station_name: "Old name", capacity: 20 }),
    synthetic({ collected_at: "2024-05-28T10:20:00.000Z", station_name: "Old name", capacity: 20 }),
  ]);
  assert.equal(await refreshHourly(wh), 1);
  const rows = await wh.query(
    "SELECT station_code, station_name, capacity, snapshot_count FROM mart.hourly_station_stats",
  );
  assert.deepEqual(rows, [
    { station_code: "99001", station_name: "New name", capacity: 25, snapshot_count: 3 },
  ]);
});

Deno.test("refresh_hourly_stats() rejects an unknown time zone and leaves the queue as it was", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [synthetic({ collected_at: "2024-05-28T10:05:00.000Z" })]);
  await assert.rejects(
    wh.query("SELECT mart.refresh_hourly_stats('Europe/Pariss')"),
    (error) => sqlState(error) === "22023",
  );
  const queued = await wh.query("SELECT 1 FROM mart.refresh_queue WHERE target = 'hourly'");
  assert.equal(queued.length, 1);
});
