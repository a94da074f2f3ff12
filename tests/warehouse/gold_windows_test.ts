import assert from "node:assert/strict";
import { captureCycles } from "./capture.ts";
import { comparable, expectedDaily, expectedHourly } from "./expected.ts";
import {
  insertSnapshots,
  sqlState,
  synthetic,
  type Warehouse,
  warehouse,
  type WarehouseSnapshot,
} from "./support.ts";

// As in the hourly and daily tests: a session zone far from Paris, with a 45-minute offset,
// shows anything in the SQL that used the session's zone instead of the function's argument.
const FOREIGN_SESSION_ZONE = "SET TimeZone = 'Pacific/Chatham'";

/** Two stations' snapshots at `collected_at`: {@linkcode corrupt} deletes the first one's rows. */
const pair = (fields: Parameters<typeof synthetic>[0]) => [
  synthetic({ ...fields, station_code: "99001" }),
  synthetic({ ...fields, station_code: "99002" }),
];

/** {@linkcode pair} at each of `instants`. */
const stationsAt = (...instants: string[]) =>
  instants.flatMap((collected_at) => pair({ collected_at }));

/** A window of data time, start included and end excluded, as ISO instants. */
interface Window {
  from: string;
  to: string;
}

type GoldRow = Record<string, unknown> & { station_code: string };

/** What the tests need of one windowed refresh: its function, table and buckets. */
interface Gold {
  fn: string;
  table: string;
  /** A row's station and bucket, as the keys of the expected rows. */
  key(row: GoldRow): string;
  /** The rows a computation from scratch gives, keyed as {@linkcode Gold.key}. */
  expected(rows: readonly WarehouseSnapshot[]): Map<string, Record<string, unknown>>;
}

const HOURLY: Gold = {
  fn: "mart.refresh_hourly_stats",
  table: "mart.hourly_station_stats",
  key: (row) => `${row.station_code}|${(row.bucket_start as Date).toISOString()}`,
  expected: expectedHourly,
};

const DAILY: Gold = {
  fn: "mart.refresh_daily_stats",
  table: "mart.daily_station_stats",
  key: (row) => `${row.station_code}|${row.day}`,
  expected: expectedDaily,
};

/** Refreshes what loads queued, as the pipeline's steps do. */
async function refreshQueued(wh: Warehouse, gold: Gold): Promise<number> {
  const [{ written }] = await wh.query<{ written: number }>(`SELECT ${gold.fn}() AS written`);
  return written;
}

/** Refreshes the buckets of `window`, by name, as the postgres step of a rerun calls it. */
async function refreshWindow(wh: Warehouse, gold: Gold, window: Window): Promise<number> {
  const [{ written }] = await wh.query<{ written: number }>(
    `SELECT ${gold.fn}(time_zone => 'Europe/Paris', window_start => $1, window_end => $2)
       AS written`,
    [window.from, window.to],
  );
  return written;
}

/** Every row of the table, whole (refreshed_at included), by station and bucket. */
async function rowsByKey(wh: Warehouse, gold: Gold): Promise<Map<string, GoldRow>> {
  const rows = await wh.query<GoldRow>(`SELECT * FROM ${gold.table}`);
  return new Map(rows.map((row) => [gold.key(row), row]));
}

/** Wrong values in every row, and some rows gone: what the window's refresh must repair. */
async function corrupt(wh: Warehouse, gold: Gold): Promise<void> {
  await wh.query(
    `UPDATE ${gold.table}
     SET avg_bikes = avg_bikes + 100, snapshot_count = snapshot_count + 1, station_name = 'wrong'`,
  );
  const deleted = await wh.query(
    `DELETE FROM ${gold.table} WHERE station_code LIKE '%1' RETURNING station_code`,
  );
  assert.ok(deleted.length > 0);
}

/** Whether a row's key falls in one of `buckets` (the `|`-suffix of a key). */
const inBuckets = (buckets: readonly string[]) => (key: string) =>
  buckets.includes(key.slice(key.indexOf("|") + 1));

/** The entries of a map whose key passes `keep`. */
const only = <V>(map: Map<string, V>, keep: (key: string) => boolean) =>
  new Map([...map].filter(([key]) => keep(key)));

/** Asserts that the table's rows of `buckets` (all by default) are those computed from scratch. */
async function assertFromScratch(
  wh: Warehouse,
  gold: Gold,
  rows: readonly WarehouseSnapshot[],
  buckets?: readonly string[],
) {
  const keep = buckets === undefined ? () => true : inBuckets(buckets);
  const expected = only(gold.expected(rows), keep);
  const actual = only(await rowsByKey(wh, gold), keep);
  assert.deepEqual(
    new Map([...actual].map(([key, row]) => [key, comparable(row)])),
    expected,
  );
}

// The capture's cycles are at 22:05, 22:10, 22:15 and 23:05 on 2024-05-28 in Paris, and 00:05
// on the 29th. The windows below start inside a bucket, so a bucket that only overlaps the
// window is recomputed whole.

