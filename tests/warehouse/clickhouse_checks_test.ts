/**
 * The eight data-quality checks of `load-clickhouse`, in ClickHouse SQL, on a real ClickHouse
 * server: each passes on a clean warehouse and fails, alone, on one crafted to break it; results
 * are stored with their run id; the real capture gives warnings but no error.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckResult, loadConfig, type Reject, runPipeline, type Sink } from "../../mod.ts";
import { testContext } from "../../testing.ts";
import { scratchWarehouse } from "../../plugins/sink-clickhouse/testing.ts";
import { captureSnapshots } from "../support/fixtures.ts";
import { enrich, synthetic, type WarehouseSnapshot } from "./support.ts";

const MINUTE = 60_000;
const RUN_ID = "clickhouse-checks-test-run";

/** `n` synthetic stations (not real ones), collected `minutesAgo` minutes ago, whole seconds. */
const cycle = (minutesAgo: number, n = 10) => {
  const at = Math.floor((Date.now() - minutesAgo * MINUTE) / 1000) * 1000;
  return Array.from(
    { length: n },
    (_, i) =>
      synthetic({ station_code: `9900${i}_synthetic`, collected_at: new Date(at).toISOString() }),
  );
};

/** A ClickHouse warehouse of the test's own, and the `load-clickhouse` pipeline on it. */
async function clickhouseWarehouse() {
  const warehouse = await scratchWarehouse("sql/clickhouse/migrations");
  const config = await loadConfig("pipeline.config.ts", warehouse.env);
  const pipeline = config.pipeline("load-clickhouse");
  const sink = pipeline.sinks[0].component as Sink;
  await sink.connect!(testContext("load-clickhouse"));
  const write = (snapshots: WarehouseSnapshot[], rejects: Reject[] = []) =>
    sink.write(
      { messages: snapshots.map((value) => ({ value })), rejects, cursors: [] },
      AbortSignal.timeout(30_000),
    );
  return {
    warehouse,
    write,
    /** The checks alone, as `pipeline check load-clickhouse` runs them, by name. */
    async runChecks(): Promise<Map<string, CheckResult>> {
      const result = await runPipeline(pipeline, {
        mode: "batch",
        parts: { load: false, steps: [], checks: true },
        runId: RUN_ID,
      });
      assert.equal(result.error, undefined, JSON.stringify(result.error));
      return new Map(result.checks.map((check) => [check.name, check]));
    },
    async [Symbol.asyncDispose]() {
      await sink.close!();
      await warehouse[Symbol.asyncDispose]();
    },
  };
}

/** Two clean cycles five minutes apart, the newest changed by `last`. */
async function cleanWarehouse(last = (snapshots: WarehouseSnapshot[]) => snapshots) {
  const ch = await clickhouseWarehouse();
  await ch.write(cycle(6));
  await ch.write(last(cycle(1)));
  return ch;
}

const failed = (results: Map<string, CheckResult>) =>
  [...results.values()].filter((r) => !r.passed).map((r) => r.name);

/** The newest cycle with station `i` changed by `fields`. */
const station = (i: number, fields: Partial<WarehouseSnapshot>) => (s: WarehouseSnapshot[]) =>
  s.map((snapshot, j) => (j === i ? { ...snapshot, ...fields } : snapshot));

Deno.test("clickhouse: every check passes on a clean warehouse, and each result is stored with the run id", async () => {
  await using ch = await cleanWarehouse();
  const results = await ch.runChecks();
  assert.equal(results.size, 8);
  assert.deepEqual(failed(results), [], JSON.stringify([...results.values()]));
  const [stored] = await ch.warehouse.query<{ n: string }>(
    "SELECT count() AS n FROM pipeline.check_results WHERE run_id = $1 AND passed = 1",
    [RUN_ID],
  );
  assert.equal(Number(stored.n), 8);
});

const crafted: Array<[string, () => ReturnType<typeof cleanWarehouse>]> = [
  ["freshness", async () => {
    const ch = await clickhouseWarehouse();
    await ch.write(cycle(26));
    await ch.write(cycle(21));
    return ch;
  }],
  ["station_count", async () => {
    const ch = await cleanWarehouse();
    await ch.write(cycle(0, 7)); // 30 % fewer than the usual 10
    return ch;
  }],
  ["duplicates", async () => {
    // The same key stored again with other values: FINAL would hide one of them.
    // The same cycle both times: a second cycle(1) may fall in the next second, a cycle of its own.
    const newest = cycle(1);
    const ch = await cleanWarehouse(() => newest);
    await ch.write(station(0, { station_name: "Synthetic renamed" })(newest).slice(0, 1));
    return ch;
  }],
  ["negative_counts", () => cleanWarehouse(station(3, { docks_available: -1 }))],
  ["bikes_mismatch", () => cleanWarehouse(station(4, { electric_bikes: 1 }))],
  [
    "bikes_over_capacity",
    () => cleanWarehouse(station(5, { bikes_available: 12, mechanical_bikes: 12 })),
  ],
  [
    "capacity_zero",
    () =>
      cleanWarehouse(station(6, {
        capacity: 0,
        bikes_available: 0,
        mechanical_bikes: 0,
        docks_available: 0,
        occupancy_rate: null,
      })),
  ],
  ["dead_letters", async () => {
    const ch = await cleanWarehouse();
    await ch.write([], [{ payload: "{}", reason: "station_code is missing", stage: "enrich" }]);
    return ch;
  }],
];

for (const [name, make] of crafted) {
  Deno.test(`clickhouse: the ${name} check fails, alone, on a warehouse crafted to break it`, async () => {
    await using ch = await make();
    const results = await ch.runChecks();
    assert.deepEqual(failed(results), [name], JSON.stringify([...results.values()]));
  });
}

Deno.test("clickhouse: on the 2024-05-28 capture the checks give warnings and no error", async () => {
  await using ch = await clickhouseWarehouse();
  const now = new Date(Math.floor(Date.now() / MINUTE) * MINUTE);
  await ch.write((await captureSnapshots(now)).map(enrich));
  const results = await ch.runChecks();
  const errors = [...results.values()].filter((r) => r.severity === "error" && !r.passed);
  assert.deepEqual(errors, []);
  assert.equal(results.get("bikes_over_capacity")!.passed, false);
});
