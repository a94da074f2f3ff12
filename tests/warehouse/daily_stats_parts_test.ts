/**
 * The daily refresh of 0012, which rolls days up from per-hour parts, against 0011's
 * computation from raw (tests/warehouse/reference.ts): the same rows, to the digit.
 *
 * @module
 */
import assert from "node:assert/strict";
import pg from "pg";
import { migrate } from "../../plugins/sink-postgres/mod.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import { randomHistory } from "./histories.ts";
import { dailyFromRaw, dailyStats, type Queries } from "./reference.ts";
import { insertSnapshots, MIGRATIONS, synthetic, type Warehouse, warehouse } from "./support.ts";

/** Histories over the fall-back and the spring-forward nights in Paris, and a plain day. */
const HISTORIES = [
  { seed: 1, start: "2024-10-26T12:00:00Z" },
  { seed: 2, start: "2024-03-30T12:00:00Z" },
  { seed: 3, start: "2024-05-28T08:00:00Z" },
  { seed: 4, start: "2024-10-25T20:00:00Z" },
];

async function refreshDaily(wh: Warehouse, timeZone = "Europe/Paris"): Promise<number> {
  const [{ written }] = await wh.query<{ written: number }>(
    "SELECT mart.refresh_daily_stats(time_zone => $1) AS written",
    [timeZone],
  );
  return written;
}

/** Loads each of a history's loads and, where it says, refreshes and compares with raw. */
async function replayHistory(wh: Warehouse, seed: number, start: string, timeZone?: string) {
  for (const [i, load] of randomHistory(seed, { start }).entries()) {
    await insertSnapshots(wh.client, load.rows, load.replay ? "ignore" : "error");
    if (!load.refresh) continue;
    await refreshDaily(wh, timeZone);
    assert.deepEqual(
      await dailyStats(wh),
      await dailyFromRaw(wh, timeZone),
      `seed ${seed}, after load ${i}`,
    );
  }
}

Deno.test("refresh_daily_stats() after loads of random histories gives 0011's rows from raw: late, split and replayed loads, two systems, DST change days", async () => {
  for (const { seed, start } of HISTORIES) {
    await using wh = await warehouse();
    await replayHistory(wh, seed, start);
  }
});

Deno.test("refresh_daily_stats() in a zone whose UTC hours straddle local midnight, after refreshes in another, rebuilds its parts and gives that zone's days as 0011 did", async () => {
  // UTC+05:30: 18:00-19:00 UTC is 23:30 to 00:30, the end of one day and the start of the next.
  const zone = "Asia/Kolkata";
  await using wh = await warehouse();
  const loads = randomHistory(5, { start: "2024-05-28T12:10:00Z" });
  for (const load of loads.slice(0, 100)) {
    await insertSnapshots(wh.client, load.rows, load.replay ? "ignore" : "error");
  }
  await refreshDaily(wh); // parts of Paris days
  // A refresh leaves the rows of another zone's days (0004): cleared, to compare what it writes.
  await wh.query("DELETE FROM mart.daily_station_stats");
  for (const [i, load] of loads.slice(100).entries()) {
    await insertSnapshots(wh.client, load.rows, load.replay ? "ignore" : "error");
    if (!load.refresh) continue;
    await refreshDaily(wh, zone);
    const written = await dailyStats(wh);
    const days = new Set(written.map((row) => row.day));
    const fromRaw = (await dailyFromRaw(wh, zone)).filter((row) => days.has(row.day));
    assert.deepEqual(written, fromRaw, `after load ${100 + i}`);
  }
  assert.ok((await dailyStats(wh)).length > 0);
});

