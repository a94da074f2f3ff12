/**
 * The main job on the embedded default: `deno task pipeline run` with no Kafka, no server and
 * no DATABASE_URL, against the replay server.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { runCli } from "../support/cli.ts";
import { withReplayServer } from "../support/velib_replay.ts";

Deno.test("pipeline run loads one cycle into an embedded PostgreSQL, prints the summary and exits 0", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "run_test_" });
  try {
    await withReplayServer(async (server) => {
      const run = await runCli(["run"], {
        env: { VELIB_API_URL: server.baseUrl, VELIB_DATA_DIR: dataDir },
        unset: ["DATABASE_URL", "KAFKA_BROKERS"],
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /stations +1,471: 1,426 in service, 32 closed, 13 out of service/);
      assert.match(run.stdout, /bikes +[\d,]+: [\d,]+ mechanical, [\d,]+ electric/);
      assert.match(run.stdout, /empty +\d+ stations in service have no bike/);
      assert.match(run.stdout, /saturated +\d+ stations in service have no dock/);
      assert.equal(run.summary.command, "run");
      assert.equal(run.summary.pipeline, "local");
    });
    const db = new PGlite(join(dataDir, "warehouse"));
    try {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM mart.station_latest",
      );
      assert.equal(rows[0].n, 1471);
    } finally {
      await db.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("pipeline run a second time ranks the most saturated and most empty stations", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "run_test_" });
  try {
    await withReplayServer(async (server) => {
      const env = { VELIB_API_URL: server.baseUrl, VELIB_DATA_DIR: dataDir };
      const first = await runCli(["run"], { env, unset: ["DATABASE_URL"] });
      assert.equal(first.code, 0, first.stderr);
      const second = await runCli(["run"], { env, unset: ["DATABASE_URL"] });
      assert.equal(second.code, 0, second.stderr);
      const saturated = second.stdout.split("Most often saturated")[1].split("\n").slice(1, 6);
      assert.equal(saturated.length, 5);
      for (const line of saturated) assert.match(line, /^ +\d+\. .+ \(\w+\) [\d.]+ min$/);
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
