import assert from "node:assert/strict";
import { testContext } from "../../core/testing.ts";
import pg from "pg";
import { scratchDatabase } from "../sink-postgres/testing.ts";
import { QualityCheck } from "./check.ts";
import { configSchema } from "./config.ts";

/** A check whose query is `sql`, against the test's database. */
async function checkOf(url: string, sql: string, threshold = 0) {
  const query = await Deno.makeTempFile({ suffix: ".sql" });
  await Deno.writeTextFile(query, sql);
  const check = new QualityCheck(configSchema.parse({
    url,
    name: "synthetic",
    severity: "warn",
    query,
    threshold,
    description: "A synthetic check.",
  }));
  await check.connect(testContext("check-test"));
  return {
    check,
    async [Symbol.asyncDispose]() {
      await check.close();
      await Deno.remove(query);
    },
  };
}

/** A database of the test's own, with the results table. */
async function withResultsTable() {
  const database = await scratchDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const db = {
    url: database.url,
    query: async <T>(text: string) => (await client.query(text)).rows as T[],
    async [Symbol.asyncDispose]() {
      await client.end();
      await database[Symbol.asyncDispose]();
    },
  };
  await db.query(`CREATE SCHEMA pipeline`);
  await db.query(`CREATE TABLE pipeline.check_results (
    id bigserial PRIMARY KEY, run_id text NOT NULL, pipeline text NOT NULL,
    check_name text NOT NULL, severity text NOT NULL, observed double precision,
    threshold double precision NOT NULL, passed boolean NOT NULL, message text NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now())`);
  return db;
}

Deno.test("quality check judges observed against its threshold and records the result with the run id", async () => {
  await using db = await withResultsTable();
  await using subject = await checkOf(db.url, "SELECT 3 AS observed, 'a, b, c' AS details", 2);
  const result = await subject.check.run(new AbortController().signal, "run-42");
  assert.equal(result.passed, false);
  assert.equal(result.observed, 3);
  assert.match(result.message, /Observed 3, at most 2 expected: a, b, c/);
  const [stored] = await db.query<{ passed: boolean; observed: number }>(
    "SELECT passed, observed FROM pipeline.check_results WHERE run_id = 'run-42'",
  );
  assert.deepEqual(stored, { passed: false, observed: 3 });
});

Deno.test("quality check says what its query must return when it returns something else", async () => {
  await using db = await withResultsTable();
  await using subject = await checkOf(db.url, "SELECT 'many' AS observed");
  await assert.rejects(
    subject.check.run(new AbortController().signal, "run-43"),
    /must return one row with a number in "observed"/,
  );
});