Deno.test("round(sum / count) of sums added up over parts equals round(avg()) of the rows, for counts and 4-decimal rates", async () => {
  // avg() is numeric_div(sum, count) (see 0012): checked here on 300,000 values in 20,000
  // groups of varied sizes, each split into up to 24 parts, rates sometimes NULL, to the digit.
  await using wh = await warehouse();
  await wh.query("SELECT setseed(0.42)");
  const [result] = await wh.query<{ groups: number; different: number }>(
    `WITH v AS MATERIALIZED (
       SELECT floor(random() * 20000)::int AS grp, floor(random() * 24)::int AS part,
         floor(random() * 80)::int AS n,
         CASE WHEN random() < 0.1 THEN NULL
           ELSE round(random()::numeric, 4)::numeric(10,4) END AS rate
       FROM generate_series(1, 300000)
     ), parts AS (
       SELECT grp, part, count(*)::int AS c, sum(n) AS s, sum(rate) AS r,
         count(rate)::int AS rc
       FROM v GROUP BY grp, part
     ), from_parts AS (
       SELECT grp, round(sum(s) / sum(c), 2) AS n, round(sum(r) / nullif(sum(rc), 0), 4) AS rate
       FROM parts GROUP BY grp
     ), direct AS (
       SELECT grp, round(avg(n), 2) AS n, round(avg(rate), 4) AS rate FROM v GROUP BY grp
     )
     SELECT count(*)::int AS groups,
       (count(*) FILTER (WHERE d.n::text IS DISTINCT FROM p.n::text
         OR d.rate::text IS DISTINCT FROM p.rate::text))::int AS different
     FROM direct AS d JOIN from_parts AS p USING (grp)`,
  );
  assert.deepEqual(result, { groups: 20000, different: 0 });
});

Deno.test("refresh_daily_stats() without a window takes the hours of a day that were not queued from its parts, not from raw", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-05-28T08:00:00.000Z", bikes_available: 2 }), // 10:00 Paris
  ]);
  await refreshDaily(wh);
  // Raw is append-only; an update stands for rows the parts counted, unchanged since.
  await wh.query("UPDATE raw.station_snapshots SET bikes_available = 9, mechanical_bikes = 9");
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-05-28T12:00:00.000Z", bikes_available: 4 }), // 14:00
  ]);
  assert.equal(await refreshDaily(wh), 1);
  const [day] = await dailyStats(wh);
  assert.deepEqual([day.avg_bikes, day.min_bikes, day.max_bikes], ["3.00", 2, 4]);
});

Deno.test("refresh_daily_stats() with a window recomputes the parts of its days too, so that a later queued refresh of such a day gives 0011's rows", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-05-28T08:00:00.000Z", bikes_available: 2 }),
    synthetic({ collected_at: "2024-05-28T09:00:00.000Z", bikes_available: 6 }),
  ]);
  await refreshDaily(wh);
  // Rows repaired in raw, as before a rerun (raw is append-only otherwise).
  await wh.query("UPDATE raw.station_snapshots SET bikes_available = 0, mechanical_bikes = 0");
  await wh.query(
    `SELECT mart.refresh_daily_stats(window_start => '2024-05-28T08:00:00Z',
       window_end => '2024-05-28T08:01:00Z')`,
  );
  assert.deepEqual(await dailyStats(wh), await dailyFromRaw(wh));
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-05-28T10:00:00.000Z", bikes_available: 3 }),
  ]);
  await refreshDaily(wh);
  const rows = await dailyStats(wh);
  assert.deepEqual(rows, await dailyFromRaw(wh));
  assert.equal(rows[0].avg_bikes, "1.00");
});

Deno.test("0012 computes the daily parts of the rows stored before it, so that the next refresh of a day begun before gives 0011's rows", async () => {
  await using db = await scratchDatabase();
  const folder = await Deno.makeTempDir({ prefix: "migrations_0011_" });
  const client = new pg.Client({ connectionString: db.url });
  try {
    for await (const entry of Deno.readDir(MIGRATIONS)) {
      if (entry.name < "0012") {
        await Deno.copyFile(`${MIGRATIONS}/${entry.name}`, `${folder}/${entry.name}`);
      }
    }
    await migrate({ url: db.url, migrations: folder });
    await client.connect();
    const wh: Queries = {
      query: async <T>(text: string, params?: unknown[]) =>
        (await client.query(text, params)).rows as T[],
    };
    const loads = randomHistory(6, { start: "2024-05-28T06:00:00Z", cycles: 60 });
    const [before, after] = [loads.slice(0, 40), loads.slice(40)];
    for (const load of before) await insertSnapshots(client, load.rows, "ignore");
    await client.query("SELECT mart.refresh_daily_stats()");

    await migrate({ url: db.url, migrations: MIGRATIONS });
    for (const load of after) await insertSnapshots(client, load.rows, "ignore");
    await client.query("SELECT mart.refresh_daily_stats()");
    assert.deepEqual(await dailyStats(wh), await dailyFromRaw(wh));
  } finally {
    await client.end();
    await Deno.remove(folder, { recursive: true });
  }
});
