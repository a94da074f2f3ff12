/**
 * The live ranking of 0012, made of per-hour parts and the window's start read from raw,
 * against 0011's computation from raw (tests/warehouse/reference.ts): the same rows, to the
 * digit, whatever arrived in which order.
 *
 * @module
 */
import assert from "node:assert/strict";
import { seededRandom } from "../support/backlog.ts";
import { randomHistory } from "./histories.ts";
import { computeRanking, ranking, type RankingArgs, rankingFromRaw } from "./reference.ts";
import {
  backendPid,
  insertSnapshots,
  lockWaitOf,
  synthetic,
  type Warehouse,
  warehouse,
} from "./support.ts";

/** Histories over the fall-back and the spring-forward nights in Paris, and plain days. */
const HISTORIES = [
  { seed: 11, start: "2024-10-26T12:00:00Z" },
  { seed: 12, start: "2024-03-30T12:00:00Z" },
  { seed: 13, start: "2024-05-28T08:00:00Z" },
  { seed: 14, start: "2024-05-28T08:20:00Z" },
];

/** A minute offset from 2024-05-28T10:00Z, as an ISO instant. */
const minute = (minutes: number) =>
  new Date(Date.parse("2024-05-28T10:00:00Z") + minutes * 60_000).toISOString();

/** Computes the ranking with `args` and asserts it gives the rows 0011's gives from raw. */
async function assertLikeRaw(wh: Warehouse, args: RankingArgs = {}, message = "") {
  await computeRanking(wh, args);
  assert.deepEqual(await ranking(wh, args), await rankingFromRaw(wh, args), message);
}

for (const window_length of ["24 hours", "3 hours"]) {
  Deno.test(`compute_station_ranking() over ${window_length}, after loads of random histories, gives 0011's rows from raw: late, split and replayed loads, two systems, DST change days`, async () => {
    for (const { seed, start } of HISTORIES) {
      await using wh = await warehouse();
      for (const [i, load] of randomHistory(seed, { start }).entries()) {
        await insertSnapshots(wh.client, load.rows, load.replay ? "ignore" : "error");
        if (load.refresh) await assertLikeRaw(wh, { window_length }, `seed ${seed}, load ${i}`);
      }
    }
  });
}

Deno.test("compute_station_ranking() gives 0011's rows when max_gap, window_length or at change between computations", async () => {
  const argsOf: RankingArgs[] = [
    {},
    { max_gap: "30 minutes" },
    { window_length: "6 hours" },
    { window_length: "30 hours" },
    { window_length: "90 minutes", max_gap: "2 hours" },
    { max_gap: "0 seconds" },
    { max_gap: "-5 minutes" },
  ];
  const random = seededRandom(21);
  await using wh = await warehouse();
  const loaded: string[] = [];
  for (const [i, load] of randomHistory(21, { start: "2024-10-26T18:00:00Z" }).entries()) {
    await insertSnapshots(wh.client, load.rows, load.replay ? "ignore" : "error");
    loaded.push(load.rows[0].collected_at);
    if (!load.refresh) continue;
    const args = argsOf[Math.floor(random() * argsOf.length)];
    await assertLikeRaw(wh, args, `load ${i}, ${JSON.stringify(args)}`);
    // A rerun's ranking as of an instant already loaded, between two live ones.
    const at = loaded[Math.floor(random() * loaded.length)];
    await assertLikeRaw(wh, { at }, `load ${i}, at ${at}`);
  }
});

Deno.test("compute_station_ranking() without a max_gap or a window_length computes from raw as 0011 did: no cap, no window", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: minute(0), bikes_available: 0 }), // then 2 hours without a snapshot
    synthetic({ collected_at: minute(120), bikes_available: 3 }),
  ]);
  await assertLikeRaw(wh, { max_gap: null });
  assert.equal((await ranking(wh))[0].minutes_empty, "120.00");
  assert.equal(await computeRanking(wh, { window_length: null }), 0);
  await assertLikeRaw(wh);
});

