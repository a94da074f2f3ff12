import assert from "node:assert/strict";
import { BadRequest } from "../../mod.ts";
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

const HOUR = { from: new Date("2024-05-28T10:00:00Z"), to: new Date("2024-05-28T11:00:00Z") };

Deno.test("postgres step passes a scope's window by name after its args, and leaves it out without a scope", async () => {
  await using db = await scratch();
  const fn = db.table("minutes");
  // The window's length in minutes plus the label's length; -1 without a window. Declared in
  // another order than the call's, which only names can follow.
  await db.query(
    `CREATE FUNCTION ${fn}(until timestamptz DEFAULT NULL, label text DEFAULT '',
       since timestamptz DEFAULT NULL) RETURNS integer
     LANGUAGE sql AS $$
       SELECT coalesce(extract(epoch FROM until - since)::int / 60 + length(label), -1) $$`,
  );
  const step = new PostgresStep(stepConfigSchema.parse({
    url: db.url,
    call: fn,
    args: { label: "abcd" },
    window: { from: "since", to: "until" },
  }));
  await step.connect(contextFor(db.pipeline));
  const windowed = await step.run(new AbortController().signal, { window: HOUR });
  const live = await step.run(new AbortController().signal);
  await step.close();
  assert.deepEqual([windowed, live], [{ rows: 64 }, { rows: -1 }]);
});

Deno.test("postgres step passes a scope's instant by name", async () => {
  await using db = await scratch();
  const fn = db.table("hour_of");
  await db.query(
    `CREATE FUNCTION ${fn}(zone text, at timestamptz) RETURNS integer
     LANGUAGE sql AS $$ SELECT extract(hour FROM at AT TIME ZONE zone)::int $$`,
  );
  const step = new PostgresStep(stepConfigSchema.parse({
    url: db.url,
    call: fn,
    args: { zone: "Europe/Paris" },
    at: "at",
  }));
  await step.connect(contextFor(db.pipeline));
  const result = await step.run(new AbortController().signal, {
    at: new Date("2024-05-28T10:30:00Z"),
  });
  await step.close();
  assert.deepEqual(result, { rows: 12 });
});

Deno.test("postgres step accepts the parts of a scope its config names parameters for", () => {
  const accepts = (scope: { window?: { from: string; to: string }; at?: string }) =>
    new PostgresStep(stepConfigSchema.parse({ url: "pglite:.data/x", call: "mart.f", ...scope }))
      .accepts;
  const window = { from: "window_start", to: "window_end" };
  assert.equal(accepts({}), undefined);
  assert.deepEqual(accepts({ window }), ["window"]);
  assert.deepEqual(accepts({ at: "at" }), ["at"]);
  assert.deepEqual(accepts({ window, at: "at" }), ["window", "at"]);
});

Deno.test("postgres step refuses a scope's part its config names no parameter for", async () => {
  await using db = await scratch();
  const step = new PostgresStep(stepConfigSchema.parse({ url: db.url, call: db.table("f") }));
  await step.connect(contextFor(db.pipeline));
  await assert.rejects(
    step.run(new AbortController().signal, { window: HOUR }),
    (error: Error) => error instanceof BadRequest && /takes no window/.test(error.message),
  );
  await step.close();
});

Deno.test("postgres step config refuses window and at without call", () => {
  const paths = (config: Record<string, unknown>) => {
    const result = stepConfigSchema.safeParse({ url: "pglite:.data/x", ...config });
    return result.success ? [] : result.error.issues.map((issue) => issue.path.join("."));
  };
  const window = { from: "window_start", to: "window_end" };
  assert.deepEqual(paths({ query: "report.sql", window }), ["window"]);
  assert.deepEqual(paths({ query: "report.sql", at: "at" }), ["at"]);
  assert.deepEqual(paths({ call: "mart.f", window, at: "at" }), []);
});

Deno.test("postgres step config refuses a parameter named twice among args, window and at", () => {
  const parsed = (config: Record<string, unknown>) =>
    stepConfigSchema.safeParse({ url: "pglite:.data/x", call: "mart.f", ...config }).success;
  assert.equal(parsed({ window: { from: "w", to: "w" } }), false);
  assert.equal(parsed({ args: { at: 1 }, at: "at" }), false);
  assert.equal(parsed({ window: { from: "at", to: "w" }, at: "at" }), false);
  assert.equal(parsed({ window: { from: "Start", to: "w" } }), false); // not an identifier
});
