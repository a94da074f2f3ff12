import assert from "node:assert/strict";
import { insertSnapshots, synthetic, warehouse } from "./support.ts";

Deno.test("mart.station_latest.updated_at moves to the time of the transaction that upserts the row", async () => {
  await using wh = await warehouse();
  const columns =
    "station_code, station_name, schema_version, bikes_available, mechanical_bikes, " +
    "electric_bikes, docks_available, capacity, is_installed, is_renting, is_returning, " +
    "latitude, longitude, last_reported, commune, code_insee, collected_at, occupancy_rate, " +
    "station_status, system_id";
  // The sink's upsert: only the record's columns, never updated_at.
  const upsert = (collectedAt: string) =>
    wh.client.query(
      `INSERT INTO mart.station_latest (${columns})
       SELECT ${columns} FROM raw.station_snapshots WHERE collected_at = $1
       ON CONFLICT (system_id, station_code) DO UPDATE SET
         bikes_available = excluded.bikes_available, collected_at = excluded.collected_at`,
      [collectedAt],
    );
  await insertSnapshots(wh.client, [
    synthetic({ collected_at: "2024-05-28T20:00:00.000Z", bikes_available: 4 }),
    synthetic({ collected_at: "2024-05-28T20:01:00.000Z", bikes_available: 5 }),
  ]);
  await upsert("2024-05-28T20:00:00.000Z");
  const [inserted] = await wh.query<{ updated_at: Date }>(
    "SELECT updated_at FROM mart.station_latest",
  );

  await wh.query("BEGIN");
  const [{ now }] = await wh.query<{ now: Date }>("SELECT now()");
  await upsert("2024-05-28T20:01:00.000Z");
  await wh.query("COMMIT");

  const [updated] = await wh.query<{ updated_at: Date; bikes_available: number }>(
    "SELECT updated_at, bikes_available FROM mart.station_latest",
  );
  assert.equal(updated.bikes_available, 5);
  assert.deepEqual(updated.updated_at, now);
  assert.ok(updated.updated_at > inserted.updated_at);
});