Deno.test("compute_station_ranking() counts a station whose last snapshot is just after the window's start, until the window leaves it", async () => {
  await using wh = await warehouse();
  // 99002 saturated at 10:00 and 10:02, then silent; 99001 reports every 5 minutes for a day.
  await insertSnapshots(wh.client, [
    synthetic({ station_code: "99002", collected_at: minute(0), bikes_available: 10 }),
    synthetic({ station_code: "99002", collected_at: minute(2), bikes_available: 10 }),
  ]);
  for (let at = 0; at <= 24 * 60; at += 5) {
    await insertSnapshots(wh.client, [synthetic({ collected_at: minute(at) })]);
  }
  // Windows starting at 10:01, 10:02 (included) and 10:03: 99002's last snapshot, alone in the
  // first two, lasts 0.
  for (const [start, silent] of [[1, [1, "0.00"]], [2, [1, "0.00"]], [3, undefined]] as const) {
    await insertSnapshots(wh.client, [synthetic({ collected_at: minute(24 * 60 + start) })]);
    await assertLikeRaw(wh, {}, `window from ${minute(start)}`);
    const row = (await ranking(wh)).find((r) => r.station_code === "99002");
    assert.deepEqual(row && [row.snapshot_count, row.minutes_saturated], silent);
  }
});

Deno.test("compute_station_ranking() takes the window's whole hours from its parts, reading raw only near new rows and at the window's start", async () => {
  await using wh = await warehouse();
  for (let at = 0; at <= 120; at += 10) {
    await insertSnapshots(wh.client, [synthetic({ collected_at: minute(at) })]);
  }
  await computeRanking(wh);
  // Raw is append-only; an update stands for rows the parts counted, unchanged since. 10:20 is
  // more than max_gap before the next rows, in an hour the next computation does not read.
  await wh.query(
    "UPDATE raw.station_snapshots SET bikes_available = 0, mechanical_bikes = 0 WHERE collected_at = $1",
    [minute(20)],
  );
  await insertSnapshots(wh.client, [synthetic({ collected_at: minute(130) })]);
  await computeRanking(wh);
  const [row] = await ranking(wh);
  assert.deepEqual([row.snapshot_count, row.minutes_empty], [14, "0.00"]);
  assert.equal((await rankingFromRaw(wh))[0].minutes_empty, "10.00");
});

Deno.test("compute_station_ranking() counts rows collected after its last window's end even when nothing queued them", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, [synthetic({ collected_at: minute(0) })]);
  await computeRanking(wh);
  // A backfill with the queue's trigger off, as bench/gold_scaling.ts loads its history.
  await wh.query(
    "ALTER TABLE raw.station_snapshots DISABLE TRIGGER station_snapshots_queue_refreshes",
  );
  await insertSnapshots(
    wh.client,
    [5, 10, 70].map((at) => synthetic({ collected_at: minute(at), bikes_available: 0 })),
  );
  await wh.query(
    "ALTER TABLE raw.station_snapshots ENABLE TRIGGER station_snapshots_queue_refreshes",
  );
  await assertLikeRaw(wh);
});

Deno.test("compute_station_ranking() waits for a load still writing an already-queued late cycle, and counts its rows", async () => {
  await using wh = await warehouse();
  const cycle = (at: number, bikes = 4) =>
    ["99001", "99002"].map((station_code) =>
      synthetic({ station_code, collected_at: minute(at), bikes_available: bikes })
    );
  for (const at of [0, 10, 20]) await insertSnapshots(wh.client, cycle(at));
  await computeRanking(wh);
  // A late cycle at 10:05 arriving in two loads: the first is committed and queued its
  // instant, the second is still writing when the ranking starts.
  const [first, second] = cycle(5, 0);
  await insertSnapshots(wh.client, [first]);
  const loader = await wh.connect();
  await loader.query("BEGIN");
  await insertSnapshots(loader, [second]);

  const ranker = await wh.connect();
  const pid = await backendPid(ranker);
  const pending = ranker.query("SELECT mart.compute_station_ranking() AS written");
  assert.equal(await lockWaitOf(wh.client, pid, pending), "transactionid");
  await loader.query("COMMIT");
  assert.equal((await pending).rows[0].written, 2);

  const rows = await ranking(wh);
  assert.deepEqual(rows, await rankingFromRaw(wh));
  assert.deepEqual(rows.map((r) => r.minutes_empty), ["5.00", "5.00"]);
});
