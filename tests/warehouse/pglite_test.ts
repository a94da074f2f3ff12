import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { ANALYSIS, MIGRATIONS, SNAPSHOT_COLUMNS, synthetic } from "./support.ts";

const SINK_MIGRATIONS = fileURLToPath(
  new URL("../../plugins/sink-postgres/migrations", import.meta.url),
);

async function sqlFiles(folder: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isFile && entry.name.endsWith(".sql")) names.push(entry.name);
  }
  return names.sort().map((name) => `${folder}/${name}`);
}

Deno.test("the warehouse migrations, gold functions and analysis queries run unchanged on PGlite", async () => {
  const db = new PGlite(); // in memory
  try {
    for (const file of [...await sqlFiles(SINK_MIGRATIONS), ...await sqlFiles(MIGRATIONS)]) {
      await db.exec(`BEGIN; ${await Deno.readTextFile(file)}; COMMIT;`).catch((error) => {
        throw new Error(`${file} failed on PGlite: ${error.message}`);
      });
    }
    // Two stations across the fall-back night: 02:30 CEST, then 02:30 CET; and a station of a
    // second system with the same code as the first.
    const rows = ["2024-10-27T00:30:00.000Z", "2024-10-27T01:30:00.000Z"].flatMap((at) => [
      synthetic({ station_code: "99001", collected_at: at, bikes_available: 0 }),
      synthetic({ station_code: "99002", collected_at: at }),
      synthetic({ system_id: "synthetic-b", station_code: "99001", collected_at: at }),
    ]);
    const columns = SNAPSHOT_COLUMNS.join(", ");
    await db.query(
      `INSERT INTO raw.station_snapshots (${columns})
       SELECT ${columns} FROM jsonb_populate_recordset(NULL::raw.station_snapshots, $1::jsonb)`,
      [JSON.stringify(rows)],
    );
    const gold = await db.query(
      `SELECT mart.refresh_hourly_stats() AS hourly, mart.refresh_daily_stats() AS daily,
         mart.compute_station_ranking() AS ranking`,
    );
    assert.deepEqual(gold.rows, [{ hourly: 6, daily: 3, ranking: 3 }]);
    const buckets = await db.query<{ bucket_start: Date }>(
      "SELECT DISTINCT bucket_start FROM mart.hourly_station_stats ORDER BY 1",
    );
    assert.deepEqual(buckets.rows.map((r) => r.bucket_start.toISOString()), [
      "2024-10-27T00:00:00.000Z",
      "2024-10-27T01:00:00.000Z",
    ]);
    const [empty] = (await db.query<{ station_code: string; minutes_empty: string }>(
      `SELECT station_code, minutes_empty FROM mart.station_ranking
       WHERE rank_empty = 1 AND system_id = 'velib'`,
    )).rows;
    assert.deepEqual({ ...empty }, { station_code: "99001", minutes_empty: "15.00" });
    // Reruns: the two 02:00 hours and their day recomputed, the ranking as of 02:15 CET.
    const windowed = await db.query(
      `SELECT mart.refresh_hourly_stats(window_start => $1, window_end => $2) AS hourly,
         mart.refresh_daily_stats(window_start => $1, window_end => $2) AS daily,
         mart.compute_station_ranking(at => $2) AS ranking`,
      ["2024-10-27T00:45:00.000Z", "2024-10-27T01:15:00.000Z"],
    );
    assert.deepEqual(windowed.rows, [{ hourly: 6, daily: 3, ranking: 3 }]);
    for (const file of await sqlFiles(ANALYSIS)) {
      await db.query(await Deno.readTextFile(file)).catch((error) => {
        throw new Error(`${file} failed on PGlite: ${error.message}`);
      });
    }
  } finally {
    await db.close();
  }
});
