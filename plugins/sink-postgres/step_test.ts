import assert from "node:assert/strict";
import { stepConfigSchema } from "./config.ts";
import { PostgresStep } from "./step.ts";
import { contextFor, scratch } from "./testing.ts";

Deno.test("postgres step calls the function with its named arguments and reports the rows it returns", async () => {
  await using db = await scratch();
  const fn = db.table("touch");
  await db.query(
    `CREATE FUNCTION ${fn}(label text, times int) RETURNS integer
     LANGUAGE sql AS $$ SELECT length(label) * times $$`,
  );
  const step = new PostgresStep(stepConfigSchema.parse({
    url: db.url,
    call: fn,
    args: { times: 3, label: "abcd" },
  }));
  await step.connect(contextFor(db.pipeline));
  const result = await step.run(new AbortController().signal);
  await step.close();
  assert.deepEqual(result, { rows: 12 });
});

Deno.test("postgres step names the function and hints at the migrations when it does not exist", async () => {
  await using db = await scratch();
  const step = new PostgresStep(stepConfigSchema.parse({
    url: db.url,
    call: db.table("missing"),
  }));
  await step.connect(contextFor(db.pipeline));
  await assert.rejects(step.run(new AbortController().signal), (error: Error) => {
    assert.match(error.message, /Calling sink_test_\w+\.missing failed/);
    assert.match(error.message, /does not exist/);
    return true;
  });
  await step.close();
});

Deno.test("postgres step with a query file returns its rows in the details", async () => {
  await using db = await scratch();
  const file = await Deno.makeTempFile({ suffix: ".sql" });
  await Deno.writeTextFile(file, "SELECT n, n * n AS square FROM generate_series(1, 3) AS n");
  const step = new PostgresStep(stepConfigSchema.parse({ url: db.url, query: file }));
  await step.connect(contextFor(db.pipeline));
  const result = await step.run(new AbortController().signal);
  await step.close();
  await Deno.remove(file);
  assert.deepEqual(result, {
    rows: 3,
    details: { rows: [{ n: 1, square: 1 }, { n: 2, square: 4 }, { n: 3, square: 9 }] },
  });
});

Deno.test("postgres step config takes either a function or a query, not both", () => {
  const both = stepConfigSchema.safeParse({
    url: "pglite:.data/x",
    call: "mart.refresh",
    query: "report.sql",
  });
  const neither = stepConfigSchema.safeParse({ url: "pglite:.data/x" });
  assert.equal(both.success, false);
  assert.equal(neither.success, false);
});