Deno.test("refresh_hourly_stats() with a window makes the window's hours equal to a computation from scratch after they were corrupted", async () => {
  await using wh = await warehouse();
  const cycles = await captureCycles();
  for (const cycle of cycles) await insertSnapshots(wh.client, cycle);
  await refreshQueued(wh, HOURLY);
  await corrupt(wh, HOURLY);
  // 22:30 to 00:00 in Paris: the 22:00 and 23:00 local hours.
  const buckets = ["2024-05-28T20:00:00.000Z", "2024-05-28T21:00:00.000Z"];
  const written = await refreshWindow(wh, HOURLY, {
    from: "2024-05-28T20:30:00Z",
    to: "2024-05-28T22:00:00Z",
  });
  assert.equal(written, only(expectedHourly(cycles.flat()), inBuckets(buckets)).size);
  await assertFromScratch(wh, HOURLY, cycles.flat(), buckets);
});

Deno.test("refresh_daily_stats() with a window makes the window's days equal to a computation from scratch after they were corrupted", async () => {
  await using wh = await warehouse();
  const cycles = await captureCycles();
  for (const cycle of cycles) await insertSnapshots(wh.client, cycle);
  await refreshQueued(wh, DAILY);
  await corrupt(wh, DAILY);
  // One minute at 23:30 in Paris: the whole of 2024-05-28.
  const written = await refreshWindow(wh, DAILY, {
    from: "2024-05-28T21:30:00Z",
    to: "2024-05-28T21:31:00Z",
  });
  assert.equal(written, only(expectedDaily(cycles.flat()), inBuckets(["2024-05-28"])).size);
  await assertFromScratch(wh, DAILY, cycles.flat(), ["2024-05-28"]);
});

// Two stations at 12:05 and 13:05 on 2024-05-28 in Paris, and 13:05 on the 29th.
const HOUR_1 = "2024-05-28T10:05:00.000Z";
const HOUR_2 = "2024-05-28T11:05:00.000Z";
const DAY_2 = "2024-05-29T11:05:00.000Z";

/** 12:00 to 13:00 in Paris: HOUR_1's hour, and its day. */
const FIRST_HOUR: Window = { from: "2024-05-28T10:00:00Z", to: "2024-05-28T11:00:00Z" };

for (const gold of [HOURLY, DAILY]) {
  const name = gold.fn.replace("mart.", "");

  Deno.test(`${name}() with a window touches no bucket outside it`, async () => {
    await using wh = await warehouse();
    await insertSnapshots(wh.client, stationsAt(HOUR_1, HOUR_2, DAY_2));
    await refreshQueued(wh, gold);
    await corrupt(wh, gold);
    const before = await rowsByKey(wh, gold);
    const inWindow = inBuckets(
      gold === HOURLY ? ["2024-05-28T10:00:00.000Z"] : ["2024-05-28"],
    );
    await refreshWindow(wh, gold, FIRST_HOUR);
    const outside = (key: string) => !inWindow(key);
    const after = await rowsByKey(wh, gold);
    assert.ok(only(before, outside).size > 0);
    assert.deepEqual(only(after, outside), only(before, outside)); // refreshed_at included
    assert.ok(only(after, inWindow).size > 0);
  });

  Deno.test(`${name}() with a window leaves the refresh queue as it was`, async () => {
    await using wh = await warehouse();
    await insertSnapshots(wh.client, stationsAt(HOUR_1, DAY_2)); // queued, not refreshed
    const queue = () => wh.query("SELECT * FROM mart.refresh_queue ORDER BY target, collected_at");
    const before = await queue();
    assert.equal(before.length, 4); // two instants, for each target
    assert.equal(await refreshWindow(wh, gold, FIRST_HOUR), 2);
    assert.deepEqual(await queue(), before);
  });

  Deno.test(`${name}() without a window, after a windowed run, still refreshes what loads queued`, async () => {
    await using wh = await warehouse();
    await insertSnapshots(wh.client, stationsAt(HOUR_1, DAY_2));
    await refreshWindow(wh, gold, FIRST_HOUR);
    assert.equal(await refreshQueued(wh, gold), 4); // both stations, at both instants
    assert.equal(await refreshQueued(wh, gold), 0);
    await assertFromScratch(wh, gold, stationsAt(HOUR_1, DAY_2));
  });

  Deno.test(`${name}() with a window leaves no rows in a bucket whose raw rows are gone`, async () => {
    await using wh = await warehouse();
    await insertSnapshots(wh.client, stationsAt(HOUR_1, HOUR_2, DAY_2));
    await refreshQueued(wh, gold);
    // Raw is append-only in production; deleting here stands for rows loaded by mistake.
    await wh.query("DELETE FROM raw.station_snapshots WHERE collected_at IN ($1, $2)", [
      HOUR_1,
      HOUR_2,
    ]);
    const window = { from: "2024-05-28T10:00:00Z", to: "2024-05-28T12:00:00Z" };
    assert.equal(await refreshWindow(wh, gold, window), 0);
    const left = await rowsByKey(wh, gold);
    assert.deepEqual(
      [...left.keys()].toSorted(),
      [...gold.expected(stationsAt(DAY_2)).keys()].toSorted(),
    );
  });

  Deno.test(`${name}() refuses a half-given or an empty window, naming the problem`, async () => {
    await using wh = await warehouse();
    const at = "2024-05-28T10:00:00Z";
    const later = "2024-05-28T11:00:00Z";
    const cases: Array<[string, unknown[], RegExp]> = [
      ["window_start => $1", [at], /half given: window_start is .+ and window_end is NULL/],
      ["window_end => $1", [at], /half given: window_start is NULL and window_end is/],
      ["window_start => $1, window_end => $2", [at, at], /empty: window_start .+ is not before/],
      ["window_start => $1, window_end => $2", [later, at], /empty: window_start .+ is not before/],
    ];
    for (const [args, params, message] of cases) {
      await assert.rejects(
        wh.query(`SELECT ${gold.fn}(${args})`, params),
        (error: Error) => sqlState(error) === "22023" && message.test(error.message),
        `${args} with ${params.join(", ")}`,
      );
    }
  });
}

