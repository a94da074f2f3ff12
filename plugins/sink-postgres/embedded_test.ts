import assert from "node:assert/strict";
import { join } from "node:path";
import { configSchema } from "./config.ts";
import { migrate } from "./connect.ts";
import { openDatabase } from "./database.ts";
import { PostgresSink } from "./sink.ts";
import { contextFor } from "./testing.ts";
import { getLogger } from "@logtape/logtape";

/** A migrations folder with one table, and a `pglite:` URL in a fresh folder. */
async function embeddedSetup(): Promise<{ url: string; migrations: string } & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "embedded_test_" });
  const migrations = join(root, "migrations");
  await Deno.mkdir(migrations);
  await Deno.writeTextFile(
    join(migrations, "0001_items.sql"),
    "CREATE SCHEMA raw; CREATE TABLE raw.items (id int PRIMARY KEY, label text NOT NULL);",
  );
  return {
    url: `pglite:${join(root, "data")}`,
    migrations,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

const openEmbedded = (url: string) =>
  openDatabase({
    url,
    poolSize: 1,
    connectTimeoutMs: 1_000,
    statementTimeoutMs: 1_000,
    applicationName: "test",
    logger: getLogger(["test"]),
  });

const sinkFor = (url: string, migrations: string) =>
  new PostgresSink(configSchema.parse({
    url,
    migrations,
    writes: [{ table: "raw.items", mode: "insert", key: ["id"] }],
  }));

const batch = {
  messages: [{ value: { id: 1, label: "one" } }, { value: { id: 2, label: "two" } }],
  rejects: [{
    payload: "{",
    reason: "Value is not valid JSON",
    stage: "source",
    origin: { stream: "items", partition: 0, offset: "1" },
  }],
  cursors: [{ stream: "items", partition: 0, offset: "2" }],
};

Deno.test("postgres sink on a pglite: URL writes rows, dead letters and positions, and keeps them on disk", async () => {
  await using setup = await embeddedSetup();
  const sink = sinkFor(setup.url, setup.migrations);
  await sink.connect(contextFor("embedded"));
  await sink.write(batch, new AbortController().signal);
  await sink.close();

  const reopened = sinkFor(setup.url, setup.migrations);
  await reopened.connect(contextFor("embedded"));
  assert.deepEqual(await reopened.loadCursors(), batch.cursors);
  await reopened.close();
  const db = await openEmbedded(setup.url);
  const items = await db.query("SELECT id, label FROM raw.items ORDER BY id");
  const dead = await db.query("SELECT reason FROM pipeline.dead_letters");
  await db.end();
  assert.deepEqual(items.rows, [{ id: 1, label: "one" }, { id: 2, label: "two" }]);
  assert.deepEqual(dead.rows, [{ reason: "Value is not valid JSON" }]);
});

Deno.test("postgres sink on a pglite: URL changes nothing when a batch is replayed", async () => {
  await using setup = await embeddedSetup();
  const sink = sinkFor(setup.url, setup.migrations);
  await sink.connect(contextFor("embedded"));
  const signal = new AbortController().signal;
  await sink.write(batch, signal);
  await sink.write(batch, signal);
  await sink.close();
  const db = await openEmbedded(setup.url);
  const counts = await db.query<{ items: number; dead: number }>(
    "SELECT (SELECT count(*)::int FROM raw.items) AS items, " +
      "(SELECT count(*)::int FROM pipeline.dead_letters) AS dead",
  );
  await db.end();
  assert.deepEqual(counts.rows, [{ items: 2, dead: 1 }]);
});

Deno.test("two components of one process share the embedded database of one folder", async () => {
  await using setup = await embeddedSetup();
  const first = sinkFor(setup.url, setup.migrations);
  const second = sinkFor(setup.url, setup.migrations);
  await first.connect(contextFor("embedded"));
  await second.connect(contextFor("embedded"));
  const signal = new AbortController().signal;
  // Interleaved transactions must not land inside each other on the one connection.
  await Promise.all([
    first.write({ ...batch, messages: [batch.messages[0]], rejects: [] }, signal),
    second.write({ ...batch, messages: [batch.messages[1]], rejects: [], cursors: [] }, signal),
  ]);
  await first.close();
  assert.deepEqual(await second.loadCursors(), batch.cursors);
  await second.close();
});

Deno.test("migrate() on a pglite: URL applies the migrations once", async () => {
  await using setup = await embeddedSetup();
  const first = await migrate({ url: setup.url, migrations: setup.migrations });
  const again = await migrate({ url: setup.url, migrations: setup.migrations });
  assert.deepEqual(first.map((m) => m.name), [
    "0001_pipeline.sql",
    "0002_dead_letter_replays.sql",
    "0001_items.sql",
  ]);
  assert.deepEqual(again, []);
});
