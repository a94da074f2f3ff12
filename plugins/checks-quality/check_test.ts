import assert from "node:assert/strict";
import { BadRequest, PipelineError, type QueryRunner } from "../../mod.ts";
import { testContext } from "../../testing.ts";
import { QualityCheck } from "./check.ts";
import { configSchema } from "./config.ts";
import { RESULT_STATEMENTS } from "./statements.ts";

const STATEMENTS = RESULT_STATEMENTS.postgres;

/** A warehouse that answers the check's query with `rows`, and keeps what it was sent. */
function fakeWarehouse(rows: Record<string, unknown>[], options: { tablePresent?: boolean } = {}) {
  const sent: Array<{ sql: string; params: readonly unknown[] }> = [];
  const warehouse: QueryRunner & { sent: typeof sent } = {
    dialect: "postgres",
    sent,
    query<R>(sql: string, params: readonly unknown[]): Promise<R[]> {
      sent.push({ sql, params });
      if (sql === STATEMENTS.present) {
        return Promise.resolve([{ present: options.tablePresent ?? true }] as R[]);
      }
      if (sql === STATEMENTS.create || sql === STATEMENTS.insert) return Promise.resolve([]);
      return Promise.resolve(rows as R[]);
    },
  };
  return warehouse;
}

/** A check whose query file holds `sql`, connected to `warehouse`. */
async function checkOf(warehouse: QueryRunner | undefined, sql: string, threshold = 0) {
  const query = await Deno.makeTempFile({ suffix: ".sql" });
  await Deno.writeTextFile(query, sql);
  const check = new QualityCheck(configSchema.parse({
    name: "synthetic",
    severity: "warn",
    query,
    threshold,
    description: "A synthetic check.",
  }));
  const ctx = testContext("check-test");
  const connected = check.connect(warehouse === undefined ? ctx : { ...ctx, warehouse });
  return {
    check,
    connected,
    async [Symbol.asyncDispose]() {
      await check.close();
      await Deno.remove(query);
    },
  };
}

Deno.test("quality check judges observed against its threshold and records the result with the run id", async () => {
  const warehouse = fakeWarehouse([{ observed: "3", details: "a, b, c" }]);
  await using subject = await checkOf(warehouse, "SELECT 3 AS observed, 'a, b, c' AS details", 2);
  await subject.connected;
  const result = await subject.check.run(new AbortController().signal, "run-42");
  assert.equal(result.passed, false);
  assert.equal(result.observed, 3);
  assert.match(result.message, /Observed 3, at most 2 expected: a, b, c/);
  const insert = warehouse.sent.find((statement) => statement.sql === STATEMENTS.insert);
  assert.deepEqual(insert?.params.slice(0, 7), [
    "run-42",
    "check-test",
    "synthetic",
    "warn",
    3,
    2,
    false,
  ]);
});

Deno.test("quality check creates its results table on a warehouse that lacks it, and only then", async () => {
  const bare = fakeWarehouse([{ observed: 0 }], { tablePresent: false });
  await using first = await checkOf(bare, "SELECT 0 AS observed");
  await first.connected;
  assert.deepEqual(bare.sent.map((s) => s.sql), [STATEMENTS.present, STATEMENTS.create]);
  const migrated = fakeWarehouse([{ observed: 0 }], { tablePresent: true });
  await using second = await checkOf(migrated, "SELECT 0 AS observed");
  await second.connected;
  assert.deepEqual(migrated.sent.map((s) => s.sql), [STATEMENTS.present]);
});

Deno.test("quality check says what its query must return when it returns something else", async () => {
  await using subject = await checkOf(fakeWarehouse([{ observed: "many" }]), "SELECT 'many'");
  await subject.connected;
  await assert.rejects(
    subject.check.run(new AbortController().signal, "run-43"),
    /must return one row with a number in "observed"/,
  );
});

Deno.test("quality check refuses to connect without a warehouse, or to one whose language it does not speak", async () => {
  await using none = await checkOf(undefined, "SELECT 0 AS observed");
  await assert.rejects(none.connected, (error: Error) => {
    assert.ok(error instanceof BadRequest);
    assert.match(error.message, /has no warehouse to run its query on: pipeline check-test/);
    return true;
  });
  const other = { ...fakeWarehouse([]), dialect: "sqlite" };
  await using unknown = await checkOf(other, "SELECT 0 AS observed");
  await assert.rejects(unknown.connected, /cannot keep its results in a sqlite warehouse/);
});

Deno.test("quality check names its query when the warehouse fails it, and keeps whether a retry may help", async () => {
  const failing = fakeWarehouse([]);
  failing.query = <R>(sql: string): Promise<R[]> =>
    sql === STATEMENTS.present
      ? Promise.resolve([{ present: true }] as R[])
      : Promise.reject(new PipelineError("the server went away", { transient: true }));
  await using subject = await checkOf(failing, "SELECT 0 AS observed");
  await subject.connected;
  await assert.rejects(
    subject.check.run(new AbortController().signal, "run-44"),
    (error: PipelineError) => {
      assert.match(error.message, /The query of the synthetic check \(.+\.sql\) failed/);
      assert.equal(error.transient, true);
      return true;
    },
  );
});