Deno.test("refresh_hourly_stats() with a window over the fall-back night recomputes both 02:00 local hours", async () => {
  await using wh = await warehouse();
  await wh.query(FOREIGN_SESSION_ZONE);
  const rows = [
    ...pair({ collected_at: "2024-10-26T23:30:00.000Z", bikes_available: 1 }), // 01:30 CEST
    ...pair({ collected_at: "2024-10-27T00:30:00.000Z", bikes_available: 2 }), // 02:30 CEST
    ...pair({ collected_at: "2024-10-27T01:30:00.000Z", bikes_available: 3 }), // 02:30 CET
    ...pair({ collected_at: "2024-10-27T02:30:00.000Z", bikes_available: 4 }), // 03:30 CET
  ];
  await insertSnapshots(wh.client, rows);
  await refreshQueued(wh, HOURLY);
  await corrupt(wh, HOURLY);
  const before = await rowsByKey(wh, HOURLY);
  // 02:45 CEST to 02:15 CET: half an hour of elapsed time, in the two 02:00 hours.
  const written = await refreshWindow(wh, HOURLY, {
    from: "2024-10-27T00:45:00Z",
    to: "2024-10-27T01:15:00Z",
  });
  assert.equal(written, 4); // two stations in each of the two hours
  const buckets = ["2024-10-27T00:00:00.000Z", "2024-10-27T01:00:00.000Z"];
  await assertFromScratch(wh, HOURLY, rows, buckets);
  const outside = (key: string) => !inBuckets(buckets)(key);
  assert.deepEqual(only(await rowsByKey(wh, HOURLY), outside), only(before, outside));
});

Deno.test("refresh_daily_stats() with a window crossing the fall-back day recomputes every local day it overlaps, the 25-hour day whole", async () => {
  await using wh = await warehouse();
  await wh.query(FOREIGN_SESSION_ZONE);
  const rows = stationsAt(
    "2024-10-25T21:59:59.000Z", // 23:59:59 CEST on the 25th
    "2024-10-26T12:00:00.000Z", // 14:00 CEST on the 26th
    "2024-10-26T22:00:00.000Z", // 00:00 CEST on the 27th
    "2024-10-27T22:59:59.000Z", // 23:59:59 CET on the 27th
    "2024-10-27T23:00:00.000Z", // 00:00 CET on the 28th
  );
  await insertSnapshots(wh.client, rows);
  await refreshQueued(wh, DAILY);
  await corrupt(wh, DAILY);
  const before = await rowsByKey(wh, DAILY);
  // 23:00 CEST on the 26th to 00:00 CET on the 28th, which the window excludes.
  const written = await refreshWindow(wh, DAILY, {
    from: "2024-10-26T21:00:00Z",
    to: "2024-10-27T23:00:00Z",
  });
  assert.equal(written, 4); // two stations on each of the two days
  const days = ["2024-10-26", "2024-10-27"];
  await assertFromScratch(wh, DAILY, rows, days);
  const [fallBack] = await wh.query<{ day_start: Date; snapshot_count: number }>(
    `SELECT day_start, snapshot_count FROM mart.daily_station_stats
     WHERE day = '2024-10-27' AND station_code = '99001'`,
  );
  assert.deepEqual(comparable(fallBack), {
    day_start: "2024-10-26T22:00:00.000Z",
    snapshot_count: 2,
  });
  const outside = (key: string) => !inBuckets(days)(key);
  assert.deepEqual(only(await rowsByKey(wh, DAILY), outside), only(before, outside));
});
