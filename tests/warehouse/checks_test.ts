/**
 * The default data-quality checks of `pipeline.config.ts`, on a real server: each passes on a
 * clean warehouse and fails on one crafted to break it, and the real capture gives warnings but
 * no error.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import {
  type CheckResult,
  defineConfig,
  loadConfig,
  type PipelineDefinition,
  runPipeline,
  validateConfig,
} from "../../mod.ts";
import { memorySourcePlugin } from "../../testing.ts";
import { qualityCheck } from "../../plugins/checks-quality/mod.ts";
import { postgresSink } from "../../plugins/sink-postgres/mod.ts";
import { scratchDatabase } from "../../plugins/sink-postgres/testing.ts";
import velib from "../../pipeline.config.ts";
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

/** Only the checks of a pipeline, as `pipeline check` runs them. */
const CHECKS_ONLY = { load: false, steps: [], checks: true };

/**
 * Runs the default checks of the `load` pipeline against `wh` as `pipeline check load` does (the
 * runner connects the pipeline's warehouse, then hands it to each check), by name.
 */
async function runChecks(wh: Warehouse): Promise<Map<string, CheckResult>> {
  const config = await loadConfig("pipeline.config.ts", { DATABASE_URL: wh.url });
  const result = await runPipeline(config.pipeline("load"), {
    mode: "batch",
    parts: CHECKS_ONLY,
    runId: "checks-test-run",
  });
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  return new Map(result.checks.map((check) => [check.name, check]));
}

/** A sink of `url` that writes only dead letters: a warehouse for checks alone. */
const queriesOnly = (url: string) =>
  postgresSink({ url, writes: [{ table: "pipeline.dead_letters", mode: "insert", key: ["id"] }] });

/** Runs `checks` on `warehouse` as `pipeline check` does, by name. */
async function checksOn(
  warehouse: ReturnType<typeof postgresSink>,
  checks: NonNullable<PipelineDefinition["checks"]>,
  runId = "checks-test-run",
): Promise<Map<string, CheckResult>> {
  const config = validateConfig(
    defineConfig({
      pipelines: {
        checks: {
          description: "Checks on a warehouse, and nothing else.",
          source: memorySourcePlugin({ batches: [] }),
          sinks: [warehouse],
          deadLetter: warehouse,
          warehouse,
          checks,
        },
      },
    }),
    {},
    "inline",
  );
  const result = await runPipeline(config.pipeline("checks"), {
    mode: "batch",
    parts: CHECKS_ONLY,
    runId,
  });
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  return new Map(result.checks.map((check) => [check.name, check]));
}

/** The default checks of the `load` pipeline on {@linkcode queriesOnly} of `wh`. */
const runChecksElsewhere = (wh: Warehouse) =>
  checksOn(queriesOnly(wh.url), velib.pipelines.load.checks!);

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
  assert.equal(results.size, 9);
  assert.deepEqual(failed(results), []);
  const stored = await wh.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pipeline.check_results WHERE run_id = 'checks-test-run' AND passed",
  );
  assert.equal(stored[0].n, 9);
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
      "ALTER TABLE raw.station_snapshots DROP CONSTRAINT " +
        "station_snapshots_system_id_station_code_collected_at_key",
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
    // With its unique constraint dropped, the load's sink refuses its table at connect (it could
    // not skip a replayed record), so the duplicates are measured on a warehouse that writes
    // none of the tables the checks read: the same checks, on another warehouse.
    const results = name === "duplicates" ? await runChecksElsewhere(wh) : await runChecks(wh);
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
  assert.equal(checks.length, 9);
  const freshness = checks.find((c) => c.name === "freshness")!;
  assert.equal(freshness.passed, false);
  assert.ok(Number(freshness.observed) >= 1800);
  assert.equal(run.summary.exitReason, "check_failed");
});

Deno.test("a check creates its results table on a warehouse whose migrations never made it", async () => {
  await using database = await scratchDatabase();
  const query = await Deno.makeTempFile({ suffix: ".sql" });
  try {
    await Deno.writeTextFile(query, "SELECT count(*) AS observed FROM pipeline.dead_letters");
    // The sink's own migrations only: no project folder, so no 0008_check_results.sql.
    const check = qualityCheck({
      name: "dead_letters_synthetic",
      severity: "info",
      threshold: 0,
      query,
      description: "Dead letters of a synthetic warehouse.",
    });
    for (const runId of ["first", "second"]) {
      const results = await checksOn(queriesOnly(database.url), [check], runId);
      assert.equal(results.get("dead_letters_synthetic")?.passed, true);
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const stored = await client.query("SELECT run_id FROM pipeline.check_results ORDER BY id");
      assert.deepEqual(stored.rows.map((row) => row.run_id), ["first", "second"]);
      const app = await client.query(
        "SELECT 1 FROM pipeline.schema_migrations WHERE scope = 'app'",
      );
      assert.equal(app.rowCount, 0);
    } finally {
      await client.end();
    }
  } finally {
    await Deno.remove(query);
  }
});

Deno.test("on a fresh embedded warehouse the project's 0008 creates the results table, then the checks record into it, run after run", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "checks_test_" });
  try {
    const env = { VELIB_DATA_DIR: dataDir };
    for (let run = 0; run < 2; run++) {
      const checked = await runCli(["check", "load"], { env, unset: ["DATABASE_URL"] });
      // Nothing loaded: freshness, an error, fails; every check ran and recorded its result.
      assert.equal(checked.code, 3, checked.stderr);
      assert.equal((checked.summary.checks as CheckResult[]).length, 9);
    }
    const db = new PGlite(join(dataDir, "warehouse"));
    try {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pipeline.check_results",
      );
      assert.equal(rows[0].n, 18);
      const applied = await db.query<{ name: string }>(
        "SELECT name FROM pipeline.schema_migrations WHERE scope = 'app' AND version = 8",
      );
      assert.deepEqual(applied.rows.map((row) => row.name), ["0008_check_results.sql"]);
    } finally {
      await db.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
