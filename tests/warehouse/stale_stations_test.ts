/**
 * Stale stations (migration 0014): a station that none of the last N cycles of its system
 * reported is marked in `mart.stale_stations`, the overview counts it apart, and the
 * `stale_stations` check warns on it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadConfig, runPipeline } from "../../mod.ts";
import {
  analysisQuery,
  fillStationLatest,
  insertSnapshots,
  synthetic,
  type Warehouse,
  warehouse,
} from "./support.ts";

const MINUTE = 60_000;
const STATIONS = 10;
/** The station that the cycles below leave out. */
const MISSING = "99009_synthetic";

/**
 * A cycle of a system: its `STATIONS` synthetic stations (not real ones), minus `absent`,
 * collected `ago` minutes ago.
 */
function cycle(ago: number, options: { absent?: string[]; system_id?: string } = {}) {
  const collected_at = new Date(Date.now() - ago * MINUTE).toISOString();
  return Array.from({ length: STATIONS }, (_, i) =>
    synthetic({
      station_code: `9900${i}_synthetic`,
      collected_at,
      system_id: options.system_id ?? "velib",
    })).filter((station) => !options.absent?.includes(station.station_code));
}

/** Loads `cycles` into raw, and `mart.station_latest` as the sink's upserts leave it. */
async function load(wh: Warehouse, cycles: ReturnType<typeof cycle>[]): Promise<void> {
  for (const rows of cycles) await insertSnapshots(wh.client, rows);
  await wh.query("DELETE FROM mart.station_latest");
  await fillStationLatest(wh.client);
}

const staleCodes = async (wh: Warehouse) =>
  (await wh.query<{ station_code: string }>(
    "SELECT station_code FROM mart.stale_stations ORDER BY system_id, station_code",
  )).map((row) => row.station_code);

Deno.test("a station none of the last 3 cycles reported is stale; missing from 2, it is not", async () => {
  await using wh = await warehouse();
  await load(wh, [cycle(4), cycle(3), cycle(2, { absent: [MISSING] })]);
  await load(wh, [cycle(1, { absent: [MISSING] })]);
  assert.deepEqual(await staleCodes(wh), [], "missing from the last 2 cycles only");
  await load(wh, [cycle(0, { absent: [MISSING] })]);
  const rows = await wh.query<{ last_seen: string; stale_before: string; cycles: number }>(
    "SELECT last_seen::text, stale_before::text, stale_after_cycles AS cycles " +
      "FROM mart.stale_stations",
  );
  const cycles = await wh.query<{ at: string }>(
    "SELECT DISTINCT collected_at::text AS at FROM raw.station_snapshots ORDER BY 1",
  );
  assert.deepEqual(rows, [{ last_seen: cycles[1].at, stale_before: cycles[2].at, cycles: 3 }]);
});

Deno.test("a stale station reported again is at once not stale", async () => {
  await using wh = await warehouse();
  const absent = [MISSING];
  await load(wh, [cycle(4), cycle(3, { absent }), cycle(2, { absent }), cycle(1, { absent })]);
  assert.deepEqual(await staleCodes(wh), [MISSING]);
  await load(wh, [cycle(0)]);
  assert.deepEqual(await staleCodes(wh), []);
});

Deno.test("N is the setting velib.stale_after_cycles, kept in mart_state.stale_settings", async () => {
  await using wh = await warehouse({ "velib.stale_after_cycles": "1" });
  await load(wh, [cycle(1), cycle(0, { absent: [MISSING] })]);
  assert.deepEqual(await staleCodes(wh), [MISSING]);
  await wh.query("UPDATE mart_state.stale_settings SET stale_after_cycles = 2");
  assert.deepEqual(await staleCodes(wh), []);
});

Deno.test("each system is judged by its own cycles", async () => {
  await using wh = await warehouse();
  // Another system loaded once, long before Vélib's four cycles: none of its stations is stale.
  const other = cycle(600, { system_id: "synthetic-b" });
  await load(wh, [other, cycle(3), cycle(2), cycle(1), cycle(0, { absent: [MISSING] })]);
  assert.deepEqual(await staleCodes(wh), []);
});

Deno.test("network_overview.sql counts stale stations apart from every other count", async () => {
  await using wh = await warehouse();
  const absent = [MISSING];
  await load(wh, [cycle(3), cycle(2, { absent }), cycle(1, { absent }), cycle(0, { absent })]);
  const [overview] = await wh.query<Record<string, unknown>>(
    await analysisQuery("network_overview.sql"),
  );
  // Each synthetic station has 4 bikes and 6 free docks, in service.
  const fresh = STATIONS - 1;
  assert.deepEqual(
    {
      stations: overview.stations,
      in_service: overview.in_service,
      closed: overview.closed,
      out_of_service: overview.out_of_service,
      stale_stations: overview.stale_stations,
      bikes: overview.bikes,
      docks: overview.docks,
    },
    {
      stations: STATIONS,
      in_service: fresh,
      closed: 0,
      out_of_service: 0,
      stale_stations: 1,
      bikes: 4 * fresh,
      docks: 6 * fresh,
    },
  );
});

Deno.test("the stale_stations check warns with the count and the stations, and the run passes", async () => {
  await using wh = await warehouse();
  const absent = [MISSING];
  await load(wh, [cycle(3), cycle(2, { absent }), cycle(1, { absent }), cycle(0, { absent })]);
  const config = await loadConfig("pipeline.config.ts", { DATABASE_URL: wh.url });
  const result = await runPipeline(config.pipeline("load"), {
    mode: "batch",
    parts: { load: false, steps: [], checks: true },
    runId: "stale-stations-test",
  });
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.exitCode, 0);
  const stale = result.checks.find((check) => check.name === "stale_stations")!;
  assert.deepEqual(
    { severity: stale.severity, passed: stale.passed, observed: stale.observed },
    { severity: "warn", passed: false, observed: 1 },
  );
  assert.match(stale.message, new RegExp(`velib/${MISSING} \\(last seen `));
  assert.deepEqual(result.checks.filter((check) => !check.passed).map((c) => c.name), [
    "stale_stations",
  ]);
});
