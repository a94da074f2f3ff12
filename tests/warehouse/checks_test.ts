/**
 * The default data-quality checks of `pipeline.config.ts`, on a real server: each passes on a
 * clean warehouse and fails on one crafted to break it, and the real capture gives warnings but
 * no error.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testContext } from "../../core/testing.ts";
import { loadConfig } from "../../core/config.ts";
import type { Check, CheckResult } from "../../core/types.ts";
import { runCli } from "../support/cli.ts";
import { captureSnapshots } from "../support/fixtures.ts";
import { enrich, insertSnapshots, synthetic, type Warehouse, warehouse } from "./support.ts";

const MINUTE = 60_000;

/** `n` synthetic stations (not real ones), collected `minutesAgo` minutes ago. */
const cycle = (minutesAgo: number, n = 10) => {
  const collected_at = new Date(Date.now() - minutesAgo * MINUTE).toISOString();
  return Array.from(
    { length: n },
    (_, i) => synthetic({ station_code: `9900${i}_synthetic`, collected_at }),
  );
};

/** Runs the default checks of the `load` pipeline against `wh`, by name. */
async function runChecks(wh: Warehouse): Promise<Map<string, CheckResult>> {
  const config = await loadConfig("pipeline.config.ts", { DATABASE_URL: wh.url });
  const checks: Check[] = config.pipeline("load").checks.map((named) => named.component);
  const signal = new AbortController().signal;
  const results = new Map<string, CheckResult>();
  for (const check of checks) {
    await check.connect!(testContext("checks-test", { signal }));
    try {
      const result = await check.run(signal, "checks-test-run");
      results.set(result.name, result);
    } finally {
      await check.close!();
    }
  }
  return results;
}

/** A warehouse holding two clean cycles, five minutes apart. */
async function cleanWarehouse(): Promise<Warehouse> {
  const wh = await warehouse();
  await insertSnapshots(wh.client, cycle(6));
  await insertSnapshots(wh.client, cycle(1));
  return wh;
}

const failed = (results: Map<string, CheckResult>) =>
  [...results.values()].filter((r) => !r.passed).map((r) => r.name);

Deno.test("every default check passes on a clean warehouse, and each result is stored with the run id", async () => {
  await using wh = await cleanWarehouse();
  const results = await runChecks(wh);
  assert.equal(results.size, 8);
  assert.deepEqual(failed(results), []);
  const stored = await wh.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pipeline.check_results WHERE run_id = 'checks-test-run' AND passed",
  );
  assert.equal(stored[0].n, 8);
});

const crafted: Array<[string, (wh: Warehouse) => Promise<void>]> = [
  ["freshness", async (wh) => {
    await wh.query(
      "UPDATE raw.station_snapshots SET collected_at = collected_at - interval '20 minutes'",
    );
  }],
  ["station_count", async (wh) => {
    await insertSnapshots(wh.client, cycle(0, 7)); // 30 % fewer than the usual 10
  }],
  ["duplicates", async (wh) => {
    await wh.query(
      "ALTER TABLE raw.station_snapshots DROP CONSTRAINT station_snapshots_station_code_collected_at_key",
    );
    await wh.query(
      `INSERT INTO raw.station_snapshots SELECT * FROM raw.station_snapshots
       WHERE station_code = '99000_synthetic'
         AND collected_at = (SELECT max(collected_at) FROM raw.station_snapshots)`,
    );
  }],
  ["negative_counts", async (wh) => {
    await wh.query(
      "UPDATE raw.station_snapshots SET docks_available = -1 WHERE station_code = '99003_synthetic'",
    );
  }],
  ["bikes_mismatch", async (wh) => {
    await wh.query(
      "UPDATE raw.station_snapshots SET electric_bikes = electric_bikes + 1 WHERE station_code = '99004_synthetic'",
    );
  }],
  ["bikes_over_capacity", async (wh) => {
    await wh.query(
      "UPDATE raw.station_snapshots SET bikes_available = 12, mechanical_bikes = 12 WHERE station_code = '99005_synthetic'",
    );
  }],
  ["capacity_zero", async (wh) => {
    await wh.query(
      "UPDATE raw.station_snapshots SET capacity = 0, bikes_available = 0, mechanical_bikes = 0 " +
        "WHERE station_code = '99006_synthetic'",
    );
  }],
  ["dead_letters", async (wh) => {
    await wh.query(
      "INSERT INTO pipeline.dead_letters (pipeline, stage, reason, payload) VALUES ('load', 'transform enrich', 'station_code is missing', '{}')",
    );
  }],
];

for (const [name, breakIt] of crafted) {
  Deno.test(`the ${name} check fails, alone, on a warehouse crafted to break it`, async () => {
    await using wh = await cleanWarehouse();
    await breakIt(wh);
    const results = await runChecks(wh);
    assert.deepEqual(failed(results), [name], JSON.stringify([...results.values()]));
  });
}

Deno.test("the bikes_over_capacity check lists the stations at fault", async () => {
  await using wh = await cleanWarehouse();
  await wh.query(
    "UPDATE raw.station_snapshots SET bikes_available = 12, mechanical_bikes = 12 WHERE station_code = '99005_synthetic'",
  );
  const results = await runChecks(wh);
  assert.match(
    results.get("bikes_over_capacity")!.message,
    /99005_synthetic \(12 bikes, capacity 10\)/,
  );
});

Deno.test("on the 2024-05-28 capture the default checks give warnings and no error", async () => {
  await using wh = await warehouse();
  const now = new Date(Math.floor(Date.now() / MINUTE) * MINUTE);
  await insertSnapshots(wh.client, (await captureSnapshots(now)).map(enrich));
  const results = await runChecks(wh);
  const errors = [...results.values()].filter((r) => r.severity === "error" && !r.passed);
  assert.deepEqual(errors, []);
  const over = results.get("bikes_over_capacity")!;
  assert.equal(over.passed, false);
  assert.ok(Number(over.observed) >= 1 && Number(over.observed) <= 6, String(over.observed));
  assert.equal(results.get("capacity_zero")!.observed, 20);
});

Deno.test("pipeline check exits 3 when an error-severity check fails, with the table's data in the summary", async () => {
  await using wh = await warehouse();
  await insertSnapshots(wh.client, cycle(30));
  const run = await runCli(["check", "load"], { env: { DATABASE_URL: wh.url } });
  assert.equal(run.code, 3, run.stderr);
  const checks = run.summary.checks as CheckResult[];
  assert.equal(checks.length, 8);
  const freshness = checks.find((c) => c.name === "freshness")!;
  assert.equal(freshness.passed, false);
  assert.ok(Number(freshness.observed) >= 1800);
  assert.equal(run.summary.exitReason, "check_failed");
});
