import assert from "node:assert/strict";
import { backendPid, insertSnapshots, lockWaitOf, synthetic, warehouse } from "./support.ts";

// Long enough never to fire on a slow machine when nothing blocks; a blocked reader fails with it
// (SQLSTATE 57014) instead of hanging the test.
const READER_TIMEOUT = "SET statement_timeout = '10s'";

const cycle = (collected_at: string, bikes: number) =>
  ["99001", "99002", "99003"].map((station_code) =>
    synthetic({ station_code, collected_at, bikes_available: bikes })
  );

const GOLD = [
  { fn: "mart.refresh_hourly_stats", table: "mart.hourly_station_stats" },
  { fn: "mart.refresh_daily_stats", table: "mart.daily_station_stats" },
  { fn: "mart.compute_station_ranking", table: "mart.station_ranking" },
];

for (const { fn, table } of GOLD) {
  Deno.test(`a reader of ${table} is not blocked by an uncommitted ${fn}() and sees the previous rows`, async () => {
    await using wh = await warehouse();
    await insertSnapshots(wh.client, cycle("2024-05-28T10:05:00.000Z", 2));
    await wh.query(`SELECT ${fn}()`);
    const committed = await wh.query(`SELECT * FROM ${table} ORDER BY station_code`);
    assert.equal(committed.length, 3);
    // A new cycle in the same hour and day, so the refresh rewrites the rows being read.
    await insertSnapshots(wh.client, cycle("2024-05-28T10:10:00.000Z", 6));

    const writer = await wh.connect();
    await writer.query("BEGIN");
    assert.equal((await writer.query(`SELECT ${fn}() AS written`)).rows[0].written, 3);

    const reader = await wh.connect();
    await reader.query(READER_TIMEOUT);
    const during = await reader.query(`SELECT * FROM ${table} ORDER BY station_code`);
    assert.deepEqual(during.rows, committed);

    await writer.query("COMMIT");
    const after = await reader.query(`SELECT * FROM ${table} ORDER BY station_code`);
    assert.notDeepEqual(after.rows, committed);
    assert.equal(after.rows.length, 3);
  });
}

Deno.test("a load of a new cycle is not blocked by an uncommitted refresh_hourly_stats()", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, cycle("2024-05-28T10:05:00.000Z", 2));
  const writer = await wh.connect();
  await writer.query("BEGIN");
  await writer.query("SELECT mart.refresh_hourly_stats()");

  const loader = await wh.connect();
  await loader.query(READER_TIMEOUT);
  assert.equal(await insertSnapshots(loader, cycle("2024-05-28T10:10:00.000Z", 6)), 3);
  await writer.query("COMMIT");
  const queued = await wh.query(
    "SELECT collected_at FROM mart.refresh_queue WHERE target = 'hourly'",
  );
  assert.deepEqual(queued, [{ collected_at: new Date("2024-05-28T10:10:00.000Z") }]);
});

Deno.test("a second refresh_hourly_stats() waits for the one in progress, then finds nothing left to do", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, cycle("2024-05-28T10:05:00.000Z", 2));
  const first = await wh.connect();
  await first.query("BEGIN");
  assert.equal(
    (await first.query("SELECT mart.refresh_hourly_stats() AS written")).rows[0].written,
    3,
  );

  const second = await wh.connect();
  const pid = await backendPid(second);
  const pending = second.query("SELECT mart.refresh_hourly_stats() AS written");
  assert.equal(await lockWaitOf(wh.client, pid, pending), "advisory");
  await first.query("COMMIT");
  assert.equal((await pending).rows[0].written, 0);
  const [{ count }] = await wh.query<{ count: string }>(
    "SELECT count(*) FROM mart.hourly_station_stats",
  );
  assert.equal(count, "3");
});
