import assert from "node:assert/strict";
import {
  backendPid,
  insertSnapshots,
  lockWaitOf,
  synthetic,
  type Warehouse,
  warehouse,
} from "./support.ts";

const HOUR_1 = "2024-05-28T10:05:00.000Z"; // 12:05 in Paris
const HOUR_2 = "2024-05-28T11:05:00.000Z"; // 13:05 in Paris, the same local day
const DAY_2 = "2024-05-29T11:05:00.000Z";

async function call(wh: Warehouse, fn: string): Promise<number> {
  const [{ written }] = await wh.query<{ written: number }>(`SELECT ${fn}() AS written`);
  return written;
}

/** Two stations with one snapshot at each of `instants`. */
const stationsAt = (...instants: string[]) =>
  instants.flatMap((collected_at) => [
    synthetic({ station_code: "99001", collected_at }),
    synthetic({ station_code: "99002", collected_at }),
  ]);

const hourlyRows = (wh: Warehouse) =>
  wh.query<{ bucket_start: Date; snapshot_count: number; refreshed_at: Date }>(
    "SELECT * FROM mart.hourly_station_stats ORDER BY bucket_start, station_code",
  );

Deno.test("refresh_hourly_stats() with nothing queued returns 0 and leaves the rows as they were", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, stationsAt(HOUR_1, HOUR_2));
  assert.equal(await call(wh, "mart.refresh_hourly_stats"), 4);
  const before = await hourlyRows(wh);
  assert.equal(await call(wh, "mart.refresh_hourly_stats"), 0);
  assert.deepEqual(await hourlyRows(wh), before);
});

Deno.test("refresh_hourly_stats() after an insert in one hour rewrites only that hour's rows", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, stationsAt(HOUR_1, HOUR_2));
  await call(wh, "mart.refresh_hourly_stats");
  const before = await hourlyRows(wh);

  await insertSnapshots(wh.client, [
    synthetic({ station_code: "99001", collected_at: "2024-05-28T11:35:00.000Z" }),
  ]);
  assert.equal(await call(wh, "mart.refresh_hourly_stats"), 2); // both stations of hour 2

  const after = await hourlyRows(wh);
  assert.deepEqual(after.slice(0, 2), before.slice(0, 2)); // hour 1, refreshed_at included
  assert.deepEqual(after.slice(2).map((r) => r.snapshot_count), [2, 1]);
  for (const row of after.slice(2)) assert.ok(row.refreshed_at > before[2].refreshed_at);
});

Deno.test("refresh_daily_stats() after an insert in one day rewrites only that day's rows", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, stationsAt(HOUR_1, DAY_2));
  assert.equal(await call(wh, "mart.refresh_daily_stats"), 4);
  const dailyRows = () =>
    wh.query<{ day: string; refreshed_at: Date; snapshot_count: number }>(
      "SELECT * FROM mart.daily_station_stats ORDER BY day, station_code",
    );
  const before = await dailyRows();

  await insertSnapshots(wh.client, [synthetic({ station_code: "99002", collected_at: HOUR_2 })]);
  assert.equal(await call(wh, "mart.refresh_daily_stats"), 2);

  const after = await dailyRows();
  assert.deepEqual(after.slice(2), before.slice(2)); // 2024-05-29 untouched
  assert.deepEqual(after.slice(0, 2).map((r) => [r.day, r.snapshot_count]), [
    ["2024-05-28", 1],
    ["2024-05-28", 2],
  ]);
  for (const row of after.slice(0, 2)) assert.ok(row.refreshed_at > before[0].refreshed_at);
});

Deno.test("a replayed load that inserts nothing new into raw queues no refresh", async () => {
  await using wh = await warehouse();
  const rows = stationsAt(HOUR_1);
  await insertSnapshots(wh.client, rows);
  await call(wh, "mart.refresh_hourly_stats");
  await call(wh, "mart.refresh_daily_stats");

  assert.equal(await insertSnapshots(wh.client, rows, "ignore"), 0);
  assert.deepEqual(await wh.query("SELECT * FROM mart.refresh_queue"), []);
  assert.equal(await call(wh, "mart.refresh_hourly_stats"), 0);
});

Deno.test("refresh_hourly_stats() waits for a load still writing an already-queued cycle, and counts its rows", async () => {
  await using wh = await warehouse();
  // A cycle arriving in two loads: the first is committed and queued its instant...
  await insertSnapshots(wh.client, [synthetic({ station_code: "99001", collected_at: HOUR_1 })]);
  // ...the second is still writing when the refresh starts.
  const loader = await wh.connect();
  await loader.query("BEGIN");
  await insertSnapshots(loader, [synthetic({ station_code: "99002", collected_at: HOUR_1 })]);

  const refresher = await wh.connect();
  const pid = await backendPid(refresher);
  const refresh = refresher.query("SELECT mart.refresh_hourly_stats() AS written");
  assert.equal(await lockWaitOf(wh.client, pid, refresh), "transactionid");
  await loader.query("COMMIT");

  assert.equal((await refresh).rows[0].written, 2);
  const stations = await wh.query("SELECT station_code FROM mart.hourly_station_stats ORDER BY 1");
  assert.deepEqual(stations, [{ station_code: "99001" }, { station_code: "99002" }]);
});
