import assert from "node:assert/strict";
import { captureCycles } from "./capture.ts";
import { comparable, expectedRanking } from "./expected.ts";
import { analysisQuery, insertSnapshots, synthetic, type Warehouse, warehouse } from "./support.ts";

/** A minute offset from 2024-05-28T10:00Z, as an ISO instant. */
const minute = (minutes: number) =>
  new Date(Date.parse("2024-05-28T10:00:00Z") + minutes * 60_000).toISOString();

/** Computes the ranking, live or for the instant `at`, with `args` as further named arguments. */
async function computeRanking(wh: Warehouse, at: string | null, args = "") {
  const [{ written }] = await wh.query<{ written: number }>(
    `SELECT mart.compute_station_ranking(at => $1${args ? `, ${args}` : ""}) AS written`,
    [at],
  );
  return written;
}

/**
 * The computations in the table, oldest first: what each was computed for ("live" for NULL),
 * and when, in microseconds (two computations may fall within one millisecond).
 */
function computations(wh: Warehouse) {
  return wh.query<{ computed_for: string; computed_at: string }>(
    `SELECT DISTINCT
       coalesce(to_char(computed_for AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'live')
         AS computed_for,
       to_char(computed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS computed_at
     FROM mart.station_ranking ORDER BY computed_at`,
  );
}

Deno.test("compute_station_ranking() with at ranks the window ending at at and stores it as computed_for", async () => {
  await using wh = await warehouse();
  const cycles = await captureCycles();
  for (const cycle of cycles) await insertSnapshots(wh.client, cycle);
  // The fourth cycle: the fifth, collected after it, is outside the window.
  const at = cycles[3][0].collected_at;
  const expected = expectedRanking(cycles.flat(), { atMs: Date.parse(at) });
  assert.notDeepEqual(
    [...expected.values()].map((r) => r.minutes_empty),
    [...expectedRanking(cycles.flat()).values()].map((r) => r.minutes_empty),
  );

  assert.equal(await computeRanking(wh, at), expected.size);

  const rows = await wh.query<Record<string, unknown> & { station_code: string }>(
    "SELECT * FROM mart.station_ranking",
  );
  assert.equal(rows.length, expected.size);
  for (const row of rows) {
    assert.deepEqual(comparable(row), expected.get(row.station_code), row.station_code);
  }
});

Deno.test("compute_station_ranking() with at replaces an earlier computation for the same at, and keeps those for other instants", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: minute(0) }),
    synthetic({ collected_at: minute(10) }),
  ]);
  await computeRanking(wh, minute(5));
  const [first] = await computations(wh);
  await computeRanking(wh, minute(10));
  await computeRanking(wh, minute(5));
  const after = await computations(wh);
  assert.deepEqual(after.map((c) => c.computed_for), [
    "2024-05-28T10:10:00Z",
    "2024-05-28T10:05:00Z",
  ]);
  assert.ok(after[1].computed_at > first.computed_at);
});

Deno.test("compute_station_ranking() with at, over a window without data, writes nothing and still replaces the earlier computation for that at", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [synthetic({ collected_at: minute(0) })]);
  assert.equal(await computeRanking(wh, minute(5)), 1);
  assert.equal(await computeRanking(wh, minute(5), "window_length => '1 minute'"), 0);
  assert.deepEqual(await computations(wh), []);
});

Deno.test("compute_station_ranking() live and for an at never prune each other", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [synthetic({ collected_at: minute(0) })]);
  await computeRanking(wh, null); // keep defaults to 1
  await computeRanking(wh, minute(0));
  const [firstLive, forAt] = await computations(wh);
  assert.deepEqual([firstLive.computed_for, forAt.computed_for], ["live", "2024-05-28T10:00:00Z"]);

  await computeRanking(wh, null); // prunes the first live computation, not the one for an at
  const afterLive = await computations(wh);
  assert.deepEqual(afterLive.map((c) => c.computed_for), ["2024-05-28T10:00:00Z", "live"]);
  assert.equal(afterLive[0].computed_at, forAt.computed_at);
  assert.ok(afterLive[1].computed_at > firstLive.computed_at);

  await computeRanking(wh, minute(0)); // replaces the one for its at, not the live one
  const afterAt = await computations(wh);
  assert.deepEqual(afterAt.map((c) => c.computed_for), ["live", "2024-05-28T10:00:00Z"]);
  assert.equal(afterAt[0].computed_at, afterLive[1].computed_at);
});

for (
  const { file, stations } of [
    { file: "top_saturated.sql", stations: ["99001", "99003"] },
    { file: "top_empty.sql", stations: ["99002"] },
  ]
) {
  Deno.test(`${file} shows the latest live ranking, not a later computation for an at`, async () => {
    await using wh = await warehouse();
    // Saturated 10 minutes from 10:00 (99001) and 11:40 (99003), empty 10 minutes from 11:40
    // (99002): a ranking as of 10:50 has only the first.
    await insertSnapshots(wh.client, [
      synthetic({ station_code: "99001", collected_at: minute(0), bikes_available: 10 }),
      synthetic({ station_code: "99001", collected_at: minute(10) }),
      synthetic({ station_code: "99002", collected_at: minute(100), bikes_available: 0 }),
      synthetic({ station_code: "99002", collected_at: minute(110) }),
      synthetic({ station_code: "99003", collected_at: minute(100), bikes_available: 10 }),
      synthetic({ station_code: "99003", collected_at: minute(110) }),
    ]);
    await computeRanking(wh, null);
    await computeRanking(wh, minute(50));
    const rows = await wh.query<{ station_code: string; window_end: Date }>(
      await analysisQuery(file),
    );
    assert.deepEqual(rows.map((r) => r.station_code), stations);
    for (const row of rows) assert.equal(row.window_end.toISOString(), minute(110));
  });
}
